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
        Ok(Self { model, varmap, config, report, rng, precision: Precision::Full })
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
        Ok(Self { model, varmap, config: config.clone(), report: LoadReport::default(), rng, precision: Precision::Full })
    }

    /// The model with its parameters detached from autograd: a forward pass through it records no graph, so every
    /// intermediate tensor is freed as soon as it has been used. Use it for inference; build it again after the
    /// parameters change. Its encoder projections are prepared for inference ([`AlbertForAny::prepare_inference`])
    /// in [`Pretrained::precision`]; every other parameter shares its storage.
    pub fn detached(&self) -> Result<AlbertForAny> {
        let tensors: HashMap<String, Tensor> =
            self.varmap.data().lock().map_err(|_| Error::Input("the parameter map is poisoned".into()))?.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
        let (dtype, device) = tensors.values().next().map_or((DType::F32, Device::Cpu), |t| (t.dtype(), t.device().clone()));
        let vb = VarBuilder::from_tensors(tensors, dtype, &device);
        let mut model = AlbertForAny::new(&self.config, self.model.architecture(), vb, self.rng.clone())?;
        model.prepare_inference(self.precision)?;
        Ok(model)
    }

    /// How [`Pretrained::detached`] models run the encoder's projections ([`Precision::Full`] unless set).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Chooses how [`Pretrained::detached`] models run the encoder's projections: the one way to ask for int8.
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    /// Number of distinct parameters (the tied decoder counts once).
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
