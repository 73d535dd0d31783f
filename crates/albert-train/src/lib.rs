//! Training, data pipelines, optimizers, tasks and metrics for ALBERT.
//!
//! - [`data`]: corpus preparation, segment pairs with sentence-order labels, dynamic n-gram masking, batches.
//! - [`optim`]: LAMB (as google-research/albert), AdamW (as torch), the linear warmup/decay schedule, clipping,
//!   gradient accumulation.
//! - [`metrics`]: evaluation metrics that agree with the official scripts (scikit-learn, scipy,
//!   SQuAD v1.1/v2.0 evaluators, conlleval).
//! - [`finetune`]: the fine-tuning loop and task features (sequence classification and regression).
//! - [`tasks`]: readers for the original dataset formats (GLUE, SQuAD, CoNLL-2003, RACE and
//!   users' own CSV/TSV/JSONL files) and scoring of predictions files.

pub mod augment;
pub mod data;
pub mod finetune;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod tasks;
pub mod trainer;
