//! Mean cross-entropy of logits against class labels in one pass per row, with its backward pass.
//!
//! Composed, the loss is log-softmax, gather, weighting and a sum: at the masked-LM head's (predicted positions x
//! 30,000) logits each is a 37 MB tensor at E128 batch 16, and candle's backward pass adds a zero-filled buffer and a
//! sum for each, every one a fresh allocation that faults its pages in. Here the forward pass reads the logits once
//! (a log-sum-exp per row, kept) and the backward pass writes their gradient once from it: softmax minus the one-hot
//! label, one exponential per logit.

use std::any::Any;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor, WithDType};
use num_traits::Float;
use rayon::prelude::*;

use super::activation::Exp;
use super::simd::vectorized;
use super::softmax::log_sum_exp;

/// The mean cross-entropy of the rows whose label is `Some`, and what its forward pass kept for the backward pass:
/// each row's log-sum-exp (a `Vec<f32>` or `Vec<f64>`; zero on rows without a label).
struct CrossEntropy {
    labels: Vec<Option<usize>>,
    log_sum_exps: Mutex<Option<Box<dyn Any + Send + Sync>>>,
}

/// The mean loss, and each row's log-sum-exp.
fn forward<T: WithDType + Float + Exp>(logits: &[T], labels: &[Option<usize>], classes: usize) -> (T, Vec<T>) {
    let log_sum_exps: Vec<T> = logits
        .par_chunks(classes)
        .zip(labels)
        .map(|(row, label)| match label {
            Some(_) => vectorized(#[inline(always)] || log_sum_exp(row)),
            None => T::zero(),
        })
        .collect();
    let counted = T::from(labels.iter().flatten().count()).expect("a count fits the float type");
    let total = logits.chunks(classes).zip(labels).zip(&log_sum_exps).fold(T::zero(), |sum, ((row, label), &lse)| match label {
        Some(c) => sum + (lse - row[*c]),
        None => sum,
    });
    (total / counted, log_sum_exps)
}

/// d loss / d logits for the loss gradient `g`: (softmax - one-hot) * g / counted on labelled rows, zero elsewhere,
/// the softmax from each row's log-sum-exp `log_sum_exps`.
fn backward<T: WithDType + Float + Exp>(logits: &[T], labels: &[Option<usize>], log_sum_exps: &[T], classes: usize, g: T) -> Vec<T> {
    let scale = g / T::from(labels.iter().flatten().count()).expect("a count fits the float type");
    let fill = |dst: &mut [std::mem::MaybeUninit<T>]| {
        dst.par_chunks_mut(classes).zip(logits.par_chunks(classes)).zip(labels).zip(log_sum_exps).for_each(|(((d, row), label), &lse)| {
            let Some(c) = label else {
                d.iter_mut().for_each(|v| {
                    v.write(T::zero());
                });
                return;
            };
            vectorized(
                #[inline(always)]
                || {
                    d.iter_mut().zip(row).for_each(|(o, &v)| {
                        o.write((v - lse).exp_fast() * scale);
                    });
                },
            );
            // SAFETY: the loop above wrote every element of d.
            let c = unsafe { d[*c].assume_init_mut() };
            *c = *c - scale;
        })
    };
    // SAFETY: every row of dst is written, labelled or not.
    unsafe { super::filled(logits.len(), fill) }
}

impl CustomOp1 for CrossEntropy {
    fn name(&self) -> &'static str {
        "albert-cross-entropy"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, classes) = layout.shape().dims2()?;
        if rows != self.labels.len() {
            candle_core::bail!("cross-entropy of {rows} rows against {} labels", self.labels.len());
        }
        f32_or_f64!("cross-entropy", (storage), |x| {
            let x = super::contiguous(x, layout, "cross-entropy logits")?;
            let (loss, log_sum_exps) = forward(x, &self.labels, classes);
            *self.log_sum_exps.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(log_sum_exps));
            Ok((WithDType::to_cpu_storage_owned(vec![loss]), Shape::from(())))
        })
    }

    fn bwd(&self, logits: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let g = grad.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        Ok(Some(match logits.dtype() {
            DType::F32 => self.gradient::<f32>(logits, g)?,
            DType::F64 => self.gradient::<f64>(logits, g)?,
            dtype => candle_core::bail!("the fused cross-entropy takes f32 or f64, not {dtype:?}"),
        }))
    }
}

impl CrossEntropy {
    /// The logits' gradient for the loss gradient `g`.
    fn gradient<T: WithDType + Float + Exp>(&self, logits: &Tensor, g: f64) -> candle_core::Result<Tensor> {
        let (_, classes) = logits.dims2()?;
        let g = T::from(g).expect("f64 converts to the float type");
        let kept = self.log_sum_exps.lock().unwrap_or_else(|e| e.into_inner());
        let Some(log_sum_exps) = kept.as_ref().and_then(|k| k.downcast_ref::<Vec<T>>()) else {
            candle_core::bail!("cross-entropy backward pass without its forward pass");
        };
        let dx = {
            let (storage, layout) = logits.storage_and_layout();
            backward(super::cpu_slice(&storage, layout, "cross-entropy logits")?, &self.labels, log_sum_exps, classes, g)
        };
        Tensor::from_vec(dx, logits.shape(), logits.device())
    }
}

/// Mean cross-entropy of `logits` (n, classes), f32 or f64 on the CPU, against `labels` (n; `None` rows are not
/// counted), in one pass per row forward and backward. NaN when no row is counted, as torch gives.
pub(crate) fn cross_entropy(logits: &Tensor, labels: Vec<Option<usize>>) -> candle_core::Result<Tensor> {
    logits.contiguous()?.apply_op1(CrossEntropy { labels, log_sum_exps: Mutex::new(None) })
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{Device, Var, D};

    /// Loss and gradient equal log-softmax, gather and mean composed from candle operations (f64), with an
    /// uncounted row.
    #[test]
    fn matches_the_composed_loss_and_its_gradient() {
        let dev = Device::Cpu;
        let (n, classes) = (4, 37);
        let values: Vec<f64> = (0..n * classes).map(|i| ((i as f64 + 1.0) * 0.37).sin() * 4.0).collect();
        let logits = Var::from_vec(values, (n, classes), &dev).unwrap();
        let labels = vec![Some(3), None, Some(36), Some(0)];
        let fused = cross_entropy(&logits, labels.clone()).unwrap();
        let index = Tensor::new(&[[3u32], [0], [36], [0]], &dev).unwrap();
        let weight = Tensor::new(&[1f64, 0.0, 1.0, 1.0], &dev).unwrap();
        let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1).unwrap();
        let composed = ((log_probs.gather(&index, 1).unwrap().squeeze(1).unwrap() * weight).unwrap().sum_all().unwrap().neg().unwrap() / 3.0).unwrap();
        assert!(max_diff(&fused, &composed) < 1e-12, "loss differs by {}", max_diff(&fused, &composed));
        let (gf, gc) = ((fused * 0.7).unwrap().backward().unwrap(), (composed * 0.7).unwrap().backward().unwrap());
        let (a, c) = (gf.get(logits.as_tensor()).unwrap(), gc.get(logits.as_tensor()).unwrap());
        assert!(max_diff(a, c) < 1e-12, "gradient differs by {}", max_diff(a, c));
        assert!(cross_entropy(&logits, vec![None; n]).unwrap().to_scalar::<f64>().unwrap().is_nan());
        assert!(cross_entropy(&logits, labels[..3].to_vec()).is_err());
    }
}
