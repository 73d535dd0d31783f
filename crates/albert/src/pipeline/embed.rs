//! Sentence vectors: the mean of the last hidden state over the real tokens (`[CLS]` and `[SEP]` included,
//! padding excluded by the attention mask), what a sentence-transformers directory's modules compute (see
//! [`super::embed_st`]), or the pooler output (`tanh(dense([CLS]))`); and the cosine similarity of two texts'
//! vectors.

use candle_core::DType;
use serde::Serialize;

use super::{all, finite, PerInput, PipelineModel, PipelineOptions, Task, Truncated};
use crate::error::{Error, Result};

/// Which vector represents a text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooling {
    /// The checkpoint's own: a sentence-transformers directory's modules ([`PipelineModel::sentence`]: its pooling
    /// modes, Normalize), the mean (as [`Pooling::Mean`]) for any other checkpoint.
    #[default]
    Model,
    /// Mean of the last hidden state over real tokens, whatever the checkpoint's own pooling.
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

/// Embeds `texts`; the first bad input fails the call (see [`embed_each`]).
pub fn embed(model: &PipelineModel, texts: &[&str], pooling: Pooling, opts: &PipelineOptions) -> Result<Vec<Embedding>> {
    all(embed_each(model, texts, pooling, opts)?)
}

/// Embeds each text as [`embed`] does; an empty text, or one whose vector is not finite, gets its own error and
/// the others their vectors.
pub fn embed_each(
    model: &PipelineModel,
    texts: &[&str],
    pooling: Pooling,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Embedding>>> {
    let encoded = model.encode_each(texts, opts.max_length)?;
    embed_encoded_each(model, encoded, pooling, opts)
}

/// Embeds inputs already encoded (texts cut from either end, or token ids: see
/// [`PipelineModel::encode_each_from`] and [`PipelineModel::encode_ids_each`]) as [`embed_each`] does; inputs that
/// failed to encode keep their error.
pub fn embed_encoded_each(
    model: &PipelineModel,
    encoded: Vec<PerInput<Truncated>>,
    pooling: Pooling,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Embedding>>> {
    model.require(Task::Embed)?;
    if pooling == Pooling::Pooler && model.report().initialized.iter().any(|n| n.starts_with("pooler.")) {
        return Err(Error::Input(format!(
            "{} has no pooler weights (its class is built without the pooler); use mean pooling",
            model.dir.display()
        )));
    }
    let head = match pooling {
        Pooling::Model => model.sentence.as_ref(),
        Pooling::Mean | Pooling::Pooler => None,
    };
    model.run_each(encoded, opts.batch_size, |o, row, _, t| {
        let vector: Vec<f32> = match (pooling, head) {
            (Pooling::Pooler, _) => {
                let pooled = o.base.pooler_output.as_ref().ok_or_else(|| Error::Input("the model has no pooler".into()))?;
                pooled.get(row)?.to_dtype(DType::F32)?.to_vec1()?
            }
            (_, Some(head)) => {
                // The real tokens of the row, padding left out: (len, H).
                let tokens = o.base.last_hidden_state.get(row)?.narrow(0, 0, t.encoding.len())?;
                head.pool(&tokens.to_dtype(DType::F32)?.to_vec2::<f32>()?)?
            }
            (Pooling::Model | Pooling::Mean, None) => {
                // The real tokens of the row, padding left out: (len, H) summed to (H).
                let len = t.encoding.len();
                let sum = o.base.last_hidden_state.get(row)?.narrow(0, 0, len)?.sum(0)?;
                sum.to_dtype(DType::F32)?.to_vec1::<f32>()?.into_iter().map(|x| x / len as f32).collect()
            }
        };
        Ok(finite(&vector).map(|()| Embedding { vector, truncated: t.truncated }))
    })
}

/// Cosine similarity as torch computes it: `a·b / max(|a| |b|, 1e-8)`.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-8)
}

/// The cosine similarity of the vectors ([`Pooling::Model`]) of each pair; the first bad text fails the call (see
/// [`similarity_each`]).
pub fn similarity(model: &PipelineModel, pairs: &[(&str, &str)], opts: &PipelineOptions) -> Result<Vec<Similarity>> {
    all(similarity_each(model, pairs, opts)?)
}

/// The similarity of each pair as [`similarity`] gives it; a pair with a bad text (the first one's error) gets its
/// own error and the others their cosine.
pub fn similarity_each(
    model: &PipelineModel,
    pairs: &[(&str, &str)],
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Similarity>>> {
    let texts: Vec<&str> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    let mut vectors = embed_each(model, &texts, Pooling::Model, opts)?.into_iter();
    let mut out = Vec::with_capacity(pairs.len());
    while let (Some(a), Some(b)) = (vectors.next(), vectors.next()) {
        out.push(a.and_then(|a| {
            let b = b?;
            Ok(Similarity { cosine: cosine(&a.vector, &b.vector), truncated: a.truncated || b.truncated })
        }));
    }
    Ok(out)
}

/// The similarity of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Similarity {
    /// Cosine of the two vectors ([`Pooling::Model`]), in [-1, 1].
    pub cosine: f32,
    /// Whether either text was truncated.
    pub truncated: bool,
}
