//! Training, data pipelines, optimizers, tasks and metrics for ALBERT.
//!
//! - [`metrics`]: evaluation metrics that agree with the official scripts (scikit-learn, scipy,
//!   SQuAD v1.1/v2.0 evaluators, conlleval).
//! - [`tasks`]: readers for the original dataset formats (GLUE, SQuAD, CoNLL-2003, RACE and
//!   users' own CSV/TSV/JSONL files) and scoring of predictions files.

pub mod metrics;
pub mod tasks;
