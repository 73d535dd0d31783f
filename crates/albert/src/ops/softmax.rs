//! Softmax and log-softmax over the last dimension in one pass per row, with their backward passes.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor, WithDType, D};
use num_traits::Float;
use rayon::prelude::*;

use super::activation::Exp;
use super::simd::{lane_fold, vectorized};

/// Softmax, or with `log` its logarithm, over the last dimension.
struct SoftmaxLastDim {
    log: bool,
}

/// log(sum(exp(row))), shifted by the row's maximum; also the fused cross-entropy's (`ops::cross_entropy`).
#[inline(always)]
pub(crate) fn log_sum_exp<T: Float + Exp>(row: &[T]) -> T {
    let max = lane_fold(row, T::neg_infinity(), |v| v, Float::max);
    max + lane_fold(row, T::zero(), |v| (v - max).exp_fast(), |a, b| a + b).ln()
}

/// Softmax (or its logarithm) of `row`, in place; also each attention row's (`ops::attention`).
#[inline(always)]
pub(crate) fn softmax_row<T: Float + Exp>(row: &mut [T], log: bool) {
    if log {
        let shift = log_sum_exp(row);
        row.iter_mut().for_each(|v| *v = *v - shift);
    } else {
        let max = lane_fold(row, T::neg_infinity(), |v| v, Float::max);
        row.iter_mut().for_each(|v| *v = (*v - max).exp_fast());
        let inv = T::one() / lane_fold(row, T::zero(), |v| v, |a, b| a + b);
        row.iter_mut().for_each(|v| *v = *v * inv);
    }
}

fn softmax_rows<T: WithDType + Float + Exp>(src: &[T], layout: &Layout, log: bool) -> candle_core::Result<(CpuStorage, Shape)> {
    let mut dst = super::contiguous(src, layout, "softmax input")?.to_vec();
    let dims = layout.shape().dims();
    let row = dims[dims.len() - 1];
    dst.par_chunks_mut(row).for_each(|d| vectorized(#[inline(always)] || softmax_row(d, log)));
    Ok((WithDType::to_cpu_storage_owned(dst), layout.shape().clone()))
}

impl CustomOp1 for SoftmaxLastDim {
    fn name(&self) -> &'static str {
        if self.log {
            "albert-log-softmax-last-dim"
        } else {
            "albert-softmax-last-dim"
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused softmax", (storage), |s| softmax_rows(s, layout, self.log))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(res.apply_op2_no_bwd(&grad_res.contiguous()?, &SoftmaxLastDimGrad { log: self.log })?))
    }
}

/// The backward pass of [`SoftmaxLastDim`] in one pass per row, from its output y and the gradient g:
/// softmax: dx = y * (g - sum(g * y)); log-softmax: dx = g - exp(y) * sum(g); sums over the last dimension.
struct SoftmaxLastDimGrad {
    log: bool,
}

fn softmax_grad_rows<T: WithDType + Float + Exp>((y, yl): (&[T], &Layout), (g, gl): (&[T], &Layout), log: bool) -> candle_core::Result<(CpuStorage, Shape)> {
    let (y, g) = (super::contiguous(y, yl, "softmax output")?, super::contiguous(g, gl, "softmax gradient")?);
    let dims = yl.shape().dims();
    let row = dims[dims.len() - 1];
    let mut dst = vec![T::zero(); y.len()];
    dst.par_chunks_mut(row).zip(y.par_chunks(row)).zip(g.par_chunks(row)).for_each(|((d, y), g)| {
        vectorized(
            #[inline(always)]
            || {
                if log {
                    let total = lane_fold(g, T::zero(), |v| v, |a, b| a + b);
                    for ((o, &yv), &gv) in d.iter_mut().zip(y).zip(g) {
                        *o = gv - yv.exp_fast() * total;
                    }
                } else {
                    // d holds y * g for the sum first.
                    d.iter_mut().zip(y).zip(g).for_each(|((o, &yv), &gv)| *o = yv * gv);
                    let dot = lane_fold(d, T::zero(), |v| v, |a, b| a + b);
                    for ((o, &yv), &gv) in d.iter_mut().zip(y).zip(g) {
                        *o = yv * (gv - dot);
                    }
                }
            },
        )
    });
    Ok((WithDType::to_cpu_storage_owned(dst), yl.shape().clone()))
}

impl CustomOp2 for SoftmaxLastDimGrad {
    fn name(&self) -> &'static str {
        "albert-softmax-last-dim-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused softmax gradient", (s1, s2), |y, g| softmax_grad_rows((y, l1), (g, l2), self.log))
    }
}

/// Softmax over the last dimension, as `candle_nn::ops::softmax(x, D::Minus1)` computes it, in one fused pass on the
/// CPU (the exponentials are normalized by a multiply with the reciprocal of their sum).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[0f32, 0f32], [1f32, 1f32]], &Device::Cpu)?;
/// assert_eq!(albert::ops::softmax_last_dim(&x)?.to_vec2::<f32>()?, [[0.5, 0.5], [0.5, 0.5]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if super::fused(x) {
        x.contiguous()?.apply_op1(SoftmaxLastDim { log: false })
    } else {
        candle_nn::ops::softmax(x, D::Minus1)
    }
}

/// Log-softmax over the last dimension, `x - max - ln(sum(exp(x - max)))`, fused on the CPU like
/// [`softmax_last_dim`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[0f64, 0f64]], &Device::Cpu)?;
/// assert_eq!(albert::ops::log_softmax_last_dim(&x)?.to_vec2::<f64>()?, [[-(2f64.ln()), -(2f64.ln())]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn log_softmax_last_dim(x: &Tensor) -> candle_core::Result<Tensor> {
    if super::fused(x) {
        x.contiguous()?.apply_op1(SoftmaxLastDim { log: true })
    } else {
        candle_nn::ops::log_softmax(x, D::Minus1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{Device, Var};

    fn input() -> Tensor {
        // (2, 3, 5), values spread over a few units, one row with a large masked entry
        let mut v: Vec<f64> = (0..30).map(|i| ((i * 7 % 11) as f64 - 5.0) * 0.37).collect();
        v[7] = -3.4e38;
        Tensor::from_vec(v, (2, 3, 5), &Device::Cpu).unwrap()
    }

    #[test]
    fn matches_composed_softmax_and_its_gradient() {
        let x = Var::from_tensor(&input()).unwrap();
        let w = Tensor::from_vec((0..30).map(|i| (i as f64 * 0.13).sin()).collect::<Vec<_>>(), (2, 3, 5), &Device::Cpu).unwrap();
        let fused = softmax_last_dim(x.as_tensor()).unwrap();
        let composed = candle_nn::ops::softmax(x.as_tensor(), D::Minus1).unwrap();
        let diff = max_diff(&fused, &composed);
        assert!(diff < 1e-15, "forward differs by {diff}");
        let g_fused = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g_comp = (composed * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g_fused.get(x.as_tensor()).unwrap(), g_comp.get(x.as_tensor()).unwrap());
        let diff = max_diff(a, b);
        assert!(diff < 1e-15, "gradient differs by {diff}");
    }

    #[test]
    fn log_softmax_matches_composed_and_its_gradient() {
        let x = Var::from_tensor(&(input().clamp(-50.0, 50.0).unwrap())).unwrap();
        let w = Tensor::from_vec((0..30).map(|i| (i as f64 * 0.29).cos()).collect::<Vec<_>>(), (2, 3, 5), &Device::Cpu).unwrap();
        let fused = log_softmax_last_dim(x.as_tensor()).unwrap();
        let composed = candle_nn::ops::log_softmax(x.as_tensor(), D::Minus1).unwrap();
        let diff = max_diff(&fused, &composed);
        assert!(diff < 1e-13, "forward differs by {diff}");
        let g_fused = (fused * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let g_comp = (composed * &w).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, b) = (g_fused.get(x.as_tensor()).unwrap(), g_comp.get(x.as_tensor()).unwrap());
        let diff = max_diff(a, b);
        assert!(diff < 1e-13, "gradient differs by {diff}");
    }

    #[test]
    fn strided_input_is_copied_first() {
        let x = input().to_dtype(candle_core::DType::F32).unwrap().transpose(1, 2).unwrap();
        let fused = softmax_last_dim(&x).unwrap();
        let composed = candle_nn::ops::softmax(&x, D::Minus1).unwrap();
        let diff = max_diff(&fused, &composed);
        assert!(diff < 1e-6, "differs by {diff}");
    }
}
