//! What can go wrong, each naming the file, index or input at fault.

use std::path::PathBuf;

/// An error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A document could not be read as its format (a bad JSONL line, JSON that is not SQuAD, ...).
    #[error("{}: {message}", path.display())]
    Document {
        /// The document file.
        path: PathBuf,
        /// What is wrong, with the line where known.
        message: String,
    },

    /// The directory holds no albert index (no manifest), or something else than one.
    #[error("{} is not an albert index: {reason}", dir.display())]
    NotAnIndex {
        /// The directory.
        dir: PathBuf,
        /// Why not.
        reason: String,
    },

    /// An index whose files are damaged or disagree with its manifest; nothing was changed.
    #[error("the index in {} is corrupted: {reason}; nothing was changed (rebuild it with `albert index build`)", dir.display())]
    Corrupted {
        /// The index directory.
        dir: PathBuf,
        /// What is wrong, naming the file.
        reason: String,
    },

    /// An index written by a newer (or older, incompatible) version of this crate.
    #[error("{} holds an index of format version {found}; this albert reads version {expected} (rebuild it)", dir.display())]
    Version {
        /// The index directory.
        dir: PathBuf,
        /// The manifest's version.
        found: u32,
        /// The version this crate writes.
        expected: u32,
    },

    /// Another process is updating the index.
    #[error("{} is being updated by another process; try again when it is done", dir.display())]
    Busy {
        /// The index directory.
        dir: PathBuf,
    },

    /// The embedder given is not the one the index was built with: its vectors would not compare.
    #[error("the index was built with the embedder {expected}; {found} is another model (pass the index's embedder, or rebuild)")]
    EmbedderMismatch {
        /// The index's embedder.
        expected: String,
        /// The one given.
        found: String,
    },

    /// A bad argument (an empty query, overlap not below the passage length, ...).
    #[error("{0}")]
    Input(String),

    /// The model failed (loading, tokenizing, running).
    #[error(transparent)]
    Model(#[from] albert::Error),

    /// The BM25 index failed.
    #[cfg(feature = "engine")]
    #[error("BM25 index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),

    /// The vector index failed.
    #[error("vector index: {0}")]
    Vectors(String),
}

/// This crate's results.
pub type Result<T> = std::result::Result<T, SearchError>;

/// Adds the path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SearchError {
    let path = path.into();
    move |source| SearchError::Io { path, source }
}
