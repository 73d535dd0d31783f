//! Extractive question answering over a context of any length, as transformers' question-answering pipeline did
//! it: the question and the context are encoded as a pair, the context cut into windows of `max_length` tokens
//! that overlap by `stride` (384 and 128 by default), every window is run, and the answer is the span with the
//! highest `p_start * p_end` (per-window softmax; [`SpanScoring::WindowProbability`]) of at most
//! `max_answer_length` tokens. Offsets are code points into the context.

use candle_core::DType;
use serde::Serialize;

use super::{head, PipelineModel, Task};
use crate::decode::qa::{decode_answer, QaWindow, SpanDecodeOptions, SpanScoring};
use crate::error::{Error, Result};
use crate::tokenizer::{EncodeOptions, Encoding, Truncation, TruncationStrategy};

/// Windowing and decoding settings (the pipeline's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QaOptions {
    /// Tokens per window, question and special tokens included (384).
    pub max_length: usize,
    /// Tokens shared by consecutive windows (128).
    pub stride: usize,
    /// Longest answer in tokens (15).
    pub max_answer_length: usize,
    /// Windows per forward pass.
    pub batch_size: usize,
}

impl Default for QaOptions {
    fn default() -> Self {
        Self { max_length: 384, stride: 128, max_answer_length: 15, batch_size: 8 }
    }
}

/// The answer to one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The answer text, a slice of the context.
    pub answer: String,
    /// `p_start * p_end` within its window.
    pub score: f32,
    /// Code-point offset of the answer's start in the context.
    pub start: usize,
    /// Code-point offset just past its end.
    pub end: usize,
    /// How many windows the context took.
    pub windows: usize,
}

/// Answers `question` from `context`.
pub fn answer(model: &PipelineModel, question: &str, context: &str, opts: &QaOptions) -> Result<Answer> {
    model.require(Task::QuestionAnswering)?;
    if question.trim().is_empty() {
        return Err(Error::Input("the question is empty".into()));
    }
    if context.trim().is_empty() {
        return Err(Error::Input("the context is empty".into()));
    }
    let max_length = model.max_length(Some(opts.max_length))?;
    let enc = model
        .tokenizer
        .encode(
            question,
            Some(context),
            &EncodeOptions {
                truncation: Some(Truncation { max_length, stride: opts.stride, strategy: TruncationStrategy::OnlySecond }),
                ..EncodeOptions::default()
            },
        )
        .map_err(|e| Error::Input(format!("the question does not fit windows of {max_length} tokens with stride {}: {e}", opts.stride)))?;
    let mut first = enc;
    let rest = std::mem::take(&mut first.overflowing);
    let windows: Vec<Encoding> = std::iter::once(first).chain(rest).collect();
    let refs: Vec<&Encoding> = windows.iter().collect();
    let mut logits: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(windows.len());
    model.run_batches(&refs, opts.batch_size, |o, batch| {
        // (batch, seq) each
        let start: Vec<Vec<f32>> = head(o, "start_logits")?.to_dtype(DType::F32)?.to_vec2()?;
        let end: Vec<Vec<f32>> = head(o, "end_logits")?.to_dtype(DType::F32)?.to_vec2()?;
        for ((s, e), w) in start.into_iter().zip(end).zip(batch) {
            logits.push((s[..w.len()].to_vec(), e[..w.len()].to_vec()));
        }
        Ok(())
    })?;
    // Context tokens only: type id 1 and not special.
    let offsets: Vec<Vec<Option<(usize, usize)>>> = windows
        .iter()
        .map(|w| (0..w.len()).map(|i| (w.type_ids[i] == 1 && w.special_tokens_mask[i] == 0).then_some(w.offsets[i])).collect())
        .collect();
    let qa_windows: Vec<QaWindow> = logits
        .iter()
        .zip(&offsets)
        .map(|((s, e), o)| QaWindow { start_logits: s, end_logits: e, offsets: o })
        .collect();
    let decode = SpanDecodeOptions {
        n_best_size: 1,
        max_answer_length: opts.max_answer_length,
        scoring: SpanScoring::WindowProbability,
        ..SpanDecodeOptions::default()
    };
    let best = decode_answer(context, &qa_windows, &decode)
        .answer
        .ok_or_else(|| Error::Input("the context has no span the model can answer with".into()))?;
    Ok(Answer { answer: best.text, score: best.probability, start: best.start, end: best.end, windows: windows.len() })
}
