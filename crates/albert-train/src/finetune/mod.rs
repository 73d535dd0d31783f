//! Fine-tuning: one training loop for every head, over features that know their own loss.
//!
//! The loop runs AdamW with linear warmup and decay, batches with gradient accumulation, global-norm
//! clipping, evaluation on a dev split after each epoch, keeps the best checkpoint, stops early after
//! `patience` epochs without improvement, and logs every optimizer step and evaluation as JSON lines.
//! All randomness (shuffling here, dropout in the model) comes from [`albert::AlbertRng`] seeds.
//!
//! - [`sequence`]: sequence classification and regression (GLUE, users' own CSV/TSV/JSONL data).
//! - [`choice`]: multiple choice (RACE), one scored pair per option.
//! - [`qa`]: extractive question answering (SQuAD v1.1 / v2.0, XQuAD) over overlapping windows.
//! - [`token`]: token classification (CoNLL-2003 named entities), labels on the first sub-token of each word.
//! - [`task`]: the interface the four families implement ([`TaskFamily`]), which the commands are generic over.

mod error;
pub mod choice;
pub mod qa;
pub mod sequence;
pub mod task;
pub mod token;
mod trainer;

pub use error::FinetuneError;
pub use task::{with_family, FamilyVisitor, TaskFamily};
pub use trainer::{train, EpochReport, EvaluateFn, FinetuneOptions, FinetuneSummary, ResumeOptions, TrainFeatures};
