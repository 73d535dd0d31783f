//! Shared helpers of the integration tests: fixtures, shared data, reference comparisons, a stand-in vocabulary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

#[allow(unused_imports)] // each test binary compiles this module, and not all use it
pub use albert_testkit::shared_data;

/// Reads and parses a JSON fixture.
pub fn json_fixture(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Asserts agreement with a reference value to 1e-12 (relative, or absolute near zero).
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-12 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, reference {expected}"
    );
}

/// Asserts that every key of the reference object matches `actual` (a serialized report).
pub fn assert_json_close(actual: &serde_json::Value, expected: &serde_json::Value, what: &str) {
    let expected = expected
        .as_object()
        .unwrap_or_else(|| panic!("{what}: reference is not an object"));
    let actual = actual
        .as_object()
        .unwrap_or_else(|| panic!("{what}: report is not an object"));
    assert_eq!(
        actual.keys().collect::<std::collections::BTreeSet<_>>(),
        expected.keys().collect::<std::collections::BTreeSet<_>>(),
        "{what}: keys"
    );
    for (key, e) in expected {
        let a = &actual[key];
        match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => assert_close(a, e, &format!("{what} {key}")),
            _ => assert_json_close(a, e, &format!("{what} {key}")),
        }
    }
}


use albert_train::data::{PieceVocab, SpecialIds};

pub const SPECIAL: SpecialIds = SpecialIds {
    pad: 0,
    cls: 2,
    sep: 3,
    mask: 4,
};
pub const UNK: u32 = 1;

/// A word-level stand-in for the SentencePiece tokenizer: every whitespace-separated word of a
/// fixed list is one piece `▁word` with id 5 + its index; anything else is `<unk>` (1).
pub struct WordVocab {
    pub words: Vec<String>,
    /// Reported vocabulary size (at least words + 5), to exercise u32 storage.
    pub size: usize,
}

impl WordVocab {
    pub fn new(words: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let words: Vec<String> = words.into_iter().map(Into::into).collect();
        let size = words.len() + 5;
        WordVocab { words, size }
    }
}

impl PieceVocab for WordVocab {
    fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        Ok(text
            .split_whitespace()
            .map(|w| {
                self.words
                    .iter()
                    .position(|v| v == w)
                    .map_or(UNK, |i| i as u32 + 5)
            })
            .collect())
    }

    fn piece(&self, id: u32) -> Option<String> {
        match id {
            0 => Some("<pad>".into()),
            1 => Some("<unk>".into()),
            2 => Some("[CLS]".into()),
            3 => Some("[SEP]".into()),
            4 => Some("[MASK]".into()),
            _ => self.words.get(id as usize - 5).map(|w| format!("▁{w}")),
        }
    }

    fn vocab_size(&self) -> usize {
        self.size
    }

    fn special_ids(&self) -> SpecialIds {
        SPECIAL
    }
}

/// The small ALBERT the fine-tuning tests train: E 16, H 32, 2 layers of 2 heads, FFN 64.
pub fn tiny_config(vocab_size: usize, max_position_embeddings: usize) -> albert::AlbertConfig {
    albert::AlbertConfig {
        vocab_size,
        embedding_size: 16,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 64,
        max_position_embeddings,
        ..albert::AlbertConfig::default()
    }
}

/// A one-layer model whose head is not the one a task needs (the tests of the error that names it).
pub fn wrong_head_model(vocab_size: usize) -> albert::Pretrained {
    let cfg = albert::AlbertConfig {
        vocab_size,
        embedding_size: 8,
        hidden_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        ..albert::AlbertConfig::default()
    };
    albert::Pretrained::init(&cfg, albert::Architecture::SequenceClassification, 1, candle_core::DType::F32, &candle_core::Device::Cpu)
        .unwrap()
}
