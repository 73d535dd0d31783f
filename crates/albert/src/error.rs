//! The library's error type: every failure names what is wrong (a file, a config field, a tensor).

use std::path::PathBuf;

/// Errors returned by the `albert` library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shape mismatch inside the model, device error, ...).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// A checkpoint file could not be read or written (names the file and, where known, the tensor).
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A JSON file (config.json, index json, ...) could not be parsed.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },

    /// A configuration field holds a value this implementation rejects.
    #[error("config field `{field}`: {message}")]
    Config {
        /// The config.json field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// A checkpoint tensor does not fit the model.
    #[error("tensor `{name}`: {message}")]
    Weight {
        /// The parameter name (Hugging Face layout).
        name: String,
        /// What is wrong with it.
        message: String,
    },

    /// Parameters the model needs are absent from the checkpoint.
    #[error("checkpoint is missing {} tensor(s) the model needs: {}", .0.len(), .0.join(", "))]
    MissingWeights(Vec<String>),

    /// The checkpoint holds tensors the model does not use (only an error with `strict`).
    #[error("checkpoint holds {} tensor(s) the model does not use: {}", .0.len(), .0.join(", "))]
    UnexpectedWeights(Vec<String>),

    /// Tokenizing failed or no tokenizer could be loaded.
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),

    /// The work would need more memory than the machine has available (checked before allocating).
    #[error("{what} needs at least {} of memory, but this machine has {} available", crate::memory::human(*.needed), crate::memory::human(*.available))]
    OutOfMemory {
        /// What was asked for (a model built from a config, a training step).
        what: String,
        /// A lower bound of the bytes it needs.
        needed: u64,
        /// The bytes available (free memory, reclaimable caches and free swap).
        available: u64,
    },

    /// A caller needs another kind of head output than the model gives (a pipeline run on a model of another
    /// class).
    #[error("this needs a model whose head gives {needs}, but the model's head gives {has}")]
    Head {
        /// The kind of output needed.
        needs: crate::model::HeadKind,
        /// The kind the model gives.
        has: crate::model::HeadKind,
    },

    /// A kernel variable (ALBERT_CPU, ALBERT_F32_KERNEL, ALBERT_INT8_KERNEL) cannot be followed.
    #[error(transparent)]
    Kernels(#[from] crate::ops::KernelEnvError),

    /// Input to a forward pass or a helper is malformed.
    #[error("invalid input: {0}")]
    Input(String),
}

/// Shorthand for `Result<T, albert::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn config(field: &str, message: impl Into<String>) -> Self {
        Error::Config { field: field.to_string(), message: message.into() }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
