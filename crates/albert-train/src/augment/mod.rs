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

/// An augmentation method.
pub enum Method<'a> {
    /// EDA with WordNet synonyms.
    Eda(eda::EdaConfig, &'a wordnet::WordNet),
    /// Masked-LM contextual replacement.
    Mlm(mlm::MlmAugmenter<'a>),
}

impl Method<'_> {
    /// Variants of one text.
    pub fn variants(&self, text: &str, rng: &mut albert::AlbertRng) -> Result<Vec<String>, AugmentError> {
        match self {
            Method::Eda(cfg, wn) => Ok(eda::eda(text, cfg, wn, rng)),
            Method::Mlm(m) => m.augment(text, rng),
        }
    }
}

/// `examples` followed by their variants, each with its example's label and the id `GUID-augK`; a text pair's two
/// texts are varied independently and paired in order.
pub fn augment_examples(
    examples: &[crate::tasks::TextExample],
    method: &Method,
    seed: u64,
) -> Result<Vec<crate::tasks::TextExample>, AugmentError> {
    let mut rng = albert::AlbertRng::new(seed).fork(3);
    let mut out = examples.to_vec();
    for e in examples {
        let a = method.variants(&e.text_a, &mut rng)?;
        let b = e.text_b.as_deref().map(|t| method.variants(t, &mut rng)).transpose()?;
        for (k, text_a) in a.into_iter().enumerate() {
            let text_b = match &b {
                Some(b) => match b.get(k) {
                    Some(t) => Some(t.clone()),
                    None => break,
                },
                None => None,
            };
            out.push(crate::tasks::TextExample { guid: format!("{}-aug{k}", e.guid), text_a, text_b, label: e.label });
        }
    }
    Ok(out)
}
