//! Pretraining: ALBERT's masked-LM and sentence-order objectives with LAMB or AdamW, linear warmup and decay,
//! gradient clipping and accumulation, held-out evaluation, run on the training [`engine`](crate::engine).
//!
//! A run is a pure function of its data, settings and seed: batch `i` of epoch `e` comes from `(seed, e, i)`, each
//! sequence's masks and dropout from its place in the epoch, so a run resumed from a checkpoint computes the same
//! losses, bit for bit, as one that never stopped.

mod error;
mod losses;
mod workload;

pub use error::TrainError;
pub use losses::{batch_losses, BatchLosses, LossStats};
pub use workload::{BatchCursor, StepRunner};

use std::path::{Path, PathBuf};
use std::str::FromStr;

use albert::{AlbertConfig, Architecture, LoadOptions, Pretrained};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{BatchConfig, MaskingConfig, PretrainData, Split};
use crate::engine::{self, RunOptions, CHECKPOINT_DIR};
use workload::Pretraining;

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
    /// Show a progress bar on stderr.
    pub progress: bool,
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
            progress: false,
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

/// Runs (or resumes) a pretraining run.
///
/// Writes `out_dir/metrics.jsonl` (one [`Record`] per line), a checkpoint in `out_dir/checkpoint/` every
/// `save_every` steps and at the end, and when all steps are done the trained model as a Hugging Face checkpoint in
/// `out_dir` (config.json, model.safetensors and the data's tokenizer files).
pub fn train(cfg: &TrainConfig) -> Result<TrainSummary, TrainError> {
    let s = &cfg.settings;
    if s.steps == 0 || s.batch_size == 0 || s.accumulate == 0 {
        return Err(TrainError::InvalidConfig("steps, batch size and accumulation must be at least 1".into()));
    }
    if !(s.lr.is_finite() && s.lr > 0.0) {
        return Err(TrainError::InvalidConfig(format!("learning rate must be positive, got {}", s.lr)));
    }
    let batch_cfg = BatchConfig {
        seed: s.seed,
        masking: MaskingConfig { max_ngram: s.max_ngram, ..MaskingConfig::default() },
        length_groups: s.group_by_length.then_some(s.batch_size),
        ..BatchConfig::default()
    };
    batch_cfg.masking.validate()?;
    let data = PretrainData::open(&cfg.data_dir, Split::Train, batch_cfg)?;
    let manifest = data.split().manifest().clone();
    let heldout = if manifest.heldout.documents > 0 {
        Some(PretrainData::open(&cfg.data_dir, Split::HeldOut, batch_cfg)?)
    } else {
        None
    };
    std::fs::create_dir_all(&cfg.out_dir).map_err(TrainError::io(&cfg.out_dir))?;
    let checkpoint = cfg.out_dir.join(CHECKPOINT_DIR);
    // A resumed run rebuilds its model from the checkpoint's config; the engine then restores its weights.
    let pretrained = if cfg.resume && checkpoint.join(engine::STATE_FILE).is_file() {
        let opts = LoadOptions {
            architecture: Some(Architecture::PreTraining),
            strict: true,
            device: cfg.device.clone(),
            seed: s.seed,
            ..LoadOptions::default()
        };
        Pretrained::load(&checkpoint, &opts)?
    } else {
        initial_model(cfg, &data)?
    };
    manifest.check_model_positions(pretrained.config.max_position_embeddings)?;
    if pretrained.config.vocab_size < manifest.settings.vocab_size {
        return Err(TrainError::InvalidConfig(format!(
            "the model's vocabulary ({}) is smaller than the data's ({})",
            pretrained.config.vocab_size, manifest.settings.vocab_size
        )));
    }
    let mut runner = StepRunner::new(pretrained, s)?;
    let mut workload = Pretraining::new(&runner, &data, heldout.as_ref(), cfg);
    let opts = RunOptions {
        dir: Some(cfg.out_dir.clone()),
        save_every: cfg.save_every,
        resume: cfg.resume,
        stop_after: cfg.stop_after,
        log: Some(cfg.out_dir.join(METRICS_FILE)),
        progress: cfg.progress,
    };
    let end = engine::run(&runner.pretrained, &mut workload, &mut runner.stepper, &opts, None)?;
    let finished = end.step == s.steps;
    if finished {
        runner.pretrained.save(&cfg.out_dir)?;
        copy_tokenizer(&cfg.data_dir.join(TOKENIZER_SUBDIR), &cfg.out_dir)?;
    }
    Ok(TrainSummary { step: end.step, finished, records: workload.into_records() })
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
