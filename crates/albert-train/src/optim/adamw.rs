//! AdamW, exactly as `torch.optim.AdamW`.

use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, Device, Layout, Storage, Tensor};
use rayon::prelude::*;

use super::{check_adam_settings, name_matches, update_each, Moments, NamedParams, OptimError, Optimizer, OptimizerState, DEFAULT_EXCLUDE};

/// AdamW's settings; the defaults are torch's, with ALBERT's exclusions from weight decay.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
        check_adam_settings("AdamW", (cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay), &cfg)?;
        Ok(AdamW {
            cfg,
            state: OptimizerState::new("adamw"),
        })
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &NamedParams, grads: &GradStore, lr: f64) -> Result<(), OptimError> {
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let (cfg, state) = (&self.cfg, &mut self.state);
        update_each(params, grads, |name, w, g| {
            let decay = if name_matches(name, &cfg.exclude_from_weight_decay) { 1.0 } else { 1.0 - lr * cfg.weight_decay };
            let mom = state.moments(name, w)?;
            mom.step += 1;
            let t = mom.step as i32;
            let k = Coefficients {
                decay,
                b1,
                b2,
                inv_bias_correction2_sqrt: 1.0 / (1.0 - b2.powi(t)).sqrt(),
                eps: cfg.eps,
                step_size: lr / (1.0 - b1.powi(t)),
            };
            match fused(&k, w, g, mom)? {
                Some(next) => Ok(next),
                None => composed(&k, w, g, mom),
            }
        })
    }

    fn state(&self) -> &OptimizerState {
        &self.state
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<(), OptimError> {
        self.state.resume_from(state)
    }
}

/// One step's numbers for one parameter.
struct Coefficients {
    /// `1 - lr·weight_decay`, or 1 where the parameter takes no decay.
    decay: f64,
    b1: f64,
    b2: f64,
    inv_bias_correction2_sqrt: f64,
    eps: f64,
    step_size: f64,
}

/// The update as candle operations (any device): torch's
/// `w·decay - step_size · m / (sqrt(v) / sqrt(1 - b2^t) + eps)`, with `m` lerped towards `g` and `v` towards `g²`.
fn composed(k: &Coefficients, w: &Tensor, g: &Tensor, mom: &mut Moments) -> Result<Tensor, OptimError> {
    let w = (w * k.decay)?;
    // torch's lerp_ with weight < 0.5: m + w·(g - m).
    mom.m = (&mom.m + ((g - &mom.m)? * (1.0 - k.b1))?)?;
    mom.v = ((&mom.v * k.b2)? + (g.sqr()? * (1.0 - k.b2))?)?;
    let denom = ((mom.v.sqrt()? * k.inv_bias_correction2_sqrt)? + k.eps)?;
    Ok((w - ((&mom.m / denom)? * k.step_size)?)?)
}

/// The same update in one pass over the f32 values of a CPU parameter (the composed one reads and writes every
/// element a dozen times); `None` where the tensors are not contiguous f32 on the CPU.
fn fused(k: &Coefficients, w: &Tensor, g: &Tensor, mom: &mut Moments) -> Result<Option<Tensor>, OptimError> {
    let shape = w.shape().clone();
    let Some((w2, m2, v2)) = fused_values(k, w, g, mom) else {
        return Ok(None);
    };
    mom.m = Tensor::from_vec(m2, shape.clone(), &Device::Cpu)?;
    mom.v = Tensor::from_vec(v2, shape.clone(), &Device::Cpu)?;
    Ok(Some(Tensor::from_vec(w2, shape, &Device::Cpu)?))
}

/// The values of a contiguous f32 CPU tensor.
fn cpu_f32<'a>(s: &'a Storage, l: &Layout) -> Option<&'a [f32]> {
    match (s, l.contiguous_offsets()) {
        (Storage::Cpu(CpuStorage::F32(v)), Some((start, end))) => Some(&v[start..end]),
        _ => None,
    }
}

/// The next weights and moments, each a new vector.
fn fused_values(k: &Coefficients, w: &Tensor, g: &Tensor, mom: &Moments) -> Option<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let (ws, wl) = w.storage_and_layout();
    let (gs, gl) = g.storage_and_layout();
    let (ms, ml) = mom.m.storage_and_layout();
    let (vs, vl) = mom.v.storage_and_layout();
    let (w, g, m, v) = (cpu_f32(&ws, wl)?, cpu_f32(&gs, gl)?, cpu_f32(&ms, ml)?, cpu_f32(&vs, vl)?);
    let n = w.len();
    if [g.len(), m.len(), v.len()] != [n; 3] {
        return None;
    }
    let (decay, b1c, b2, b2c) = (k.decay as f32, (1.0 - k.b1) as f32, k.b2 as f32, (1.0 - k.b2) as f32);
    let (inv_bc2, eps, step_size) = (k.inv_bias_correction2_sqrt as f32, k.eps as f32, k.step_size as f32);
    let (mut w2, mut m2, mut v2) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
    const CHUNK: usize = 1 << 14;
    w2.par_chunks_mut(CHUNK).zip(m2.par_chunks_mut(CHUNK)).zip(v2.par_chunks_mut(CHUNK)).enumerate().for_each(
        |(c, ((wo, mo), vo))| {
            let at = c * CHUNK..c * CHUNK + wo.len();
            let (w, g, m, v) = (&w[at.clone()], &g[at.clone()], &m[at.clone()], &v[at]);
            for i in 0..wo.len() {
                mo[i] = m[i] + (g[i] - m[i]) * b1c;
                vo[i] = v[i] * b2 + g[i] * g[i] * b2c;
                wo[i] = w[i] * decay - mo[i] / (vo[i].sqrt() * inv_bc2 + eps) * step_size;
            }
        },
    );
    Some((w2, m2, v2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass CPU update and the composed one (other devices) agree; torch's trajectory is checked in
    /// tests/optim_reference.rs through the first.
    #[test]
    fn fused_update_equals_composed_update() {
        let n = 40_000; // more than two chunks
        let values = |seed: f32| -> Tensor {
            let v: Vec<f32> = (0..n).map(|i| ((i as f32 + seed) * 0.731).sin()).collect();
            Tensor::from_vec(v, (200, 200), &Device::Cpu).unwrap()
        };
        let (w, g) = (values(1.0), values(2.0));
        let moments = || Moments { m: values(3.0), v: values(4.0).sqr().unwrap(), step: 3 };
        let k = Coefficients { decay: 0.99, b1: 0.9, b2: 0.999, inv_bias_correction2_sqrt: 1.3, eps: 1e-8, step_size: 1e-3 };
        let (mut a, mut b) = (moments(), moments());
        let fast = fused(&k, &w, &g, &mut a).unwrap().expect("contiguous f32 on the CPU");
        let slow = composed(&k, &w, &g, &mut b).unwrap();
        for (x, y) in [(fast, slow), (a.m, b.m), (a.v, b.v)] {
            let diff = (x - y).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-6, "differ by {diff}");
        }
    }
}
