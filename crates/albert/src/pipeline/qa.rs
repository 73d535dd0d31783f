//! Extractive question answering over a context of any length, as transformers' question-answering pipeline did
//! it: the question and the context are encoded as a pair, the context cut into windows of `max_length` tokens
//! that overlap by `stride` (384 and 128 by default), every window is run, and the answer is the span with the
//! highest `p_start * p_end` (per-window softmax; [`SpanScoring::WindowProbability`]) of at most
//! `max_answer_length` tokens. Offsets are code points into the context.

use candle_core::DType;
use serde::Serialize;

use super::{head, InOrder, PipelineModel, Task};
use crate::decode::qa::{decode_answer, encode_qa_windows, QaWindow, QaWindowOptions, SpanDecodeOptions, SpanScoring};
use crate::error::{Error, Result};
use crate::tokenizer::Encoding;

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
    let window = QaWindowOptions { max_seq_length: max_length, doc_stride: opts.stride, max_query_length: usize::MAX };
    let windows = encode_qa_windows(&model.tokenizer, question, context, &window)
        .map_err(|e| Error::Input(format!("the question does not fit windows of {max_length} tokens with stride {}: {e}", opts.stride)))?;
    let refs: Vec<&Encoding> = windows.iter().map(|w| &w.encoding).collect();
    let mut logits: InOrder<(Vec<f32>, Vec<f32>)> = InOrder::new(windows.len());
    model.run_batches(&refs, opts.batch_size, |o, batch| {
        // (batch, seq) each
        let start: Vec<Vec<f32>> = head(o, "start_logits")?.to_dtype(DType::F32)?.to_vec2()?;
        let end: Vec<Vec<f32>> = head(o, "end_logits")?.to_dtype(DType::F32)?.to_vec2()?;
        for ((s, e), &(i, w)) in start.into_iter().zip(end).zip(batch) {
            logits.set(i, (s[..w.len()].to_vec(), e[..w.len()].to_vec()));
        }
        Ok(())
    })?;
    let logits = logits.finish()?;
    let qa_windows: Vec<QaWindow> = logits
        .iter()
        .zip(&windows)
        .map(|((s, e), w)| QaWindow { start_logits: s, end_logits: e, offsets: &w.context_offsets })
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
