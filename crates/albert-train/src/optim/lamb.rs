//! LAMB, exactly as google-research/albert's `lamb_optimizer.py`.

use candle_core::backprop::GradStore;

use super::{check_adam_settings, name_matches, update_each, NamedParams, OptimError, Optimizer, OptimizerState, DEFAULT_EXCLUDE};

/// LAMB's settings; the defaults are ALBERT's.
#[derive(Debug, Clone, PartialEq)]
pub struct LambConfig {
    /// First-moment decay (0.9).
    pub beta1: f64,
    /// Second-moment decay (0.999).
    pub beta2: f64,
    /// Added to the root of the second moment (1e-6).
    pub eps: f64,
    /// Decoupled weight decay rate (0.01).
    pub weight_decay: f64,
    /// Parameters whose names contain one of these get no weight decay
    /// (`["LayerNorm", "layer_norm", "bias"]`).
    pub exclude_from_weight_decay: Vec<String>,
    /// Parameters whose names contain one of these get no trust ratio; `None` means the
    /// weight-decay list, as in the original.
    pub exclude_from_layer_adaptation: Option<Vec<String>>,
}

impl Default for LambConfig {
    fn default() -> Self {
        LambConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-6,
            weight_decay: 0.01,
            exclude_from_weight_decay: DEFAULT_EXCLUDE.iter().map(|s| s.to_string()).collect(),
            exclude_from_layer_adaptation: None,
        }
    }
}

/// The LAMB optimizer (You et al., 2019) as ALBERT trains with it.
///
/// Per parameter `w` with gradient `g`: `m ← β₁m + (1-β₁)g`, `v ← β₂v + (1-β₂)g²` (no bias
/// correction), `u = m / (√v + ε)`, plus `λw` unless excluded from weight decay; then
/// `w ← w - r·lr·u` with trust ratio `r = ‖w‖/‖u‖`, or 1 when either norm is 0 or the parameter is
/// excluded from layer adaptation.
///
/// ```
/// use albert_train::optim::{Lamb, LambConfig, Optimizer};
/// use candle_core::{Device, Tensor, Var};
/// let w = Var::from_tensor(&Tensor::new(&[3f32, 4.0], &Device::Cpu)?)?;
/// let loss = w.as_tensor().sqr()?.sum_all()?; // gradient 2w
/// let grads = loss.backward()?;
/// let params = vec![("dense.weight".to_string(), w.clone())];
/// let mut lamb = Lamb::new(LambConfig { weight_decay: 0.0, ..LambConfig::default() })?;
/// lamb.step(&params, &grads, 0.1)?;
/// // u = 0.1g / (√0.001·|g| + 1e-6) ≈ (√10, √10); the trust ratio ‖w‖/‖u‖ scales the step to
/// // lr·‖w‖ = 0.5 along (1, 1)/√2.
/// let v = w.as_tensor().to_vec1::<f32>()?;
/// let step = 0.5 / 2f32.sqrt();
/// assert!((v[0] - (3.0 - step)).abs() < 1e-5 && (v[1] - (4.0 - step)).abs() < 1e-5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lamb {
    cfg: LambConfig,
    state: OptimizerState,
}

impl Lamb {
    /// A LAMB optimizer with empty state.
    pub fn new(cfg: LambConfig) -> Result<Self, OptimError> {
        check_adam_settings("LAMB", (cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay), &cfg)?;
        Ok(Lamb {
            cfg,
            state: OptimizerState::new("lamb"),
        })
    }

}

fn uses_weight_decay(cfg: &LambConfig, name: &str) -> bool {
    cfg.weight_decay != 0.0 && !name_matches(name, &cfg.exclude_from_weight_decay)
}

fn uses_layer_adaptation(cfg: &LambConfig, name: &str) -> bool {
    let exclude = cfg.exclude_from_layer_adaptation.as_ref().unwrap_or(&cfg.exclude_from_weight_decay);
    !name_matches(name, exclude)
}

impl Optimizer for Lamb {
    fn step(&mut self, params: &NamedParams, grads: &GradStore, lr: f64) -> Result<(), OptimError> {
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let (cfg, state) = (&self.cfg, &mut self.state);
        update_each(params, grads, |name, w, g| {
            let decay = uses_weight_decay(cfg, name);
            let adapt = uses_layer_adaptation(cfg, name);
            let mom = state.moments(name, w)?;
            mom.m = ((&mom.m * b1)? + (g * (1.0 - b1))?)?;
            mom.v = ((&mom.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            mom.step += 1;
            let mut update = (&mom.m / (mom.v.sqrt()? + cfg.eps)?)?;
            if decay {
                update = (update + (w * cfg.weight_decay)?)?;
            }
            let mut ratio = 1.0;
            if adapt {
                let w_norm = w.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
                let u_norm = update.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()? as f64;
                if w_norm > 0.0 && u_norm > 0.0 {
                    ratio = w_norm / u_norm;
                }
            }
            Ok((w - (update * (ratio * lr))?)?)
        })
    }

    fn state(&self) -> &OptimizerState {
        &self.state
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<(), OptimError> {
        self.state.resume_from(state)
    }
}
