//! Errors of fine-tuning.

use std::path::PathBuf;

/// What can go wrong while fine-tuning or predicting.
#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    /// The model failed (shapes, checkpoint, ...).
    #[error(transparent)]
    Model(#[from] albert::Error),
    /// Tensor arithmetic failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// The tokenizer failed.
    #[error(transparent)]
    Tokenizer(#[from] albert::tokenizer::TokenizerError),
    /// The optimizer failed or was misconfigured.
    #[error(transparent)]
    Optim(#[from] crate::optim::OptimError),
    /// Reading or scoring task data failed.
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    /// Augmenting the training texts failed.
    #[error(transparent)]
    Augment(#[from] crate::augment::AugmentError),
    /// The training engine stopped (checkpoint, log, non-finite loss).
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// A file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Options or data that cannot be trained on.
    #[error("{0}")]
    Invalid(String),
}

impl FinetuneError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        FinetuneError::Io {
            path: path.to_owned(),
            source,
        }
    }
}
