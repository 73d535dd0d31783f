//! Optimizers and their helpers: LAMB as google-research/albert's `lamb_optimizer.py`, AdamW as
//! `torch.optim.AdamW`, the linear warmup/decay schedule, global-norm gradient clipping and
//! gradient accumulation, all over named candle [`Var`](candle_core::Var)s.

mod accumulate;
mod adamw;
mod clip;
mod error;
mod lamb;
mod schedule;
mod state;

pub use accumulate::GradAccumulator;
pub use adamw::{AdamW, AdamWConfig};
pub use clip::clip_grad_norm;
pub use error::OptimError;
pub use lamb::{Lamb, LambConfig};
pub use schedule::LinearWarmupSchedule;
pub use state::{Moments, OptimizerState};

use candle_core::backprop::GradStore;
use candle_core::{Device, Var};
use std::path::Path;

/// Parameters named as in the checkpoint (Hugging Face names).
pub type NamedParams = [(String, Var)];

/// Name fragments ALBERT excludes from weight decay and LAMB's layer adaptation.
pub const DEFAULT_EXCLUDE: [&str; 3] = ["LayerNorm", "layer_norm", "bias"];

/// Whether `name` contains any of `patterns` (the original's `re.search` on plain names).
pub fn name_matches(name: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| name.contains(p.as_str()))
}

/// Refuses Adam-family settings outside their domain: betas in [0, 1), non-negative eps and weight decay.
pub(crate) fn check_adam_settings(
    optimizer: &str,
    (beta1, beta2, eps, weight_decay): (f64, f64, f64, f64),
    cfg: &dyn std::fmt::Debug,
) -> Result<(), OptimError> {
    let in_unit = |x: f64| (0.0..1.0).contains(&x);
    if !in_unit(beta1) || !in_unit(beta2) || eps < 0.0 || weight_decay < 0.0 {
        return Err(OptimError::InvalidConfig(format!(
            "{optimizer} needs betas in [0, 1) and non-negative eps and weight decay, got {cfg:?}"
        )));
    }
    Ok(())
}

/// Updates every parameter that has a gradient: `update(name, weight, gradient)` gets f32 copies and returns the
/// new weight, stored back in the parameter's dtype.
pub(crate) fn update_each(
    params: &NamedParams,
    grads: &GradStore,
    mut update: impl FnMut(&str, &candle_core::Tensor, &candle_core::Tensor) -> Result<candle_core::Tensor, OptimError>,
) -> Result<(), OptimError> {
    for (name, var) in params {
        let Some(g) = grads.get(var.as_tensor()) else {
            continue;
        };
        let g = g.detach().to_dtype(candle_core::DType::F32)?;
        let w = var.as_tensor().detach().to_dtype(candle_core::DType::F32)?;
        let next = update(name, &w, &g)?;
        var.set(&next.to_dtype(var.dtype())?)?;
    }
    Ok(())
}

/// An optimizer over named parameters with saveable state.
pub trait Optimizer {
    /// Applies one update with learning rate `lr`; parameters without a gradient are left alone.
    fn step(&mut self, params: &NamedParams, grads: &GradStore, lr: f64) -> Result<(), OptimError>;

    /// Moments and step counts.
    fn state(&self) -> &OptimizerState;

    /// Replaces the state (after [`OptimizerState::load`]).
    fn set_state(&mut self, state: OptimizerState) -> Result<(), OptimError>;

    /// Writes the state to a safetensors file (atomically).
    fn save_state(&self, path: &Path) -> Result<(), OptimError> {
        self.state().save(path)
    }

    /// Restores the state from a safetensors file written by [`Optimizer::save_state`].
    fn load_state(&mut self, path: &Path, device: &Device) -> Result<(), OptimError> {
        let state = OptimizerState::load(path, device)?;
        self.set_state(state)
    }
}
