//! The training loop shared by all heads.

use std::path::PathBuf;

use albert::{AlbertForAny, AlbertRng, Pretrained};
use candle_core::{Device, Tensor, Var};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use super::log::JsonlLog;
use super::FinetuneError;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig, GradAccumulator, LinearWarmupSchedule, Optimizer};
use crate::tasks::TaskScores;

/// Training features: anything that can compute the mean loss of a batch of its items.
pub trait TrainFeatures {
    /// Number of training items (one per row of a batch).
    fn len(&self) -> usize;

    /// Whether there is nothing to train on.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Mean loss over the items `batch` (indices into the features), with dropout (`train` mode).
    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device) -> Result<Tensor, FinetuneError>;
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
    /// Stop after this many evaluations without improvement of the dev metric.
    pub patience: Option<usize>,
    /// JSON-lines log of steps and evaluations.
    pub log: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
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
            patience: None,
            log: None,
            progress: false,
        }
    }
}

/// What happened in one epoch.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    mut evaluate: Option<&mut EvaluateFn<'e>>,
    save: &mut dyn FnMut(&Pretrained) -> Result<(), FinetuneError>,
    opts: &FinetuneOptions,
) -> Result<FinetuneSummary, FinetuneError> {
    if data.is_empty() {
        return Err(FinetuneError::Invalid("no training examples".into()));
    }
    if opts.batch_size == 0 || opts.accumulate == 0 {
        return Err(FinetuneError::Invalid(
            "batch size and accumulation must be at least 1".into(),
        ));
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
    let epochs = total_steps.div_ceil(steps_per_epoch) as usize;
    let schedule = LinearWarmupSchedule {
        peak_lr: opts.lr,
        warmup_steps: (opts.warmup_ratio * total_steps as f64).round() as u64,
        total_steps,
    };
    let mut params: Vec<(String, Var)> = model
        .varmap
        .data()
        .lock()
        .expect("varmap lock")
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    let device = params
        .first()
        .map(|(_, v)| v.device().clone())
        .ok_or_else(|| FinetuneError::Invalid("the model has no parameters".into()))?;
    let mut optimizer = AdamW::new(opts.adamw.clone())?;
    let mut accumulator = GradAccumulator::new();
    let mut shuffle_rng = AlbertRng::new(opts.seed).fork(2);
    let mut log = JsonlLog::open(opts.log.as_deref())?;
    let bar = if opts.progress {
        ProgressBar::new(total_steps)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}")
            .expect("valid template"),
    );

    let mut summary = FinetuneSummary {
        epochs: Vec::new(),
        steps: 0,
        best: None,
        stopped_early: false,
    };
    let mut since_best = 0;
    for epoch in 1..=epochs {
        let mut order: Vec<usize> = (0..data.len()).collect();
        shuffle_rng.shuffle(&mut order);
        let (mut loss_sum, mut micro) = (0.0, 0usize);
        for (i, batch) in order.chunks(opts.batch_size).enumerate() {
            let loss = data.loss(&model.model, batch, &device)?;
            let value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            if !value.is_finite() {
                return Err(FinetuneError::Invalid(format!(
                    "loss became {value} at step {}",
                    summary.steps
                )));
            }
            loss_sum += value;
            micro += 1;
            // Summed gradients of loss/k over k micro-batches are the mean batch's gradient.
            let in_step = opts
                .accumulate
                .min(micro_per_epoch - (i / opts.accumulate) * opts.accumulate);
            accumulator.add(&params, &(loss / in_step as f64)?.backward()?)?;
            if accumulator.micro_batches() < in_step {
                continue;
            }
            let mut grads = accumulator.take();
            let grad_norm = clip_grad_norm(&params, &mut grads, opts.max_grad_norm)?;
            let lr = schedule.lr(summary.steps);
            optimizer.step(&params, &grads, lr)?;
            summary.steps += 1;
            bar.inc(1);
            bar.set_message(format!("epoch {epoch} loss {value:.4}"));
            log.write(json!({"epoch": epoch, "step": summary.steps, "loss": value, "lr": lr, "grad_norm": grad_norm}))?;
            if summary.steps >= total_steps {
                break;
            }
        }
        let mut report = EpochReport {
            epoch,
            step: summary.steps,
            train_loss: loss_sum / micro as f64,
            eval: None,
        };
        if let Some(evaluate) = evaluate.as_mut() {
            let scores = evaluate(model)?;
            let metric = scores.metrics.first().map(|m| m.value).unwrap_or(f64::NAN);
            log.write(
                json!({"epoch": epoch, "step": summary.steps, "train_loss": report.train_loss, "eval": &scores}),
            )?;
            let shown: Vec<String> = scores
                .metrics
                .iter()
                .map(|m| format!("{} {:.2}", m.name, m.value))
                .collect();
            bar.println(format!(
                "epoch {epoch}: train loss {:.4}, dev {}",
                report.train_loss,
                shown.join(", ")
            ));
            if summary.best.is_none_or(|(best, _)| metric > best) {
                summary.best = Some((metric, epoch));
                since_best = 0;
                save(model)?;
            } else {
                since_best += 1;
            }
            report.eval = Some(scores);
        } else {
            log.write(json!({"epoch": epoch, "step": summary.steps, "train_loss": report.train_loss}))?;
        }
        summary.epochs.push(report);
        if opts.patience.is_some_and(|p| since_best >= p) && epoch < epochs {
            summary.stopped_early = true;
            break;
        }
    }
    bar.finish_and_clear();
    if evaluate.is_none() {
        save(model)?;
    }
    Ok(summary)
}
