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
        write!(f, "{} ({} dimensions, sha256 {})", self.spec, self.dim, &self.fingerprint[..self.fingerprint.len().min(12)])
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
        let mut hash = Sha256::new();
        for name in ["config.json"].iter().chain(&WEIGHT_FILES) {
            let path = model.dir.join(name);
            if path.is_file() {
                hash.update(std::fs::read(&path).map_err(io(&path))?);
            }
        }
        let fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let id = EmbedderId { spec, dim: model.config().hidden_size, fingerprint };
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

    /// Unit vectors (`dim` values each) of `texts`, in order. Texts longer than the model's maximum length are
    /// truncated (a passage of the default 200 tokens never is).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let opts = PipelineOptions { max_length: None, batch_size: self.batch_size };
        Ok(embed(&self.model, texts, Pooling::Mean, &opts)?.into_iter().map(|e| normalized(e.vector)).collect())
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
