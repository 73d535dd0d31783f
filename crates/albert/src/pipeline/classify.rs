//! Sequence classification, as transformers' `text-classification` pipeline with `top_k=None`: every label with
//! its score, best first. Scores are a softmax over the labels, a sigmoid per label for
//! `multi_label_classification` (and for one label without a problem type), or the raw output for regression.

use serde::Serialize;

use super::{head, InOrder, softmax, PipelineModel, PipelineOptions, Task};
use crate::config::ProblemType;
use crate::error::Result;

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

/// Classifies `texts`; `top_k` keeps the best labels only (all by default).
///
/// The model must be loaded for [`super::Task::Classify`].
pub fn classify(
    model: &PipelineModel,
    texts: &[&str],
    top_k: Option<usize>,
    opts: &PipelineOptions,
) -> Result<Vec<Classification>> {
    model.require(Task::Classify)?;
    let cfg = model.config();
    let function = ScoreFunction::for_config(cfg.problem_type, cfg.num_labels());
    let encoded = model.encode(texts, opts.max_length)?;
    let encodings: Vec<_> = encoded.iter().map(|t| &t.encoding).collect();
    let mut out = InOrder::new(texts.len());
    model.run_batches(&encodings, opts.batch_size, |o, batch| {
        // (batch, num_labels)
        let logits: Vec<Vec<f32>> = head(o, "logits")?.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        for (row, (i, _)) in logits.into_iter().zip(batch) {
            let mut labels: Vec<LabelScore> = function
                .apply(&row)
                .into_iter()
                .enumerate()
                .map(|(i, score)| LabelScore { label: cfg.label_name(i), score })
                .collect();
            // Stable, as Python's sort: equal scores keep label order.
            labels.sort_by(|a, b| b.score.total_cmp(&a.score));
            labels.truncate(top_k.unwrap_or(usize::MAX));
            out.set(*i, labels);
        }
        Ok(())
    })?;
    Ok(out
        .finish()?
        .into_iter()
        .zip(&encoded)
        .map(|(labels, e)| Classification { labels, truncated: e.truncated })
        .collect())
}
