//! Gradient clipping by global norm.

use candle_core::backprop::GradStore;
use candle_core::DType;

use super::{NamedParams, OptimError};

/// Scales the gradients of `params` in place so that their global L2 norm is at most
/// `max_norm`, with `torch.nn.utils.clip_grad_norm_`'s semantics: the factor is
/// `min(1, max_norm / (total_norm + 1e-6))`. Returns the norm before clipping (which may be
/// infinite or NaN, as torch's; the caller decides whether to skip the step).
///
/// ```
/// use albert_train::optim::clip_grad_norm;
/// use candle_core::{Device, Tensor, Var};
/// let w = Var::from_tensor(&Tensor::new(&[0f32, 0.0], &Device::Cpu)?)?;
/// let target = Tensor::new(&[3f32, 4.0], &Device::Cpu)?;
/// let mut grads = (w.as_tensor() * &target)?.sum_all()?.backward()?; // gradient (3, 4), norm 5
/// let params = vec![("w".to_string(), w.clone())];
/// let norm = clip_grad_norm(&params, &mut grads, 1.0)?;
/// assert!((norm - 5.0).abs() < 1e-6);
/// let g = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>()?;
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn clip_grad_norm(
    params: &NamedParams,
    grads: &mut GradStore,
    max_norm: f64,
) -> Result<f64, OptimError> {
    if max_norm.is_nan() || max_norm <= 0.0 {
        return Err(OptimError::InvalidConfig(format!(
            "max_norm must be positive, got {max_norm}"
        )));
    }
    let mut sum_sq = 0.0f64;
    for (_, var) in params {
        if let Some(g) = grads.get(var.as_tensor()) {
            let norm = g
                .to_dtype(DType::F32)?
                .sqr()?
                .sum_all()?
                .sqrt()?
                .to_scalar::<f32>()? as f64;
            sum_sq += norm * norm;
        }
    }
    let total_norm = sum_sq.sqrt();
    let coef = max_norm / (total_norm + 1e-6);
    // f64::min would turn NaN into 1; torch's clamp keeps it.
    let coef = if coef.is_nan() { coef } else { coef.min(1.0) };
    for (_, var) in params {
        if let Some(g) = grads.get(var.as_tensor()) {
            let scaled = (g.detach() * coef)?;
            grads.insert(var.as_tensor(), scaled);
        }
    }
    Ok(total_norm)
}
