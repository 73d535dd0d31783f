//! The pretraining loop: ALBERT's masked-LM and sentence-order objectives with LAMB or AdamW,
//! linear warmup and decay, gradient clipping and accumulation, held-out evaluation, a JSONL
//! metrics log and exactly resumable checkpoints.
//!
//! A run is a pure function of its data, settings and seed: batch `i` of epoch `e` comes from
//! `(seed, e, i)`, dropout from the model's saved generator, so a run resumed from a checkpoint
//! computes the same losses, bit for bit, as one that never stopped.

mod checkpoint;
mod error;
mod losses;

pub use checkpoint::{
    TrainerState, CHECKPOINT_DIR, CHECKPOINT_ENTRIES, OPTIMIZER_FILE, STATE_VERSION, TRAINER_STATE_FILE,
};
pub use error::TrainError;
pub(crate) use checkpoint::CheckpointDirs;
pub use losses::{batch_losses, BatchLosses};

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use albert::model::AlbertForPreTraining;
use albert::rng::AlbertRng;
use albert::{AlbertConfig, AlbertForAny, Architecture, LoadOptions, Pretrained};
use candle_core::{DType, Device, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, BatchConfig, EpochPlan, MaskingConfig, PretrainData, Split};
use crate::optim::{
    clip_grad_norm, AdamW, AdamWConfig, GradAccumulator, Lamb, LambConfig, LinearWarmupSchedule,
    Optimizer,
};

/// The metrics log inside the output directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Where `albert pretrain prepare` keeps the tokenizer inside a prepared data directory; its
/// files are copied into the trained checkpoint.
pub const TOKENIZER_SUBDIR: &str = "tokenizer";
/// The masked-LM output bias, as Hugging Face names it in AlbertForPreTraining.
const MLM_BIAS: &str = "predictions.bias";
const TOKENIZER_FILES: [&str; 3] = ["spiece.model", "tokenizer.json", "tokenizer_config.json"];

/// The optimizer to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// LAMB, as ALBERT was trained.
    Lamb,
    /// AdamW, as `torch.optim.AdamW`.
    AdamW,
}

impl FromStr for OptimizerKind {
    type Err = TrainError;

    /// `lamb` or `adamw`.
    fn from_str(s: &str) -> Result<Self, TrainError> {
        match s {
            "lamb" => Ok(OptimizerKind::Lamb),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(TrainError::InvalidConfig(format!(
                "unknown optimizer {s:?} (expected lamb or adamw)"
            ))),
        }
    }
}

/// The settings that determine a run's numbers; a resumed run must use the same ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    /// Optimizer steps in the whole run (the schedule decays to 0 here).
    pub steps: u64,
    /// Sequences per micro-batch.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (gradient accumulation).
    pub accumulate: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Steps of linear warmup.
    pub warmup_steps: u64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Decoupled weight decay (not applied to biases and LayerNorm weights).
    pub weight_decay: f64,
    /// Global gradient-norm clip.
    pub max_grad_norm: f64,
    /// Seed of the model's initialization, the batches and dropout.
    pub seed: u64,
    /// Longest n-gram of whole words masked together (3, as ALBERT; 1 masks single words). Written only when
    /// it is not 3, so that runs with ALBERT's masking keep the state files of before the setting existed.
    #[serde(default = "default_max_ngram", skip_serializing_if = "is_default_max_ngram")]
    pub max_ngram: usize,
    /// Batch sequences of similar length together (less padding, faster steps; see [`crate::data::group_by_length`]). Written
    /// only when set, like `max_ngram`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub group_by_length: bool,
}

/// ALBERT's n-gram masking; also what checkpoints written before the setting existed used.
fn default_max_ngram() -> usize {
    MaskingConfig::default().max_ngram
}

fn is_default_max_ngram(n: &usize) -> bool {
    *n == default_max_ngram()
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            steps: 1000,
            batch_size: 32,
            accumulate: 1,
            lr: 1e-3,
            warmup_steps: 100,
            optimizer: OptimizerKind::Lamb,
            weight_decay: 0.01,
            max_grad_norm: 1.0,
            seed: 42,
            max_ngram: default_max_ngram(),
            group_by_length: false,
        }
    }
}

/// Where the initial weights come from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A fresh model of this configuration (its vocabulary and special ids are taken from the data).
    Config(Box<AlbertConfig>),
    /// The weights of a checkpoint directory (a missing pretraining head is initialized).
    InitFrom(PathBuf),
}

/// A training run.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Prepared data (`albert pretrain prepare`).
    pub data_dir: PathBuf,
    /// Output: the final checkpoint, `checkpoint/` and `metrics.jsonl`.
    pub out_dir: PathBuf,
    /// Initial weights.
    pub model: ModelSource,
    /// Settings fixed for the run.
    pub settings: TrainSettings,
    /// Checkpoint every this many steps (0: only at the end).
    pub save_every: u64,
    /// Evaluate on the held-out split every this many steps (0: only at the end).
    pub eval_every: u64,
    /// Most held-out batches per evaluation.
    pub eval_batches: usize,
    /// Continue from `out_dir/checkpoint` (starting afresh when there is none).
    pub resume: bool,
    /// Stop after this step with a checkpoint, as if interrupted (the run stays resumable).
    pub stop_after: Option<u64>,
    /// Device to train on.
    pub device: Device,
    /// Start a fresh model's masked-LM output bias at the log frequencies of the training tokens, so that the first
    /// steps predict the unigram distribution instead of spending a few hundred steps learning it through Adam's
    /// lr-sized updates (Karpathy's "init well"). No effect with [`ModelSource::InitFrom`] or on resume.
    pub unigram_bias: bool,
}

impl TrainConfig {
    /// A run with default settings.
    pub fn new(data_dir: PathBuf, out_dir: PathBuf, model: ModelSource) -> Self {
        TrainConfig {
            data_dir,
            out_dir,
            model,
            settings: TrainSettings::default(),
            save_every: 1000,
            eval_every: 1000,
            eval_batches: 50,
            resume: false,
            stop_after: None,
            device: Device::Cpu,
            unigram_bias: true,
        }
    }
}

/// One optimizer step, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Steps completed (1-based).
    pub step: u64,
    /// Epoch of the step's last micro-batch.
    pub epoch: u64,
    /// Mean of the micro-batches' MLM + SOP losses.
    pub loss: f64,
    /// Mean MLM loss.
    pub mlm_loss: f64,
    /// Mean SOP loss.
    pub sop_loss: f64,
    /// MLM accuracy over the step's predicted positions.
    pub mlm_accuracy: f64,
    /// SOP accuracy over the step's sequences.
    pub sop_accuracy: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Real tokens processed.
    pub tokens: usize,
    /// Tokens per second of this step.
    pub tokens_per_second: f64,
}

/// One held-out evaluation, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Steps completed when evaluated.
    pub step: u64,
    /// MLM cross-entropy over all predicted positions.
    pub mlm_loss: f64,
    /// MLM accuracy.
    pub mlm_accuracy: f64,
    /// SOP cross-entropy over all sequences.
    pub sop_loss: f64,
    /// SOP accuracy.
    pub sop_accuracy: f64,
    /// The SOP accuracy of always answering the more frequent label on these sequences, the baseline to beat:
    /// a one-sentence chunk takes its second segment from another document (label 1), as the original code does,
    /// so corpora of short documents lean towards label 1.
    #[serde(default)]
    pub sop_majority: f64,
    /// Sequences evaluated.
    pub sequences: usize,
}

/// A line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// A training step.
    Train(StepRecord),
    /// A held-out evaluation.
    Eval(EvalRecord),
}

/// What the loop reports as it goes (for progress bars).
#[derive(Debug, Clone)]
pub enum Event {
    /// Training starts (or resumes) after `step` of `total` steps.
    Start {
        /// Steps already done.
        step: u64,
        /// Steps in the run.
        total: u64,
    },
    /// A step finished.
    Step(StepRecord),
    /// An evaluation finished.
    Eval(EvalRecord),
    /// A checkpoint was written after `step`.
    Checkpoint {
        /// Steps completed.
        step: u64,
    },
}

/// How a call to [`train`] ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Steps completed in total.
    pub step: u64,
    /// Whether all steps are done and the final checkpoint was written to `out_dir`.
    pub finished: bool,
    /// The training steps this call ran.
    pub records: Vec<StepRecord>,
}

/// One optimization step's machinery: model, parameters, optimizer, schedule.
pub struct StepRunner {
    /// The model and its parameters.
    pub pretrained: Pretrained,
    params: Vec<(String, Var)>,
    optimizer: Box<dyn Optimizer>,
    schedule: LinearWarmupSchedule,
    settings: TrainSettings,
    accumulator: GradAccumulator,
}

impl StepRunner {
    /// Wraps a pretraining model with the optimizer and schedule of `settings`.
    pub fn new(pretrained: Pretrained, settings: &TrainSettings) -> Result<Self, TrainError> {
        if !matches!(pretrained.model, AlbertForAny::PreTraining(_)) {
            return Err(TrainError::InvalidConfig(
                "the model must be an AlbertForPreTraining".into(),
            ));
        }
        let optimizer: Box<dyn Optimizer> = match settings.optimizer {
            OptimizerKind::Lamb => Box::new(Lamb::new(LambConfig {
                weight_decay: settings.weight_decay,
                ..LambConfig::default()
            })?),
            OptimizerKind::AdamW => Box::new(AdamW::new(AdamWConfig {
                weight_decay: settings.weight_decay,
                ..AdamWConfig::default()
            })?),
        };
        // Sorted by name, so the global norm sums in the same order every run.
        let mut params: Vec<(String, Var)> = pretrained
            .varmap
            .data()
            .lock()
            .expect("varmap lock")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(StepRunner {
            pretrained,
            params,
            optimizer,
            schedule: LinearWarmupSchedule {
                peak_lr: settings.lr,
                warmup_steps: settings.warmup_steps,
                total_steps: settings.steps,
            },
            settings: settings.clone(),
            accumulator: GradAccumulator::new(),
        })
    }

    /// The pretraining model.
    pub fn model(&self) -> &AlbertForPreTraining {
        match &self.pretrained.model {
            AlbertForAny::PreTraining(m) => m,
            _ => unreachable!("checked in StepRunner::new"),
        }
    }

    /// The optimizer (to save or restore its state).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }

    /// Optimizer step `step` (0-based) over `micro_batches`: each loss scaled by 1/k, gradients
    /// summed, clipped to the global norm, one update at the schedule's rate.
    pub fn step(&mut self, step: u64, micro_batches: &[Batch]) -> Result<StepRecord, TrainError> {
        let started = Instant::now();
        let k = micro_batches.len() as f64;
        let device = self
            .pretrained
            .varmap
            .all_vars()
            .first()
            .map(|v| v.device().clone())
            .unwrap_or(Device::Cpu);
        let (mut loss, mut mlm, mut sop) = (0.0, 0.0, 0.0);
        let (mut mlm_n, mut mlm_ok, mut sop_n, mut sop_ok, mut tokens) = (0, 0, 0, 0, 0);
        for batch in micro_batches {
            let tensors = batch.to_tensors(&device)?;
            let l = batch_losses(self.model(), &tensors, true)?;
            let grads = (&l.total / k)?.backward()?;
            self.accumulator.add(&self.params, &grads)?;
            loss += (l.mlm_loss + l.sop_loss) / k;
            mlm += l.mlm_loss / k;
            sop += l.sop_loss / k;
            mlm_n += l.mlm_count;
            mlm_ok += l.mlm_correct;
            sop_n += l.sop_count;
            sop_ok += l.sop_correct;
            tokens += l.tokens;
        }
        if !loss.is_finite() {
            return Err(TrainError::NonFinite {
                step: step + 1,
                loss,
            });
        }
        let mut grads = self.accumulator.take();
        let grad_norm = clip_grad_norm(&self.params, &mut grads, self.settings.max_grad_norm)?;
        let lr = self.schedule.lr(step);
        self.optimizer.step(&self.params, &grads, lr)?;
        let seconds = started.elapsed().as_secs_f64();
        Ok(StepRecord {
            step: step + 1,
            epoch: 0,
            loss,
            mlm_loss: mlm,
            sop_loss: sop,
            mlm_accuracy: mlm_ok as f64 / mlm_n.max(1) as f64,
            sop_accuracy: sop_ok as f64 / sop_n.max(1) as f64,
            lr,
            grad_norm,
            tokens,
            tokens_per_second: tokens as f64 / seconds.max(1e-9),
        })
    }

    /// Scores up to `max_batches` batches of `data`'s epoch 0 without dropout.
    pub fn evaluate(
        &self,
        data: &PretrainData,
        batch_size: usize,
        max_batches: usize,
        step: u64,
    ) -> Result<EvalRecord, TrainError> {
        let device = self
            .pretrained
            .varmap
            .all_vars()
            .first()
            .map(|v| v.device().clone())
            .unwrap_or(Device::Cpu);
        let plan = data.epoch(0);
        let n = plan.num_batches(batch_size).min(max_batches.max(1));
        let (mut mlm_sum, mut sop_sum) = (0.0, 0.0);
        let (mut mlm_n, mut mlm_ok, mut sop_n, mut sop_ok) = (0, 0, 0, 0);
        for i in 0..n {
            let tensors = data.batch(&plan, i, batch_size)?.to_tensors(&device)?;
            let l = batch_losses(self.model(), &tensors, false)?;
            mlm_sum += l.mlm_loss * l.mlm_count as f64;
            sop_sum += l.sop_loss * l.sop_count as f64;
            mlm_n += l.mlm_count;
            mlm_ok += l.mlm_correct;
            sop_n += l.sop_count;
            sop_ok += l.sop_correct;
        }
        let per = |sum: f64, n: usize| sum / n.max(1) as f64;
        let scored = &plan.pairs()[..(n * batch_size).min(plan.pairs().len())];
        let swapped = scored.iter().filter(|p| p.sentence_order_label == 1).count();
        Ok(EvalRecord {
            step,
            mlm_loss: per(mlm_sum, mlm_n),
            mlm_accuracy: per(mlm_ok as f64, mlm_n),
            sop_loss: per(sop_sum, sop_n),
            sop_accuracy: per(sop_ok as f64, sop_n),
            sop_majority: per(swapped.max(scored.len() - swapped) as f64, scored.len()),
            sequences: sop_n,
        })
    }
}

/// Walks the training split micro-batch by micro-batch, epoch after epoch, as the trainer does.
pub struct BatchCursor {
    plan: EpochPlan,
    next_batch: usize,
}

impl BatchCursor {
    /// A cursor at batch `next_batch` of epoch `epoch`.
    pub fn new(data: &PretrainData, epoch: u64, next_batch: usize) -> Self {
        BatchCursor {
            plan: data.epoch(epoch),
            next_batch,
        }
    }

    /// The epoch of the last batch returned.
    pub fn epoch(&self) -> u64 {
        self.plan.epoch
    }

    /// The next batch of `batch_size` sequences (the first of the next epoch after the last).
    pub fn next(&mut self, data: &PretrainData, batch_size: usize) -> Result<Batch, TrainError> {
        if self.next_batch >= self.plan.num_batches(batch_size) {
            self.plan = data.epoch(self.plan.epoch + 1);
            self.next_batch = 0;
        }
        let batch = data.batch(&self.plan, self.next_batch, batch_size)?;
        self.next_batch += 1;
        Ok(batch)
    }
}

/// Runs (or resumes) a pretraining run, reporting progress to `on_event`.
///
/// Writes `out_dir/metrics.jsonl` (one [`Record`] per line), a checkpoint in
/// `out_dir/checkpoint/` every `save_every` steps and at the end, and when all steps are done
/// the trained model as a Hugging Face checkpoint in `out_dir` (config.json, model.safetensors
/// and the data's tokenizer files).
pub fn train(
    cfg: &TrainConfig,
    on_event: &mut dyn FnMut(&Event),
) -> Result<TrainSummary, TrainError> {
    let s = &cfg.settings;
    if s.steps == 0 || s.batch_size == 0 || s.accumulate == 0 {
        return Err(TrainError::InvalidConfig(
            "steps, batch size and accumulation must be at least 1".into(),
        ));
    }
    if !(s.lr.is_finite() && s.lr > 0.0) {
        return Err(TrainError::InvalidConfig(format!(
            "learning rate must be positive, got {}",
            s.lr
        )));
    }
    let batch_cfg = BatchConfig {
        seed: s.seed,
        masking: MaskingConfig {
            max_ngram: s.max_ngram,
            ..MaskingConfig::default()
        },
        length_groups: s.group_by_length.then_some(s.batch_size),
        ..BatchConfig::default()
    };
    batch_cfg.masking.validate()?;
    let data = PretrainData::open(&cfg.data_dir, Split::Train, batch_cfg)?;
    let manifest = data.split().manifest().clone();
    let heldout = if manifest.heldout.documents > 0 {
        Some(PretrainData::open(
            &cfg.data_dir,
            Split::HeldOut,
            batch_cfg,
        )?)
    } else {
        None
    };
    std::fs::create_dir_all(&cfg.out_dir).map_err(TrainError::io(&cfg.out_dir))?;
    let dirs = CheckpointDirs::new(&cfg.out_dir);
    let has_checkpoint = dirs.recover()?;
    if has_checkpoint && !cfg.resume {
        return Err(TrainError::InvalidConfig(format!(
            "{} already holds a checkpoint; pass --resume to continue it or choose another output directory",
            cfg.out_dir.display()
        )));
    }
    let metrics_path = cfg.out_dir.join(METRICS_FILE);

    let (mut runner, mut cursor, mut step) = if has_checkpoint {
        let state = TrainerState::load(&dirs.current)?;
        if state.settings != *s {
            return Err(TrainError::InvalidConfig(format!(
                "the checkpoint was trained with {:?}; resume with the same settings (got {s:?})",
                state.settings
            )));
        }
        let opts = LoadOptions {
            architecture: Some(Architecture::PreTraining),
            strict: true,
            device: cfg.device.clone(),
            seed: s.seed,
            ..LoadOptions::default()
        };
        let pretrained = Pretrained::load(&dirs.current, &opts)?;
        *pretrained.rng.lock().expect("rng lock") = AlbertRng::from_state(state.dropout_rng);
        let mut runner = StepRunner::new(pretrained, s)?;
        runner
            .optimizer_mut()
            .load_state(&dirs.current.join(OPTIMIZER_FILE), &cfg.device)?;
        truncate_metrics(&metrics_path, state.metrics_bytes)?;
        let cursor = BatchCursor::new(&data, state.epoch, state.next_batch);
        (runner, cursor, state.step)
    } else {
        let pretrained = initial_model(cfg, &data)?;
        File::create(&metrics_path).map_err(TrainError::io(&metrics_path))?;
        (
            StepRunner::new(pretrained, s)?,
            BatchCursor::new(&data, 0, 0),
            0,
        )
    };
    manifest.check_model_positions(runner.pretrained.config.max_position_embeddings)?;
    if runner.pretrained.config.vocab_size < manifest.settings.vocab_size {
        return Err(TrainError::InvalidConfig(format!(
            "the model's vocabulary ({}) is smaller than the data's ({})",
            runner.pretrained.config.vocab_size, manifest.settings.vocab_size
        )));
    }

    let mut metrics = OpenOptions::new()
        .append(true)
        .open(&metrics_path)
        .map_err(TrainError::io(&metrics_path))?;
    let mut log = |record: &Record| -> Result<(), TrainError> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        metrics
            .write_all(line.as_bytes())
            .map_err(TrainError::io(&metrics_path))?;
        metrics.flush().map_err(TrainError::io(&metrics_path))
    };

    on_event(&Event::Start {
        step,
        total: s.steps,
    });
    let stop = cfg.stop_after.unwrap_or(s.steps).min(s.steps);
    let mut records = Vec::new();
    while step < stop {
        let micro = (0..s.accumulate)
            .map(|_| cursor.next(&data, s.batch_size))
            .collect::<Result<Vec<_>, _>>()?;
        let mut record = runner.step(step, &micro)?;
        record.epoch = cursor.plan.epoch;
        step += 1;
        log(&Record::Train(record.clone()))?;
        on_event(&Event::Step(record.clone()));
        records.push(record);
        let due = |every: u64| (every > 0 && step % every == 0) || step == s.steps;
        if let (Some(h), true) = (&heldout, due(cfg.eval_every)) {
            let eval = runner.evaluate(h, s.batch_size, cfg.eval_batches, step)?;
            log(&Record::Eval(eval.clone()))?;
            on_event(&Event::Eval(eval));
        }
        if due(cfg.save_every) || step == stop {
            save_checkpoint(&dirs, &runner, &cursor, step, s, &metrics_path)?;
            on_event(&Event::Checkpoint { step });
        }
    }
    let finished = step == s.steps;
    if finished {
        runner.pretrained.save(&cfg.out_dir)?;
        copy_tokenizer(&cfg.data_dir.join(TOKENIZER_SUBDIR), &cfg.out_dir)?;
    }
    Ok(TrainSummary {
        step,
        finished,
        records,
    })
}

fn initial_model(cfg: &TrainConfig, train: &PretrainData) -> Result<Pretrained, TrainError> {
    let seed = cfg.settings.seed;
    match &cfg.model {
        ModelSource::Config(config) => {
            let data = &train.split().manifest().settings;
            let mut config = (**config).clone();
            config.vocab_size = data.vocab_size;
            config.pad_token_id = Some(data.special.pad);
            config.bos_token_id = Some(data.special.cls);
            config.eos_token_id = Some(data.special.sep.into());
            ensure_trainable(&config, config.parameter_count(Architecture::PreTraining), cfg, train)?;
            let pretrained = Pretrained::init(
                &config,
                Architecture::PreTraining,
                seed,
                DType::F32,
                &cfg.device,
            )?;
            if cfg.unigram_bias {
                set_mlm_bias(&pretrained, &log_frequencies(&train.split().token_counts()))?;
            }
            Ok(pretrained)
        }
        ModelSource::InitFrom(dir) => {
            let opts = LoadOptions {
                architecture: Some(Architecture::PreTraining),
                device: cfg.device.clone(),
                seed,
                ..LoadOptions::default()
            };
            let pretrained = Pretrained::load(dir, &opts)?;
            ensure_trainable(&pretrained.config, pretrained.parameter_count(), cfg, train)?;
            Ok(pretrained)
        }
    }
}

/// Refuses a model whose training step cannot fit in the machine's memory, before its weights or optimizer state
/// are allocated (see [`albert::memory::training_bytes`]).
fn ensure_trainable(config: &AlbertConfig, parameters: usize, cfg: &TrainConfig, train: &PretrainData) -> Result<(), TrainError> {
    let seq = train.split().manifest().settings.max_seq_length;
    let needed = albert::memory::training_bytes(config, parameters, cfg.settings.batch_size, seq);
    let what = format!("pretraining {parameters} parameters at batch {} x {seq} tokens", cfg.settings.batch_size);
    Ok(albert::memory::ensure_fits(needed, &what)?)
}

/// ln of each id's smoothed relative frequency: add-half counts, so that an id the data never holds gets a finite,
/// very low score.
fn log_frequencies(counts: &[u64]) -> Vec<f32> {
    let total = counts.iter().sum::<u64>() as f64 + 0.5 * counts.len() as f64;
    counts
        .iter()
        .map(|&c| ((c as f64 + 0.5) / total).ln() as f32)
        .collect()
}

fn set_mlm_bias(pretrained: &Pretrained, bias: &[f32]) -> Result<(), TrainError> {
    let vars = pretrained.varmap.data().lock().expect("varmap lock");
    let var = vars.get(MLM_BIAS).ok_or_else(|| {
        TrainError::InvalidConfig(format!("the pretraining model has no {MLM_BIAS}"))
    })?;
    var.set(&Tensor::new(bias, var.device())?.to_dtype(var.dtype())?)?;
    Ok(())
}

fn save_checkpoint(
    dirs: &CheckpointDirs,
    runner: &StepRunner,
    cursor: &BatchCursor,
    step: u64,
    settings: &TrainSettings,
    metrics_path: &Path,
) -> Result<(), TrainError> {
    let metrics_bytes = {
        let f = File::open(metrics_path).map_err(TrainError::io(metrics_path))?;
        f.sync_all().map_err(TrainError::io(metrics_path))?;
        f.metadata().map_err(TrainError::io(metrics_path))?.len()
    };
    let dir = dirs.begin()?;
    runner.pretrained.save(dir)?;
    runner.optimizer.save_state(&dir.join(OPTIMIZER_FILE))?;
    let state = TrainerState {
        version: STATE_VERSION,
        settings: settings.clone(),
        step,
        epoch: cursor.plan.epoch,
        next_batch: cursor.next_batch,
        dropout_rng: runner.pretrained.rng.lock().expect("rng lock").state(),
        metrics_bytes,
    };
    let json = serde_json::to_vec_pretty(&state).expect("state serializes");
    let path = dir.join(TRAINER_STATE_FILE);
    albert::fsio::write_atomic(&path, &json).map_err(TrainError::io(&path))?;
    dirs.commit()
}

fn truncate_metrics(path: &Path, len: u64) -> Result<(), TrainError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(TrainError::io(path))?;
    let actual = f.metadata().map_err(TrainError::io(path))?.len();
    if actual < len {
        return Err(TrainError::BadState {
            path: path.to_owned(),
            message: format!("the log has {actual} bytes, the checkpoint recorded {len}"),
        });
    }
    f.set_len(len).map_err(TrainError::io(path))
}

fn copy_tokenizer(from: &Path, to: &Path) -> Result<(), TrainError> {
    for name in TOKENIZER_FILES {
        let src = from.join(name);
        if src.is_file() {
            let bytes = std::fs::read(&src).map_err(TrainError::io(&src))?;
            let dst = to.join(name);
            albert::fsio::write_atomic(&dst, &bytes).map_err(TrainError::io(&dst))?;
        }
    }
    Ok(())
}
