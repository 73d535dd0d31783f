//! Loading and saving Hugging Face checkpoints as a whole: config, weights, the right class.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::checkpoint;
use crate::config::{AlbertConfig, Architecture};
use crate::error::{Error, Result};
use crate::model::{init_model, load_model, named_tensors, AlbertForAny, LoadReport, Precision};
use crate::rng::{AlbertRng, SharedRng};

/// How to load a checkpoint.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The class to build; `None` takes the config's `architectures` (or `AlbertModel`).
    pub architecture: Option<Architecture>,
    /// Make a missing head or unused tensors an error instead of a listed warning.
    pub strict: bool,
    /// Initialize a head whose checkpoint tensors have other shapes (another number of labels) instead of refusing
    /// the checkpoint, as transformers' `ignore_mismatched_sizes` (here for head parameters only; the encoder must
    /// always fit). The checkpoint's head tensors are then listed as ignored.
    pub ignore_mismatched_heads: bool,
    /// Compute dtype (f32 by default; weights stored as f16/bf16 are upcast).
    pub dtype: DType,
    /// Device to run on.
    pub device: Device,
    /// Seed of the RNG that initializes absent heads and drives dropout.
    pub seed: u64,
    /// Weights file to read instead of the directory's default (`model.safetensors`, then `pytorch_model.bin`).
    pub weights: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            architecture: None,
            strict: false,
            ignore_mismatched_heads: false,
            dtype: DType::F32,
            device: Device::Cpu,
            seed: 42,
            weights: None,
        }
    }
}

/// The class `arch` over `tensors` (detached parameters by name, sharing their storage with no other tensor),
/// prepared for inference in `precision`: once the builder is dropped the model holds the only references to the
/// tensors it uses, and preparing a layer may move its weight out of its tensor ([`crate::ops::PackedLinear::from_owned`]).
fn prepared_model(config: &AlbertConfig, arch: Architecture, tensors: HashMap<String, Tensor>, rng: SharedRng, precision: Precision) -> Result<AlbertForAny> {
    let (dtype, device) = tensors.values().next().map_or((DType::F32, Device::Cpu), |t| (t.dtype(), t.device().clone()));
    let mut model = AlbertForAny::new(config, arch, VarBuilder::from_tensors(tensors, dtype, &device), rng)?;
    model.prepare_inference(precision)?;
    Ok(model)
}

/// A model with its parameters, config and provenance.
pub struct Pretrained {
    /// The model, of the class that was asked for.
    pub model: AlbertForAny,
    /// Its parameters, by Hugging Face name (train them, save them).
    pub varmap: VarMap,
    /// Its configuration.
    pub config: AlbertConfig,
    /// What was initialized and what was ignored while loading.
    pub report: LoadReport,
    /// The RNG shared by its dropout layers.
    pub rng: SharedRng,
    /// How [`Pretrained::detached`] models run the encoder's projections; the trainable `model` always stays in
    /// its own dtype.
    precision: Precision,
    /// Whether `model` is the inference model itself ([`Pretrained::into_prepared`]), the parameters gone.
    prepared: bool,
}

impl Pretrained {
    /// Loads a checkpoint directory (config.json plus weights) as the class in `opts`.
    ///
    /// ```no_run
    /// use albert::pretrained::{LoadOptions, Pretrained};
    /// let m = Pretrained::load("path/to/albert-base-v2", &LoadOptions::default()).unwrap();
    /// println!("{} parameters", m.parameter_count());
    /// ```
    pub fn load(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Input(format!("{} is not a checkpoint directory", dir.display())));
        }
        let config = AlbertConfig::from_file(dir.join("config.json"))?;
        Self::load_with_config(dir, config, opts)
    }

    /// Loads a checkpoint directory's weights under `config` instead of its own `config.json`: the way to put a
    /// new head (other labels, say) on a pretrained encoder. Heads the weights lack are initialized.
    pub fn load_with_config(dir: impl AsRef<Path>, config: AlbertConfig, opts: &LoadOptions) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Input(format!("{} is not a checkpoint directory", dir.display())));
        }
        config.validate()?;
        let weights = opts.weights.clone().unwrap_or_else(|| dir.to_path_buf());
        let tensors = checkpoint::load_tensors(&weights, &opts.device, opts.dtype)?;
        let arch = opts.architecture.or_else(|| config.architecture()).unwrap_or(Architecture::Model);
        let mut init_rng = AlbertRng::new(opts.seed);
        let rng: SharedRng = Arc::new(Mutex::new(init_rng.fork(1)));
        let (model, varmap, report) =
            load_model(&config, arch, tensors, opts, &mut init_rng, |vb| {
                AlbertForAny::new(&config, arch, vb, rng.clone())
            })?;
        Ok(Self { model, varmap, config, report, rng, precision: Precision::Full, prepared: false })
    }

    /// A freshly initialized model of class `arch` (transformers' `_init_weights`, from `seed`).
    pub fn init(config: &AlbertConfig, arch: Architecture, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        config.validate()?;
        crate::memory::ensure_fits(
            crate::memory::weight_bytes(config, arch, dtype.size_in_bytes()),
            &format!("the {} of this config", arch.hf_name()),
        )?;
        let mut init_rng = AlbertRng::new(seed);
        let rng: SharedRng = Arc::new(Mutex::new(init_rng.fork(1)));
        let (model, varmap) =
            init_model(config, dtype, device, &mut init_rng, |vb: VarBuilder| AlbertForAny::new(config, arch, vb, rng.clone()))?;
        Ok(Self { model, varmap, config: config.clone(), report: LoadReport::default(), rng, precision: Precision::Full, prepared: false })
    }

    /// The model with its parameters detached from autograd: a forward pass through it records no graph, so every
    /// intermediate tensor is freed as soon as it has been used. Use it for inference; build it again after the
    /// parameters change. Its encoder projections are prepared for inference ([`AlbertForAny::prepare_inference`])
    /// in [`Pretrained::precision`]; every other parameter shares its storage.
    ///
    /// The parameters stay here too, for training and gradients: the model is built on a copy of them, which it
    /// prepares in place (twice the weights' memory in all). Where nothing else needs them,
    /// [`Pretrained::into_inference`] holds one copy.
    pub fn detached(&self) -> Result<AlbertForAny> {
        self.detached_as(self.precision)
    }

    /// [`Pretrained::detached`] in `precision` rather than this model's own.
    pub fn detached_as(&self, precision: Precision) -> Result<AlbertForAny> {
        self.require_parameters("detached")?;
        let vars = self.varmap.data().lock().map_err(|_| Error::Input("the parameter map is poisoned".into()))?;
        let tensors = vars.iter().map(|(n, v)| Ok((n.clone(), v.as_detached_tensor().copy()?))).collect::<Result<HashMap<String, Tensor>>>()?;
        drop(vars);
        prepared_model(&self.config, self.model.architecture(), tensors, self.rng.clone(), precision)
    }

    /// The model of [`Pretrained::detached`], built from the parameters themselves: the trainable model and the
    /// parameter map are dropped first, so each encoder weight is held once, in its prepared form, and the memory
    /// peaks at the weights plus the largest one being prepared (albert-xxlarge's 0.85 GiB of f32 weights plus a
    /// 256 MiB feed-forward matrix) where a detached copy beside the parameters took twice the weights.
    pub fn into_inference(self) -> Result<AlbertForAny> {
        Ok(self.into_prepared()?.model)
    }

    /// This model with [`Pretrained::into_inference`]'s model in place of the trainable one, for a caller that
    /// only predicts through a `Pretrained` (`albert predict`): each weight held once, where
    /// [`Pretrained::detached`] would prepare a copy beside the parameters. The parameters are gone: the map is
    /// left empty, [`Pretrained::detached`] and [`Pretrained::save`] refuse, nothing can be trained, and
    /// [`Pretrained::is_prepared`] says so. It is built in this model's precision (set it first); preparing a
    /// prepared model returns it as it is.
    pub fn into_prepared(self) -> Result<Self> {
        if self.prepared {
            return Ok(self);
        }
        let Self { model, varmap, config, report, rng, precision, .. } = self;
        let arch = model.architecture();
        drop(model);
        let vars = std::mem::take(&mut *varmap.data().lock().map_err(|_| Error::Input("the parameter map is poisoned".into()))?);
        let tensors = vars.into_iter().map(|(n, v)| (n, v.as_detached_tensor())).collect();
        let model = prepared_model(&config, arch, tensors, rng.clone(), precision)?;
        Ok(Self { model, varmap, config, report, rng, precision, prepared: true })
    }

    /// Whether `model` is the inference model itself, the parameters gone ([`Pretrained::into_prepared`]).
    pub fn is_prepared(&self) -> bool {
        self.prepared
    }

    /// Refuses `what` on a model whose parameters went into its inference model.
    fn require_parameters(&self, what: &str) -> Result<()> {
        if self.prepared {
            return Err(Error::Input(format!(
                "this model was prepared for inference in place (Pretrained::into_prepared): its parameters are gone, so it cannot be {what}"
            )));
        }
        Ok(())
    }

    /// How [`Pretrained::detached`] models run the encoder's projections ([`Precision::Full`] unless set).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Chooses how [`Pretrained::detached`] models (and [`Pretrained::into_prepared`]) run the encoder's
    /// projections: the one way to ask for int8.
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    /// Number of distinct parameters (the tied decoder counts once); 0 once [`Pretrained::into_prepared`].
    pub fn parameter_count(&self) -> usize {
        self.varmap.all_vars().iter().map(|v| v.elem_count()).sum()
    }

    /// Writes `config.json` (with this class in `architectures`) and `model.safetensors` into `dir`, atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_as(dir, None)
    }

    /// [`Pretrained::save`] with the weights stored as `dtype` (f16 halves the file; loading upcasts again), or as
    /// they are when `None`.
    pub fn save_as(&self, dir: impl AsRef<Path>, dtype: Option<DType>) -> Result<()> {
        self.require_parameters("saved")?;
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut config = self.config.clone();
        config.architectures = Some(vec![self.model.architecture().hf_name().to_string()]);
        let mut tensors = named_tensors(&self.varmap);
        if let Some(dtype) = dtype {
            for (_, t) in tensors.iter_mut() {
                *t = t.to_dtype(dtype)?;
            }
        }
        checkpoint::save_safetensors(&dir.join("model.safetensors"), &tensors)?;
        config.save(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether each of the encoder's linear layers still holds its trainable (unpacked) weight.
    fn trainable_weights(model: &AlbertForAny) -> Vec<bool> {
        let AlbertForAny::Model(m) = model else { panic!("built as AlbertModel") };
        m.encoder_linears().iter().map(|l| l.trainable()).collect()
    }

    /// A model prepared for inference holds each encoder weight once, in its prepared form (packed, int8 or
    /// column-major, whichever this process runs): no layer keeps its trainable weight, and of the query, key and
    /// value layers only their stacked projection is left. Two layers in one group: the E -> H projection, then
    /// per layer q, k, v, dense, ffn, ffn_output (trainable) or qkv, dense, ffn, ffn_output (prepared).
    #[test]
    fn a_prepared_encoder_holds_no_unpacked_weight() {
        let cfg = AlbertConfig {
            vocab_size: 50,
            embedding_size: 8,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 32,
            inner_group_num: 2,
            ..AlbertConfig::default()
        };
        let init = || Pretrained::init(&cfg, Architecture::Model, 3, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(trainable_weights(&init().model), [true; 13]);
        for precision in [Precision::Full, Precision::Int8] {
            let mut model = init();
            model.set_precision(precision);
            let detached = model.detached().unwrap();
            assert_eq!(trainable_weights(&detached), [false; 9], "{precision:?}, detached");
            let owned = model.into_inference().unwrap();
            assert_eq!(trainable_weights(&owned), [false; 9], "{precision:?}, into_inference");
            let mut in_place = init();
            in_place.set_precision(precision);
            let in_place = in_place.into_prepared().unwrap();
            assert_eq!(trainable_weights(&in_place.model), [false; 9], "{precision:?}, into_prepared");
            // Preparing twice would need the dropped weights: refused.
            let AlbertForAny::Model(mut m) = owned else { panic!("built as AlbertModel") };
            assert!(m.prepare_inference(precision).is_err());
        }
    }

    /// A model prepared in place answers as its detached copy does, bit for bit, in f32 and int8; with its
    /// parameters gone it refuses to be detached or saved, by name, and preparing it again changes nothing.
    #[test]
    fn a_model_prepared_in_place_answers_as_its_detached_copy() {
        let cfg = AlbertConfig { vocab_size: 50, embedding_size: 8, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, ..AlbertConfig::default() };
        let input = crate::model::AlbertInput::new(Tensor::new(&[[2u32, 7, 11, 3]], &Device::Cpu).unwrap());
        let hidden = |m: &AlbertForAny| {
            let out = m.forward(&input, &crate::model::ForwardOptions::default()).unwrap();
            out.base.last_hidden_state.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        for precision in [Precision::Full, Precision::Int8] {
            let mut model = Pretrained::init(&cfg, Architecture::Model, 5, DType::F32, &Device::Cpu).unwrap();
            model.set_precision(precision);
            let expected = hidden(&model.detached().unwrap());
            let prepared = model.into_prepared().unwrap();
            assert!(prepared.is_prepared());
            assert_eq!(hidden(&prepared.model), expected, "{precision:?}");
            let err = prepared.detached().unwrap_err().to_string();
            assert!(err.contains("prepared for inference in place") && err.contains("detached"), "{err}");
            let dir = tempfile::tempdir().unwrap();
            assert!(prepared.save(dir.path()).unwrap_err().to_string().contains("cannot be saved"));
            assert!(!dir.path().join("model.safetensors").exists());
            let again = prepared.into_prepared().unwrap();
            assert_eq!(hidden(&again.model), expected, "{precision:?}, prepared twice");
        }
    }
}
