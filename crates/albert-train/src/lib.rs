//! Training, data pipelines, optimizers, tasks and metrics for ALBERT.

pub mod data;
mod fsutil;
pub mod optim;
