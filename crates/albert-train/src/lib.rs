//! Training, data pipelines, optimizers, tasks and metrics for ALBERT.
