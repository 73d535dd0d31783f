//! ALBERT ("A Lite BERT") in Rust: configuration, model, checkpoints and tokenizer.
pub mod tokenizer;
