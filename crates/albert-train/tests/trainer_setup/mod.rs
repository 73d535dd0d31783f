//! A tiny pretraining setup shared by the trainer tests: a handful of sentences in five
//! documents, ALBERT's spiece.model from ../shared/data, and a 2-layer E=8/H=16 model.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use albert::tokenizer::AlbertTokenizer;
use albert::AlbertConfig;
use albert_train::data::{prepare_corpus, PrepareConfig, TokenizerVocab};
use albert_train::pretrain::TOKENIZER_SUBDIR;

pub const CORPUS: &str = "\
The cat sat on the mat. It was a sunny day and the cat was happy. Later the dog came by.
The dog barked at the cat. The cat ran up a tree and stayed there until dinner.

Rust is a systems programming language. It guarantees memory safety without a garbage collector.
Many developers enjoy its tooling. Cargo builds the code and runs the tests.

The river flows to the sea. Fish swim against the current in spring.
Birds fly over the water. The fishermen cast their nets at dawn.

Mathematics studies numbers, shapes and patterns. Proofs show why statements are true.
Algebra and geometry meet in many places. Students learn both at school.

The old library holds thousands of books. Readers come every morning to study.
The librarian knows where every book belongs. Quiet is kept in the reading room.
";

/// ALBERT's 30k SentencePiece model; `None` (with a note) when the shared data is absent
/// outside CI.
pub fn spiece() -> Option<PathBuf> {
    albert_testkit::shared_data("spm/spiece.model")
}

/// Prepares [`CORPUS`] into `dir/data` (with the tokenizer copy the CLI makes), a fifth of the documents held out,
/// and returns it.
pub fn prepare(dir: &Path, spiece: &Path) -> PathBuf {
    prepare_with_heldout(dir, spiece, 0.2)
}

/// [`prepare`] with `heldout_fraction` of the documents held out.
pub fn prepare_with_heldout(dir: &Path, spiece: &Path, heldout_fraction: f64) -> PathBuf {
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, CORPUS).unwrap();
    let data = dir.join("data");
    let tok = AlbertTokenizer::from_path(spiece).unwrap();
    let mut cfg = PrepareConfig::new(vec![corpus], data.clone(), "spiece.model");
    cfg.max_seq_length = 32;
    cfg.heldout_fraction = heldout_fraction;
    prepare_corpus(&cfg, &TokenizerVocab::new(tok.clone()).unwrap()).unwrap();
    tok.save(&data.join(TOKENIZER_SUBDIR)).unwrap();
    data
}

/// The tiny model: E=8, H=16, 2 layers sharing one group, 2 heads.
pub fn tiny_config(dropout: f64) -> AlbertConfig {
    AlbertConfig {
        embedding_size: 8,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 32,
        hidden_dropout_prob: dropout,
        attention_probs_dropout_prob: dropout,
        classifier_dropout_prob: Some(dropout),
        ..AlbertConfig::default()
    }
}
