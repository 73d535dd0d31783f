//! The task pipelines as commands: `albert classify`, `fill-mask`, `embed`, `similarity`, `qa` and `ner`. Each
//! reads its texts from the arguments, or one per line from stdin when none is given, and prints readable text or,
//! with `--json`, one JSON object per input. The work is done by `albert::pipeline`.

use std::io::{BufRead, Write};

use albert::pipeline::{classify, embed, fill_mask, ner, qa, PipelineModel, PipelineOptions, Task};
use anyhow::{bail, Context, Result};
use serde_json::json;

const MODEL_HELP: &str = "Checkpoint directory or Hugging Face hub id (taken from the hub cache, fetched when missing \
unless HF_HUB_OFFLINE=1). Default: the task's built-in model in the repository's models/ folder (albert-small for \
fill-mask, embed and similarity; albert-small-sst2, -xquad and -conll03 for classify, qa and ner); ALBERT_MODELS \
names another folder";

/// Options every pipeline command takes.
#[derive(clap::Args, Debug)]
pub struct CommonArgs {
    #[arg(long, help = MODEL_HELP)]
    model: Option<String>,
    /// Inputs per forward pass.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Print one JSON object per input (per line of stdin) instead of text.
    #[arg(long)]
    json: bool,
    /// Run the encoder's projections in int8 (dynamic quantization): faster, scores change slightly.
    #[arg(long)]
    int8: bool,
}

/// `--max-length` of the single-text commands.
#[derive(clap::Args, Debug)]
pub struct LengthArgs {
    /// Longest input in tokens, [CLS] and [SEP] included; longer inputs are truncated with a warning.
    /// Default: 512, or the model's max_position_embeddings when smaller.
    #[arg(long)]
    max_length: Option<usize>,
}

impl CommonArgs {
    fn load(&self, task: Task) -> Result<PipelineModel> {
        let spec = match &self.model {
            Some(m) => m.clone(),
            None => albert::builtin::path(task.default_model())?.to_string_lossy().into_owned(),
        };
        let mut model = PipelineModel::load(&spec, task).with_context(|| format!("loading {spec} for {}", task.name()))?;
        model.model.int8 = self.int8;
        Ok(model)
    }

    fn options(&self, length: &LengthArgs) -> PipelineOptions {
        PipelineOptions { max_length: length.max_length, batch_size: self.batch_size }
    }
}

/// The texts of the arguments, else one per line of stdin.
fn inputs(texts: Vec<String>) -> Result<Vec<String>> {
    if !texts.is_empty() {
        return Ok(texts);
    }
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<std::io::Result<_>>().context("reading stdin")?;
    if lines.is_empty() {
        bail!("no input: give TEXT arguments or lines on stdin");
    }
    Ok(lines)
}

fn warn_truncated(i: usize, truncated: bool, model: &PipelineModel, length: Option<usize>) {
    if truncated {
        let n = model.max_length(length).unwrap_or_default();
        eprintln!("warning: input {} was truncated to {n} tokens (--max-length)", i + 1);
    }
}

fn print_json(value: serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &value)?;
    writeln!(out)?;
    Ok(())
}

/// Arguments of `albert classify`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert classify --model tests/fixtures/pipelines/sentiment \"I loved this movie.\"\n  \
cat reviews.txt | albert classify --model textattack/albert-base-v2-SST-2 --top-k 1 --json\n\n\
Scores: softmax over the labels; a sigmoid per label for problem_type multi_label_classification (and for one\n\
label without a problem type); the raw output for regression (as transformers' text-classification pipeline).")]
pub struct ClassifyArgs {
    /// Texts to classify; one per line from stdin when none is given.
    texts: Vec<String>,
    /// Show only the K best labels (all by default).
    #[arg(long, value_name = "K")]
    top_k: Option<usize>,
    #[command(flatten)]
    length: LengthArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert classify`.
pub fn run_classify(args: ClassifyArgs) -> Result<()> {
    let model = args.common.load(Task::Classify)?;
    let texts = inputs(args.texts)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let results = classify::classify(&model, &refs, args.top_k, &args.common.options(&args.length))?;
    for (i, (text, r)) in texts.iter().zip(results).enumerate() {
        warn_truncated(i, r.truncated, &model, args.length.max_length);
        if args.common.json {
            print_json(json!({"text": text, "labels": r.labels, "truncated": r.truncated}))?;
            continue;
        }
        println!("{text}");
        let width = r.labels.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
        for l in &r.labels {
            println!("  {:<width$}  {:.4}", l.label, l.score);
        }
    }
    Ok(())
}

/// Arguments of `albert fill-mask`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert fill-mask --model tests/fixtures/pipelines/pretraining \"The [MASK] was great.\"\n  \
albert fill-mask --model albert-base-v2 --top-k 3 --json \"Paris is the [MASK] of France.\"\n\n\
Each [MASK] gets the K most probable tokens and the text with that token in its place. As in transformers'\n\
fill-mask pipeline, a text with several masks shows [CLS], [SEP] and the other masks in each filled sequence.")]
pub struct FillMaskArgs {
    /// Texts with one or more [MASK]; one per line from stdin when none is given.
    texts: Vec<String>,
    /// Candidates per mask.
    #[arg(long, value_name = "K", default_value_t = 5)]
    top_k: usize,
    #[command(flatten)]
    length: LengthArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert fill-mask`.
pub fn run_fill_mask(args: FillMaskArgs) -> Result<()> {
    let model = args.common.load(Task::FillMask)?;
    let texts = inputs(args.texts)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let results = fill_mask::fill_mask(&model, &refs, args.top_k, &args.common.options(&args.length))?;
    for (i, (text, r)) in texts.iter().zip(results).enumerate() {
        warn_truncated(i, r.truncated, &model, args.length.max_length);
        if args.common.json {
            print_json(json!({"text": text, "masks": r.masks, "truncated": r.truncated}))?;
            continue;
        }
        println!("{text}");
        for (m, candidates) in r.masks.iter().enumerate() {
            if r.masks.len() > 1 {
                println!("  mask {}", m + 1);
            }
            for c in candidates {
                println!("  {:.4}  {:<12}  {}", c.score, c.token_str, c.sequence);
            }
        }
    }
    Ok(())
}

/// Arguments of `albert embed`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert embed --model tests/fixtures/pipelines/pretraining \"A man is eating food.\"\n  \
cat sentences.txt | albert embed --model albert-base-v2 --json > vectors.jsonl\n\n\
The vector is the mean of the last hidden state over the text's tokens ([CLS] and [SEP] included, padding not),\n\
or with --pooler the pooler output (tanh of a dense layer on [CLS]), which pooler-less classes lack.")]
pub struct EmbedArgs {
    /// Texts to embed; one per line from stdin when none is given.
    texts: Vec<String>,
    /// Use the pooler output instead of mean pooling.
    #[arg(long)]
    pooler: bool,
    #[command(flatten)]
    length: LengthArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert embed`.
pub fn run_embed(args: EmbedArgs) -> Result<()> {
    let model = args.common.load(Task::Embed)?;
    let texts = inputs(args.texts)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let pooling = if args.pooler { embed::Pooling::Pooler } else { embed::Pooling::Mean };
    let results = embed::embed(&model, &refs, pooling, &args.common.options(&args.length))?;
    for (i, (text, r)) in texts.iter().zip(results).enumerate() {
        warn_truncated(i, r.truncated, &model, args.length.max_length);
        if args.common.json {
            print_json(json!({"text": text, "vector": r.vector, "truncated": r.truncated}))?;
            continue;
        }
        let values: Vec<String> = r.vector.iter().map(|v| format!("{v:.6}")).collect();
        println!("{text}\n  [{}]", values.join(", "));
    }
    Ok(())
}

/// Arguments of `albert similarity`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert similarity --model tests/fixtures/pipelines/pretraining \"A man is eating food.\" \"A man eats bread.\"\n  \
printf 'a cat\\ta dog\\n' | albert similarity --model albert-base-v2 --json\n\n\
The cosine of the two texts' mean-pooled vectors (see `albert embed`), in [-1, 1].")]
pub struct SimilarityArgs {
    /// The two texts; without them, stdin lines each hold a pair separated by a tab.
    #[arg(num_args = 2, value_names = ["A", "B"])]
    texts: Vec<String>,
    #[command(flatten)]
    length: LengthArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert similarity`.
pub fn run_similarity(args: SimilarityArgs) -> Result<()> {
    let model = args.common.load(Task::Embed)?;
    let pairs: Vec<(String, String)> = if args.texts.len() == 2 {
        vec![(args.texts[0].clone(), args.texts[1].clone())]
    } else {
        inputs(Vec::new())?
            .into_iter()
            .enumerate()
            .map(|(i, line)| match line.split_once('\t') {
                Some((a, b)) => Ok((a.to_string(), b.to_string())),
                None => bail!("stdin line {}: expected two texts separated by a tab", i + 1),
            })
            .collect::<Result<_>>()?
    };
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let results = embed::similarity(&model, &refs, &args.common.options(&args.length))?;
    for (i, ((a, b), r)) in pairs.iter().zip(results).enumerate() {
        warn_truncated(i, r.truncated, &model, args.length.max_length);
        if args.common.json {
            print_json(json!({"a": a, "b": b, "cosine": r.cosine, "truncated": r.truncated}))?;
        } else {
            println!("{:.4}", r.cosine);
        }
    }
    Ok(())
}

/// Arguments of `albert qa`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert qa --model tests/fixtures/pipelines/qa --context \"Zoë lives in São Paulo.\" --question \"Where does Zoë live?\"\n  \
cat questions.txt | albert qa --model twmkn9/albert-base-v2-squad2 --context article.txt --json\n\n\
Long contexts are cut into windows of --max-length tokens overlapping by --stride tokens (as transformers'\n\
question-answering pipeline: 384 and 128); the answer is the span of at most --max-answer-length tokens with the\n\
highest start x end probability (softmax within its window). start/end are code-point offsets into the context.")]
pub struct QaArgs {
    /// The context: a file to read, or the text itself.
    #[arg(long, value_name = "FILE|TEXT")]
    context: String,
    /// The question; one per line from stdin when not given.
    #[arg(long)]
    question: Option<String>,
    /// Tokens per window, question and special tokens included.
    #[arg(long, default_value_t = 384)]
    max_length: usize,
    /// Tokens shared by consecutive windows.
    #[arg(long, default_value_t = 128)]
    stride: usize,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 15)]
    max_answer_length: usize,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert qa`.
pub fn run_qa(args: QaArgs) -> Result<()> {
    let model = args.common.load(Task::QuestionAnswering)?;
    let path = std::path::Path::new(&args.context);
    let context = if path.is_file() {
        std::fs::read_to_string(path).with_context(|| format!("reading the context {}", path.display()))?
    } else {
        args.context.clone()
    };
    let questions = inputs(args.question.into_iter().collect())?;
    let opts = qa::QaOptions {
        max_length: args.max_length,
        stride: args.stride,
        max_answer_length: args.max_answer_length,
        batch_size: args.common.batch_size,
    };
    for question in &questions {
        let a = qa::answer(&model, question, &context, &opts)?;
        if args.common.json {
            print_json(json!({"question": question, "answer": a.answer, "score": a.score, "start": a.start,
                "end": a.end, "windows": a.windows}))?;
        } else {
            println!("{}\n  score {:.4}  code points {}..{}  ({} window(s))", a.answer, a.score, a.start, a.end, a.windows);
        }
    }
    Ok(())
}

/// Arguments of `albert ner`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert ner --model tests/fixtures/pipelines/ner \"John Smith works for Google in New York.\"\n  \
cat news.txt | albert ner --model dslim/bert-base-NER --json\n\n\
Each word takes one label (--aggregation); neighbours of the same type are grouped unless a B- tag starts a new\n\
entity; O is dropped (transformers' token-classification pipeline with the same aggregation_strategy). score is\n\
the mean probability of the entity's words, start/end are code-point offsets into the text.")]
pub struct NerArgs {
    /// Texts; one per line from stdin when none is given.
    texts: Vec<String>,
    /// How word pieces become entities (transformers' aggregation_strategy): `first` (a word takes its first
    /// piece's label), `average` (its pieces' mean probabilities), `max` (its most confident piece), or `simple`
    /// (every piece its own label, so a rare word may split across entities).
    #[arg(long, default_value = "first", value_parser = ["simple", "first", "average", "max"])]
    aggregation: String,
    #[command(flatten)]
    length: LengthArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `albert ner`.
pub fn run_ner(args: NerArgs) -> Result<()> {
    let model = args.common.load(Task::Ner)?;
    let texts = inputs(args.texts)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let aggregation = args.aggregation.parse().map_err(anyhow::Error::msg)?;
    let results = ner::ner(&model, &refs, aggregation, &args.common.options(&args.length))?;
    for (i, (text, r)) in texts.iter().zip(results).enumerate() {
        warn_truncated(i, r.truncated, &model, args.length.max_length);
        if args.common.json {
            print_json(json!({"text": text, "entities": r.entities, "truncated": r.truncated}))?;
            continue;
        }
        println!("{text}");
        if r.entities.is_empty() {
            println!("  (no entities)");
        }
        for e in &r.entities {
            println!("  {:<6} {:.4}  {:>3}..{:<3}  {}", e.entity_group, e.score, e.start, e.end, e.span(text));
        }
    }
    Ok(())
}
