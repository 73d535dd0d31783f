//! Extractive question answering over a context of any length, as transformers' question-answering pipeline did
//! it: the question and the context are encoded as a pair, the context cut into windows of `max_length` tokens
//! that overlap by `stride` (384 and 128 by default), every window is run, and the answer is the span with the
//! highest `p_start * p_end` (per-window softmax; [`SpanScoring::WindowProbability`]) of at most
//! `max_answer_length` tokens. Offsets are code points into the context.

use candle_core::DType;
use serde::Serialize;

use super::{count_non_finite, InputError, PerInput, PipelineModel, Task};
use crate::decode::qa::{qa_windows, QaEncodedWindow, QaWindow, QaWindowOptions, SpanDecodeOptions, SpanDecoder, SpanScoring};
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
    let mut answers = answer_each(model, &[question], context, opts)?;
    answers.remove(0).map_err(|e| Error::Input(e.to_string()))
}

/// Answers each question from `context` as [`answer`] does; an empty question, one that leaves no room for the
/// context, or one whose logits are not finite gets its own error and the others their answers. An empty context
/// or a bad window length fails the call.
///
/// Windows are run `batch_size` at a time and decoded as they come, keeping only the best candidate, so that
/// memory beyond the context's windows stays bounded however long the context.
pub fn answer_each(model: &PipelineModel, questions: &[&str], context: &str, opts: &QaOptions) -> Result<Vec<PerInput<Answer>>> {
    model.require(Task::QuestionAnswering)?;
    if context.trim().is_empty() {
        return Err(Error::Input("the context is empty".into()));
    }
    let max_length = model.max_length(Some(opts.max_length))?;
    questions.iter().map(|question| answer_one(model, question, context, max_length, opts)).collect()
}

fn answer_one(model: &PipelineModel, question: &str, context: &str, max_length: usize, opts: &QaOptions) -> Result<PerInput<Answer>> {
    if question.trim().is_empty() {
        return Ok(Err(InputError::EmptyQuestion));
    }
    let window = QaWindowOptions { max_seq_length: max_length, doc_stride: opts.stride, max_query_length: usize::MAX };
    let mut windows = match qa_windows(&model.tokenizer, question, context, &window) {
        Ok(w) => w,
        Err(source) => return Ok(Err(InputError::QuestionTooLong { max_length, stride: opts.stride, source })),
    };
    let count = windows.windows();
    let decode = SpanDecodeOptions {
        n_best_size: 1,
        max_answer_length: opts.max_answer_length,
        scoring: SpanScoring::WindowProbability,
        ..SpanDecodeOptions::default()
    };
    let mut decoder = SpanDecoder::new(context, &decode);
    let (mut non_finite, mut total) = (0, 0);
    // `batch_size` consecutive windows at a time, made, run and decoded in window order (candidates tie in the
    // order they arrive), so that only one batch of windows and logits is held however long the context.
    loop {
        let chunk: Vec<QaEncodedWindow> =
            windows.by_ref().take(opts.batch_size.max(1)).map(|e| e.map(QaEncodedWindow::new)).collect::<std::result::Result<_, _>>()?;
        if chunk.is_empty() {
            break;
        }
        let refs: Vec<&Encoding> = chunk.iter().map(|w| &w.encoding).collect();
        let mut logits: Vec<(Vec<f32>, Vec<f32>)> = vec![Default::default(); chunk.len()];
        model.run_batches(&refs, opts.batch_size, |o, batch| {
            let (start, end) = o.head.span_logits()?;
            for (row, &(i, w)) in batch.iter().enumerate() {
                let row_logits = |t: &candle_core::Tensor| t.get(row)?.narrow(0, 0, w.len())?.to_dtype(DType::F32)?.to_vec1();
                logits[i] = (row_logits(start)?, row_logits(end)?);
            }
            Ok(())
        })?;
        for ((s, e), w) in logits.iter().zip(&chunk) {
            total += s.len() + e.len();
            non_finite += count_non_finite(s) + count_non_finite(e);
            decoder.add(&QaWindow { start_logits: s, end_logits: e, offsets: &w.context_offsets });
        }
    }
    if non_finite > 0 {
        return Ok(Err(InputError::NonFinite { count: non_finite, total }));
    }
    Ok(decoder
        .finish()
        .answer
        .map(|best| Answer { answer: best.text, score: best.probability, start: best.start, end: best.end, windows: count })
        .ok_or(InputError::NoSpan))
}
