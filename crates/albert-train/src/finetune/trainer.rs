//! The training loop shared by all heads.

use std::path::PathBuf;

use albert::rng::RngState;
use albert::{AlbertForAny, AlbertRng, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor, Var};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::log::JsonlLog;
use super::FinetuneError;
use crate::data::group_by_length;
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig, GradAccumulator, LinearWarmupSchedule, Optimizer};
use crate::trainer::CheckpointDirs;
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
    let settings = settings_text(opts, data.len());
    let resumed = match &opts.checkpoint {
        Some(c) if c.resume => load_state(&c.dir, model, &mut optimizer, &device)?,
        Some(c) if has_checkpoint(&c.dir)? => {
            return Err(FinetuneError::Invalid(format!(
                "{} already holds a checkpoint; pass --resume to continue it or choose another output directory",
                c.dir.display()
            )))
        }
        _ => None,
    };
    if let Some(state) = &resumed {
        if state.settings != settings {
            return Err(FinetuneError::Invalid(format!(
                "the checkpoint was made with different settings ({}); resume with the same (got {settings})",
                state.settings
            )));
        }
        shuffle_rng = AlbertRng::from_state(state.epoch_rng.clone());
        if let Some(path) = &opts.log {
            let f = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| FinetuneError::io(path, e))?;
            f.set_len(state.log_bytes).map_err(|e| FinetuneError::io(path, e))?;
        }
    } else if let Some(path) = opts.log.as_deref().filter(|p| p.exists()) {
        // A fresh run starts a fresh log.
        std::fs::remove_file(path).map_err(|e| FinetuneError::io(path, e))?;
    }
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

    let (first_epoch, mut skip, mut since_best, mut summary, mut sums) = match resumed {
        Some(s) => (s.epoch, s.next_micro, s.since_best, s.summary, (s.loss_sum, s.micro)),
        None => (1, 0, 0, FinetuneSummary { epochs: Vec::new(), steps: 0, best: None, stopped_early: false }, (0.0, 0)),
    };
    bar.set_position(summary.steps);
    let log_bytes = || opts.log.as_deref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
    for epoch in first_epoch..=epochs {
        if summary.steps >= total_steps || summary.stopped_early {
            break;
        }
        let epoch_rng = shuffle_rng.state();
        let mut order: Vec<usize> = (0..data.len()).collect();
        shuffle_rng.shuffle(&mut order);
        if opts.group_by_length {
            group_by_length(&mut order, |&r| data.row_len(r), opts.batch_size, &mut shuffle_rng);
        }
        let (mut loss_sum, mut micro) = std::mem::take(&mut sums);
        for (i, batch) in order.chunks(opts.batch_size).enumerate().skip(std::mem::take(&mut skip)) {
            let loss = data.loss(&model.model, batch, &device, &ForwardOptions { train: true, ..Default::default() })?;
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
            let stop = opts.checkpoint.as_ref().is_some_and(|c| c.stop_after == Some(summary.steps));
            if let Some(c) = opts.checkpoint.as_ref().filter(|c| stop || (c.every > 0 && summary.steps % c.every == 0)) {
                let state = FinetuneState {
                    settings: settings.clone(),
                    epoch,
                    next_micro: i + 1,
                    epoch_rng: epoch_rng.clone(),
                    dropout_rng: model.rng.lock().unwrap_or_else(|e| e.into_inner()).state(),
                    loss_sum,
                    micro,
                    since_best,
                    summary: summary.clone(),
                    log_bytes: log_bytes(),
                };
                save_state(&c.dir, model, &optimizer, &state)?;
            }
            if stop {
                bar.finish_and_clear();
                return Ok(summary);
            }
        }
        let mut report = EpochReport {
            epoch,
            step: summary.steps,
            train_loss: loss_sum / micro.max(1) as f64,
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
        }
        if let Some(c) = &opts.checkpoint {
            let state = FinetuneState {
                settings: settings.clone(),
                epoch: epoch + 1,
                next_micro: 0,
                epoch_rng: shuffle_rng.state(),
                dropout_rng: model.rng.lock().unwrap_or_else(|e| e.into_inner()).state(),
                loss_sum: 0.0,
                micro: 0,
                since_best,
                summary: summary.clone(),
                log_bytes: log_bytes(),
            };
            save_state(&c.dir, model, &optimizer, &state)?;
        }
        if summary.stopped_early {
            break;
        }
    }
    bar.finish_and_clear();
    if evaluate.is_none() {
        save(model)?;
    }
    Ok(summary)
}

const STATE_FILE: &str = "finetune_state.json";
const WEIGHTS_FILE: &str = "weights.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// Where a fine-tuning run stands, beside its weights and optimizer moments in the checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FinetuneState {
    /// The settings that must not change on resume, as text.
    settings: String,
    /// Epoch (from 1) of the next micro-batch.
    epoch: usize,
    /// Index of the next micro-batch in the epoch's order.
    next_micro: usize,
    /// The shuffling generator as it was before this epoch's shuffle.
    epoch_rng: RngState,
    /// The model's dropout generator.
    dropout_rng: RngState,
    /// Running sums of the epoch's training loss.
    loss_sum: f64,
    micro: usize,
    /// Evaluations since the best one.
    since_best: usize,
    summary: FinetuneSummary,
    /// Length of the log when the checkpoint was taken (later lines are dropped on resume).
    log_bytes: u64,
}

fn settings_text(opts: &FinetuneOptions, items: usize) -> String {
    format!(
        "epochs {} max_steps {:?} batch {} accumulate {} lr {} warmup {} adamw {:?} clip {} seed {} patience {:?} items {items}",
        opts.epochs, opts.max_steps, opts.batch_size, opts.accumulate, opts.lr, opts.warmup_ratio, opts.adamw,
        opts.max_grad_norm, opts.seed, opts.patience
    ) + if opts.group_by_length { " grouped by length" } else { "" }
}

fn checkpoint_error(path: &std::path::Path) -> impl Fn(crate::trainer::TrainError) -> FinetuneError + '_ {
    move |e| FinetuneError::Invalid(format!("checkpoint {}: {e}", path.display()))
}

fn save_state(dir: &std::path::Path, model: &Pretrained, optimizer: &AdamW, state: &FinetuneState) -> Result<(), FinetuneError> {
    let dirs = CheckpointDirs::new(dir);
    let tmp = dirs.begin().map_err(checkpoint_error(dir))?.to_owned();
    let weights = tmp.join(WEIGHTS_FILE);
    albert::checkpoint::save_safetensors(&weights, &albert::model::named_tensors(&model.varmap)).map_err(albert::Error::from)?;
    optimizer.save_state(&tmp.join(OPTIMIZER_FILE))?;
    let path = tmp.join(STATE_FILE);
    albert::fsio::write_atomic(&path, &serde_json::to_vec_pretty(state).expect("state serializes")).map_err(|e| FinetuneError::io(&path, e))?;
    dirs.commit().map_err(checkpoint_error(dir))
}

/// Whether `dir` holds a fine-tuning checkpoint (after finishing or undoing a swap a kill interrupted).
fn has_checkpoint(dir: &std::path::Path) -> Result<bool, FinetuneError> {
    let dirs = CheckpointDirs::new(dir);
    dirs.recover().map_err(checkpoint_error(dir))?;
    Ok(dirs.current.join(STATE_FILE).is_file())
}

/// Restores weights, optimizer moments and the dropout generator from `dir`'s checkpoint, if there is one.
fn load_state(dir: &std::path::Path, model: &Pretrained, optimizer: &mut AdamW, device: &Device) -> Result<Option<FinetuneState>, FinetuneError> {
    if !has_checkpoint(dir)? {
        return Ok(None);
    }
    let dirs = CheckpointDirs::new(dir);
    let path = dirs.current.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| FinetuneError::io(&path, e))?;
    let state: FinetuneState = serde_json::from_str(&text).map_err(|e| FinetuneError::Invalid(format!("{}: {e}", path.display())))?;
    model.varmap.clone().load(dirs.current.join(WEIGHTS_FILE))?;
    optimizer.load_state(&dirs.current.join(OPTIMIZER_FILE), device)?;
    *model.rng.lock().unwrap_or_else(|e| e.into_inner()) = AlbertRng::from_state(state.dropout_rng.clone());
    Ok(Some(state))
}
