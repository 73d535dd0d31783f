//! Reranking: a sequence-pair classifier reads `[CLS] query [SEP] passage [SEP]` and scores how well the passage
//! answers; candidates are reordered by that score. Any checkpoint loadable by `albert classify` works, through
//! `albert::pipeline::classify`.
//!
//! The score is the model's score (transformers' pipeline function: sigmoid for one output, softmax otherwise) of
//! its relevance label: the only output of a one-output model (MS MARCO cross-encoders); else the first label named
//! `relevant`, `entailment`, `positive`, `yes` or `true` (any case; QNLI's `entailment` means the sentence
//! answers); else the last label (`LABEL_1`, by the binary convention).

use std::sync::Arc;

use albert::pipeline::classify::{classify_encoded_each, ScoreFunction};
use albert::pipeline::{PerInput, PipelineModel, PipelineOptions, Task, Truncated};
use albert::tokenizer::{EncodeOptions, TruncationStrategy};

use crate::error::{Result, SearchError};

/// Label names taken as "this passage is relevant", in order of preference.
const RELEVANT: [&str; 5] = ["relevant", "entailment", "positive", "yes", "true"];

/// A loaded reranker.
pub struct Reranker {
    model: Arc<PipelineModel>,
    label: String,
    /// Pairs per forward pass.
    pub batch_size: usize,
}

impl Reranker {
    /// Loads `spec` (a checkpoint directory or a hub id) as a sequence classifier.
    pub fn load(spec: &str) -> Result<Self> {
        Self::new(PipelineModel::load(spec, Task::Classify)?)
    }

    /// A reranker over a model loaded for [`Task::Classify`].
    pub fn new(model: PipelineModel) -> Result<Self> {
        Self::shared(Arc::new(model))
    }

    /// A reranker over a model loaded for [`Task::Classify`] that others use too (a server's classifier).
    pub fn shared(model: Arc<PipelineModel>) -> Result<Self> {
        model.require(Task::Classify)?;
        let cfg = model.config();
        let names: Vec<String> = (0..cfg.num_labels()).map(|i| cfg.label_name(i)).collect();
        let label = RELEVANT
            .iter()
            .find_map(|want| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
            .or(names.last())
            .cloned()
            .ok_or_else(|| SearchError::Input(format!("{} has no labels to rerank with", model.dir.display())))?;
        Ok(Self { model, label, batch_size: 16 })
    }

    /// The label whose score ranks passages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The relevance score of each passage for `query`, in order. Pairs longer than the model's maximum length lose
    /// tokens from the longer text first.
    pub fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let max_length = self.model.max_length(None)?;
        let opts = EncodeOptions::truncating(max_length, TruncationStrategy::LongestFirst);
        let encoded: Vec<PerInput<Truncated>> = passages
            .iter()
            .map(|p| {
                let mut encoding = self.model.tokenizer.encode(query, Some(p), &opts).map_err(albert::Error::from)?;
                let truncated = !std::mem::take(&mut encoding.overflowing).is_empty();
                Ok(Ok(Truncated { encoding, truncated }))
            })
            .collect::<Result<_>>()?;
        let cfg = self.model.config();
        let function = ScoreFunction::for_config(cfg.problem_type, cfg.num_labels());
        let run = PipelineOptions { max_length: None, batch_size: self.batch_size };
        classify_encoded_each(&self.model, encoded, None, function, &run)?
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let c = r.map_err(|e| SearchError::Input(format!("reranking passage {}: {e}", i + 1)))?;
                Ok(c.labels.iter().find(|l| l.label == self.label).map_or(f32::NAN, |l| l.score))
            })
            .collect()
    }
}
