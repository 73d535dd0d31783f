//! Turning model outputs into answers, shared by evaluation and the inference pipelines.
//!
//! - [`qa`]: extractive question answering: n-best spans over sliding windows, the null answer of SQuAD v2.0.

pub mod qa;
