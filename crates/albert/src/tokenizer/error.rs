//! The tokenizer's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading, running or saving a tokenizer.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A `spiece.model` is not a valid SentencePiece `ModelProto`.
    #[error("invalid SentencePiece model: {0}")]
    InvalidModel(String),
    /// A JSON file (tokenizer.json, tokenizer_config.json) is malformed.
    #[error("{path}: invalid JSON: {message}")]
    InvalidJson {
        /// The file involved.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A path names neither a tokenizer file nor a directory holding one.
    #[error("{0}: no tokenizer found (expected spiece.model, tokenizer.json, or a directory holding one)")]
    NotFound(PathBuf),
    /// The `tokenizers` crate reported an error.
    #[error("tokenizers: {0}")]
    Backend(String),
    /// A token the operation needs (e.g. `[CLS]`) is not in the vocabulary.
    #[error("token {0:?} is not in the vocabulary")]
    MissingToken(String),
    /// An id outside the vocabulary.
    #[error("id {id} is outside the vocabulary (size {vocab_size})")]
    IdOutOfRange {
        /// The offending id.
        id: u32,
        /// The vocabulary size.
        vocab_size: usize,
    },
    /// Options that cannot be satisfied (e.g. stride not smaller than the window).
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// Vocabulary training failed.
    #[error("training failed: {0}")]
    Training(String),
}

impl TokenizerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for the tokenizer module.
pub type Result<T, E = TokenizerError> = std::result::Result<T, E>;
