//! `albert finetune`: train a head on a task (any family of `albert_train::finetune::task`) and save a Hugging Face
//! checkpoint (config with readable labels, weights, tokenizer files) that `transformers.pipeline` loads.

use std::path::{Path, PathBuf};

use albert::tokenizer::AlbertTokenizer;
use albert::{AlbertConfig, AlbertForAny, Architecture, LoadOptions, Pretrained};
use albert_train::augment::eda::EdaConfig;
use albert_train::augment::mlm::{MlmAugmenter, MlmConfig};
use albert_train::augment::wordnet::WordNet;
use albert_train::augment::Method;
use albert_train::engine::CHECKPOINT_ENTRIES;
use albert_train::finetune::task::{configure_head, HeadLabels, Training, TrainingSource};
use albert_train::finetune::{train, with_family, EvaluateFn, FamilyVisitor, FinetuneError, FinetuneOptions, ResumeOptions, TaskFamily};
use albert_train::tasks::Task;
use anyhow::Context;
use candle_core::{DType, Device};

use crate::args::{task_parser, CustomDataArgs};

/// The run's log of losses and scores, in the output directory.
const TRAIN_LOG: &str = "train_log.jsonl";

/// Arguments of `albert finetune`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["model", "config"])))]
pub struct FinetuneArgs {
    /// Task (ax is for evaluation only: it has no training file).
    #[arg(long, value_parser = task_parser())]
    pub task: Task,
    /// GLUE: the task folder (train.tsv and the dev file). CoNLL-2003: the folder with eng.train and eng.testa.
    /// SQuAD: the training JSON. RACE: the train directory (or a JSON Lines file of articles). XQuAD: a language's file, of which the training articles of the committed split
    /// (data/splits/xquad_split.json) are used, the last 10% of them held out to select the checkpoint.
    /// Custom: the training file.
    #[arg(long)]
    pub data: PathBuf,
    /// Custom, SQuAD and RACE: a labeled dev file (RACE: directory) evaluated after each epoch to keep the best
    /// checkpoint (SQuAD and RACE without it: the last 10% of the training data).
    #[arg(long)]
    pub dev: Option<PathBuf>,
    /// Start from this checkpoint directory (its encoder; the classification head is new unless it fits).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Start from random weights with this configuration: a preset name (albert-base-v2, ...) or a config.json.
    #[arg(long, requires = "tokenizer")]
    pub config: Option<String>,
    /// Tokenizer (spiece.model, tokenizer.json or a directory); default: the --model directory's.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Output checkpoint directory (the best epoch on dev, else the last).
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the training data.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Optimizer steps to run instead of --epochs.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Examples per micro-batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Fraction of the steps spent warming the learning rate up.
    #[arg(long, default_value_t = 0.1)]
    pub warmup_ratio: f64,
    /// Seed of initialization, dropout and shuffling.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this many epochs without dev improvement.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Batch items of similar length together: batches pad to their longest item, so steps get faster (each group
    /// of 50 batches is sorted by length, and its batches shuffled).
    #[arg(long)]
    pub group_by_length: bool,
    /// Longest input in tokens [default: 384 for question answering (windows sharing 128 tokens), 512 for RACE,
    /// else 128; longer texts are truncated, longest first; RACE cuts the passage].
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// Continue the run checkpointed in --out (after a kill or --stop-after) exactly as if it had never stopped.
    /// Without it a run refuses an --out that holds a checkpoint. Re-running or resuming into --out needs no
    /// --overwrite: that is only for files albert did not write there.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub overwrite: crate::output::OverwriteArg,
    /// Checkpoint (weights, optimizer, RNG states, place in the data) to OUT/checkpoint every N steps and after
    /// every epoch; 0: only after epochs.
    #[arg(long, default_value_t = 200)]
    pub save_every: u64,
    /// Stop after this step with a checkpoint (continue later with --resume).
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// GLUE and custom data: select the checkpoint (and stop early) on this seeded fraction of the training data
    /// instead of the dev file, which then stays unseen for `albert evaluate`.
    #[arg(long)]
    pub holdout_fraction: Option<f64>,
    /// Add augmented copies of the training texts (GLUE and custom data).
    #[arg(long, value_enum)]
    pub augment: Option<Augmentation>,
    /// Augmented copies per training text.
    #[arg(long, default_value_t = 4)]
    pub augment_copies: usize,
    /// Fraction of each text's words an augmentation changes.
    #[arg(long, default_value_t = 0.1)]
    pub augment_alpha: f64,
    /// Masked-LM checkpoint for --augment mlm [default: --model].
    #[arg(long)]
    pub augment_model: Option<PathBuf>,
    /// WordNet database directory for --augment eda [default: /usr/share/wordnet].
    #[arg(long)]
    pub wordnet: Option<PathBuf>,
    /// Only use the first N training examples.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub custom: CustomDataArgs,
}

/// How `--augment` makes copies of the training texts.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Augmentation {
    /// WordNet synonym replacement, random insertion, swap and deletion (needs Debian's wordnet-base).
    Eda,
    /// Words refilled by the --model checkpoint's masked-LM head, or --augment-model's.
    Mlm,
}

fn load_config(spec: &str) -> anyhow::Result<AlbertConfig> {
    if Path::new(spec).is_file() {
        Ok(AlbertConfig::from_file(spec)?)
    } else {
        AlbertConfig::preset(spec).with_context(|| format!("{spec:?} is neither a config.json nor a preset"))
    }
}

/// The training data and, with --augment, augmented copies of its texts.
fn augment<F: TaskFamily>(family: &F, args: &FinetuneArgs, tokenizer: &AlbertTokenizer, train: F::Data) -> anyhow::Result<F::Data> {
    let Some(kind) = args.augment else { return Ok(train) };
    let (copies, alpha, before) = (args.augment_copies, args.augment_alpha, family.size(&train));
    let out = match kind {
        Augmentation::Eda => {
            let wn = WordNet::locate(args.wordnet.as_deref())?;
            let cfg = EdaConfig { alpha_sr: alpha, alpha_ri: alpha, alpha_rs: alpha, p_rd: alpha, num_aug: copies };
            family.augment(train, &Method::Eda(cfg, &wn), args.seed)?
        }
        Augmentation::Mlm => {
            let dir = args.augment_model.as_ref().or(args.model.as_ref()).context("--augment mlm needs --model or --augment-model")?;
            let opts = LoadOptions { architecture: Some(Architecture::MaskedLM), ..LoadOptions::default() };
            let lm = Pretrained::load(dir, &opts).with_context(|| format!("loading the masked-LM head of {}", dir.display()))?;
            // Other heads' tensors may be there (a pretraining checkpoint's SOP head); the MLM head must be.
            anyhow::ensure!(
                lm.report.initialized.is_empty(),
                "{} has no trained masked-LM head (missing: {})",
                dir.display(),
                lm.report.initialized.join(", ")
            );
            let AlbertForAny::MaskedLM(model) = &lm.model else { anyhow::bail!("{} has no masked-LM head", dir.display()) };
            let augmenter = MlmAugmenter { model, tokenizer, config: MlmConfig { alpha, num_aug: copies, ..MlmConfig::default() } };
            family.augment(train, &Method::Mlm(augmenter), args.seed)?
        }
    };
    let after = family.size(&out);
    eprintln!("{after} training examples with {} augmented ({kind:?})", after - before);
    Ok(out)
}

/// The model to fine-tune: the --model checkpoint with a head for `labels` (new unless it fits), or random
/// weights of the --config.
fn build_model(args: &FinetuneArgs, arch: Architecture, labels: &HeadLabels, tokenizer: &AlbertTokenizer) -> anyhow::Result<Pretrained> {
    match (&args.model, &args.config) {
        (Some(dir), _) => {
            let mut config = AlbertConfig::from_file(dir.join("config.json"))?;
            configure_head(&mut config, labels);
            // The head is new unless it fits (another task's labels, say).
            let opts = LoadOptions { architecture: Some(arch), seed: args.seed, ignore_mismatched_heads: true, ..LoadOptions::default() };
            let model = Pretrained::load_with_config(dir, config, &opts)?;
            if !model.report.initialized.is_empty() {
                eprintln!("initialized new parameters: {}", model.report.initialized.join(", "));
            }
            Ok(model)
        }
        (None, Some(spec)) => {
            let mut config = load_config(spec)?;
            anyhow::ensure!(
                tokenizer.vocab_size() <= config.vocab_size,
                "the tokenizer has {} pieces but the config's vocab_size is {}",
                tokenizer.vocab_size(),
                config.vocab_size
            );
            configure_head(&mut config, labels);
            Ok(Pretrained::init(&config, arch, args.seed, DType::F32, &Device::Cpu)?)
        }
        (None, None) => anyhow::bail!("--model or --config is required"),
    }
}

/// Runs `albert finetune`.
pub fn run(args: FinetuneArgs) -> anyhow::Result<()> {
    let outputs = [&crate::output::model_files()[..], &CHECKPOINT_ENTRIES, &[TRAIN_LOG]].concat();
    args.overwrite.claim_dir(&args.out, "finetune", &outputs)?;
    let tokenizer_path = args.tokenizer.clone().or_else(|| args.model.clone()).context("--tokenizer is required with --config")?;
    let original = AlbertTokenizer::from_path(&tokenizer_path)
        .with_context(|| format!("loading the tokenizer {}", tokenizer_path.display()))?;
    // Train with the tokenizer exactly as the checkpoint will be read back (tokenizer.json first, as transformers
    // does): a bare spiece.model splits some words differently from its tokenizer.json conversion.
    let saved = tempfile::tempdir()?;
    original.save(saved.path())?;
    let tokenizer = AlbertTokenizer::from_path(saved.path())?;
    let custom = args.custom.to_task();
    with_family(args.task, Some(&custom), Finetune { args: &args, original: &original, tokenizer: &tokenizer })?
}

/// `albert finetune` for one task family.
struct Finetune<'a> {
    args: &'a FinetuneArgs,
    /// The tokenizer as given, saved with the checkpoint.
    original: &'a AlbertTokenizer,
    /// The tokenizer as the checkpoint reads it back, trained with.
    tokenizer: &'a AlbertTokenizer,
}

impl FamilyVisitor for Finetune<'_> {
    type Output = anyhow::Result<()>;

    fn visit<F: TaskFamily>(self, family: F) -> anyhow::Result<()> {
        let (args, tokenizer) = (self.args, self.tokenizer);
        let max_len = args.max_seq_length.unwrap_or_else(|| args.task.default_max_seq_length());
        let source = TrainingSource {
            data: args.data.clone(),
            dev: args.dev.clone(),
            limit: args.limit,
            holdout_fraction: args.holdout_fraction,
            seed: args.seed,
        };
        let Training { train: train_data, select } = family.training(&source)?;
        let train_data = augment(&family, args, tokenizer, train_data)?;
        eprintln!(
            "{} training examples; {} select the checkpoint",
            family.size(&train_data),
            select.as_ref().map_or(0, |s| family.size(s))
        );
        let features = family.features(tokenizer, &train_data, max_len)?;
        let model = build_model(args, family.architecture(), &family.head_labels(&train_data), tokenizer)?;
        let positions = model.config.max_position_embeddings;
        anyhow::ensure!(max_len <= positions, "--max-seq-length {max_len} exceeds the model's max_position_embeddings ({positions})");
        // Before the optimizer state and the first step's activations are allocated.
        let needed = albert::memory::training_bytes(&model.config, model.parameter_count(), args.batch, max_len);
        albert::memory::ensure_fits(needed, &format!("fine-tuning at batch {} x {max_len} tokens", args.batch))?;

        let opts = FinetuneOptions {
            epochs: args.epochs,
            max_steps: args.steps,
            batch_size: args.batch,
            accumulate: args.accumulate,
            lr: args.lr,
            warmup_ratio: args.warmup_ratio,
            seed: args.seed,
            group_by_length: args.group_by_length,
            patience: args.patience,
            log: Some(args.out.join(TRAIN_LOG)),
            progress: true,
            checkpoint: Some(ResumeOptions { dir: args.out.clone(), every: args.save_every, resume: args.resume, stop_after: args.stop_after }),
            ..FinetuneOptions::default()
        };
        let mut save = |m: &Pretrained| -> Result<(), FinetuneError> {
            m.save(&args.out)?;
            // The tokenizer as given: a SentencePiece model is saved as spiece.model beside tokenizer.json.
            Ok(self.original.save(&args.out)?)
        };
        let mut evaluate = select.map(|dev| move |m: &Pretrained| family.select(m, tokenizer, &dev, max_len));
        let evaluate = evaluate.as_mut().map(|e| e as &mut EvaluateFn);
        let summary = train(&model, &features, evaluate, &mut save, &opts)?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        if args.stop_after == Some(summary.steps) {
            eprintln!("stopped after step {}; continue with --resume", summary.steps);
            return Ok(());
        }
        if let Some((metric, epoch)) = summary.best {
            eprintln!("best dev {metric:.2} at epoch {epoch}; checkpoint in {}", args.out.display());
        }
        Ok(())
    }
}
