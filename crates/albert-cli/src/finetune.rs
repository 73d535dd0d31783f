//! `albert finetune`: train a classification or regression head on a task and save a Hugging Face checkpoint
//! (config with readable labels, weights, tokenizer files) that `transformers.pipeline` loads.

use std::path::{Path, PathBuf};

use albert::tokenizer::AlbertTokenizer;
use albert::{AlbertConfig, AlbertForAny, Architecture, LoadOptions, Pretrained, ProblemType};
use albert_train::augment::eda::EdaConfig;
use albert_train::augment::mlm::{MlmAugmenter, MlmConfig};
use albert_train::augment::wordnet::WordNet;
use albert_train::augment::{augment_examples, Method};
use albert_train::tasks::TextExample;
use albert_train::finetune::sequence::{predict_split, read_split, SequenceFeatures};
use albert_train::finetune::choice::{self, ChoiceFeatures};
use albert_train::finetune::qa::{score_dataset, QaFeatures};
use albert_train::tasks::multiple_choice::read_race;
use albert_train::finetune::token::{score_sentences, TokenFeatures};
use albert_train::tasks::squad::{hold_out_articles, read_squad, ArticlePart, ArticleSplit};
use albert::decode::qa::QaWindowOptions;
use albert_train::finetune::{train, EvaluateFn, FinetuneError, FinetuneOptions, ResumeOptions, TrainFeatures};
use albert_train::tasks::ner::{read_conll2003, CONLL2003_LABELS};
use albert_train::tasks::Task;
use albert_train::engine::CHECKPOINT_ENTRIES;
use anyhow::Context;
use candle_core::{DType, Device};

use crate::evaluate::{parse_task, CustomDataArgs};

/// The run's log of losses and scores, in the output directory.
const TRAIN_LOG: &str = "train_log.jsonl";

/// Arguments of `albert finetune`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("start").required(true).args(["model", "config"])))]
pub struct FinetuneArgs {
    /// Task: a GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli), conll2003, squad, squad-v2, xquad,
    /// race or custom.
    #[arg(long, value_parser = parse_task)]
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
    /// Add augmented copies of the training texts (sentence tasks): `eda` (WordNet synonym replacement, random
    /// insertion, swap and deletion; needs Debian's wordnet-base) or `mlm` (words refilled by the --model
    /// checkpoint's masked-LM head, or --augment-model's).
    #[arg(long, value_parser = ["eda", "mlm"])]
    pub augment: Option<String>,
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

fn set_head(config: &mut AlbertConfig, arch: Architecture, labels: &[String]) {
    if matches!(arch, Architecture::QuestionAnswering | Architecture::MultipleChoice) {
        // QA: start and end logits; multiple choice: one score per option (transformers' default of 2 labels).
        config.id2label = None;
        config.label2id = None;
        config.num_labels = Some(2);
        config.problem_type = None;
    } else if labels.is_empty() {
        config.id2label = None;
        config.label2id = None;
        config.num_labels = Some(1);
        config.problem_type = Some(ProblemType::Regression);
    } else {
        config.set_labels(labels);
        config.problem_type = Some(ProblemType::SingleLabelClassification);
    }
}

fn load_config(spec: &str) -> anyhow::Result<AlbertConfig> {
    if Path::new(spec).is_file() {
        Ok(AlbertConfig::from_file(spec)?)
    } else {
        AlbertConfig::preset(spec).with_context(|| format!("{spec:?} is neither a config.json nor a preset"))
    }
}

/// The training examples and, with --augment, their augmented copies.
fn augment(args: &FinetuneArgs, tokenizer: &AlbertTokenizer, examples: &[TextExample]) -> anyhow::Result<Vec<TextExample>> {
    let Some(kind) = args.augment.as_deref() else { return Ok(examples.to_vec()) };
    let (copies, alpha) = (args.augment_copies, args.augment_alpha);
    let out = if kind == "eda" {
        let wn = WordNet::locate(args.wordnet.as_deref())?;
        let cfg = EdaConfig { alpha_sr: alpha, alpha_ri: alpha, alpha_rs: alpha, p_rd: alpha, num_aug: copies };
        augment_examples(examples, &Method::Eda(cfg, &wn), args.seed)?
    } else {
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
        augment_examples(examples, &Method::Mlm(augmenter), args.seed)?
    };
    eprintln!("{} training examples with {} augmented ({kind})", out.len(), out.len() - examples.len());
    Ok(out)
}

/// Runs `albert finetune`.
pub fn run(args: FinetuneArgs) -> anyhow::Result<()> {
    let outputs = [&crate::output::model_files()[..], &CHECKPOINT_ENTRIES, &[TRAIN_LOG]].concat();
    args.overwrite.claim_dir(&args.out, "finetune", &outputs)?;
    let custom = args.custom.to_task();
    let tokenizer_path = args
        .tokenizer
        .clone()
        .or_else(|| args.model.clone())
        .context("--tokenizer is required with --config")?;
    let original = AlbertTokenizer::from_path(&tokenizer_path)
        .with_context(|| format!("loading the tokenizer {}", tokenizer_path.display()))?;
    // Train with the tokenizer exactly as the checkpoint will be read back (tokenizer.json first, as transformers
    // does): a bare spiece.model splits some words differently from its tokenizer.json conversion.
    let saved = tempfile::tempdir()?;
    original.save(saved.path())?;
    let tokenizer = AlbertTokenizer::from_path(saved.path())?;
    let limit = |n: usize| args.limit.unwrap_or(n).min(n);
    let max_len = args.max_seq_length.unwrap_or_else(|| args.task.default_max_seq_length());
    // What differs between heads: data, labels, class, features and dev scoring.
    let (labels, arch, features, mut evaluate): (
        Vec<String>,
        Architecture,
        Box<dyn TrainFeatures>,
        Option<Box<EvaluateFn>>,
    ) = if args.task == Task::Race {
        let read = |path: &Path| read_race(path).with_context(|| format!("reading {}", path.display()));
        let mut train_set = read(&args.data)?;
        train_set.truncate(limit(train_set.len()));
        let dev_set = match &args.dev {
            Some(dev) => read(dev)?,
            None => {
                let keep = train_set.len() - (train_set.len() / 10).max(usize::from(train_set.len() >= 2));
                train_set.split_off(keep)
            }
        };
        let features = ChoiceFeatures::encode(&tokenizer, &train_set, max_len)?;
        let (tok, dev_path) = (&tokenizer, args.dev.clone().unwrap_or_else(|| args.data.clone()));
        let evaluate = move |m: &Pretrained| choice::score_examples(m, tok, &dev_set, &dev_path, max_len);
        (Vec::new(), Architecture::MultipleChoice, Box::new(features), Some(Box::new(evaluate)))
    } else if args.task.is_question_answering() {
        let read = |path: &Path| read_squad(path).with_context(|| format!("reading {}", path.display()));
        let data = read(&args.data)?;
        let (train_set, dev_set) = match (args.task, &args.dev) {
            (Task::Xquad, _) => hold_out_articles(&ArticleSplit::xquad().part(&data, &args.data, ArticlePart::Train)?, 0.1),
            (_, Some(dev)) => (data, read(dev)?),
            (_, None) => hold_out_articles(&data, 0.1),
        };
        let window = QaWindowOptions { max_seq_length: max_len, ..QaWindowOptions::default() };
        let mut features = QaFeatures::encode(&tokenizer, &train_set, &window, true)?;
        if let Some(n) = args.limit {
            features.truncate_questions(n);
        }
        eprintln!(
            "{} training questions in {} windows; {} questions select the checkpoint",
            features.questions.len(),
            features.windows.len(),
            dev_set.questions().count()
        );
        let (tok, dev_path, v2) = (&tokenizer, args.dev.clone().unwrap_or_else(|| args.data.clone()), args.task == Task::SquadV2);
        let evaluate = move |m: &Pretrained| score_dataset(m, tok, &dev_set, &dev_path, &window, v2);
        (Vec::new(), Architecture::QuestionAnswering, Box::new(features), Some(Box::new(evaluate)))
    } else if args.task == Task::Conll2003 {
        anyhow::ensure!(
            args.data.is_dir(),
            "--data must be the CoNLL-2003 folder holding eng.train, got {}",
            args.data.display()
        );
        let read = |name: &str| {
            let path = args.data.join(name);
            read_conll2003(&path).with_context(|| format!("reading {}", path.display()))
        };
        let (train_set, dev_set) = (read("eng.train")?, read("eng.testa")?);
        let labels: Vec<String> = CONLL2003_LABELS.iter().map(|s| s.to_string()).collect();
        let features = TokenFeatures::encode(&tokenizer, &train_set[..limit(train_set.len())], &labels, max_len)?;
        let tok = &tokenizer;
        let evaluate = move |m: &Pretrained| score_sentences(m, tok, &dev_set, max_len);
        (
            labels,
            Architecture::TokenClassification,
            Box::new(features),
            Some(Box::new(evaluate)),
        )
    } else {
        let (train_path, dev_path) = match args.task {
            Task::Glue(t) => {
                anyhow::ensure!(
                    args.data.is_dir(),
                    "--data must be the GLUE task folder holding train.tsv, got {}",
                    args.data.display()
                );
                (args.data.join("train.tsv"), Some(args.data.join(t.dev_file())))
            }
            _ => (args.data.clone(), args.dev.clone()),
        };
        let train_split = read_split(args.task, &train_path, Some(&custom), None)
            .with_context(|| format!("reading {}", train_path.display()))?;
        let labels = train_split.label_names();
        let train_split = match args.limit {
            Some(n) => train_split.subset(|i| i < n),
            None => train_split,
        };
        let (train_split, dev) = match args.holdout_fraction {
            Some(f) => {
                anyhow::ensure!(f > 0.0 && f < 1.0, "--holdout-fraction must be between 0 and 1, got {f}");
                let (rest, held) = train_split.hold_out(f, args.seed);
                eprintln!("{} training examples; {} held out to select the checkpoint", rest.examples().len(), held.examples().len());
                (rest, Some(held))
            }
            None => {
                let dev = dev_path
                    .map(|p| {
                        read_split(args.task, &p, Some(&custom), Some(&labels))
                            .with_context(|| format!("reading {}", p.display()))
                    })
                    .transpose()?;
                (train_split, dev)
            }
        };
        let examples = train_split.examples();
        let examples = augment(&args, &tokenizer, examples)?;
        let features = SequenceFeatures::encode(&tokenizer, &examples, max_len)?;
        let tok = &tokenizer;
        let evaluate = dev.map(|dev| {
            Box::new(move |m: &Pretrained| Ok(dev.score(&predict_split(m, tok, &dev, max_len, 64)?)?))
                as Box<EvaluateFn>
        });
        (
            labels,
            Architecture::SequenceClassification,
            Box::new(features),
            evaluate,
        )
    };

    let model = match (&args.model, &args.config) {
        (Some(dir), _) => {
            let mut config = AlbertConfig::from_file(dir.join("config.json"))?;
            set_head(&mut config, arch, &labels);
            // The head is new unless it fits (another task's labels, say).
            let opts = LoadOptions {
                architecture: Some(arch),
                seed: args.seed,
                ignore_mismatched_heads: true,
                ..LoadOptions::default()
            };
            let model = Pretrained::load_with_config(dir, config, &opts)?;
            if !model.report.initialized.is_empty() {
                eprintln!("initialized new parameters: {}", model.report.initialized.join(", "));
            }
            model
        }
        (None, Some(spec)) => {
            let mut config = load_config(spec)?;
            anyhow::ensure!(
                tokenizer.vocab_size() <= config.vocab_size,
                "the tokenizer has {} pieces but the config's vocab_size is {}",
                tokenizer.vocab_size(),
                config.vocab_size
            );
            set_head(&mut config, arch, &labels);
            Pretrained::init(&config, arch, args.seed, DType::F32, &Device::Cpu)?
        }
        (None, None) => anyhow::bail!("--model or --config is required"),
    };
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
    let out = args.out.clone();
    let mut save = |m: &Pretrained| -> Result<(), FinetuneError> {
        m.save(&out)?;
        // The tokenizer as given: a SentencePiece model is saved as spiece.model beside tokenizer.json.
        Ok(original.save(&out)?)
    };
    let summary = train(&model, features.as_ref(), evaluate.as_deref_mut(), &mut save, &opts)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if args.stop_after == Some(summary.steps) {
        eprintln!("stopped after step {}; continue with --resume", summary.steps);
        return Ok(());
    }
    if let Some((metric, epoch)) = summary.best {
        eprintln!(
            "best dev {metric:.2} at epoch {epoch}; checkpoint in {}",
            args.out.display()
        );
    }
    Ok(())
}
