//! What the data pipeline needs from a tokenizer, and the word-start table masking uses.

use serde::{Deserialize, Serialize};

/// Ids of the special pieces that pretraining examples use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialIds {
    /// Padding (`<pad>`, id 0 in ALBERT's vocabulary).
    pub pad: u32,
    /// Sequence start (`[CLS]`).
    pub cls: u32,
    /// Segment end (`[SEP]`).
    pub sep: u32,
    /// Mask (`[MASK]`).
    pub mask: u32,
}

impl SpecialIds {
    /// Whether `id` is one of the structural pieces masking must never touch.
    pub fn is_structural(&self, id: u32) -> bool {
        id == self.cls || id == self.sep || id == self.pad
    }
}

/// The tokenizer as the data pipeline sees it; the real SentencePiece tokenizer implements it.
///
/// `encode` must not add special tokens: the pipeline adds `[CLS]`/`[SEP]` itself.
pub trait PieceVocab: Sync {
    /// Ids of `text`'s pieces, without special tokens.
    fn encode(&self, text: &str) -> Result<Vec<u32>, String>;
    /// The piece string of `id` (e.g. `"▁the"`), `None` when out of range.
    fn piece(&self, id: u32) -> Option<String>;
    /// Number of ids.
    fn vocab_size(&self) -> usize;
    /// Ids of the special pieces.
    fn special_ids(&self) -> SpecialIds;
}

/// Whether a SentencePiece piece starts a word, exactly as `_is_start_piece_sp` in
/// google-research/albert's create_pretraining_data.py decides it.
///
/// A piece starts a word when it begins with the Metaspace mark `▁` or `<`, is a single ASCII
/// punctuation character, or contains any character that (lower-cased) is neither `a`-`z` nor
/// ASCII punctuation. (The original's punctuation set lacks the apostrophe, and its `€`/`£`
/// entries are bytes that never compare equal to a piece; both quirks are kept.)
///
/// ```
/// use albert_train::data::is_start_piece;
/// assert!(is_start_piece("▁the"));
/// assert!(!is_start_piece("ing"));
/// assert!(!is_start_piece("ING"));
/// assert!(is_start_piece(","));
/// assert!(!is_start_piece("s,"));
/// assert!(is_start_piece("'s"));
/// assert!(is_start_piece("92"));
/// assert!(is_start_piece("é"));
/// ```
pub fn is_start_piece(piece: &str) -> bool {
    const PUNCT: &str = "!\"#$%&()*+,-./:;?@[\\]^_`{|}~";
    let is_punct = |c: char| PUNCT.contains(c);
    let mut chars = piece.chars();
    let single_punct = matches!((chars.next(), chars.next()), (Some(c), None) if is_punct(c));
    let english_or_punct = |c: char| {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) => l.is_ascii_lowercase() || is_punct(l),
            _ => false,
        }
    };
    piece.starts_with('▁')
        || piece.starts_with('<')
        || single_punct
        || !piece.chars().all(english_or_punct)
}

/// For every id, whether its piece starts a word ([`is_start_piece`]).
///
/// ```
/// use albert_train::data::WordStarts;
/// let starts = WordStarts::from_flags(vec![true, false, true]);
/// assert!(!starts.is_start(1) && starts.is_start(7));
/// assert_eq!(WordStarts::from_bytes(&starts.to_bytes()), Some(starts));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordStarts(Vec<bool>);

impl WordStarts {
    /// The table for a vocabulary; ids without a piece count as word starts.
    pub fn from_vocab(vocab: &dyn PieceVocab) -> Self {
        let n = vocab.vocab_size() as u32;
        WordStarts(
            (0..n)
                .map(|id| vocab.piece(id).is_none_or(|p| is_start_piece(&p)))
                .collect(),
        )
    }

    /// The table from one flag per id.
    pub fn from_flags(flags: Vec<bool>) -> Self {
        WordStarts(flags)
    }

    /// Whether `id` starts a word; ids beyond the table do.
    pub fn is_start(&self, id: u32) -> bool {
        self.0.get(id as usize).copied().unwrap_or(true)
    }

    /// One byte (0/1) per id, as stored next to prepared data.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().map(|&b| b as u8).collect()
    }

    /// Inverse of [`WordStarts::to_bytes`]; `None` when a byte is neither 0 nor 1.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes
            .iter()
            .map(|&b| match b {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            })
            .collect::<Option<Vec<bool>>>()
            .map(WordStarts)
    }

    /// Number of ids in the table.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
