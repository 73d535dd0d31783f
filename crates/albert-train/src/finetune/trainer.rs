//! Fine-tuning on the training engine: every head's features as the engine's workload, with shuffled (or
//! length-grouped) epochs, evaluation on a dev split after each epoch, the best checkpoint kept and early stopping.

use std::path::PathBuf;

use albert::rng::RngState;
use albert::{AlbertForAny, AlbertRng, ForwardOptions, Pretrained};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::FinetuneError;
use crate::data::{dropout_key, group_by_length};
use crate::engine::{
    self, AfterStep, LossNormalization, LossTerm, MicroLoss, Objective, RunOptions, StepConfig, StepOutcome, Stepper,
    Workload,
};
use crate::optim::{AdamW, AdamWConfig, LinearWarmupSchedule};
use crate::tasks::TaskScores;

/// Training features: anything that can compute the mean loss of a batch of its items.
pub trait TrainFeatures {
    /// Number of training items (one per row of a batch).
    fn len(&self) -> usize;

    /// Whether there is nothing to train on.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tokens of item `row` (a row of several sequences counts its longest), the length a batch pads to.
    fn row_len(&self, row: usize) -> usize;

    /// Mean loss over the items `batch` (indices into the features), run with `forward` (training mode, dropout).
    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError>;
}

/// Scores the model on a dev split (called after each epoch).
pub type EvaluateFn<'e> = dyn FnMut(&Pretrained) -> Result<TaskScores, FinetuneError> + 'e;

/// Settings of a fine-tuning run.
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// Passes over the training data (ignored when `max_steps` is set).
    pub epochs: usize,
    /// Stop after this many optimizer steps instead of after `epochs`.
    pub max_steps: Option<u64>,
    /// Items per micro-batch.
    pub batch_size: usize,
    /// Micro-batches whose gradients are summed into one optimizer step.
    pub accumulate: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Fraction of the optimizer steps spent warming the learning rate up from 0.
    pub warmup_ratio: f64,
    /// AdamW settings (weight decay 0.01, LayerNorm and biases excluded).
    pub adamw: AdamWConfig,
    /// Clip gradients to this global norm.
    pub max_grad_norm: f64,
    /// Seed of the shuffling RNG (the model's dropout RNG is seeded when it is built).
    pub seed: u64,
    /// Batch items of similar length together (less padding, faster steps; see
    /// [`crate::data::group_by_length`]).
    pub group_by_length: bool,
    /// Stop after this many evaluations without improvement of the dev metric.
    pub patience: Option<usize>,
    /// JSON-lines log of steps and evaluations.
    pub log: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Checkpoint the run so that it can be resumed.
    pub checkpoint: Option<ResumeOptions>,
}

/// Where and how often a fine-tuning run checkpoints itself (weights, optimizer moments, RNG states and its place
/// in the data), so that a killed run continues with `resume` as if it had never stopped.
#[derive(Debug, Clone)]
pub struct ResumeOptions {
    /// The run's directory; the checkpoint is `DIR/checkpoint`, replaced atomically.
    pub dir: PathBuf,
    /// Checkpoint every this many optimizer steps (and after every epoch).
    pub every: u64,
    /// Continue from the checkpoint in `dir` when there is one.
    pub resume: bool,
    /// Stop with a checkpoint after this optimizer step (continue later with `resume`).
    pub stop_after: Option<u64>,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        Self {
            epochs: 3,
            max_steps: None,
            batch_size: 32,
            accumulate: 1,
            lr: 2e-5,
            warmup_ratio: 0.1,
            adamw: AdamWConfig::default(),
            max_grad_norm: 1.0,
            seed: 42,
            group_by_length: false,
            patience: None,
            log: None,
            progress: false,
            checkpoint: None,
        }
    }
}

/// What happened in one epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Optimizer steps taken so far.
    pub step: u64,
    /// Mean training loss over the epoch's micro-batches.
    pub train_loss: f64,
    /// Dev scores, when there is a dev split.
    pub eval: Option<TaskScores>,
}

/// The outcome of [`train`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinetuneSummary {
    /// One report per epoch run.
    pub epochs: Vec<EpochReport>,
    /// Optimizer steps taken.
    pub steps: u64,
    /// Best dev value of the selection metric (the first of the task's scores) and its epoch.
    pub best: Option<(f64, usize)>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

/// Fine-tunes `model` on `data`.
///
/// After each epoch `evaluate` (if any) scores the dev split; the first of its metrics selects the
/// checkpoint (higher is better) and `save` is called each time it improves. Without `evaluate`,
/// `save` is called once at the end.
pub fn train<'e>(
    model: &Pretrained,
    data: &dyn TrainFeatures,
    evaluate: Option<&mut EvaluateFn<'e>>,
    save: &mut dyn FnMut(&Pretrained) -> Result<(), FinetuneError>,
    opts: &FinetuneOptions,
) -> Result<FinetuneSummary, FinetuneError> {
    if data.is_empty() {
        return Err(FinetuneError::Invalid("no training examples".into()));
    }
    if opts.batch_size == 0 || opts.accumulate == 0 {
        return Err(FinetuneError::Invalid("batch size and accumulation must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&opts.warmup_ratio) || opts.lr.is_nan() || opts.lr <= 0.0 {
        return Err(FinetuneError::Invalid(format!(
            "need a positive learning rate and a warmup ratio in [0, 1], got {} and {}",
            opts.lr, opts.warmup_ratio
        )));
    }
    let micro_per_epoch = data.len().div_ceil(opts.batch_size);
    let steps_per_epoch = micro_per_epoch.div_ceil(opts.accumulate) as u64;
    let total_steps = opts.max_steps.unwrap_or(opts.epochs as u64 * steps_per_epoch);
    if total_steps == 0 {
        return Err(FinetuneError::Invalid("nothing to do: zero epochs or steps".into()));
    }
    let step = StepConfig {
        max_grad_norm: opts.max_grad_norm,
        schedule: LinearWarmupSchedule {
            peak_lr: opts.lr,
            warmup_steps: (opts.warmup_ratio * total_steps as f64).round() as u64,
            total_steps,
        },
        normalization: LossNormalization::MicroBatchMean,
        frozen: Vec::new(),
    };
    let mut stepper = Stepper::new(model, Box::new(AdamW::new(opts.adamw.clone())?), step)?;
    let mut workload = Finetuning {
        data,
        evaluate,
        save,
        settings: FinetuneSettings::new(opts, data.len()),
        device: stepper.device().clone(),
        total_steps,
        micro_per_epoch,
        epochs: total_steps.div_ceil(steps_per_epoch) as usize,
        at: Place { epoch: 1, next_micro: 0, epoch_rng: AlbertRng::new(opts.seed).fork(2).state() },
        order: None,
        shuffle_rng: AlbertRng::new(opts.seed).fork(2),
        loss_sum: 0.0,
        micro: 0,
        since_best: 0,
        summary: FinetuneSummary { epochs: Vec::new(), steps: 0, best: None, stopped_early: false },
    };
    let run = RunOptions {
        dir: opts.checkpoint.as_ref().map(|c| c.dir.clone()),
        save_every: opts.checkpoint.as_ref().map_or(0, |c| c.every),
        resume: opts.checkpoint.as_ref().is_some_and(|c| c.resume),
        stop_after: opts.checkpoint.as_ref().and_then(|c| c.stop_after),
        log: opts.log.clone(),
        progress: opts.progress,
    };
    let end = engine::run(model, &mut workload, &mut stepper, &run, None)?;
    if !end.interrupted && workload.evaluate.is_none() {
        (workload.save)(model)?;
    }
    Ok(workload.summary)
}

/// The settings that must not change on resume.
#[derive(Debug, Clone, Serialize)]
struct FinetuneSettings {
    epochs: usize,
    max_steps: Option<u64>,
    batch_size: usize,
    accumulate: usize,
    lr: f64,
    warmup_ratio: f64,
    adamw: AdamWConfig,
    max_grad_norm: f64,
    seed: u64,
    patience: Option<usize>,
    /// Training items.
    items: usize,
    batches: BatchOrder,
}

/// How an epoch's items are put into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum BatchOrder {
    #[serde(rename = "shuffled")]
    Shuffled,
    #[serde(rename = "grouped by length")]
    GroupedByLength,
}

impl FinetuneSettings {
    fn new(opts: &FinetuneOptions, items: usize) -> Self {
        Self {
            epochs: opts.epochs,
            max_steps: opts.max_steps,
            batch_size: opts.batch_size,
            accumulate: opts.accumulate,
            lr: opts.lr,
            warmup_ratio: opts.warmup_ratio,
            adamw: opts.adamw.clone(),
            max_grad_norm: opts.max_grad_norm,
            seed: opts.seed,
            patience: opts.patience,
            items,
            batches: if opts.group_by_length { BatchOrder::GroupedByLength } else { BatchOrder::Shuffled },
        }
    }
}

/// Where a fine-tuning run stands in its data.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Place {
    /// Epoch (from 1) of the next micro-batch.
    epoch: usize,
    /// Index of the next micro-batch in the epoch's order.
    next_micro: usize,
    /// The shuffling generator as it was before this epoch's shuffle.
    epoch_rng: RngState,
}

/// Everything of a fine-tuning run a checkpoint keeps besides weights and moments.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FinetuneState {
    at: Place,
    /// Running sums of the epoch's training loss.
    loss_sum: f64,
    micro: usize,
    /// Evaluations since the best one.
    since_best: usize,
    summary: FinetuneSummary,
}

/// One micro-batch: items of the data, in the epoch they are drawn in.
struct Micro {
    rows: Vec<usize>,
    epoch: usize,
}

/// A fine-tuning run as the engine's workload.
struct Finetuning<'a, 'e> {
    data: &'a dyn TrainFeatures,
    evaluate: Option<&'a mut EvaluateFn<'e>>,
    save: &'a mut dyn FnMut(&Pretrained) -> Result<(), FinetuneError>,
    settings: FinetuneSettings,
    device: Device,
    total_steps: u64,
    micro_per_epoch: usize,
    epochs: usize,
    at: Place,
    /// The epoch's items in batch order, once drawn.
    order: Option<Vec<usize>>,
    shuffle_rng: AlbertRng,
    loss_sum: f64,
    micro: usize,
    since_best: usize,
    summary: FinetuneSummary,
}

impl Finetuning<'_, '_> {
    /// The current epoch's items in batch order (drawn on first use, from the generator as the epoch began).
    fn order(&mut self) -> &[usize] {
        if self.order.is_none() {
            self.at.epoch_rng = self.shuffle_rng.state();
            let mut order: Vec<usize> = (0..self.data.len()).collect();
            self.shuffle_rng.shuffle(&mut order);
            if self.settings.batches == BatchOrder::GroupedByLength {
                let data = self.data;
                group_by_length(&mut order, |&r| data.row_len(r), self.settings.batch_size, &mut self.shuffle_rng);
            }
            self.order = Some(order);
        }
        self.order.as_deref().expect("drawn above")
    }

    /// Dev evaluation and the epoch's report, after its last step.
    fn end_epoch(&mut self, model: &Pretrained, ctx: &mut AfterStep) -> Result<(), FinetuneError> {
        let epoch = self.at.epoch;
        let mut report =
            EpochReport { epoch, step: self.summary.steps, train_loss: self.loss_sum / self.micro.max(1) as f64, eval: None };
        if let Some(evaluate) = self.evaluate.as_mut() {
            let scores = evaluate(model)?;
            let metric = scores.metrics.first().map(|m| m.value).unwrap_or(f64::NAN);
            ctx.log(&json!({"epoch": epoch, "step": report.step, "train_loss": report.train_loss, "eval": &scores}))?;
            let shown: Vec<String> = scores.metrics.iter().map(|m| format!("{} {:.2}", m.name, m.value)).collect();
            ctx.note(format!("epoch {epoch}: train loss {:.4}, dev {}", report.train_loss, shown.join(", ")));
            if self.summary.best.is_none_or(|(best, _)| metric > best) {
                self.summary.best = Some((metric, epoch));
                self.since_best = 0;
                (self.save)(model)?;
            } else {
                self.since_best += 1;
            }
            report.eval = Some(scores);
        } else {
            ctx.log(&json!({"epoch": epoch, "step": report.step, "train_loss": report.train_loss}))?;
        }
        self.summary.epochs.push(report);
        if self.settings.patience.is_some_and(|p| self.since_best >= p) && epoch < self.epochs {
            self.summary.stopped_early = true;
            ctx.stop();
        } else {
            ctx.checkpoint();
        }
        // The next epoch starts afresh; its order is drawn when its first batch is.
        self.at = Place { epoch: epoch + 1, next_micro: 0, epoch_rng: self.shuffle_rng.state() };
        self.order = None;
        (self.loss_sum, self.micro) = (0.0, 0);
        Ok(())
    }
}

impl Objective for Finetuning<'_, '_> {
    type Micro = Micro;
    type Stats = f64;
    type Error = FinetuneError;

    fn sample_keys(&self, micro: &Micro) -> Vec<u64> {
        micro.rows.iter().map(|&r| dropout_key(self.settings.seed, micro.epoch as u64, r as u64)).collect()
    }

    /// The batch's items: each micro-batch's mean loss is one term over them.
    fn counts(&self, micro: &Micro) -> Vec<usize> {
        vec![micro.rows.len()]
    }

    fn loss(&self, model: &AlbertForAny, micro: &Micro, forward: &ForwardOptions) -> Result<MicroLoss<f64>, FinetuneError> {
        let mean = self.data.loss(model, &micro.rows, &self.device, forward)?;
        let value = mean.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        Ok(MicroLoss { terms: vec![LossTerm { mean, count: micro.rows.len() }], stats: value })
    }
}

impl Workload for Finetuning<'_, '_> {
    type Record = serde_json::Value;

    fn settings(&self) -> serde_json::Value {
        serde_json::to_value(&self.settings).expect("settings serialize")
    }

    fn total_steps(&self) -> u64 {
        self.total_steps
    }

    /// The next `accumulate` micro-batches of the epoch (fewer at its end: a step never spans two epochs).
    fn next_step(&mut self) -> Result<Vec<Micro>, FinetuneError> {
        let (batch, epoch, first) = (self.settings.batch_size, self.at.epoch, self.at.next_micro);
        let n = self.settings.accumulate.min(self.micro_per_epoch - first);
        let order = self.order();
        let micro = (first..first + n)
            .map(|i| Micro { rows: order[i * batch..((i + 1) * batch).min(order.len())].to_vec(), epoch })
            .collect();
        self.at.next_micro += n;
        Ok(micro)
    }

    fn record(&mut self, outcome: StepOutcome<f64>) -> Result<(serde_json::Value, String), FinetuneError> {
        self.loss_sum += outcome.micro.iter().sum::<f64>();
        self.micro += outcome.micro.len();
        self.summary.steps = outcome.step;
        let value = outcome.micro.last().copied().unwrap_or(f64::NAN);
        let epoch = self.at.epoch;
        let record =
            json!({"epoch": epoch, "step": outcome.step, "loss": value, "lr": outcome.lr, "grad_norm": outcome.grad_norm});
        Ok((record, format!("epoch {epoch} loss {value:.4}")))
    }

    fn after_step(&mut self, model: &Pretrained, step: u64, ctx: &mut AfterStep) -> Result<(), FinetuneError> {
        if self.at.next_micro == self.micro_per_epoch || step >= self.total_steps {
            self.end_epoch(model, ctx)?;
        }
        Ok(())
    }

    fn state(&self) -> serde_json::Value {
        let state = FinetuneState {
            at: self.at.clone(),
            loss_sum: self.loss_sum,
            micro: self.micro,
            since_best: self.since_best,
            summary: self.summary.clone(),
        };
        serde_json::to_value(state).expect("state serializes")
    }

    fn restore(&mut self, state: serde_json::Value) -> Result<(), FinetuneError> {
        let s: FinetuneState = serde_json::from_value(state)
            .map_err(|e| FinetuneError::Invalid(format!("the checkpoint's fine-tuning state: {e}")))?;
        self.shuffle_rng = AlbertRng::from_state(s.at.epoch_rng);
        self.at = s.at;
        self.order = None;
        (self.loss_sum, self.micro, self.since_best, self.summary) = (s.loss_sum, s.micro, s.since_best, s.summary);
        Ok(())
    }
}
