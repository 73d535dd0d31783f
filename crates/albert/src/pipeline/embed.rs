//! Sentence vectors: the mean of the last hidden state over the real tokens (`[CLS]` and `[SEP]` included,
//! padding excluded by the attention mask), or the pooler output (`tanh(dense([CLS]))`); and the cosine
//! similarity of two texts' mean-pooled vectors.

use candle_core::DType;
use serde::Serialize;

use super::{InOrder, PipelineModel, PipelineOptions, Task};
use crate::error::{Error, Result};

/// Which vector represents a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooling {
    /// Mean of the last hidden state over real tokens.
    #[default]
    Mean,
    /// The pooler output (needs a checkpoint with the pooler: AlbertModel, AlbertForPreTraining,
    /// AlbertForSequenceClassification, AlbertForMultipleChoice).
    Pooler,
}

/// The vector of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embedding {
    /// `hidden_size` values.
    pub vector: Vec<f32>,
    /// Whether the text was truncated to the maximum length.
    pub truncated: bool,
}

/// Embeds `texts`.
pub fn embed(model: &PipelineModel, texts: &[&str], pooling: Pooling, opts: &PipelineOptions) -> Result<Vec<Embedding>> {
    model.require(Task::Embed)?;
    if pooling == Pooling::Pooler && model.model.report.initialized.iter().any(|n| n.starts_with("pooler.")) {
        return Err(Error::Input(format!(
            "{} has no pooler weights (its class is built without the pooler); use mean pooling",
            model.dir.display()
        )));
    }
    let encoded = model.encode(texts, opts.max_length)?;
    let encodings: Vec<_> = encoded.iter().map(|t| &t.encoding).collect();
    let mut out = InOrder::new(texts.len());
    model.run_batches(&encodings, opts.batch_size, |o, batch| {
        let vectors = match pooling {
            Pooling::Pooler => o.base.pooler_output.as_ref().ok_or_else(|| Error::Input("the model has no pooler".into()))?.clone(),
            Pooling::Mean => {
                let h = &o.base.last_hidden_state; // (batch, seq, H)
                let seq = h.dim(1)?;
                let mask: Vec<f32> = batch
                    .iter()
                    .flat_map(|(_, e)| (0..seq).map(|i| if i < e.ids.len() { 1.0 } else { 0.0 }))
                    .collect();
                // (batch, seq, 1)
                let mask = candle_core::Tensor::from_vec(mask, (batch.len(), seq, 1), h.device())?.to_dtype(h.dtype())?;
                let sum = h.broadcast_mul(&mask)?.sum(1)?; // (batch, H)
                let count = mask.sum(1)?; // (batch, 1)
                sum.broadcast_div(&count)?
            }
        };
        let vectors: Vec<Vec<f32>> = vectors.to_dtype(DType::F32)?.to_vec2()?;
        for (v, (i, _)) in vectors.into_iter().zip(batch) {
            out.set(*i, v);
        }
        Ok(())
    })?;
    Ok(out.finish()?.into_iter().zip(&encoded).map(|(vector, e)| Embedding { vector, truncated: e.truncated }).collect())
}

/// Cosine similarity as torch computes it: `a·b / max(|a| |b|, 1e-8)`.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-8)
}

/// The cosine similarity of the mean-pooled vectors of each pair.
pub fn similarity(model: &PipelineModel, pairs: &[(&str, &str)], opts: &PipelineOptions) -> Result<Vec<Similarity>> {
    let texts: Vec<&str> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let vectors = embed(model, &texts, Pooling::Mean, opts)?;
    Ok(vectors
        .chunks(2)
        .map(|p| Similarity { cosine: cosine(&p[0].vector, &p[1].vector), truncated: p[0].truncated || p[1].truncated })
        .collect())
}

/// The similarity of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    /// Cosine of the mean-pooled vectors, in [-1, 1].
    pub cosine: f32,
    /// Whether either text was truncated.
    pub truncated: bool,
}
