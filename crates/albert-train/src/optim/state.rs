//! Optimizer state (first and second moments, step counts) and its safetensors form.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use super::OptimError;
use albert::fsio::write_atomic;

/// The safetensors metadata entry holding the optimizer's kind and per-parameter step counts.
const METADATA_KEY: &str = "albert_optimizer";

/// Moments of one parameter.
#[derive(Debug, Clone)]
pub struct Moments {
    /// First moment (f32, the parameter's shape).
    pub m: Tensor,
    /// Second moment (f32).
    pub v: Tensor,
    /// Updates applied to this parameter.
    pub step: u64,
}

/// The state of an optimizer: which one, and the moments of each named parameter.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// `"lamb"` or `"adamw"`; loading into another optimizer fails.
    pub kind: String,
    /// Moments by parameter name.
    pub params: BTreeMap<String, Moments>,
}

impl OptimizerState {
    /// Replaces this state with `other`, which must come from the same kind of optimizer.
    pub(crate) fn resume_from(&mut self, other: OptimizerState) -> Result<(), OptimError> {
        if other.kind != self.kind {
            let name = match self.kind.as_str() {
                "adamw" => "AdamW",
                "lamb" => "LAMB",
                other => other,
            };
            return Err(OptimError::BadState {
                path: Default::default(),
                message: format!("state of a {:?} optimizer cannot resume {name}", other.kind),
            });
        }
        *self = other;
        Ok(())
    }

    /// Empty state of optimizer `kind`.
    pub fn new(kind: &str) -> Self {
        OptimizerState {
            kind: kind.to_owned(),
            params: BTreeMap::new(),
        }
    }

    /// The moments of `name`, zero-initialised for `like` on first use; errors when an existing
    /// state's shape differs from the parameter's.
    pub(crate) fn moments(
        &mut self,
        name: &str,
        like: &Tensor,
    ) -> Result<&mut Moments, OptimError> {
        if !self.params.contains_key(name) {
            let zeros = Tensor::zeros(like.shape(), DType::F32, like.device())?;
            self.params.insert(
                name.to_owned(),
                Moments {
                    m: zeros.clone(),
                    v: zeros,
                    step: 0,
                },
            );
        }
        let moments = self.params.get_mut(name).expect("inserted above");
        if moments.m.shape() != like.shape() {
            return Err(OptimError::BadState {
                path: Default::default(),
                message: format!(
                    "moments of {name} have shape {:?}, the parameter {:?}",
                    moments.m.dims(),
                    like.dims()
                ),
            });
        }
        Ok(moments)
    }

    /// Writes `<name>.m` / `<name>.v` tensors with the kind and per-parameter steps as metadata: one entry holding
    /// a JSON object with sorted keys, since safetensors writes its metadata map in hash order and the file would
    /// otherwise differ from run to run.
    pub fn save(&self, path: &Path) -> Result<(), OptimError> {
        let mut tensors = Vec::with_capacity(2 * self.params.len());
        let mut steps = BTreeMap::new();
        for (name, mom) in &self.params {
            tensors.push((format!("{name}.m"), mom.m.to_device(&Device::Cpu)?));
            tensors.push((format!("{name}.v"), mom.v.to_device(&Device::Cpu)?));
            steps.insert(name.as_str(), mom.step);
        }
        let entry = serde_json::json!({"optimizer": self.kind, "steps": steps}).to_string();
        let metadata = HashMap::from([(METADATA_KEY.to_owned(), entry)]);
        let bytes =
            safetensors::serialize(tensors, Some(metadata)).map_err(|e| OptimError::BadState {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        write_atomic(path, &bytes).map_err(|e| OptimError::Io {
            path: path.to_owned(),
            source: e,
        })
    }

    /// Reads a file written by [`OptimizerState::save`], placing tensors on `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self, OptimError> {
        let bad = |message: String| OptimError::BadState {
            path: path.to_owned(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| OptimError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        #[derive(serde::Deserialize)]
        struct Entry {
            optimizer: String,
            steps: BTreeMap<String, u64>,
        }
        let entry = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .ok_or_else(|| bad(format!("no {METADATA_KEY:?} entry in the metadata")))?;
        let entry: Entry = serde_json::from_str(entry).map_err(|e| bad(format!("{METADATA_KEY}: {e}")))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut state = OptimizerState::new(&entry.optimizer);
        for (key, &step) in &entry.steps {
            let load = |suffix: &str| -> Result<Tensor, OptimError> {
                let view = st
                    .tensor(&format!("{key}.{suffix}"))
                    .map_err(|e| bad(e.to_string()))?;
                let t = candle_core::safetensors::Load::load(&view, device)?;
                if t.dtype() != DType::F32 {
                    return Err(bad(format!(
                        "{key}.{suffix} is {:?}, expected F32",
                        t.dtype()
                    )));
                }
                Ok(t)
            };
            let (m, v) = (load("m")?, load("v")?);
            if m.shape() != v.shape() {
                return Err(bad(format!(
                    "{key}: first and second moments differ in shape"
                )));
            }
            state.params.insert(key.to_owned(), Moments { m, v, step });
        }
        if st.len() != 2 * state.params.len() {
            return Err(bad("tensors without a step count in the metadata".into()));
        }
        Ok(state)
    }
}
