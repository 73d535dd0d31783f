//! Errors of the optimizers.

use std::path::PathBuf;

/// Everything that can go wrong while updating parameters or saving/loading optimizer state.
#[derive(Debug, thiserror::Error)]
pub enum OptimError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A state file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A state file is malformed or belongs to another optimizer or model.
    #[error("optimizer state {path}: {message}")]
    BadState {
        /// The file (empty when the state did not come from a file).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A setting is out of range.
    #[error("invalid optimizer setting: {0}")]
    InvalidConfig(String),
}
