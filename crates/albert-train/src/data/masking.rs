//! Masked-LM predictions with whole-word n-gram masking, as google-research/albert's
//! `create_masked_lm_predictions` draws them.

use std::ops::Range;

use super::rng::Draw;
use super::vocab::{SpecialIds, WordStarts};
use super::DataError;

/// How many tokens are predicted and how they are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskingConfig {
    /// Fraction of a sequence's tokens to predict (0.15).
    pub masked_lm_prob: f64,
    /// Longest n-gram of whole words masked together (3); n is drawn with p(n) ∝ 1/n.
    pub max_ngram: usize,
    /// Cap on predictions per sequence; `None` means round(masked_lm_prob × max_seq_length).
    pub max_predictions_per_seq: Option<usize>,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        MaskingConfig {
            masked_lm_prob: 0.15,
            max_ngram: 3,
            max_predictions_per_seq: None,
        }
    }
}

impl MaskingConfig {
    /// The cap on predictions for sequences of at most `max_seq_length` tokens.
    ///
    /// ```
    /// use albert_train::data::MaskingConfig;
    /// assert_eq!(MaskingConfig::default().max_predictions(512), 77);
    /// assert_eq!(MaskingConfig::default().max_predictions(128), 19);
    /// ```
    pub fn max_predictions(&self, max_seq_length: usize) -> usize {
        self.max_predictions_per_seq
            .unwrap_or_else(|| round_half_even(max_seq_length as f64 * self.masked_lm_prob))
    }

    /// Checks the settings' ranges.
    pub fn validate(&self) -> Result<(), DataError> {
        if !(self.masked_lm_prob > 0.0 && self.masked_lm_prob < 1.0) {
            return Err(DataError::InvalidConfig(format!(
                "masked_lm_prob must lie in (0, 1), got {}",
                self.masked_lm_prob
            )));
        }
        if self.max_ngram == 0 {
            return Err(DataError::InvalidConfig(
                "max_ngram must be at least 1".into(),
            ));
        }
        if self.max_predictions_per_seq == Some(0) {
            return Err(DataError::InvalidConfig(
                "max_predictions_per_seq must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Python 3's `int(round(x))`: halves go to the even neighbour.
fn round_half_even(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

/// The vocabulary facts masking needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskingVocab {
    /// Which ids start a word; its length is the vocabulary size random replacements draw from.
    pub word_starts: WordStarts,
    /// `[CLS]`, `[SEP]`, `<pad>` (never masked) and `[MASK]`.
    pub special: SpecialIds,
}

/// A sequence after masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedLm {
    /// The model's input: the sequence with predicted positions replaced (80% `[MASK]`,
    /// 10% a random id, 10% unchanged).
    pub input_ids: Vec<u32>,
    /// Predicted positions, ascending.
    pub positions: Vec<usize>,
    /// The original ids at `positions`.
    pub labels: Vec<u32>,
    /// The accepted n-gram spans (token positions), in the order they were drawn.
    pub spans: Vec<Range<usize>>,
}

/// Chooses the tokens to predict in `tokens` (a whole `[CLS] A [SEP] B [SEP]` sequence).
///
/// Follows `create_masked_lm_predictions` with `do_whole_word_mask` and `favor_shorter_ngram`:
/// pieces are grouped into words ([`super::is_start_piece`]); the number of predictions is
/// min(`max_predictions`, max(1, round(len × masked_lm_prob))); word positions are visited in
/// random order, each proposing an n-gram of n ≤ `max_ngram` whole words with p(n) ∝ 1/n, shortened
/// while it would exceed the budget and skipped when it still does or overlaps an earlier span.
/// Each chosen token becomes `[MASK]` with probability 0.8, stays with 0.1, and is replaced by a
/// uniformly random id with 0.1.
///
/// Two deliberate differences from the original: structural ids (`[CLS]`, `[SEP]`, padding) end
/// a word, so neither a word nor an n-gram straddles `[SEP]`; and n-grams near a segment's end
/// draw n only among the lengths that fit, where the original silently shortened them.
///
/// ```
/// use albert_train::data::{mask_tokens, sub_rng, MaskingConfig, MaskingVocab, Purpose, SpecialIds, WordStarts};
/// let special = SpecialIds { pad: 0, cls: 2, sep: 3, mask: 4 };
/// let vocab = MaskingVocab { word_starts: WordStarts::from_flags(vec![true; 100]), special };
/// let tokens: Vec<u32> = [2].into_iter().chain(10..30).chain([3]).chain(30..50).chain([3]).collect();
/// let out = mask_tokens(&tokens, &vocab, &MaskingConfig::default(), 20, &mut sub_rng(7, Purpose::Masking, 0, 0));
/// assert_eq!(out.positions.len(), 6); // round(43 × 0.15)
/// assert!(out.positions.iter().all(|&p| !special.is_structural(tokens[p])));
/// ```
pub fn mask_tokens<D: Draw>(
    tokens: &[u32],
    vocab: &MaskingVocab,
    cfg: &MaskingConfig,
    max_predictions: usize,
    rng: &mut D,
) -> MaskedLm {
    // Words as token ranges; `run_end[w]` is one past the last word of w's segment.
    let mut words: Vec<Range<usize>> = Vec::new();
    let mut run_end: Vec<usize> = Vec::new();
    let mut in_word = false;
    for (i, &id) in tokens.iter().enumerate() {
        if vocab.special.is_structural(id) {
            close_run(&words, &mut run_end);
            in_word = false;
            continue;
        }
        match words.last_mut() {
            Some(last) if in_word && !vocab.word_starts.is_start(id) => last.end = i + 1,
            _ => words.push(i..i + 1),
        }
        in_word = true;
    }
    close_run(&words, &mut run_end);

    let num_to_predict =
        max_predictions.min(round_half_even(tokens.len() as f64 * cfg.masked_lm_prob).max(1));

    let mut starts: Vec<usize> = (0..words.len()).collect();
    rng.shuffle(&mut starts);

    let mut input_ids = tokens.to_vec();
    let mut covered = vec![false; tokens.len()];
    let mut predicted = 0;
    let mut spans = Vec::new();
    for w in starts {
        if predicted >= num_to_predict {
            break;
        }
        let longest = cfg.max_ngram.min(run_end[w] - w);
        let mut n = draw_ngram(longest, rng);
        let span = |n: usize| words[w].start..words[w + n - 1].end;
        while n > 1 && predicted + span(n).len() > num_to_predict {
            n -= 1;
        }
        let span = span(n);
        if predicted + span.len() > num_to_predict || covered[span.clone()].iter().any(|&c| c) {
            continue;
        }
        for i in span.clone() {
            covered[i] = true;
            if rng.uniform() < 0.8 {
                input_ids[i] = vocab.special.mask;
            } else if rng.uniform() >= 0.5 {
                input_ids[i] = rng.int_inclusive(0, vocab.word_starts.len() - 1) as u32;
            }
        }
        predicted += span.len();
        spans.push(span);
    }

    let positions: Vec<usize> = (0..tokens.len()).filter(|&i| covered[i]).collect();
    let labels = positions.iter().map(|&i| tokens[i]).collect();
    MaskedLm {
        input_ids,
        positions,
        labels,
        spans,
    }
}

/// Marks every word since the last run boundary as ending its run at the current word count.
fn close_run(words: &[Range<usize>], run_end: &mut Vec<usize>) {
    run_end.resize(words.len(), words.len());
}

/// n in `1..=longest` with p(n) ∝ 1/n.
fn draw_ngram<D: Draw>(longest: usize, rng: &mut D) -> usize {
    let total: f64 = (1..=longest).map(|n| 1.0 / n as f64).sum();
    let mut u = rng.uniform() * total;
    for n in 1..longest {
        u -= 1.0 / n as f64;
        if u < 0.0 {
            return n;
        }
    }
    longest
}
