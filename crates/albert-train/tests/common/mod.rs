//! Helpers shared by the data tests.
#![allow(dead_code)]

use albert_train::data::{PieceVocab, SpecialIds};

pub const SPECIAL: SpecialIds = SpecialIds {
    pad: 0,
    cls: 2,
    sep: 3,
    mask: 4,
};
pub const UNK: u32 = 1;

/// A word-level stand-in for the SentencePiece tokenizer: every whitespace-separated word of a
/// fixed list is one piece `▁word` with id 5 + its index; anything else is `<unk>` (1).
pub struct WordVocab {
    pub words: Vec<String>,
    /// Reported vocabulary size (at least words + 5), to exercise u32 storage.
    pub size: usize,
}

impl WordVocab {
    pub fn new(words: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let words: Vec<String> = words.into_iter().map(Into::into).collect();
        let size = words.len() + 5;
        WordVocab { words, size }
    }
}

impl PieceVocab for WordVocab {
    fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        Ok(text
            .split_whitespace()
            .map(|w| {
                self.words
                    .iter()
                    .position(|v| v == w)
                    .map_or(UNK, |i| i as u32 + 5)
            })
            .collect())
    }

    fn piece(&self, id: u32) -> Option<String> {
        match id {
            0 => Some("<pad>".into()),
            1 => Some("<unk>".into()),
            2 => Some("[CLS]".into()),
            3 => Some("[SEP]".into()),
            4 => Some("[MASK]".into()),
            _ => self.words.get(id as usize - 5).map(|w| format!("▁{w}")),
        }
    }

    fn vocab_size(&self) -> usize {
        self.size
    }

    fn special_ids(&self) -> SpecialIds {
        SPECIAL
    }
}
