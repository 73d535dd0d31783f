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
    answers_each(model, questions, context, opts).map(best_of_each)
}

/// The `top_k` best answers to each question from `context`, best first (at least one); an empty question, one that
/// leaves no room for the context, or one whose logits are not finite gets its own error and the others their
/// answers. An empty context, `top_k` 0 or a bad window length fails the call.
///
/// The windows of all the questions are run together, `batch_size` at a time (see [`answers_of_pairs`]).
pub fn answers_each(
    model: &PipelineModel,
    questions: &[&str],
    context: &str,
    opts: &QaOptions,
) -> Result<Vec<PerInput<Vec<Answer>>>> {
    let pairs: Vec<(&str, &str)> = questions.iter().map(|&q| (q, context)).collect();
    answers_of_pairs(model, &pairs, opts)
}

/// The best answer to `question` from each of `contexts`, each context read on its own (its answer is the one
/// [`answer`] gives for it alone), their windows run together (see [`answers_of_pairs`]): the passages a search
/// returned, read in as few forward passes as their windows fill.
pub fn answer_in_contexts(model: &PipelineModel, question: &str, contexts: &[&str], opts: &QaOptions) -> Result<Vec<PerInput<Answer>>> {
    let pairs: Vec<(&str, &str)> = contexts.iter().map(|&c| (question, c)).collect();
    answers_of_pairs(model, &pairs, opts).map(best_of_each)
}

/// The `top_k` best answers to each `(question, context)` pair, best first (at least one), each pair read on its
/// own: windows, softmax and ranking are the pair's, so its answers do not depend on the other pairs. A pair with
/// an empty question, a question that leaves no room for the context, or logits that are not finite gets its own
/// error and the others their answers; an empty context, `top_k` 0 or a bad window length fails the call.
///
/// The windows of all the pairs are made, run and ranked `batch_size` at a time, pair after pair and window after
/// window (so answers merge and tie in the order their windows come, as for one pair alone), and only one batch of
/// windows and logits is held beyond the rankers, however long the contexts: reading the five passages of a search
/// costs one forward pass of five rows, not five of one.
pub fn answers_of_pairs(model: &PipelineModel, pairs: &[(&str, &str)], opts: &QaOptions) -> Result<Vec<PerInput<Vec<Answer>>>> {
    model.require(Task::QuestionAnswering)?;
    if pairs.iter().any(|(_, context)| context.trim().is_empty()) {
        return Err(Error::Input("the context is empty".into()));
    }
    if opts.top_k == 0 {
        return Err(Error::Input("top-k must be at least 1".into()));
    }
    let max_length = model.max_length(Some(opts.max_length))?;
    let window = QaWindowOptions { max_seq_length: max_length, doc_stride: opts.stride, max_query_length: usize::MAX };
    let batch_size = opts.batch_size.max(1);
    let mut readings: Vec<PerInput<Reading>> = Vec::with_capacity(pairs.len());
    // Windows made but not run yet, each with its pair's index.
    let mut pending: Vec<(usize, QaEncodedWindow)> = Vec::with_capacity(batch_size);
    for (i, &(question, context)) in pairs.iter().enumerate() {
        if question.trim().is_empty() {
            readings.push(Err(InputError::EmptyQuestion));
            continue;
        }
        let windows = match qa_windows(&model.tokenizer, question, context, &window) {
            Ok(w) => w,
            Err(source) => {
                readings.push(Err(InputError::QuestionTooLong { max_length, stride: opts.stride, source }));
                continue;
            }
        };
        readings.push(Ok(Reading { ranker: Ranker::new(context, opts), windows: windows.windows(), non_finite: 0, total: 0 }));
        for w in windows {
            pending.push((i, QaEncodedWindow::new(w?)));
            if pending.len() == batch_size {
                run_windows(model, &mut pending, &mut readings, batch_size)?;
            }
        }
    }
    run_windows(model, &mut pending, &mut readings, batch_size)?;
    Ok(readings.into_iter().map(|r| r.and_then(Reading::finish)).collect())
}

/// The best answer of each input (each `Ok` holds at least one).
fn best_of_each(answers: Vec<PerInput<Vec<Answer>>>) -> Vec<PerInput<Answer>> {
    answers.into_iter().map(|a| a.map(|mut a| a.remove(0))).collect()
}

/// A pair being read: its ranker, its window count, and the non-finite logits seen among its `total`.
struct Reading<'c> {
    ranker: Ranker<'c>,
    windows: usize,
    non_finite: usize,
    total: usize,
}

impl Reading<'_> {
    fn finish(self) -> PerInput<Vec<Answer>> {
        if self.non_finite > 0 {
            return Err(InputError::NonFinite { count: self.non_finite, total: self.total });
        }
        self.ranker.finish(self.windows)
    }
}

/// Runs the `pending` windows (`batch_size` per forward pass) and ranks each in its pair's reading, in the order they
/// were made; leaves `pending` empty.
fn run_windows(
    model: &PipelineModel,
    pending: &mut Vec<(usize, QaEncodedWindow)>,
    readings: &mut [PerInput<Reading>],
    batch_size: usize,
) -> Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Encoding> = pending.iter().map(|(_, w)| &w.encoding).collect();
    let mut logits: Vec<(Vec<f32>, Vec<f32>)> = vec![Default::default(); pending.len()];
    model.run_batches(&refs, batch_size, |o, batch| {
        let (start, end) = o.head.span_logits()?;
        for (row, &(i, w)) in batch.iter().enumerate() {
            let row_logits = |t: &candle_core::Tensor| t.get(row)?.narrow(0, 0, w.len())?.to_dtype(DType::F32)?.to_vec1();
            logits[i] = (row_logits(start)?, row_logits(end)?);
        }
        Ok(())
    })?;
    for ((s, e), (i, w)) in logits.iter().zip(pending.drain(..)) {
        // Only pairs that are being read have windows.
        if let Ok(reading) = &mut readings[i] {
            reading.total += s.len() + e.len();
            reading.non_finite += count_non_finite(s) + count_non_finite(e);
            reading.ranker.add(s, e, &w.context_offsets);
        }
    }
    Ok(())
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
