//! The model that turns passages and queries into vectors, through `albert::pipeline::embed` (mean pooling over
//! the last hidden state, as `albert embed`), L2-normalized so that inner product is cosine.

use std::path::Path;

use albert::pipeline::embed::{embed, Pooling};
use albert::pipeline::{PipelineModel, PipelineOptions, Task};
use albert::tokenizer::AlbertTokenizer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{io, Result};

/// Which model made an index's vectors: queries must be embedded by the same one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderId {
    /// How it was named: a checkpoint directory (made absolute) or a hub id.
    pub spec: String,
    /// Vector size (the model's hidden size).
    pub dim: usize,
    /// SHA-256 of its config.json and weight files, in hex: the model itself, wherever it lies.
    pub fingerprint: String,
}

impl std::fmt::Display for EmbedderId {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        // The first 12 characters (not bytes: a manifest is outside data, and its fingerprint any string).
        let short: String = self.fingerprint.chars().take(12).collect();
        write!(f, "{} ({} dimensions, sha256 {short})", self.spec, self.dim)
    }
}

/// Weight files a checkpoint may hold; the fingerprint covers those present.
const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// A loaded embedder.
pub struct Embedder {
    model: PipelineModel,
    id: EmbedderId,
    /// Passages per forward pass.
    pub batch_size: usize,
}

impl Embedder {
    /// Loads `spec` (a checkpoint directory or a hub id) for embedding.
    pub fn load(spec: &str) -> Result<Self> {
        let model = PipelineModel::load(spec, Task::Embed)?;
        let spec = match Path::new(spec).canonicalize() {
            Ok(dir) if dir.is_dir() => dir.to_string_lossy().into_owned(),
            _ => spec.to_owned(),
        };
        Self::new(model, spec)
    }

    /// An embedder over a model already loaded for [`Task::Embed`], named `spec` in the index's manifest.
    pub fn new(model: PipelineModel, spec: String) -> Result<Self> {
        model.require(Task::Embed)?;
        // A sentence-transformers directory may keep its checkpoint in a subfolder (`0_Transformer/`); its module
        // files (pooling modes, normalization) are part of what the vectors mean, so they are hashed too.
        let weights_dir = model.sentence.as_ref().map_or(model.dir.clone(), |head| head.transformer_dir.clone());
        let mut hash = Sha256::new();
        let module_files = ["modules.json", "1_Pooling/config.json", "sentence_bert_config.json"].map(|f| model.dir.join(f));
        let weight_files = ["config.json"].iter().chain(&WEIGHT_FILES).map(|f| weights_dir.join(f));
        for path in weight_files.chain(module_files) {
            if path.is_file() {
                hash.update(std::fs::read(&path).map_err(io(&path))?);
            }
        }
        let fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        // A sentence-transformers head concatenates one hidden_size vector per pooling mode.
        let dim = model.sentence.as_ref().map_or(model.config().hidden_size, |head| head.modes.len() * head.hidden_size);
        let id = EmbedderId { spec, dim, fingerprint };
        Ok(Self { model, id, batch_size: 16 })
    }

    /// Which model this is.
    pub fn id(&self) -> &EmbedderId {
        &self.id
    }

    /// Its tokenizer, which cuts documents into passages.
    pub fn tokenizer(&self) -> &AlbertTokenizer {
        &self.model.tokenizer
    }

    /// The pipeline model, for callers that run it otherwise.
    pub fn model(&self) -> &PipelineModel {
        &self.model
    }

    /// Unit vectors (`dim` values each) of `texts`, in order, pooled as the checkpoint says (a sentence-transformers
    /// directory's modes; the mean of the token vectors for a plain checkpoint). Texts longer than the model's maximum length are
    /// truncated (a passage of the default 200 tokens never is).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let opts = PipelineOptions { max_length: None, batch_size: self.batch_size };
        Ok(embed(&self.model, texts, Pooling::Model, &opts)?.into_iter().map(|e| normalized(e.vector)).collect())
    }
}

/// `v / |v|` (a zero vector stays zero).
pub(crate) fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
