//! Evaluation metrics that reproduce the official implementations.
//!
//! Primitive metrics ([`accuracy`], [`f1_binary`], [`matthews_corrcoef`], [`pearson`],
//! [`spearman`]) return fractions exactly as scikit-learn and scipy do. Report-level
//! evaluations ([`squad`], [`conlleval`]) return the official scripts' 0-100 scale; [`retrieval`] gives
//! trec_eval's fractions.

pub mod classification;
pub mod conlleval;
pub mod correlation;
pub mod retrieval;
pub mod squad;

pub use classification::{accuracy, f1_binary, matthews_corrcoef, ConfusionMatrix};
pub use conlleval::{conlleval, ChunkScores, ConllevalReport};
pub use correlation::{pearson, rank_average, spearman};

/// Errors raised when metric inputs are inconsistent.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricError {
    /// Predictions and references differ in length.
    #[error("{predictions} predictions but {references} references")]
    LengthMismatch {
        /// Number of predictions given.
        predictions: usize,
        /// Number of references given.
        references: usize,
    },
    /// A sentence's predicted tags do not pair up with its reference tags.
    #[error("sentence {sentence}: {predictions} predicted tags but {references} reference tags")]
    SentenceLengthMismatch {
        /// Zero-based sentence index.
        sentence: usize,
        /// Number of predicted tags.
        predictions: usize,
        /// Number of reference tags.
        references: usize,
    },
    /// No examples to score.
    #[error("no examples to score")]
    Empty,
    /// A class id is not below the number of classes.
    #[error("class id {id} is out of range for {num_classes} classes")]
    ClassOutOfRange {
        /// The offending class id.
        id: usize,
        /// Number of classes of the confusion matrix.
        num_classes: usize,
    },
    /// A correlation is undefined because one input is constant.
    #[error("correlation is undefined: the {which} are constant")]
    ConstantInput {
        /// `"predictions"` or `"references"`.
        which: &'static str,
    },
    /// A value is NaN or infinite.
    #[error("the {which} contain a non-finite value at position {index}")]
    NonFinite {
        /// `"predictions"` or `"references"`.
        which: &'static str,
        /// Zero-based position of the value.
        index: usize,
    },
    /// Predictions are missing for some references (SQuAD v2.0 requires all of them).
    #[error("missing predictions for {count} question(s), first: {first}")]
    MissingPredictions {
        /// How many are missing.
        count: usize,
        /// The first missing id, in dataset order.
        first: String,
    },
    /// The no-answer probabilities lack a scored question.
    #[error("no-answer probability missing for question {0}")]
    MissingNaProb(String),
    /// A reference has no ground-truth answers where the metric needs at least one.
    #[error("question {0} has no ground-truth answers")]
    NoGroundTruth(String),
    /// A run lists a document twice for one query (trec_eval refuses it too).
    #[error("query {query} lists document {document} twice")]
    DuplicateDocument {
        /// The query id.
        query: String,
        /// The repeated document id.
        document: String,
    },
    /// A run's score is NaN or infinite.
    #[error("query {query}: document {document} has a score that is not a finite number")]
    NonFiniteScore {
        /// The query id.
        query: String,
        /// The document id.
        document: String,
    },
    /// A line of a TREC qrels or run file is malformed.
    #[error("line {line}: {message}")]
    Format {
        /// 1-based line number.
        line: usize,
        /// What is wrong, with the line.
        message: String,
    },
}

/// Checks that two slices pair up and are not empty.
pub(crate) fn check_lengths<A, B>(predictions: &[A], references: &[B]) -> Result<(), MetricError> {
    if predictions.len() != references.len() {
        return Err(MetricError::LengthMismatch {
            predictions: predictions.len(),
            references: references.len(),
        });
    }
    if predictions.is_empty() {
        return Err(MetricError::Empty);
    }
    Ok(())
}
