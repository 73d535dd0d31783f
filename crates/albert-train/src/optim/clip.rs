//! Gradient clipping by global norm.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, DType, Storage, Tensor};
use rayon::prelude::*;

use super::{NamedParams, OptimError};

/// Scales the gradients of `params` in place so that their global L2 norm is at most
/// `max_norm`, with `torch.nn.utils.clip_grad_norm_`'s semantics: the factor is
/// `min(1, max_norm / (total_norm + 1e-6))`. Returns the norm before clipping (which may be
/// infinite or NaN, as torch's; the caller decides whether to skip the step). A factor of exactly 1 leaves the
/// gradients as they are.
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
            sum_sq += squared_norm(g)?;
        }
    }
    let total_norm = sum_sq.sqrt();
    let coef = max_norm / (total_norm + 1e-6);
    // f64::min would turn NaN into 1; torch's clamp keeps it.
    let coef = if coef.is_nan() { coef } else { coef.min(1.0) };
    // Multiplying by 1 changes no value: no pass over the gradients.
    if coef == 1.0 {
        return Ok(total_norm);
    }
    for (_, var) in params {
        if let Some(g) = grads.get(var.as_tensor()) {
            let scaled = (g.detach() * coef)?;
            grads.insert(var.as_tensor(), scaled);
        }
    }
    Ok(total_norm)
}

/// The sum of the squares of `g`'s values. For a contiguous f32 tensor on the CPU, one pass over its storage with
/// no temporary: chunks in parallel, each summed in 16 f32 lanes, the chunks' sums added in f64 in their order (the
/// same bits on every run, which an exact resume needs). Other tensors go through candle's operations.
fn squared_norm(g: &Tensor) -> Result<f64, OptimError> {
    {
        let (storage, layout) = g.storage_and_layout();
        if let (Storage::Cpu(CpuStorage::F32(values)), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        {
            let chunks: Vec<f64> = values[start..end]
                .par_chunks(1 << 14)
                .map(chunk_squares)
                .collect();
            return Ok(chunks.iter().sum());
        }
    }
    let norm = g
        .to_dtype(DType::F64)?
        .sqr()?
        .sum_all()?
        .to_scalar::<f64>()?;
    Ok(norm)
}

/// The sum of the squares of `values`, in 16 independent f32 lanes (which the compiler vectorizes) added in f64.
fn chunk_squares(values: &[f32]) -> f64 {
    const LANES: usize = 16;
    let mut lanes = [0f32; LANES];
    let mut whole = values.chunks_exact(LANES);
    for group in &mut whole {
        lanes.iter_mut().zip(group).for_each(|(l, &v)| *l += v * v);
    }
    let tail: f64 = whole
        .remainder()
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum();
    lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + tail
}
