//! Errors of the training engine; each workload's error type converts from them.

use std::path::PathBuf;

use crate::optim::OptimError;

/// What can stop the engine itself (a workload adds its own errors on top).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A setting is out of range or contradicts a checkpoint.
    #[error("{0}")]
    Invalid(String),
    /// A file or directory could not be read, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A checkpoint's state is missing, damaged or of another format.
    #[error("{}: {message}", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("the loss is not finite at step {step} ({loss}); lower the learning rate")]
    NonFinite {
        /// The 1-based step.
        step: u64,
        /// The loss.
        loss: f64,
    },
    /// The optimizer failed.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// The model or a checkpoint failed.
    #[error(transparent)]
    Model(#[from] albert::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { path, source }
    }
}
