//! Errors of pretraining.

use std::path::PathBuf;

use crate::data::DataError;
use crate::engine::EngineError;
use crate::optim::OptimError;

/// Everything that can stop a pretraining run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting is out of range or contradicts the data, the model or a checkpoint.
    #[error("invalid setting: {0}")]
    InvalidConfig(String),
    /// A file or directory could not be read, written or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The training engine stopped (checkpoint, log, non-finite loss), or the model, a tensor operation or the
    /// optimizer failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The data pipeline failed.
    #[error(transparent)]
    Data(#[from] DataError),
}

// The model's, the tensors' and the optimizer's errors reach pretraining as the engine's.
macro_rules! through_engine {
    ($($error:ty),*) => {$(
        impl From<$error> for TrainError {
            fn from(e: $error) -> Self {
                TrainError::Engine(e.into())
            }
        }
    )*};
}
through_engine!(OptimError, albert::Error, candle_core::Error);

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}
