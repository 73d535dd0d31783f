//! Extractive question answering over a context of any length, as transformers' question-answering pipeline
//! did it (its last version, v4.57, with `align_to_words` off: answers are the tokens' own spans): the question and
//! the context are encoded as a pair, the context cut into windows of `max_length` tokens that overlap by `stride`
//! (384 and 128 by default), and every window is run. In each window, start and end logits become probabilities by a
//! softmax over `[CLS]` and the window's context tokens, and its `top_k` best spans of at most `max_answer_length`
//! tokens by `p_start * p_end` are answers; an answer whose text (lowercased) an earlier window already gave adds its
//! score to that one. With `handle_impossible_answer` the empty answer competes, scored by the lowest
//! `p_start[CLS] * p_end[CLS]` over the windows. The `top_k` best answers are kept. Offsets are code points into the
//! context.

use candle_core::DType;
use serde::Serialize;

use std::collections::HashMap;

use super::{count_non_finite, InputError, PerInput, PipelineModel, Task};
use crate::decode::qa::{qa_windows, QaEncodedWindow, QaWindowOptions};
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
    /// Answers per question, best first (1); also the spans each window proposes.
    pub top_k: usize,
    /// Let the empty answer (the question has none in the context) compete with the spans (false).
    pub handle_impossible_answer: bool,
    /// Windows per forward pass.
    pub batch_size: usize,
}

impl Default for QaOptions {
    fn default() -> Self {
        Self { max_length: 384, stride: 128, max_answer_length: 15, top_k: 1, handle_impossible_answer: false, batch_size: 8 }
    }
}

/// One answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The answer text, a slice of the context; empty for "no answer" (see [`QaOptions::handle_impossible_answer`]).
    pub answer: String,
    /// `p_start * p_end` within its window, summed over the windows that gave the same text.
    pub score: f32,
    /// Code-point offset of the answer's start in the context (where a window first gave it; 0 for no answer).
    pub start: usize,
    /// Code-point offset just past its end.
    pub end: usize,
    /// How many windows the context took.
    pub windows: usize,
}

/// Answers `question` from `context`: the best answer.
pub fn answer(model: &PipelineModel, question: &str, context: &str, opts: &QaOptions) -> Result<Answer> {
    let mut answers = answer_each(model, &[question], context, opts)?;
    answers.remove(0).map_err(|e| Error::Input(e.to_string()))
}

/// The best answer to each question (see [`answers_each`]).
pub fn answer_each(model: &PipelineModel, questions: &[&str], context: &str, opts: &QaOptions) -> Result<Vec<PerInput<Answer>>> {
    let answers = answers_each(model, questions, context, opts)?;
    Ok(answers.into_iter().map(|a| a.map(|mut a| a.remove(0))).collect())
}

/// The `top_k` best answers to each question from `context`, best first (at least one); an empty question, one that
/// leaves no room for the context, or one whose logits are not finite gets its own error and the others their
/// answers. An empty context, `top_k` 0 or a bad window length fails the call.
///
/// Windows are run `batch_size` at a time and ranked as they come, so that beyond the context's tokens only the
/// answers proposed so far are held (at most `top_k` per window), however long the context.
pub fn answers_each(
    model: &PipelineModel,
    questions: &[&str],
    context: &str,
    opts: &QaOptions,
) -> Result<Vec<PerInput<Vec<Answer>>>> {
    model.require(Task::QuestionAnswering)?;
    if context.trim().is_empty() {
        return Err(Error::Input("the context is empty".into()));
    }
    if opts.top_k == 0 {
        return Err(Error::Input("top-k must be at least 1".into()));
    }
    let max_length = model.max_length(Some(opts.max_length))?;
    questions.iter().map(|question| answer_one(model, question, context, max_length, opts)).collect()
}

fn answer_one(model: &PipelineModel, question: &str, context: &str, max_length: usize, opts: &QaOptions) -> Result<PerInput<Vec<Answer>>> {
    if question.trim().is_empty() {
        return Ok(Err(InputError::EmptyQuestion));
    }
    let window = QaWindowOptions { max_seq_length: max_length, doc_stride: opts.stride, max_query_length: usize::MAX };
    let mut windows = match qa_windows(&model.tokenizer, question, context, &window) {
        Ok(w) => w,
        Err(source) => return Ok(Err(InputError::QuestionTooLong { max_length, stride: opts.stride, source })),
    };
    let count = windows.windows();
    let mut ranker = Ranker::new(context, opts);
    let (mut non_finite, mut total) = (0, 0);
    // `batch_size` consecutive windows at a time, made, run and ranked in window order (answers merge and tie in the
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
            ranker.add(s, e, &w.context_offsets);
        }
    }
    if non_finite > 0 {
        return Ok(Err(InputError::NonFinite { count: non_finite, total }));
    }
    Ok(ranker.finish(count))
}

/// Softmax over `[CLS]` (token 0) and the tokens with a context offset, zero elsewhere (transformers masks the
/// question and special tokens with -10000 before its softmax, which leaves them exactly 0 in f32).
fn window_softmax(logits: &[f32], offsets: &[Option<(usize, usize)>]) -> Vec<f32> {
    let kept = |i: usize| i == 0 || offsets.get(i).is_some_and(Option::is_some);
    let max = (0..logits.len()).filter(|&i| kept(i)).map(|i| logits[i]).fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = (0..logits.len()).map(|i| if kept(i) { (logits[i] - max).exp() } else { 0.0 }).collect();
    let total: f32 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    p
}

/// The pipeline's answers over windows given one at a time (transformers v4.57's `postprocess`, `align_to_words`
/// off): each window proposes its `top_k` spans by `p_start * p_end`, the same text (lowercased) from a later window
/// adds to the earlier answer, and the empty answer takes the lowest `[CLS]` probability over the windows.
struct Ranker<'c> {
    context: &'c str,
    /// Byte offset of each code point of the context, then of its end.
    bytes: Vec<usize>,
    top_k: usize,
    max_answer_length: usize,
    handle_impossible_answer: bool,
    /// Every answer proposed so far, in the order first proposed.
    answers: Vec<Answer>,
    /// Where each lowercased answer text is in `answers`.
    seen: HashMap<String, usize>,
    /// The lowest `p_start[CLS] * p_end[CLS]` so far.
    null: f32,
}

impl<'c> Ranker<'c> {
    fn new(context: &'c str, opts: &QaOptions) -> Self {
        Self {
            context,
            bytes: context.char_indices().map(|(b, _)| b).chain([context.len()]).collect(),
            top_k: opts.top_k.max(1),
            max_answer_length: opts.max_answer_length,
            handle_impossible_answer: opts.handle_impossible_answer,
            answers: Vec::new(),
            seen: HashMap::new(),
            null: f32::INFINITY,
        }
    }

    /// One window: its start and end logits, and per token the code points of the context it covers.
    fn add(&mut self, start_logits: &[f32], end_logits: &[f32], offsets: &[Option<(usize, usize)>]) {
        let n = start_logits.len().min(end_logits.len()).min(offsets.len());
        if n == 0 {
            return;
        }
        let (ps, pe) = (window_softmax(&start_logits[..n], offsets), window_softmax(&end_logits[..n], offsets));
        self.null = self.null.min(ps[0] * pe[0]);
        // The window's `top_k` spans by decreasing probability; equal ones in (start, end) order, as numpy's argmax.
        let mut best: Vec<(f32, usize, usize)> = Vec::with_capacity(self.top_k + 1);
        let context = |i: usize| offsets[i].filter(|&(_, end)| end < self.bytes.len());
        for s in (1..n).filter(|&s| context(s).is_some()) {
            for e in (s..n.min(s + self.max_answer_length)).filter(|&e| context(e).is_some()) {
                let p = ps[s] * pe[e];
                let at = best.partition_point(|&(q, _, _)| q >= p);
                if at < self.top_k {
                    best.insert(at, (p, s, e));
                    best.truncate(self.top_k);
                }
            }
        }
        for (p, s, e) in best {
            let (Some((start, _)), Some((_, end))) = (offsets[s], offsets[e]) else { continue };
            if start > end {
                continue;
            }
            let text = &self.context[self.bytes[start]..self.bytes[end]];
            match self.seen.get(&text.to_lowercase()) {
                Some(&i) => self.answers[i].score += p,
                None => {
                    self.seen.insert(text.to_lowercase(), self.answers.len());
                    self.answers.push(Answer { answer: text.to_string(), score: p, start, end, windows: 0 });
                }
            }
        }
    }

    /// The `top_k` best answers over the `windows` windows added, best first (the empty one after spans of its
    /// score, as appended last before a stable sort); no span at all is [`InputError::NoSpan`].
    fn finish(mut self, windows: usize) -> PerInput<Vec<Answer>> {
        if self.answers.is_empty() {
            return Err(InputError::NoSpan);
        }
        if self.handle_impossible_answer {
            self.answers.push(Answer { answer: String::new(), score: self.null, start: 0, end: 0, windows: 0 });
        }
        self.answers.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.answers.truncate(self.top_k);
        self.answers.iter_mut().for_each(|a| a.windows = windows);
        Ok(self.answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // "naïve café au lait": naïve [0,5) café [6,10) au [11,13) lait [14,18) in code points (ï and é are 2 bytes).
    const CONTEXT: &str = "naïve café au lait";
    const OFFSETS: [Option<(usize, usize)>; 6] = [None, Some((0, 5)), Some((6, 10)), Some((11, 13)), Some((14, 18)), None];
    const START: [f32; 6] = [0.0, 1.0, 3.0, 0.5, 0.2, 0.0];
    const END: [f32; 6] = [0.0, 0.1, 2.0, 0.3, 2.5, 0.0];

    fn opts(top_k: usize, handle_impossible_answer: bool) -> QaOptions {
        QaOptions { top_k, handle_impossible_answer, ..QaOptions::default() }
    }

    /// Softmax over [CLS] and the four context tokens (the last token is neither), by hand.
    fn probabilities(v: &[f32; 6]) -> Vec<f32> {
        let z: f32 = v[..5].iter().map(|x| x.exp()).sum();
        v.iter().enumerate().map(|(i, x)| if i < 5 { x.exp() / z } else { 0.0 }).collect()
    }

    #[test]
    fn spans_rank_by_start_times_end_probability_and_the_null_answer_competes() {
        let (ps, pe) = (probabilities(&START), probabilities(&END));
        let mut ranker = Ranker::new(CONTEXT, &opts(3, true));
        ranker.add(&START, &END, &OFFSETS);
        let got = ranker.finish(1).unwrap();
        // The ten spans s <= e by hand: café..lait (2, 4), café (2, 2), naïve..lait (1, 4) lead; [CLS] x [CLS] is
        // below them.
        let texts: Vec<&str> = got.iter().map(|a| a.answer.as_str()).collect();
        assert_eq!(texts, ["café au lait", "café", "naïve café au lait"]);
        assert!((got[0].score - ps[2] * pe[4]).abs() < 1e-7);
        assert_eq!((got[0].start, got[0].end, got[0].windows), (6, 18, 1));
        assert!(ps[0] * pe[0] < got[2].score);
        // With one answer asked for, a window proposes only its best; the null answer wins when every span is less
        // probable: a window whose [CLS] logits dwarf the rest.
        let mut ranker = Ranker::new(CONTEXT, &opts(1, true));
        let (s, e) = ([9.0f32, 1.0, 0.0, 0.0, 0.0, 0.0], [9.0f32, 0.0, 0.0, 0.0, 1.0, 0.0]);
        ranker.add(&s, &e, &OFFSETS);
        let got = ranker.finish(1).unwrap();
        assert_eq!((got[0].answer.as_str(), got[0].start, got[0].end), ("", 0, 0));
    }

    /// The same text from two windows is one answer with the summed score, kept where it was first given; the
    /// null score is the lowest over the windows.
    #[test]
    fn windows_giving_the_same_text_add_up() {
        let mut ranker = Ranker::new(CONTEXT, &opts(2, true));
        ranker.add(&START, &END, &OFFSETS);
        // A second window over "café au": it proposes "café" again and "café au".
        let offsets2 = [None, Some((6, 10)), Some((11, 13)), None];
        let (s2, e2) = ([0.0f32, 2.0, 1.0, 0.0], [0.0f32, 2.0, 1.0, 0.0]);
        ranker.add(&s2, &e2, &offsets2);
        let (ps, pe) = (probabilities(&START), probabilities(&END));
        let z2: f32 = [0.0f32, 2.0, 1.0].iter().map(|x| x.exp()).sum();
        let (p2, null2) = ((2.0f32.exp() / z2).powi(2), (1.0 / z2).powi(2));
        assert!((ranker.null - ps[0] * pe[0]).abs() < 1e-7, "the lowest null score of the two windows");
        let got = ranker.finish(2).unwrap();
        assert_eq!(got[0].answer, "café");
        assert!((got[0].score - (ps[2] * pe[2] + p2)).abs() < 1e-6, "{got:?}");
        assert_eq!(got[1].answer, "café au lait");
        assert!(null2 > ps[0] * pe[0]);
        assert_eq!(got.len(), 2);
    }
}
