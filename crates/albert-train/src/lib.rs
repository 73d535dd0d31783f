//! Training, data pipelines, optimizers, tasks and metrics for ALBERT.
//!
//! - [`data`]: corpus preparation, segment pairs with sentence-order labels, dynamic n-gram masking, batches.
//! - [`optim`]: LAMB (as google-research/albert), AdamW (as torch), the linear warmup/decay schedule, clipping,
//!   gradient accumulation.
//! - [`metrics`]: evaluation metrics that agree with the official scripts (scikit-learn, scipy,
//!   SQuAD v1.1/v2.0 evaluators, conlleval).
//! - [`engine`]: the one training loop: optimizer step, checkpoints and exact resume, metrics log, progress.
//! - [`pretrain`]: pretraining (masked LM + sentence order) on the engine.
//! - [`finetune`]: fine-tuning on the engine, and the task features (sequence classification and regression,
//!   tokens, spans, multiple choice).
//! - [`tasks`]: readers for the original dataset formats (GLUE, SQuAD, CoNLL-2003, RACE and
//!   users' own CSV/TSV/JSONL files) and scoring of predictions files.

pub mod augment;
pub mod data;
pub mod engine;
pub mod finetune;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod tasks;
pub mod pretrain;
