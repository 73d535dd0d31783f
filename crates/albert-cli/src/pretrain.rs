//! `albert pretrain`: prepare a corpus, then pretrain an ALBERT model on it (MLM + SOP).

use std::path::{Path, PathBuf};

use albert::tokenizer::AlbertTokenizer;
use albert::AlbertConfig;
use albert_train::data::{prepare_corpus, DocBoundary, PrepareConfig, Split, TokenizerVocab, MANIFEST_FILE, WORD_STARTS_FILE};
use albert_train::engine::CHECKPOINT_ENTRIES;
use albert_train::pretrain::{self, ModelSource, OptimizerKind, TrainConfig, TrainSettings};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::output::{model_files, OverwriteArg};

/// The curves a run draws of itself.
const CURVES_FILE: &str = "curves.png";

#[derive(clap::Args)]
pub struct PretrainArgs {
    #[command(subcommand)]
    command: PretrainCommand,
}

#[derive(clap::Subcommand)]
enum PretrainCommand {
    /// Tokenize corpus files into sharded training and held-out splits (a no-op when already done).
    Prepare(PrepareArgs),
    /// Pretrain (or resume pretraining) an AlbertForPreTraining on prepared data.
    Run(RunArgs),
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  albert pretrain prepare --corpus a.txt b.txt.gz --tokenizer spiece.model --out data/ --max-seq-length 128"
)]
struct PrepareArgs {
    /// Corpus files (UTF-8 text, optionally .gz).
    #[arg(long, num_args = 1.., required = true)]
    corpus: Vec<PathBuf>,
    /// Tokenizer: spiece.model, tokenizer.json or a checkpoint directory holding one.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    overwrite: OverwriteArg,
    /// Longest [CLS] A [SEP] B [SEP] sequence.
    #[arg(long, default_value_t = 512)]
    max_seq_length: usize,
    /// How documents are delimited.
    #[arg(long, default_value = "blank-line", value_parser = crate::args::doc_boundary_parser())]
    doc_boundary: DocBoundary,
    /// Fraction of documents held out for evaluation.
    #[arg(long, default_value_t = 0.05)]
    heldout_fraction: f64,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  albert pretrain run --data data/ --config small.json --out run/ --steps 10000 --batch 64 --lr 1e-3\n  albert pretrain run --data data/ --config small.json --out run/ --steps 10000 --batch 64 --lr 1e-3 --resume"
)]
struct RunArgs {
    /// Prepared data directory (`albert pretrain prepare`).
    #[arg(long)]
    data: PathBuf,
    /// Model configuration: a preset name (albert-base-v2, ...) or a config.json; vocabulary size and special ids come from the data.
    #[arg(
        long,
        conflicts_with = "init_from",
        required_unless_present = "init_from"
    )]
    config: Option<String>,
    /// Start from this checkpoint's weights instead.
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Output directory: the final Hugging Face checkpoint, checkpoint/ and metrics.jsonl.
    #[arg(long)]
    out: PathBuf,
    /// Optimizer steps.
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    accumulate: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Warmup steps.
    #[arg(long, default_value_t = 100)]
    warmup: u64,
    /// The optimizer.
    #[arg(long, default_value = "lamb", value_parser = crate::args::optimizer_parser())]
    optimizer: OptimizerKind,
    /// Weight decay (not on biases and LayerNorm weights).
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    /// Seed of initialization, batches and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Longest n-gram of whole words masked together, n drawn with p(n) ∝ 1/n (ALBERT: 3; 1 masks single words).
    #[arg(long, default_value_t = 3)]
    max_ngram: usize,
    /// Batch sequences of similar length together: batches pad to their longest sequence, so steps get faster
    /// (each group of 50 batches is sorted by length, and its batches shuffled).
    #[arg(long)]
    group_by_length: bool,
    /// Checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    save_every: u64,
    /// Evaluate on the held-out split every N steps (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    eval_every: u64,
    /// Most held-out batches per evaluation.
    #[arg(long, default_value_t = 50)]
    eval_batches: usize,
    /// With --config: start the masked-LM output bias at zero, as transformers initializes it, instead of at the log
    /// frequencies of the training tokens (the default, which skips the slow first climb to the unigram loss).
    #[arg(long)]
    zero_mlm_bias: bool,
    /// With --config: the model's max_position_embeddings (at least the data's max_seq_length).
    #[arg(long)]
    max_seq_length: Option<usize>,
    /// Continue from OUT/checkpoint (starts afresh when there is none), exactly as if the run had never stopped.
    /// Without it a run refuses an OUT that holds a checkpoint. Re-running or resuming into OUT needs no
    /// --overwrite: that is only for files albert did not write there.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    overwrite: OverwriteArg,
    /// Stop after this step with a checkpoint (resume later with --resume).
    #[arg(long)]
    stop_after: Option<u64>,
    /// No progress bar (one line per evaluation and checkpoint instead).
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: PretrainArgs) -> Result<()> {
    match args.command {
        PretrainCommand::Prepare(a) => prepare(a),
        PretrainCommand::Run(a) => train(a),
    }
}

fn prepare(a: PrepareArgs) -> Result<()> {
    let tokenizer = AlbertTokenizer::from_path(&a.tokenizer)
        .with_context(|| format!("loading the tokenizer {}", a.tokenizer.display()))?;
    let vocab = TokenizerVocab::new(tokenizer)?;
    let splits = [Split::Train, Split::HeldOut].map(|s| format!("{}.*", s.name()));
    let outputs = [MANIFEST_FILE, WORD_STARTS_FILE, pretrain::TOKENIZER_SUBDIR, splits[0].as_str(), splits[1].as_str()];
    a.overwrite.claim_dir(&a.out, "pretrain prepare", &outputs)?;
    let mut cfg = PrepareConfig::new(a.corpus, a.out.clone(), tokenizer_id(&a.tokenizer)?);
    cfg.max_seq_length = a.max_seq_length;
    cfg.doc_boundary = a.doc_boundary;
    cfg.heldout_fraction = a.heldout_fraction;
    let outcome = prepare_corpus(&cfg, &vocab)?;
    let tok_dir = a.out.join(pretrain::TOKENIZER_SUBDIR);
    if !outcome.reused || !tok_dir.is_dir() {
        vocab.tokenizer().save(&tok_dir)?;
    }
    let m = &outcome.manifest;
    if outcome.reused {
        println!(
            "{} already holds this preparation; nothing to do",
            a.out.display()
        );
    }
    println!(
        "train: {} documents, {} sentences, {} tokens; held out: {} documents, {} tokens (vocabulary {}, max_seq_length {})",
        m.train.documents, m.train.sentences, m.train.tokens, m.heldout.documents, m.heldout.tokens,
        m.settings.vocab_size, m.settings.max_seq_length
    );
    Ok(())
}

/// SHA-256 of the tokenizer's files, so a different tokenizer forces a new preparation.
fn tokenizer_id(path: &Path) -> Result<String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        ["tokenizer.json", "spiece.model", "tokenizer_config.json"]
            .iter()
            .map(|f| path.join(f))
            .filter(|p| p.is_file())
            .collect()
    } else {
        vec![path.to_owned()]
    };
    let mut h = Sha256::new();
    for f in &files {
        h.update(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?);
    }
    Ok(format!("sha256:{:x}", h.finalize()))
}

fn train(a: RunArgs) -> Result<()> {
    let model = match (&a.config, &a.init_from) {
        (Some(c), None) => {
            let mut cfg = if Path::new(c).is_file() {
                AlbertConfig::from_file(c)?
            } else {
                AlbertConfig::preset(c)?
            };
            if let Some(n) = a.max_seq_length {
                cfg.max_position_embeddings = n;
            }
            ModelSource::Config(Box::new(cfg))
        }
        (None, Some(dir)) => {
            if a.max_seq_length.is_some() {
                bail!("--max-seq-length applies to a fresh model (--config), not to --init-from");
            }
            ModelSource::InitFrom(dir.clone())
        }
        _ => bail!("give --config PRESET|config.json or --init-from MODEL"),
    };
    let outputs = [&model_files()[..], &CHECKPOINT_ENTRIES, &[pretrain::METRICS_FILE, CURVES_FILE]].concat();
    a.overwrite.claim_dir(&a.out, "pretrain run", &outputs)?;
    let mut cfg = TrainConfig::new(a.data, a.out.clone(), model);
    cfg.settings = TrainSettings {
        steps: a.steps,
        batch_size: a.batch,
        accumulate: a.accumulate,
        lr: a.lr,
        warmup_steps: a.warmup,
        optimizer: a.optimizer,
        weight_decay: a.weight_decay,
        seed: a.seed,
        max_ngram: a.max_ngram,
        group_by_length: a.group_by_length,
        ..TrainSettings::default()
    };
    cfg.save_every = a.save_every;
    cfg.eval_every = a.eval_every;
    cfg.eval_batches = a.eval_batches;
    cfg.resume = a.resume;
    cfg.stop_after = a.stop_after;
    cfg.unigram_bias = !a.zero_mlm_bias;

    cfg.progress = !a.quiet;
    let summary = pretrain::train(&cfg)?;
    let curves = a.out.join(CURVES_FILE);
    crate::plot::write_curves(&a.out.join(pretrain::METRICS_FILE), &curves)?;
    if summary.finished {
        println!(
            "done: {} steps; the model is in {}, its curves in {}",
            summary.step,
            a.out.display(),
            curves.display()
        );
    } else {
        println!(
            "stopped after step {}; continue with --resume",
            summary.step
        );
    }
    Ok(())
}
