//! LayerNorm over the last dimension in one pass per row, with the backward pass for the input, weight and bias.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor, WithDType, D};
use num_traits::Float;
use rayon::prelude::*;

use super::simd::{lane_fold, vectorized};

struct LayerNorm {
    eps: f64,
}

/// Normalizes the row `y` in place: `(y - mean) / sqrt(var + eps) * w + b`, the mean, then the mean of squared
/// deviations, as the composed form takes them.
#[inline(always)]
fn normalize_row<T: Float>(y: &mut [T], w: &[T], b: &[T], eps: T) {
    let n = T::from(y.len()).expect("row length fits the float type");
    let mean = lane_fold(y, T::zero(), |v| v, |s, v| s + v) / n;
    y.iter_mut().for_each(|v| *v = *v - mean);
    let std = (lane_fold(y, T::zero(), |v| v * v, |s, v| s + v) / n + eps).sqrt();
    for ((o, &w), &b) in y.iter_mut().zip(w).zip(b) {
        *o = *o / std * w + b;
    }
}

/// LayerNorm of each row of `x`, or with `residual` of `x + residual` (the sum is not kept).
fn layer_norm_rows<T: WithDType + Float>(
    (x, xl): (&[T], &Layout),
    residual: Option<(&[T], &Layout)>,
    (w, b): (&[T], &[T]),
    eps: f64,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let x = super::contiguous(x, xl, "layer norm input")?;
    let residual = residual.map(|(r, rl)| super::contiguous(r, rl, "layer norm residual")).transpose()?;
    if residual.is_some_and(|r| r.len() != x.len()) {
        candle_core::bail!("layer norm residual of another size than its input {:?}", xl.shape().dims());
    }
    Ok((WithDType::to_cpu_storage_owned(normalized_rows(x, residual, w, b, eps)), xl.shape().clone()))
}

/// LayerNorm of each row of `x` (rows of `w.len()` values), or of `x + residual`.
pub(super) fn normalized_rows<T: WithDType + Float>(x: &[T], residual: Option<&[T]>, w: &[T], b: &[T], eps: f64) -> Vec<T> {
    let dim = w.len();
    let eps = T::from(eps).expect("eps fits the float type");
    let mut dst = x.to_vec();
    dst.par_chunks_mut(dim).enumerate().for_each(|(i, y)| {
        vectorized(
            #[inline(always)]
            || {
                if let Some(r) = residual {
                    y.iter_mut().zip(&r[i * dim..(i + 1) * dim]).for_each(|(v, &r)| *v = *v + r);
                }
                normalize_row(y, w, b, eps)
            },
        )
    });
    dst
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "albert-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused layer norm", (s1, s2, s3), |x, w, b| {
            let (w, b) = (super::contiguous(w, l2, "layer norm weight")?, super::contiguous(b, l3, "layer norm bias")?);
            layer_norm_rows((x, l1), None, (w, b), self.eps)
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let rows = x.elem_count() / weight.elem_count();
        // (rows + 2, dim): dx, then dweight and dbias
        let packed = x.apply_op3_no_bwd(weight, &grad.contiguous()?, &LayerNormGrad { eps: self.eps })?;
        let dx = packed.narrow(0, 0, rows)?.reshape(x.shape())?;
        Ok((Some(dx), Some(packed.get(rows)?), Some(packed.get(rows + 1)?)))
    }
}

/// The whole LayerNorm backward in one pass per row. With x̂ = (x - mean) / std and ĝ = g * weight:
/// dx = (ĝ - mean(ĝ) - x̂ * mean(ĝ * x̂)) / std, dweight = Σ g * x̂, dbias = Σ g (sums over rows).
struct LayerNormGrad {
    eps: f64,
}

fn layer_norm_grad_rows<T: WithDType + Float>(
    (x, xl): (&[T], &Layout),
    (w, wl): (&[T], &Layout),
    (g, gl): (&[T], &Layout),
    eps: f64,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (x, w, g) = (super::contiguous(x, xl, "layer norm input")?, super::contiguous(w, wl, "layer norm weight")?, super::contiguous(g, gl, "layer norm gradient")?);
    let rows = x.len() / w.len();
    Ok((WithDType::to_cpu_storage_owned(layer_norm_grad(x, w, g, eps)), Shape::from((rows + 2, w.len()))))
}

/// The LayerNorm backward pass over rows of `w.len()` values: `dx` (the rows), then `dweight` and `dbias`.
pub(super) fn layer_norm_grad<T: WithDType + Float>(x: &[T], w: &[T], g: &[T], eps: f64) -> Vec<T> {
    let dim = w.len();
    let rows = x.len() / dim;
    let n = T::from(dim).expect("row length fits the float type");
    let eps = T::from(eps).expect("eps fits the float type");
    let mut dst = vec![T::zero(); (rows + 2) * dim];
    let (dx, params) = dst.split_at_mut(rows * dim);
    let block = dim * super::ROWS_PER_BLOCK;
    let sum = |v: &[T], map: fn(T) -> T| lane_fold(v, T::zero(), map, |a, b| a + b);
    let partials: Vec<Vec<T>> = dx
        .par_chunks_mut(block)
        .zip(x.par_chunks(block))
        .zip(g.par_chunks(block))
        .map(|((dx, x), g)| {
            let (mut sums, mut normed, mut gw) = (vec![T::zero(); 2 * dim], vec![T::zero(); dim], vec![T::zero(); dim]);
            for ((dx, x), g) in dx.chunks_mut(dim).zip(x.chunks(dim)).zip(g.chunks(dim)) {
                // Each step its own loop over the row, which vectorizes; dx holds ĝ * x̂ until the last one.
                vectorized(
                    #[inline(always)]
                    || {
                        let mean = sum(x, |v| v) / n;
                        normed.iter_mut().zip(x).for_each(|(xn, &v)| *xn = v - mean);
                        let inv_std = T::one() / (sum(&normed, |v| v * v) / n + eps).sqrt();
                        normed.iter_mut().for_each(|xn| *xn = *xn * inv_std);
                        gw.iter_mut().zip(g).zip(w).for_each(|((o, &gv), &wv)| *o = gv * wv);
                        dx.iter_mut().zip(&gw).zip(&normed).for_each(|((o, &gw), &xn)| *o = gw * xn);
                        let (mean_g, mean_gx) = (sum(&gw, |v| v) / n, sum(dx, |v| v) / n);
                        let (dw, db) = sums.split_at_mut(dim);
                        for (((dw, db), &gv), &xn) in dw.iter_mut().zip(db).zip(g).zip(&normed) {
                            *dw = *dw + gv * xn;
                            *db = *db + gv;
                        }
                        for ((o, &gw), &xn) in dx.iter_mut().zip(&gw).zip(&normed) {
                            *o = (gw - mean_g - xn * mean_gx) * inv_std;
                        }
                    },
                )
            }
            sums
        })
        .collect();
    for sums in partials {
        params.iter_mut().zip(sums).for_each(|(p, s)| *p = *p + s);
    }
    dst
}

impl CustomOp3 for LayerNormGrad {
    fn name(&self) -> &'static str {
        "albert-layer-norm-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused layer norm gradient", (s1, s2, s3), |x, w, g| layer_norm_grad_rows((x, l1), (w, l2), (g, l3), self.eps))
    }
}

/// LayerNorm of `x + residual` in one pass, for inference only (no backward): the weight and bias stacked as
/// (2, dim).
struct AddLayerNorm {
    eps: f64,
}

impl CustomOp3 for AddLayerNorm {
    fn name(&self) -> &'static str {
        "albert-add-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused residual layer norm", (s1, s2, s3), |x, r, wb| {
            let wb = super::contiguous(wb, l3, "layer norm parameters")?;
            let (w, b) = wb.split_at(wb.len() / 2);
            layer_norm_rows((x, l1), Some((r, l2)), (w, b), self.eps)
        })
    }
}

/// `layer_norm(x + residual)` with `weight_bias` the weight and bias stacked (2, dim), in one pass over each row
/// on the CPU: for inference, as it records no gradient. Composed elsewhere.
pub fn add_layer_norm(x: &Tensor, residual: &Tensor, weight_bias: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let dim = x.dim(D::Minus1)?;
    if weight_bias.dims() != [2, dim] {
        candle_core::bail!("layer norm over {dim} values got stacked parameters {:?}", weight_bias.dims());
    }
    if super::fused(x) && residual.dtype() == x.dtype() && weight_bias.dtype() == x.dtype() {
        return x.contiguous()?.apply_op3_no_bwd(&residual.contiguous()?, &weight_bias.contiguous()?, &AddLayerNorm { eps });
    }
    composed(&(x + residual)?, &weight_bias.get(0)?, &weight_bias.get(1)?, eps)
}

/// `nn.LayerNorm` over the last dimension: `(x - mean) / sqrt(var + eps) * weight + bias` with the biased variance,
/// fused into one pass per row on the CPU and composed from differentiable candle operations elsewhere.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[1f32, 3.0]], &Device::Cpu)?;
/// let (w, b) = (Tensor::new(&[2f32, 2.0], &Device::Cpu)?, Tensor::new(&[0f32, 1.0], &Device::Cpu)?);
/// let y = albert::ops::layer_norm(&x, &w, &b, 0.0)?.to_vec2::<f32>()?;
/// assert_eq!(y, [[-2.0, 3.0]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn layer_norm(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    if super::fused(x) && weight.dtype() == x.dtype() && bias.dtype() == x.dtype() {
        let dim = x.dim(D::Minus1)?;
        if weight.dims() != [dim] || bias.dims() != [dim] {
            candle_core::bail!("layer norm over {dim} values got weight {:?} and bias {:?}", weight.dims(), bias.dims());
        }
        return x.contiguous()?.apply_op3(&weight.contiguous()?, &bias.contiguous()?, LayerNorm { eps });
    }
    composed(x, weight, bias, eps)
}

fn composed(x: &Tensor, weight: &Tensor, bias: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let centered = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
    let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
    centered.broadcast_div(&(var + eps)?.sqrt()?)?.broadcast_mul(weight)?.broadcast_add(bias)
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{Device, Var};

    fn values(n: usize, k: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * k).sin() * 2.0 + 0.3).collect()
    }

    #[test]
    fn matches_composed_layer_norm_and_its_gradients() {
        let dev = Device::Cpu;
        let x = Var::from_vec(values(24, 0.7), (2, 3, 4), &dev).unwrap();
        let w = Var::from_vec(values(4, 1.3), 4, &dev).unwrap();
        let b = Var::from_vec(values(4, 2.1), 4, &dev).unwrap();
        let probe = Tensor::from_vec(values(24, 0.4), (2, 3, 4), &dev).unwrap();
        let fused = layer_norm(&x, &w, &b, 1e-5).unwrap();
        let reference = composed(&x, &w, &b, 1e-5).unwrap();
        assert!(max_diff(&fused, &reference) < 1e-14);
        let g1 = (fused * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (reference * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        for v in [&x, &w, &b] {
            let d = max_diff(g1.get(v.as_tensor()).unwrap(), g2.get(v.as_tensor()).unwrap());
            assert!(d < 1e-13, "gradient differs by {d}");
        }
    }

    /// The inference form with the residual inside equals the normalization of the sum (f64, several blocks of
    /// 16 lanes per row).
    #[test]
    fn residual_form_equals_layer_norm_of_the_sum() {
        let dev = Device::Cpu;
        let (x, r) = (Tensor::from_vec(values(3 * 37, 0.7), (3, 37), &dev).unwrap(), Tensor::from_vec(values(3 * 37, 0.2), (3, 37), &dev).unwrap());
        let (w, b) = (Tensor::from_vec(values(37, 1.3), 37, &dev).unwrap(), Tensor::from_vec(values(37, 2.1), 37, &dev).unwrap());
        let fused = add_layer_norm(&x, &r, &Tensor::stack(&[&w, &b], 0).unwrap(), 1e-5).unwrap();
        let reference = composed(&(&x + &r).unwrap(), &w, &b, 1e-5).unwrap();
        let diff = max_diff(&fused, &reference);
        assert!(diff < 1e-13, "differs by {diff}");
        assert!(add_layer_norm(&x, &r, &Tensor::stack(&[&w, &w, &b], 0).unwrap(), 1e-5).is_err());
    }

    #[test]
    fn wrong_parameter_size_is_an_error() {
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let w = Tensor::ones(3, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(layer_norm(&x, &w, &w, 1e-5).is_err());
    }
}
