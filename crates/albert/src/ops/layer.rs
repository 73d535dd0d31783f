//! One application of an ALBERT layer (attention, then feed-forward, each with its residual and post-LayerNorm) as
//! a single node of candle's autograd graph, forward and backward.
//!
//! Built from one node per operation, the layer costs candle's backward pass a zero-filled gradient buffer for every
//! node input and a new allocation for every contribution added into it: 15% of a training step at E128 H256 L4
//! (perf: `GradStore::or_insert`'s memset and `binary_map_vec_par`), and the barrier-pool threads spin between those
//! additions. Here the layer's backward pass is one function: each activation gradient is written once, a residual
//! gradient is accumulated by the product that meets it, and the parameter gradients land in one buffer. The forward
//! pass keeps the activations that the backward pass reads; attention probabilities are recomputed from the
//! projection, as in [`super::attention`].

use std::any::Any;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use num_traits::Float;

use super::activation::{backward_rows, forward_rows, with_activation, Exp, Tanh};
use super::attention::Dims;
use super::layer_norm::{layer_norm_grad, normalized_rows};
use super::cpu_slice;
use crate::config::HiddenAct;

/// The shape of a layer; its parameters travel as one flat vector, in the order of [`LayerDims::sizes`].
#[derive(Debug, Clone, Copy)]
pub struct LayerDims {
    /// H
    pub hidden: usize,
    /// The feed-forward width.
    pub intermediate: usize,
    /// Attention heads (H divides evenly).
    pub heads: usize,
    /// The feed-forward activation.
    pub act: HiddenAct,
    /// Both LayerNorms' epsilon.
    pub eps: f64,
}

impl LayerDims {
    /// Sizes of the parameters in their flat order: the stacked query/key/value weight (3H, H), query rows
    /// pre-scaled, and bias (3H); the attention output `dense` (H, H) and bias; its LayerNorm weight and bias;
    /// `ffn` (I, H) and bias; `ffn_output` (H, I) and bias; `full_layer_layer_norm` weight and bias.
    pub fn sizes(&self) -> [usize; 12] {
        let (h, i) = (self.hidden, self.intermediate);
        [3 * h * h, 3 * h, h * h, h, h, h, i * h, i, h * i, h, h, h]
    }

    /// Length of the flat parameter vector.
    pub fn param_count(&self) -> usize {
        self.sizes().iter().sum()
    }
}

fn split<T>(mut flat: &[T], sizes: [usize; 12]) -> [&[T]; 12] {
    sizes.map(|n| {
        let (part, rest) = flat.split_at(n);
        flat = rest;
        part
    })
}

fn split_mut<T>(mut flat: &mut [T], sizes: [usize; 12]) -> [&mut [T]; 12] {
    sizes.map(|n| {
        let (part, rest) = std::mem::take(&mut flat).split_at_mut(n);
        flat = rest;
        part
    })
}

/// dst (rows, out) (+)= x (rows, in) w^T for w (out, in).
fn linear<T: WithDType>(dst: &mut [T], x: &[T], w: &[T], (rows, inp, out): (usize, usize, usize), accumulate: bool) {
    super::product(dst, (rows, out, inp), (x, inp, 1), (w, 1, inp), accumulate)
}

/// dst (rows, in) (+)= g (rows, out) w for w (out, in): the input gradient of [`linear`].
fn linear_dx<T: WithDType>(dst: &mut [T], g: &[T], w: &[T], (rows, inp, out): (usize, usize, usize), accumulate: bool) {
    super::product(dst, (rows, inp, out), (g, out, 1), (w, inp, 1), accumulate)
}

/// dst (out, in) = g^T x: the weight gradient of [`linear`].
fn linear_dw<T: WithDType>(dst: &mut [T], g: &[T], x: &[T], (rows, inp, out): (usize, usize, usize)) {
    super::product(dst, (out, inp, rows), (g, 1, out), (x, inp, 1), false)
}

/// Rows of `base` plus `bias` broadcast over them.
fn plus_bias<T: Float>(base: &[T], bias: &[T]) -> Vec<T> {
    base.chunks(bias.len()).flat_map(|row| row.iter().zip(bias).map(|(&v, &b)| v + b)).collect()
}

/// What the forward pass keeps for the backward pass, (rows, width) each.
struct Saved<T> {
    /// Stacked query/key/value projection, (rows, 3H).
    qkv: Vec<T>,
    /// Attention output before `dense`, (rows, H).
    ctx: Vec<T>,
    /// `dense(ctx) + x`, the first LayerNorm's input.
    s1: Vec<T>,
    /// The first LayerNorm's output.
    a: Vec<T>,
    /// `ffn` without its bias, (rows, I).
    z: Vec<T>,
    /// act(z + bias), (rows, I).
    inter: Vec<T>,
    /// `ffn_output(inter) + a`, the second LayerNorm's input.
    s2: Vec<T>,
}

/// The operation: the layer's shape, and what its forward pass kept (a `Saved<f32>` or `Saved<f64>`).
struct TrainLayer {
    dims: LayerDims,
    saved: Mutex<Option<Box<dyn Any + Send + Sync>>>,
}

/// The layer on `x` (batch x seq rows of H) with the key mask `mask` (batch, seq).
fn forward<T: WithDType + Float + Exp + Tanh>(d: LayerDims, (batch, seq): (usize, usize), x: &[T], params: &[T], mask: &[T]) -> (Vec<T>, Saved<T>) {
    let (h, i) = (d.hidden, d.intermediate);
    let rows = batch * seq;
    let attention_dims = Dims::of(batch, seq, h, d.heads);
    let [qkv_w, qkv_b, dense_w, dense_b, ln1_w, ln1_b, ffn_w, ffn_b, out_w, out_b, ln2_w, ln2_b] = split(params, d.sizes());
    let mut qkv = qkv_b.repeat(rows);
    linear(&mut qkv, x, qkv_w, (rows, h, 3 * h), true);
    let ctx = super::attention::forward(&qkv, mask, attention_dims);
    let mut s1 = plus_bias(x, dense_b);
    linear(&mut s1, &ctx, dense_w, (rows, h, h), true);
    let a = normalized_rows(&s1, None, ln1_w, ln1_b, d.eps);
    // SAFETY: a product without accumulation writes all of z and reads none of it.
    let z = unsafe { super::written(rows * i, |z| linear(z, &a, ffn_w, (rows, h, i), false)) };
    let inter = with_activation!(d.act, A => forward_rows::<A, T>(&z, ffn_b));
    let mut s2 = plus_bias(&a, out_b);
    linear(&mut s2, &inter, out_w, (rows, i, h), true);
    let y = normalized_rows(&s2, None, ln2_w, ln2_b, d.eps);
    (y, Saved { qkv, ctx, s1, a, z, inter, s2 })
}

/// The gradients of the input and of the flat parameters from the output gradient `g`.
fn backward<T: WithDType + Float + Exp + Tanh>(d: LayerDims, (batch, seq): (usize, usize), s: &Saved<T>, x: &[T], params: &[T], mask: &[T], g: &[T]) -> (Vec<T>, Vec<T>) {
    let (h, i) = (d.hidden, d.intermediate);
    let rows = batch * seq;
    let [qkv_w, _, dense_w, _, ln1_w, _, ffn_w, ffn_b, out_w, _, ln2_w, _] = split(params, d.sizes());
    // Written part by part below (copied, summed or a product without accumulation), so it starts as zeros.
    let mut grads = vec![T::zero(); d.param_count()];
    let [d_qkv_w, d_qkv_b, d_dense_w, d_dense_b, d_ln1_w, d_ln1_b, d_ffn_w, d_ffn_b, d_out_w, d_out_b, d_ln2_w, d_ln2_b] =
        split_mut(&mut grads, d.sizes());
    // (rows + 2, H): the gradient of s2, then of the LayerNorm's weight and bias
    let mut g_s2 = layer_norm_grad(&s.s2, ln2_w, g, d.eps);
    d_ln2_w.copy_from_slice(&g_s2[rows * h..(rows + 1) * h]);
    d_ln2_b.copy_from_slice(&g_s2[(rows + 1) * h..]);
    g_s2.truncate(rows * h);
    d_out_b.copy_from_slice(&super::column_sums(&g_s2, h));
    linear_dw(d_out_w, &g_s2, &s.inter, (rows, i, h));
    // SAFETY: as for z in the forward pass.
    let g_inter = unsafe { super::written(rows * i, |gi| linear_dx(gi, &g_s2, out_w, (rows, i, h), false)) };
    let g_z = with_activation!(d.act, A => backward_rows::<A, T>(&g_inter, &s.z, ffn_b));
    d_ffn_b.copy_from_slice(&super::column_sums(&g_z, i));
    linear_dw(d_ffn_w, &g_z, &s.a, (rows, h, i));
    // a feeds ffn and the second residual sum.
    let mut g_a = g_s2;
    linear_dx(&mut g_a, &g_z, ffn_w, (rows, h, i), true);
    let mut g_s1 = layer_norm_grad(&s.s1, ln1_w, &g_a, d.eps);
    d_ln1_w.copy_from_slice(&g_s1[rows * h..(rows + 1) * h]);
    d_ln1_b.copy_from_slice(&g_s1[(rows + 1) * h..]);
    g_s1.truncate(rows * h);
    d_dense_b.copy_from_slice(&super::column_sums(&g_s1, h));
    linear_dw(d_dense_w, &g_s1, &s.ctx, (rows, h, h));
    // SAFETY: as for z in the forward pass.
    let g_ctx = unsafe { super::written(rows * h, |gc| linear_dx(gc, &g_s1, dense_w, (rows, h, h), false)) };
    let g_qkv = super::attention::backward(&s.qkv, mask, &g_ctx, Dims::of(batch, seq, h, d.heads));
    d_qkv_b.copy_from_slice(&super::column_sums(&g_qkv, 3 * h));
    linear_dw(d_qkv_w, &g_qkv, x, (rows, h, 3 * h));
    // x feeds the projection and the first residual sum.
    let mut g_x = g_s1;
    linear_dx(&mut g_x, &g_qkv, qkv_w, (rows, h, 3 * h), true);
    (g_x, grads)
}

impl TrainLayer {
    fn check(&self, x: &Layout, params: &Layout, mask: &Layout) -> candle_core::Result<()> {
        let (b, s, h) = x.shape().dims3()?;
        let d = self.dims;
        if h != d.hidden || d.heads == 0 || h % d.heads != 0 {
            candle_core::bail!("layer of width {} over {} heads got an input of width {h}", d.hidden, d.heads);
        }
        if params.shape().elem_count() != d.param_count() {
            candle_core::bail!("layer takes {} parameters, got {}", d.param_count(), params.shape().elem_count());
        }
        if mask.shape().dims() != [b, s] {
            candle_core::bail!("layer key mask of shape {:?} for a batch of {b} x {s}", mask.shape().dims());
        }
        Ok(())
    }

    fn backward_as<T: WithDType + Float + Exp + Tanh>(&self, x: &Tensor, params: &Tensor, mask: &Tensor, grad: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        let Some(saved) = saved.as_ref().and_then(|s| s.downcast_ref::<Saved<T>>()) else {
            candle_core::bail!("layer backward pass without its forward pass");
        };
        let grad = grad.contiguous()?;
        let (g_x, g_params) = {
            let ((xs, xl), (ps, pl)) = (x.storage_and_layout(), params.storage_and_layout());
            let ((ms, ml), (gs, gl)) = (mask.storage_and_layout(), grad.storage_and_layout());
            let (batch, seq, _) = x.dims3()?;
            backward(self.dims, (batch, seq), saved, cpu_slice(&xs, xl, "layer input")?, cpu_slice(&ps, pl, "layer parameters")?, cpu_slice(&ms, ml, "layer mask")?, cpu_slice(&gs, gl, "layer gradient")?)
        };
        Ok((Tensor::from_vec(g_x, x.shape(), x.device())?, Tensor::from_vec(g_params, params.shape(), params.device())?))
    }
}

impl CustomOp3 for TrainLayer {
    fn name(&self) -> &'static str {
        "albert-layer"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        self.check(l1, l2, l3)?;
        f32_or_f64!("layer", (s1, s2, s3), |x, p, m| {
            let (x, p, m) = (super::contiguous(x, l1, "layer input")?, super::contiguous(p, l2, "layer parameters")?, super::contiguous(m, l3, "layer mask")?);
            let (batch, seq, _) = l1.shape().dims3()?;
            let (y, saved) = forward(self.dims, (batch, seq), x, p, m);
            *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(saved));
            Ok((WithDType::to_cpu_storage_owned(y), l1.shape().clone()))
        })
    }

    fn bwd(&self, x: &Tensor, params: &Tensor, mask: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (g_x, g_params) = match x.dtype() {
            DType::F32 => self.backward_as::<f32>(x, params, mask, grad)?,
            DType::F64 => self.backward_as::<f64>(x, params, mask, grad)?,
            dtype => candle_core::bail!("the fused layer takes f32 or f64, not {dtype:?}"),
        };
        Ok((Some(g_x), Some(g_params), None))
    }
}

/// One ALBERT layer of shape `dims` on `x` (batch, seq, H): attention with the additive key mask `mask`
/// (batch, seq), then the feed-forward block, each followed by its residual sum and LayerNorm; `params` is the flat
/// vector of [`LayerDims::sizes`]. Gradients reach `x` and `params`. For contiguous f32 or f64 tensors on the CPU
/// ([`layer_applies`]); no dropout.
pub fn layer(x: &Tensor, params: &Tensor, mask: &Tensor, dims: LayerDims) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op3(&params.contiguous()?, &mask.contiguous()?, TrainLayer { dims, saved: Mutex::new(None) })
}

/// Whether [`layer`] handles `x` (the CPU, f32 or f64).
pub fn layer_applies(x: &Tensor) -> bool {
    super::fused(x)
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{Device, Var, D};

    /// The layer composed from candle operations, as transformers writes it, on the same flat parameters.
    fn composed(x: &Tensor, params: &Tensor, mask: &Tensor, d: LayerDims) -> Tensor {
        let (b, s, h) = x.dims3().unwrap();
        let mut at = 0;
        let mut take = |shape: &[usize]| {
            let n: usize = shape.iter().product();
            at += n;
            params.narrow(0, at - n, n).unwrap().reshape(shape).unwrap()
        };
        let i = d.intermediate;
        let (qkv_w, qkv_b, dense_w, dense_b) = (take(&[3 * h, h]), take(&[3 * h]), take(&[h, h]), take(&[h]));
        let (ln1_w, ln1_b, ffn_w, ffn_b) = (take(&[h]), take(&[h]), take(&[i, h]), take(&[i]));
        let (out_w, out_b, ln2_w, ln2_b) = (take(&[h, i]), take(&[h]), take(&[h]), take(&[h]));
        let lin = |x: &Tensor, w: &Tensor, bias: &Tensor| x.broadcast_matmul(&w.t().unwrap()).unwrap().broadcast_add(bias).unwrap();
        let ln = |x: &Tensor, w: &Tensor, bias: &Tensor| {
            let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1).unwrap()).unwrap();
            let var = centered.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
            centered.broadcast_div(&(var + d.eps).unwrap().sqrt().unwrap()).unwrap().broadcast_mul(w).unwrap().broadcast_add(bias).unwrap()
        };
        let split = lin(x, &qkv_w, &qkv_b).reshape((b, s, 3, d.heads, h / d.heads)).unwrap().permute((2, 0, 3, 1, 4)).unwrap();
        let (q, k, v) = (split.get(0).unwrap().contiguous().unwrap(), split.get(1).unwrap().contiguous().unwrap(), split.get(2).unwrap().contiguous().unwrap());
        let scores = q.matmul(&k.t().unwrap()).unwrap().broadcast_add(&mask.reshape((b, 1, 1, s)).unwrap()).unwrap();
        let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        let ctx = probs.matmul(&v).unwrap().transpose(1, 2).unwrap().reshape((b, s, h)).unwrap();
        let a = ln(&(lin(&ctx, &dense_w, &dense_b) + x).unwrap(), &ln1_w, &ln1_b);
        let inter = crate::ops::bias_act(&a.broadcast_matmul(&ffn_w.t().unwrap()).unwrap(), &ffn_b, d.act).unwrap();
        ln(&(lin(&inter, &out_w, &out_b) + &a).unwrap(), &ln2_w, &ln2_b)
    }

    /// Output and the gradients of the input and of every parameter equal the composed layer's (f64), for both
    /// GELUs, with a padded sequence in the batch.
    #[test]
    fn matches_the_composed_layer_and_its_gradients() {
        let dev = Device::Cpu;
        for act in [HiddenAct::GeluNew, HiddenAct::Gelu] {
            let d = LayerDims { hidden: 12, intermediate: 7, heads: 3, act, eps: 1e-5 };
            let (b, s) = (2, 5);
            let wave = |n: usize, k: f64| (0..n).map(|i| ((i as f64 + 1.0) * k).sin()).collect::<Vec<_>>();
            let x = Var::from_vec(wave(b * s * d.hidden, 0.37), (b, s, d.hidden), &dev).unwrap();
            let params = Var::from_vec(wave(d.param_count(), 0.91).iter().map(|v| 0.5 * v).collect(), d.param_count(), &dev).unwrap();
            let mask = Tensor::new(&[[0f64, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, f64::MIN, f64::MIN]], &dev).unwrap();
            let probe = Tensor::from_vec(wave(b * s * d.hidden, 1.3), (b, s, d.hidden), &dev).unwrap();
            let fused = layer(&x, &params, &mask, d).unwrap();
            let reference = composed(&x, &params, &mask, d);
            assert!(max_diff(&fused, &reference) < 1e-12, "{act:?}: forward differs by {}", max_diff(&fused, &reference));
            let g_fused = (fused * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g_ref = (reference * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for (name, var) in [("input", &x), ("parameters", &params)] {
                let (a, r) = (g_fused.get(var.as_tensor()).unwrap(), g_ref.get(var.as_tensor()).unwrap());
                assert!(max_diff(a, r) < 1e-11, "{act:?}: gradient of the {name} differs by {}", max_diff(a, r));
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let dev = Device::Cpu;
        let d = LayerDims { hidden: 12, intermediate: 7, heads: 3, act: HiddenAct::GeluNew, eps: 1e-5 };
        let x = Tensor::zeros((2, 5, 12), DType::F32, &dev).unwrap();
        let params = Tensor::zeros(d.param_count(), DType::F32, &dev).unwrap();
        let mask = Tensor::zeros((2, 5), DType::F32, &dev).unwrap();
        assert!(layer(&x, &params, &mask, d).is_ok());
        assert!(layer(&x, &params.narrow(0, 1, d.param_count() - 1).unwrap(), &mask, d).is_err());
        assert!(layer(&x, &params, &Tensor::zeros((2, 4), DType::F32, &dev).unwrap(), d).is_err());
        assert!(layer(&x, &params, &mask, LayerDims { heads: 5, ..d }).is_err());
        assert!(layer(&x, &params, &mask, LayerDims { hidden: 8, ..d }).is_err());
    }
}
