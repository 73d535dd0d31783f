//! Span decoding for extractive question answering, as transformers' `postprocess_qa_predictions` (run_qa.py):
//! the `n_best_size` best start and end logits of each window are paired, spans that leave the context, end
//! before they start or exceed `max_answer_length` tokens are dropped, the survivors are ranked by
//! `start + end` logit, and for SQuAD v2.0 the answer is empty when the best null score (`[CLS]` start + end,
//! the lowest over the windows) beats the best span by more than `null_score_diff_threshold`. (The
//! question-answering pipeline ranks by window probabilities instead: `crate::pipeline::qa`.)

use crate::tokenizer::{AlbertTokenizer, EncodeOptions, Encoding, PairWindows};

/// Decoding settings (transformers' defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpanDecodeOptions {
    /// Best start and end positions considered per window, and the length of the n-best list (20).
    pub n_best_size: usize,
    /// Longest answer in tokens (30).
    pub max_answer_length: usize,
    /// Allow the null answer (SQuAD v2.0).
    pub with_null_answer: bool,
    /// Predict the null answer when its score exceeds the best span's by more than this (0.0).
    pub null_score_diff_threshold: f32,
}

impl Default for SpanDecodeOptions {
    fn default() -> Self {
        Self {
            n_best_size: 20,
            max_answer_length: 30,
            with_null_answer: false,
            null_score_diff_threshold: 0.0,
        }
    }
}

/// One window of a context: its logits and, per token, the code-point span of the context it covers (`None` for
/// the question, special tokens and padding). Token 0 is `[CLS]`, whose logits score the null answer.
#[derive(Debug, Clone, Copy)]
pub struct QaWindow<'a> {
    /// Start logits, one per token.
    pub start_logits: &'a [f32],
    /// End logits, one per token.
    pub end_logits: &'a [f32],
    /// Context code-point offsets `[start, end)` per token.
    pub offsets: &'a [Option<(usize, usize)>],
}

/// A candidate answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerSpan {
    /// The answer text (empty for the null answer).
    pub text: String,
    /// Code-point offsets `[start, end)` in the context (0, 0 for the null answer).
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// Start plus end logit.
    pub score: f32,
    /// Start logit.
    pub start_logit: f32,
    /// End logit.
    pub end_logit: f32,
    /// Softmax of the score over the n-best list.
    pub probability: f32,
}

/// The decoded answer of one question.
#[derive(Debug, Clone, PartialEq)]
pub struct QaPrediction {
    /// The answer: the best span, or `None` for no answer (SQuAD v2.0).
    pub answer: Option<AnswerSpan>,
    /// Candidates by decreasing score, the null answer included for SQuAD v2.0.
    pub n_best: Vec<AnswerSpan>,
    /// Null score minus the best span's score (SQuAD v2.0's `null_odds`), when there is a span.
    pub null_score_diff: Option<f32>,
}

/// Indices of the `n` largest values, largest first (ties: the later index first, as numpy's reversed argsort).
fn top_indices(values: &[f32], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    idx.into_iter().rev().take(n).collect()
}

/// Decodes the answer to one question over all windows of its context (a [`SpanDecoder`] fed every window).
pub fn decode_answer(context: &str, windows: &[QaWindow], opts: &SpanDecodeOptions) -> QaPrediction {
    let mut decoder = SpanDecoder::new(context, opts);
    for w in windows {
        decoder.add(w);
    }
    decoder.finish()
}

/// Decodes one question's answer from its windows given one at a time, keeping only the `n_best_size` best
/// candidates: memory stays bounded however long the context (a window holds up to `max_answer_length` candidates
/// per token, which kept all together took gigabytes over a 2 MB context). The result is [`decode_answer`]'s: ties
/// keep the order in which candidates arrive, as the stable sort of the full list does.
pub struct SpanDecoder<'c> {
    context: &'c str,
    /// Code points in the context (spans ending past it are dropped).
    chars: usize,
    opts: SpanDecodeOptions,
    /// The best candidates so far by decreasing rank, at most `n_best_size`; texts are filled in by `finish`.
    best: Vec<AnswerSpan>,
    /// The lowest null score so far.
    null: Option<AnswerSpan>,
}

impl<'c> SpanDecoder<'c> {
    /// A decoder for a question over `context`.
    pub fn new(context: &'c str, opts: &SpanDecodeOptions) -> Self {
        Self { context, chars: context.chars().count(), opts: *opts, best: Vec::new(), null: None }
    }

    /// Ranks a candidate among the kept ones: after every one ranking at least as high (a stable sort's order),
    /// dropped past `n_best_size`.
    fn rank(&mut self, c: AnswerSpan) {
        let at = self.best.partition_point(|b| b.score.total_cmp(&c.score) != std::cmp::Ordering::Less);
        if at < self.opts.n_best_size {
            self.best.insert(at, c);
            self.best.truncate(self.opts.n_best_size);
        }
    }

    /// Adds one window's candidates.
    pub fn add(&mut self, w: &QaWindow) {
        let opts = self.opts;
        let n = w.start_logits.len().min(w.end_logits.len()).min(w.offsets.len());
        if n == 0 {
            return;
        }
        let null_score = w.start_logits[0] + w.end_logits[0];
        if self.null.as_ref().is_none_or(|best| best.score > null_score) {
            self.null = Some(AnswerSpan {
                text: String::new(),
                start: 0,
                end: 0,
                score: null_score,
                start_logit: w.start_logits[0],
                end_logit: w.end_logits[0],
                probability: 0.0,
            });
        }
        let (starts, ends) =
            (top_indices(&w.start_logits[..n], opts.n_best_size), top_indices(&w.end_logits[..n], opts.n_best_size));
        for &s in &starts {
            for &e in &ends {
                let (Some((start, _)), Some((_, end))) = (w.offsets[s], w.offsets[e]) else {
                    continue;
                };
                if e < s || e - s + 1 > opts.max_answer_length || end > self.chars || start > end {
                    continue;
                }
                self.rank(AnswerSpan {
                    text: String::new(),
                    start,
                    end,
                    score: w.start_logits[s] + w.end_logits[e],
                    start_logit: w.start_logits[s],
                    end_logit: w.end_logits[e],
                    probability: 0.0,
                });
            }
        }
    }

    /// How many candidates are held (at most `n_best_size`, the null answer aside).
    pub fn held(&self) -> usize {
        self.best.len()
    }

    /// The prediction over the windows added.
    pub fn finish(mut self) -> QaPrediction {
        let opts = self.opts;
        let null = self.null.take().filter(|_| opts.with_null_answer);
        // The null answer ranks after the spans, as appended to the list before the stable sort.
        if let Some(null) = &null {
            self.rank(null.clone());
        }
        let context = self.context;
        let mut n_best = self.best;
        for c in &mut n_best {
            c.text = context.chars().skip(c.start).take(c.end - c.start).collect();
        }
        if let Some(null) = &null {
            if !n_best
                .iter()
                .any(|c| c.text.is_empty() && c.start == 0 && c.end == 0 && c.score == null.score)
            {
                n_best.push(null.clone());
            }
        }
        let max = n_best.iter().map(|c| c.score).fold(f32::NEG_INFINITY, f32::max);
        let total: f32 = n_best.iter().map(|c| (c.score - max).exp()).sum();
        for c in &mut n_best {
            c.probability = (c.score - max).exp() / total;
        }
        let best_span = n_best.iter().find(|c| !c.text.is_empty()).cloned();
        let null_score_diff = match (&null, &best_span) {
            (Some(null), Some(best)) => Some(null.score - best.start_logit - best.end_logit),
            _ => None,
        };
        let answer = match (null_score_diff, best_span) {
            (Some(diff), Some(_)) if diff > opts.null_score_diff_threshold => None,
            (_, best) => best,
        };
        QaPrediction {
            answer,
            n_best,
            null_score_diff,
        }
    }
}

/// How a question and its context become model inputs (transformers' run_qa.py and the original BERT code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QaWindowOptions {
    /// Tokens per window, special tokens included (384).
    pub max_seq_length: usize,
    /// Context tokens shared by consecutive windows (128; transformers' `stride`).
    pub doc_stride: usize,
    /// Questions longer than this many tokens are cut (64).
    pub max_query_length: usize,
}

impl Default for QaWindowOptions {
    fn default() -> Self {
        Self { max_seq_length: 384, doc_stride: 128, max_query_length: 64 }
    }
}

/// One window of `[CLS] question [SEP] context-part [SEP]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaEncodedWindow {
    /// The window's encoding (ids, segment ids 1 on the context part, offsets), without further windows.
    pub encoding: Encoding,
    /// Per token, the code-point span of the context it covers; `None` for the question and special tokens.
    pub context_offsets: Vec<Option<(usize, usize)>>,
}

impl QaEncodedWindow {
    /// Token positions of the answer occupying code points `[start, end)` of the context, as run_qa.py labels
    /// training windows: the first token starting at or before `start` and the last ending at or after `end`;
    /// `None` when the answer is not wholly inside this window (the label is then `[CLS]`, position 0).
    pub fn answer_positions(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let inside: Vec<(usize, (usize, usize))> =
            self.context_offsets.iter().enumerate().filter_map(|(i, o)| o.map(|o| (i, o))).collect();
        let (&(_, first), &(_, last)) = (inside.first()?, inside.last()?);
        if first.0 > start || last.1 < end {
            return None;
        }
        let s = inside.iter().rev().find(|(_, o)| o.0 <= start)?.0;
        let e = inside.iter().find(|(_, o)| o.1 >= end)?.0;
        Some((s, e))
    }
}

/// Encodes `question` against `context` in overlapping windows: the question (left-stripped, as run_qa.py does,
/// and cut to `max_query_length` tokens; `usize::MAX` keeps it whole) is repeated in every window, the context is truncated into windows of
/// `max_seq_length` tokens sharing `doc_stride` tokens.
pub fn encode_qa_windows(
    tokenizer: &AlbertTokenizer,
    question: &str,
    context: &str,
    opts: &QaWindowOptions,
) -> crate::tokenizer::Result<Vec<QaEncodedWindow>> {
    qa_windows(tokenizer, question, context, opts)?.map(|e| e.map(QaEncodedWindow::new)).collect()
}

/// The windows of [`encode_qa_windows`] made one at a time, so that a long context's windows need not all be held.
pub fn qa_windows<'t>(
    tokenizer: &'t AlbertTokenizer,
    question: &str,
    context: &str,
    opts: &QaWindowOptions,
) -> crate::tokenizer::Result<PairWindows<'t>> {
    let mut question = question.trim_start();
    let bare = EncodeOptions { add_special_tokens: false, ..EncodeOptions::default() };
    let q = tokenizer.encode(question, None, &bare)?;
    if q.len() > opts.max_query_length {
        let cut = q.offsets[opts.max_query_length.saturating_sub(1)].1;
        let byte = question.char_indices().nth(cut).map_or(question.len(), |(b, _)| b);
        question = &question[..byte];
    }
    tokenizer.encode_pair_windows(question, context, opts.max_seq_length, opts.doc_stride)
}

impl QaEncodedWindow {
    /// A window of `[CLS] question [SEP] context-part [SEP]`, its context tokens' offsets picked out.
    pub fn new(encoding: Encoding) -> Self {
        let context_offsets = (0..encoding.len())
            .map(|i| (encoding.type_ids[i] == 1 && encoding.special_tokens_mask[i] == 0).then_some(encoding.offsets[i]))
            .collect();
        Self { encoding, context_offsets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // "naïve café au lait": naïve [0,5) café [6,10) au [11,13) lait [14,18) in code points (ï and é are 2 bytes).
    const CONTEXT: &str = "naïve café au lait";
    const OFFSETS: [Option<(usize, usize)>; 6] =
        [None, Some((0, 5)), Some((6, 10)), Some((11, 13)), Some((14, 18)), None];
    const START: [f32; 6] = [0.0, 1.0, 3.0, 0.5, 0.2, 0.0];
    const END: [f32; 6] = [0.0, 0.1, 2.0, 0.3, 2.5, 0.0];

    fn window<'a>(start: &'a [f32], end: &'a [f32]) -> QaWindow<'a> {
        QaWindow {
            start_logits: start,
            end_logits: end,
            offsets: &OFFSETS,
        }
    }

    #[test]
    fn best_span_and_n_best_by_hand() {
        let p = decode_answer(CONTEXT, &[window(&START, &END)], &SpanDecodeOptions::default());
        let a = p.answer.unwrap();
        assert_eq!((a.text.as_str(), a.start, a.end, a.score), ("café au lait", 6, 18, 5.5));
        // The ten spans with start <= end, scores s_i + e_j by hand; the top four are distinct.
        let texts: Vec<&str> = p.n_best.iter().take(4).map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["café au lait", "café", "naïve café au lait", "café au"]);
        assert_eq!(p.n_best.len(), 10);
        let scores = [5.5f32, 5.0, 3.5, 3.3, 3.0, 3.0, 2.7, 1.3, 1.1, 0.8];
        let total: f32 = scores.iter().map(|s| (s - 5.5).exp()).sum();
        assert!((p.n_best[0].probability - 1.0 / total).abs() < 1e-6);
        assert_eq!(p.null_score_diff, None);
    }

    #[test]
    fn max_answer_length_and_n_best_size_prune() {
        let opts = SpanDecodeOptions {
            max_answer_length: 2,
            ..SpanDecodeOptions::default()
        };
        assert_eq!(
            decode_answer(CONTEXT, &[window(&START, &END)], &opts)
                .answer
                .unwrap()
                .text,
            "café"
        );
        // Top-2 starts {café, naïve} x top-2 ends {lait, café}: 5.5, 5.0, 3.5, 3.0, keep two.
        let opts = SpanDecodeOptions {
            n_best_size: 2,
            ..SpanDecodeOptions::default()
        };
        let p = decode_answer(CONTEXT, &[window(&START, &END)], &opts);
        let texts: Vec<&str> = p.n_best.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["café au lait", "café"]);
    }

    #[test]
    fn null_answer_wins_by_threshold() {
        let (mut start, mut end) = (START, END);
        start[0] = 4.0;
        end[0] = 4.0;
        let v2 = SpanDecodeOptions {
            with_null_answer: true,
            ..SpanDecodeOptions::default()
        };
        let p = decode_answer(CONTEXT, &[window(&start, &end)], &v2);
        // null 8.0 - best span 5.5 = 2.5 > 0: no answer; the null answer leads the n-best list.
        assert_eq!(p.answer, None);
        assert_eq!(p.null_score_diff, Some(2.5));
        assert_eq!((p.n_best[0].text.as_str(), p.n_best[0].score), ("", 8.0));
        let lenient = SpanDecodeOptions {
            null_score_diff_threshold: 3.0,
            ..v2
        };
        assert_eq!(
            decode_answer(CONTEXT, &[window(&start, &end)], &lenient)
                .answer
                .unwrap()
                .text,
            "café au lait"
        );
        // Without v2 the null answer is never considered.
        let v1 = decode_answer(CONTEXT, &[window(&start, &end)], &SpanDecodeOptions::default());
        assert!(v1.n_best.iter().all(|c| !c.text.is_empty()));
    }

    #[test]
    fn windows_compete_and_the_lowest_null_score_counts() {
        // A second window covers only "au lait" (tokens 1, 2), with a strong span on "lait" and a lower null score.
        let offsets2 = [None, Some((11, 13)), Some((14, 18)), None];
        let (s2, e2) = ([-1.0f32, 0.0, 4.0, 0.0], [-1.0f32, 0.0, 4.0, 0.0]);
        let w2 = QaWindow {
            start_logits: &s2,
            end_logits: &e2,
            offsets: &offsets2,
        };
        let v2 = SpanDecodeOptions {
            with_null_answer: true,
            ..SpanDecodeOptions::default()
        };
        let p = decode_answer(CONTEXT, &[window(&START, &END), w2], &v2);
        let a = p.answer.unwrap();
        assert_eq!((a.text.as_str(), a.start, a.end, a.score), ("lait", 14, 18, 8.0));
        // null = min(0.0, -2.0) = -2.0; diff = -2.0 - 8.0.
        assert_eq!(p.null_score_diff, Some(-10.0));
    }

    /// A context of many windows: the decoder holds at most `n_best_size` candidates however many windows come,
    /// and equal candidates keep their arrival order, as the stable sort of the whole list did. Window k's logits
    /// favour token 1 + (k % 3) as start and end; windows 1, 4, 7, ... tie for the best span, token 2, which is
    /// "café" in odd windows and "au" in even ones: the three best are café (window 1), au (4), café (7).
    #[test]
    fn the_decoder_holds_n_best_candidates_and_ties_keep_their_order() {
        let au: [Option<(usize, usize)>; 6] = [None, Some((0, 5)), Some((11, 13)), Some((11, 13)), Some((14, 18)), None];
        let logits: Vec<[f32; 6]> = (0..300)
            .map(|k| {
                let mut l = [0.0f32; 6];
                l[1 + k % 3] = if k % 3 == 1 { 5.0 } else { 2.0 };
                l
            })
            .collect();
        let opts = SpanDecodeOptions { n_best_size: 3, ..SpanDecodeOptions::default() };
        let mut decoder = SpanDecoder::new(CONTEXT, &opts);
        for (k, l) in logits.iter().enumerate() {
            let offsets = if k % 2 == 1 { &OFFSETS } else { &au };
            decoder.add(&QaWindow { start_logits: l, end_logits: l, offsets });
            assert!(decoder.held() <= 3);
        }
        let p = decoder.finish();
        let a = p.answer.unwrap();
        assert_eq!((a.text.as_str(), a.start, a.end), ("café", 6, 10));
        assert_eq!(p.n_best.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["café", "au", "café"]);
    }

    /// The windows made one at a time are the tokenizer's own windows (`encode` with OnlySecond truncation and its
    /// overflowing encodings), including a context that fits one window and a question too long for any.
    #[test]
    fn windows_made_one_at_a_time_equal_the_tokenizers() {
        let tok = AlbertTokenizer::from_vocab(&[("▁q", -1.0), ("▁a", -1.0), ("▁b", -1.0), ("▁c", -1.0)]).unwrap();
        let context = "a b c a b c a b c a";
        for (question, max_seq_length, doc_stride) in [("q", 8, 2), ("q q", 9, 1), ("q", 64, 4), ("q", 7, 0)] {
            let opts = QaWindowOptions { max_seq_length, doc_stride, max_query_length: 64 };
            let windows = EncodeOptions {
                truncation: Some(crate::tokenizer::Truncation {
                    max_length: max_seq_length,
                    stride: doc_stride,
                    strategy: crate::tokenizer::TruncationStrategy::OnlySecond,
                    direction: crate::tokenizer::TruncationDirection::Right,
                }),
                ..EncodeOptions::default()
            };
            let mut first = tok.encode(question, Some(context), &windows).unwrap();
            let rest = std::mem::take(&mut first.overflowing);
            let want: Vec<Encoding> = std::iter::once(first).chain(rest).collect();
            let lazy = qa_windows(&tok, question, context, &opts).unwrap();
            assert_eq!(lazy.windows(), want.len(), "{question} {max_seq_length} {doc_stride}");
            let got: Vec<Encoding> = lazy.collect::<Result<_, _>>().unwrap();
            assert_eq!(got, want, "{question} {max_seq_length} {doc_stride}");
        }
        let opts = QaWindowOptions { max_seq_length: 5, doc_stride: 0, max_query_length: 64 };
        assert!(qa_windows(&tok, "q q q", context, &opts).is_err());
    }
}
