//! Data augmentation for fine-tuning on little data:
//! - [`eda`]: EDA (Wei and Zou, 2019): synonym replacement from WordNet, random insertion, swap and deletion, as the
//!   authors' `eda.py` does;
//! - [`mlm`]: contextual replacement: words masked and refilled by the model's own masked-LM head.
//!
//! All draws come from the project's seeded [`albert::AlbertRng`].

pub mod eda;
pub mod mlm;
pub mod wordnet;

use std::path::PathBuf;

/// Augmentation failures.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The WordNet database could not be read.
    #[error("WordNet at {}: {message}", path.display())]
    WordNet {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The masked-LM model failed.
    #[error("masked-LM augmentation: {0}")]
    Model(#[from] albert::Error),
    /// A tensor operation failed.
    #[error("masked-LM augmentation: {0}")]
    Tensor(#[from] candle_core::Error),
    /// Tokenization failed.
    #[error("masked-LM augmentation: {0}")]
    Tokenizer(#[from] albert::tokenizer::TokenizerError),
}

/// English stop words that synonym replacement leaves alone (the list of `eda.py`, NLTK's).
pub const STOP_WORDS: &[&str] = &[
    "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours", "yourself", "yourselves",
    "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its", "itself", "they", "them", "their",
    "theirs", "themselves", "what", "which", "who", "whom", "this", "that", "these", "those", "am", "is", "are",
    "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does", "did", "doing", "a", "an",
    "the", "and", "but", "if", "or", "because", "as", "until", "while", "of", "at", "by", "for", "with", "about",
    "against", "between", "into", "through", "during", "before", "after", "above", "below", "to", "from", "up",
    "down", "in", "out", "on", "off", "over", "under", "again", "further", "then", "once", "here", "there", "when",
    "where", "why", "how", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor",
    "not", "only", "own", "same", "so", "than", "too", "very", "s", "t", "can", "will", "just", "don", "should",
    "now", "",
];

/// Whether `word` is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}
