//! AdamW, exactly as `torch.optim.AdamW`.

use candle_core::backprop::GradStore;
use candle_core::DType;

use super::{name_matches, NamedParams, OptimError, Optimizer, OptimizerState, DEFAULT_EXCLUDE};

/// AdamW's settings; the defaults are torch's, with ALBERT's exclusions from weight decay.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamWConfig {
    /// First-moment decay (0.9).
    pub beta1: f64,
    /// Second-moment decay (0.999).
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment (1e-8).
    pub eps: f64,
    /// Decoupled weight decay (0.01): each step multiplies weights by `1 - lr·weight_decay`.
    pub weight_decay: f64,
    /// Parameters whose names contain one of these get no weight decay (the usual second
    /// parameter group; `["LayerNorm", "layer_norm", "bias"]`).
    pub exclude_from_weight_decay: Vec<String>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            exclude_from_weight_decay: DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// `torch.optim.AdamW` (Loshchilov & Hutter): per parameter, `w ← w(1 - lr·λ)`,
/// `m ← lerp(m, g, 1-β₁)`, `v ← β₂v + (1-β₂)g²`, then
/// `w ← w - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)` with t the parameter's own step count.
///
/// ```
/// use albert_train::optim::{AdamW, AdamWConfig, Optimizer};
/// use candle_core::{Device, Tensor, Var};
/// let w = Var::from_tensor(&Tensor::new(&[1f32, -2.0], &Device::Cpu)?)?;
/// let grads = w.as_tensor().sum_all()?.backward()?; // gradient 1
/// let params = vec![("x.weight".to_string(), w.clone())];
/// let mut opt = AdamW::new(AdamWConfig { weight_decay: 0.0, ..AdamWConfig::default() })?;
/// opt.step(&params, &grads, 0.1)?; // the first bias-corrected step moves each weight by lr
/// let v = w.as_tensor().to_vec1::<f32>()?;
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 2.1).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdamW {
    cfg: AdamWConfig,
    state: OptimizerState,
}

impl AdamW {
    /// An AdamW optimizer with empty state.
    pub fn new(cfg: AdamWConfig) -> Result<Self, OptimError> {
        let in_unit = |x: f64| (0.0..1.0).contains(&x);
        if !in_unit(cfg.beta1) || !in_unit(cfg.beta2) || cfg.eps < 0.0 || cfg.weight_decay < 0.0 {
            return Err(OptimError::InvalidConfig(format!(
                "AdamW needs betas in [0, 1) and non-negative eps and weight decay, got {cfg:?}"
            )));
        }
        Ok(AdamW {
            cfg,
            state: OptimizerState::new("adamw"),
        })
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &NamedParams, grads: &GradStore, lr: f64) -> Result<(), OptimError> {
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        for (name, var) in params {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let g = g.detach().to_dtype(DType::F32)?;
            let mut w = var.as_tensor().detach().to_dtype(DType::F32)?;
            if !name_matches(name, &self.cfg.exclude_from_weight_decay) {
                w = (w * (1.0 - lr * self.cfg.weight_decay))?;
            }
            let mom = self.state.moments(name, &w)?;
            mom.step += 1;
            // torch's lerp_ with weight < 0.5: m + w·(g - m).
            mom.m = (&mom.m + ((&g - &mom.m)? * (1.0 - b1))?)?;
            mom.v = ((&mom.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let t = mom.step as i32;
            let step_size = lr / (1.0 - b1.powi(t));
            let bias_correction2_sqrt = (1.0 - b2.powi(t)).sqrt();
            let denom = ((mom.v.sqrt()? / bias_correction2_sqrt)? + self.cfg.eps)?;
            let next = (w - ((&mom.m / denom)? * step_size)?)?;
            var.set(&next.to_dtype(var.dtype())?)?;
        }
        Ok(())
    }

    fn state(&self) -> &OptimizerState {
        &self.state
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<(), OptimError> {
        self.state.resume_from(state)
    }
}
