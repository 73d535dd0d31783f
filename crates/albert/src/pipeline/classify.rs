//! Sequence classification, as transformers' `text-classification` pipeline with `top_k=None`: every label with
//! its score, best first. Scores are a softmax over the labels, a sigmoid per label for
//! `multi_label_classification` (and for one label without a problem type), or the raw output for regression.

use serde::Serialize;

use super::{all, finite, softmax, PerInput, PipelineModel, PipelineOptions, Task, Truncated};
use crate::config::ProblemType;
use crate::error::{Error, Result};

/// How logits become scores (transformers' `function_to_apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreFunction {
    /// Softmax over the labels (single-label classification).
    Softmax,
    /// Independent sigmoid per label (multi-label classification).
    Sigmoid,
    /// The raw output (regression).
    None,
}

impl ScoreFunction {
    /// The function transformers' pipeline picks for a model: regression → none; multi-label or a single output →
    /// sigmoid; otherwise softmax.
    pub fn for_config(problem_type: Option<ProblemType>, num_labels: usize) -> Self {
        match problem_type {
            Some(ProblemType::Regression) => Self::None,
            Some(ProblemType::MultiLabelClassification) => Self::Sigmoid,
            _ if num_labels == 1 => Self::Sigmoid,
            _ => Self::Softmax,
        }
    }

    fn apply(self, logits: &[f32]) -> Vec<f32> {
        match self {
            Self::Softmax => softmax(logits),
            Self::Sigmoid => logits.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect(),
            Self::None => logits.to_vec(),
        }
    }
}

/// A label and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    /// The label's name (`id2label`, else `LABEL_i`).
    pub label: String,
    /// Its score (see [`ScoreFunction`]).
    pub score: f32,
}

/// The labels of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Labels by decreasing score (the `top_k` best when asked).
    pub labels: Vec<LabelScore>,
    /// Whether the text was truncated to the maximum length.
    pub truncated: bool,
}

/// Classifies `texts`; `top_k` keeps the best labels only (all by default; 0 is refused). The first bad input
/// fails the call (see [`classify_each`]).
///
/// The model must be loaded for [`super::Task::Classify`].
pub fn classify(
    model: &PipelineModel,
    texts: &[&str],
    top_k: Option<usize>,
    opts: &PipelineOptions,
) -> Result<Vec<Classification>> {
    all(classify_each(model, texts, top_k, opts)?)
}

/// Classifies each text as [`classify`] does; an empty text, or one whose logits are not finite, gets its own
/// error and the others their labels.
pub fn classify_each(
    model: &PipelineModel,
    texts: &[&str],
    top_k: Option<usize>,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Classification>>> {
    let cfg = model.config();
    let function = ScoreFunction::for_config(cfg.problem_type, cfg.num_labels());
    let encoded = model.encode_each(texts, opts.max_length)?;
    classify_encoded_each(model, encoded, top_k, function, opts)
}

/// Classifies inputs already encoded (single texts from [`PipelineModel::encode_each`], or sentence pairs) with
/// `function` (a server's `raw_scores` asks for [`ScoreFunction::None`]); inputs that failed to encode keep their
/// error.
pub fn classify_encoded_each(
    model: &PipelineModel,
    encoded: Vec<PerInput<Truncated>>,
    top_k: Option<usize>,
    function: ScoreFunction,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Classification>>> {
    model.require(Task::Classify)?;
    if top_k == Some(0) {
        return Err(Error::Input("top-k must be at least 1".into()));
    }
    let cfg = model.config();
    model.run_each(encoded, opts.batch_size, |o, row, _, t| {
        // (num_labels)
        let logits: Vec<f32> = o.head.logits()?.get(row)?.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        Ok(finite(&logits).map(|()| {
            let mut labels: Vec<LabelScore> = function
                .apply(&logits)
                .into_iter()
                .enumerate()
                .map(|(i, score)| LabelScore { label: cfg.label_name(i), score })
                .collect();
            // Stable, as Python's sort: equal scores keep label order.
            labels.sort_by(|a, b| b.score.total_cmp(&a.score));
            labels.truncate(top_k.unwrap_or(usize::MAX));
            Classification { labels, truncated: t.truncated }
        }))
    })
}
