//! ALBERT ("A Lite BERT") in Rust: configuration, model, checkpoints and tokenizer.
//!
//! The model follows Hugging Face transformers module for module and parameter name for parameter name, so its
//! checkpoints load unchanged and its outputs match transformers' to 1e-5.

pub mod builtin;
pub mod checkpoint;
pub mod config;
pub mod decode;
pub mod error;
pub mod fsio;
pub mod hub;
pub mod memory;
pub mod model;
pub mod pipeline;
pub mod ops;
pub mod pretrained;
pub mod rng;
pub mod stats;
pub mod tokenizer;

pub use config::{AlbertConfig, Architecture, HiddenAct, ProblemType};
pub use error::{Error, Result};
pub use pretrained::{LoadOptions, Pretrained};
pub use model::{AlbertForAny, AlbertInput, AlbertModel, AlbertOutput, ForwardOptions, Precision};
pub use rng::AlbertRng;
pub use tokenizer::AlbertTokenizer;
