//! Errors of the pretraining data pipeline.

use std::path::PathBuf;

/// Everything that can go wrong while preparing or reading pretraining data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A corpus file is not UTF-8 text.
    #[error("{path}: not UTF-8 text (invalid byte sequence at byte {offset})")]
    NotUtf8 {
        /// The corpus file.
        path: PathBuf,
        /// Byte offset of the first invalid sequence (in the decompressed text).
        offset: usize,
    },
    /// The tokenizer rejected some text.
    #[error("{path}: tokenizer failed: {message}")]
    Tokenize {
        /// The corpus file the text came from.
        path: PathBuf,
        /// The tokenizer's message.
        message: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    InvalidConfig(String),
    /// A prepared data file does not match its manifest or is damaged.
    #[error("{path}: corrupt prepared data: {message}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is inconsistent.
        message: String,
    },
    /// The data's sequence length exceeds what the model can embed.
    #[error(
        "the data was prepared with max_seq_length {data} but the model has only {model} \
         position embeddings; prepare the data again with --max-seq-length {model} or less"
    )]
    SeqLengthExceedsModel {
        /// max_seq_length recorded in the manifest.
        data: usize,
        /// The model's max_position_embeddings.
        model: usize,
    },
    /// Building tensors failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        DataError::Corrupt {
            path: path.into(),
            message: message.into(),
        }
    }
}
