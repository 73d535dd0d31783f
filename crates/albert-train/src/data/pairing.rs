//! Segment pairs for sentence-order prediction, as google-research/albert's
//! `create_instances_from_document` builds them.

use super::rng::Draw;
use super::DataError;

/// A contiguous run of tokens of one shard of a prepared split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenSpan {
    /// Shard index.
    pub shard: u32,
    /// First token (shard-local offset).
    pub start: u64,
    /// One past the last token.
    pub end: u64,
}

impl TokenSpan {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether the span holds no token.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Documents as lists of sentence spans (consecutive within a document).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Documents {
    sentences: Vec<TokenSpan>,
    /// Document `d` holds `sentences[doc_offsets[d]..doc_offsets[d + 1]]`.
    doc_offsets: Vec<usize>,
}

impl Documents {
    /// No documents.
    pub fn new() -> Self {
        Documents {
            sentences: Vec::new(),
            doc_offsets: vec![0],
        }
    }

    /// Documents laid out back to back in shard 0, from their sentence lengths.
    ///
    /// ```
    /// use albert_train::data::Documents;
    /// let docs = Documents::from_sentence_lengths(&[vec![3, 2], vec![4]]);
    /// assert_eq!(docs.len(), 2);
    /// assert_eq!(docs.document(1)[0].start, 5);
    /// ```
    pub fn from_sentence_lengths(docs: &[Vec<usize>]) -> Self {
        let mut out = Documents::new();
        let mut offset = 0u64;
        for doc in docs {
            out.push_document(doc.iter().map(|&n| {
                let span = TokenSpan {
                    shard: 0,
                    start: offset,
                    end: offset + n as u64,
                };
                offset += n as u64;
                span
            }));
        }
        out
    }

    /// Appends a document; empty sentences are dropped, and so is a document left empty.
    pub fn push_document(&mut self, sentences: impl IntoIterator<Item = TokenSpan>) {
        self.sentences
            .extend(sentences.into_iter().filter(|s| !s.is_empty()));
        if self.sentences.len() > *self.doc_offsets.last().unwrap_or(&0) {
            self.doc_offsets.push(self.sentences.len());
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.doc_offsets.len() - 1
    }

    /// Whether there is no document.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sentences of document `index`.
    pub fn document(&self, index: usize) -> &[TokenSpan] {
        &self.sentences[self.doc_offsets[index]..self.doc_offsets[index + 1]]
    }

    /// Total number of sentences.
    pub fn num_sentences(&self) -> usize {
        self.sentences.len()
    }
}

/// How segment pairs are cut from documents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairingConfig {
    /// Length of `[CLS] A [SEP] B [SEP]` at most (512 by default; at least 5).
    pub max_seq_length: usize,
    /// Probability of aiming at a shorter random target length (0.1 by default).
    pub short_seq_prob: f64,
}

impl Default for PairingConfig {
    fn default() -> Self {
        PairingConfig {
            max_seq_length: 512,
            short_seq_prob: 0.1,
        }
    }
}

impl PairingConfig {
    /// Checks the settings' ranges.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.max_seq_length < 5 {
            return Err(DataError::InvalidConfig(format!(
                "max_seq_length must be at least 5 ([CLS] A [SEP] B [SEP]), got {}",
                self.max_seq_length
            )));
        }
        if !(0.0..=1.0).contains(&self.short_seq_prob) {
            return Err(DataError::InvalidConfig(format!(
                "short_seq_prob must lie in [0, 1], got {}",
                self.short_seq_prob
            )));
        }
        Ok(())
    }
}

/// Two segments and whether they were swapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentPair {
    /// Segment A (token type 0).
    pub a: TokenSpan,
    /// Segment B (token type 1).
    pub b: TokenSpan,
    /// 0: B follows A in the text; 1: the segments were swapped, or (when the chunk held a
    /// single sentence) B comes from another document, as in the original code.
    pub sentence_order_label: u32,
}

/// The segment pairs of document `doc_index`, drawn as `create_instances_from_document` does
/// with `random_next_sentence=False` (ALBERT's sentence-order prediction).
///
/// Sentences are gathered into a chunk until it reaches the target length (`max_seq_length - 3`,
/// or with probability `short_seq_prob` a random length in `2..=max_seq_length - 3`); a random
/// prefix of the chunk becomes A and the rest B, swapped with probability 1/2 (label 1). A chunk of
/// one sentence takes B from a random other document (label 1), as the original does.
/// Pairs are then cut down by [`truncate_seq_pair`].
///
/// ```
/// use albert_train::data::{pairs_from_document, sub_rng, Documents, PairingConfig, Purpose};
/// let docs = Documents::from_sentence_lengths(&[vec![4, 5, 6, 7], vec![3, 3]]);
/// let cfg = PairingConfig { max_seq_length: 16, short_seq_prob: 0.0 };
/// let pairs = pairs_from_document(&docs, 0, &cfg, &mut sub_rng(1, Purpose::Pairing, 0, 0));
/// assert!(pairs.iter().all(|p| p.a.len() + p.b.len() <= 13 && !p.a.is_empty() && !p.b.is_empty()));
/// ```
pub fn pairs_from_document<D: Draw>(
    docs: &Documents,
    doc_index: usize,
    cfg: &PairingConfig,
    rng: &mut D,
) -> Vec<SegmentPair> {
    let document = docs.document(doc_index);
    let max_num_tokens = cfg.max_seq_length - 3;
    let mut target_seq_length = max_num_tokens;
    if rng.uniform() < cfg.short_seq_prob {
        target_seq_length = rng.int_inclusive(2, max_num_tokens);
    }

    let mut pairs = Vec::new();
    let mut chunk_start = 0;
    let mut current_length = 0;
    for i in 0..document.len() {
        let chunk = &document[chunk_start..=i];
        current_length += document[i].len();
        if i == document.len() - 1 || current_length >= target_seq_length {
            let a_end = if chunk.len() >= 2 {
                rng.int_inclusive(1, chunk.len() - 1)
            } else {
                1
            };
            let mut a = join(&chunk[..a_end]);
            let (mut b, label) = if chunk.len() == 1 {
                let target_b_length = target_seq_length.saturating_sub(a.len());
                let mut random_doc = doc_index;
                for _ in 0..10 {
                    random_doc = rng.int_inclusive(0, docs.len() - 1);
                    if random_doc != doc_index {
                        break;
                    }
                }
                let other = docs.document(random_doc);
                let random_start = rng.int_inclusive(0, other.len() - 1);
                let mut b_end = random_start;
                let mut b_length = 0;
                while b_end < other.len() {
                    b_length += other[b_end].len();
                    b_end += 1;
                    if b_length >= target_b_length {
                        break;
                    }
                }
                // The original puts back the chunk's unused sentences; a one-sentence chunk has none.
                (join(&other[random_start..b_end]), 1)
            } else if rng.uniform() < 0.5 {
                (std::mem::replace(&mut a, join(&chunk[a_end..])), 1)
            } else {
                (join(&chunk[a_end..]), 0)
            };
            truncate_seq_pair(&mut a, &mut b, max_num_tokens, rng);
            pairs.push(SegmentPair {
                a,
                b,
                sentence_order_label: label,
            });
            chunk_start = i + 1;
            current_length = 0;
        }
    }
    pairs
}

/// The span covering consecutive sentences.
fn join(sentences: &[TokenSpan]) -> TokenSpan {
    let first = sentences[0];
    TokenSpan {
        end: sentences[sentences.len() - 1].end,
        ..first
    }
}

/// Shortens the longer segment (B on ties) by one token, from the front or the back with equal
/// probability, until both fit in `max_num_tokens`; the original's `truncate_seq_pair`.
///
/// ```
/// use albert_train::data::{truncate_seq_pair, sub_rng, Purpose, TokenSpan};
/// let mut a = TokenSpan { shard: 0, start: 0, end: 10 };
/// let mut b = TokenSpan { shard: 0, start: 10, end: 13 };
/// truncate_seq_pair(&mut a, &mut b, 8, &mut sub_rng(0, Purpose::Pairing, 0, 0));
/// assert_eq!((a.len(), b.len()), (5, 3));
/// ```
pub fn truncate_seq_pair<D: Draw>(
    a: &mut TokenSpan,
    b: &mut TokenSpan,
    max_num_tokens: usize,
    rng: &mut D,
) {
    while a.len() + b.len() > max_num_tokens {
        let trunc = if a.len() > b.len() { &mut *a } else { &mut *b };
        if rng.uniform() < 0.5 {
            trunc.start += 1;
        } else {
            trunc.end -= 1;
        }
    }
}
