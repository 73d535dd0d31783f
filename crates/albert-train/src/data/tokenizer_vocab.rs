//! The project's tokenizer as the data pipeline's [`PieceVocab`].

use albert::tokenizer::{AlbertTokenizer, EncodeOptions};

use super::vocab::{PieceVocab, SpecialIds};
use super::DataError;

/// An [`AlbertTokenizer`] with the ids of the special pieces pretraining needs, checked once.
///
/// ```no_run
/// use albert::tokenizer::AlbertTokenizer;
/// use albert_train::data::{PieceVocab, TokenizerVocab};
/// let tok = AlbertTokenizer::from_path("spiece.model").unwrap();
/// let vocab = TokenizerVocab::new(tok).unwrap();
/// let ids = vocab.encode("Hello world").unwrap(); // no [CLS]/[SEP]
/// ```
#[derive(Debug, Clone)]
pub struct TokenizerVocab {
    tokenizer: AlbertTokenizer,
    special: SpecialIds,
}

impl TokenizerVocab {
    /// Wraps `tokenizer`; errors when it lacks `<pad>`, `[CLS]`, `[SEP]` or `[MASK]`.
    pub fn new(tokenizer: AlbertTokenizer) -> Result<Self, DataError> {
        let id = |piece: &str| {
            tokenizer.token_to_id(piece).ok_or_else(|| {
                DataError::InvalidConfig(format!(
                    "the tokenizer has no {piece} piece, which ALBERT pretraining needs"
                ))
            })
        };
        let special = SpecialIds {
            pad: id("<pad>")?,
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            mask: id("[MASK]")?,
        };
        Ok(TokenizerVocab { tokenizer, special })
    }

    /// The wrapped tokenizer.
    pub fn tokenizer(&self) -> &AlbertTokenizer {
        &self.tokenizer
    }
}

impl PieceVocab for TokenizerVocab {
    fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let opts = EncodeOptions {
            add_special_tokens: false,
            ..EncodeOptions::default()
        };
        self.tokenizer
            .encode(text, None, &opts)
            .map(|e| e.ids)
            .map_err(|e| e.to_string())
    }

    fn piece(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id).map(str::to_owned)
    }

    fn vocab_size(&self) -> usize {
        self.tokenizer.vocab_size()
    }

    fn special_ids(&self) -> SpecialIds {
        self.special
    }
}
