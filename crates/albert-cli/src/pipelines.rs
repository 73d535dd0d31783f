//! The task pipelines as commands: `albert classify`, `fill-mask`, `embed`, `similarity`, `qa` and `ner`. Each
//! reads its texts from the arguments, or one per line from stdin when none is given, and prints readable text or,
//! with `--json`, one JSON object per input. The work is done by `albert::pipeline`.
//!
//! Stdin is read by a thread and answered in windows (at most [`WINDOW_LINES`] lines, or what came within
//! [`WINDOW_WAIT`] of a window's first line), each printed in input order as soon as it is done: a long job streams,
//! and an interactive one answers each line without waiting for the end of input. A bad input (an empty or invalid
//! UTF-8 line, a NaN output, ...) is reported in its place with its number and the others go on; the command then
//! ends with [`Partial`] (exit status 3).

use std::io::{BufRead, BufWriter, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use albert::pipeline::{classify, embed, fill_mask, ner, qa, PerInput, PipelineModel, PipelineOptions, Task};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;

/// The exit-status paragraph of every pipeline command's help.
macro_rules! exit_status_help {
    () => {
        "\n\nExit status: 0 when every input was answered; 3 when some were not, each reported with its number in its \
place (an {\"line\": N, \"error\": ...} object with --json, `error: line N: ...` on stderr otherwise; arguments are \
inputs 1, 2, ...) while the others are answered; 1 when the command stopped (a bad model or option, an I/O error); \
2 for bad arguments. Stdin is answered in windows of at most 256 lines or 50 ms, in input order."
    };
}

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
    // int8 projections; the help says what this CPU gets.
    #[arg(long, help = crate::info::int8_help())]
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
        let mut model = PipelineModel::load(&spec, task).with_context(|| format!("loading {} for {}", albert::hub::echo(&spec), task.name()))?;
        model.set_precision(albert::Precision::from_int8(crate::info::int8_wanted(self.int8)));
        Ok(model)
    }

    fn options(&self, length: &LengthArgs) -> PipelineOptions {
        PipelineOptions { max_length: length.max_length, batch_size: self.batch_size }
    }
}

/// Most lines answered together.
pub(crate) const WINDOW_LINES: usize = 256;
/// Longest wait for more lines once a window has its first.
pub(crate) const WINDOW_WAIT: Duration = Duration::from_millis(50);

/// Some inputs got no answer, each reported in its place: the command exits with status 3.
#[derive(Debug)]
pub struct Partial {
    failed: usize,
    total: usize,
}

impl std::fmt::Display for Partial {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} of {} inputs failed (each reported in its place)", self.failed, self.total)
    }
}

impl std::error::Error for Partial {}

/// Where inputs come from: the arguments (one window) or stdin's lines, read by a thread as they arrive.
enum Source<P> {
    Args(Option<Vec<P>>),
    Stdin { lines: mpsc::Receiver<std::io::Result<Vec<u8>>>, read: usize },
}

/// One input: its number (the argument's position or stdin's line, from 1) and what it holds, or why it holds
/// nothing usable.
struct Input<P> {
    number: usize,
    item: Result<P, String>,
}

impl<P> Source<P> {
    fn new(args: Vec<P>) -> Self {
        if !args.is_empty() {
            return Source::Args(Some(args));
        }
        // Bounded, so that a fast producer is not read into memory far ahead of the answers.
        let (tx, lines) = mpsc::sync_channel(WINDOW_LINES);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut line = Vec::new();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) => break,
                    Ok(_) if tx.send(Ok(line)).is_ok() => {}
                    Ok(_) => break,
                    Err(e) => {
                        // The receiver reports it; nothing is left to do here if it is gone.
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            }
        });
        Source::Stdin { lines, read: 0 }
    }

    /// "input" for arguments, "line" for stdin: how errors name an input.
    fn unit(&self) -> &'static str {
        match self {
            Source::Args(_) => "input",
            Source::Stdin { .. } => "line",
        }
    }

    /// The next window, `None` at the end of input.
    fn next_window(&mut self, parse: &impl Fn(String) -> Result<P, String>) -> Result<Option<Vec<Input<P>>>> {
        let (lines, read) = match self {
            Source::Args(args) => {
                return Ok(args.take().map(|a| a.into_iter().enumerate().map(|(i, p)| Input { number: i + 1, item: Ok(p) }).collect()));
            }
            Source::Stdin { lines, read } => (lines, read),
        };
        let mut line = |bytes: std::io::Result<Vec<u8>>| -> Result<Input<P>> {
            let mut bytes = bytes.context("reading stdin")?;
            for end in [b'\n', b'\r'] {
                if bytes.last() == Some(&end) {
                    bytes.pop();
                }
            }
            *read += 1;
            let item = String::from_utf8(bytes)
                .map_err(|e| format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()))
                .and_then(parse);
            Ok(Input { number: *read, item })
        };
        let Ok(first) = lines.recv() else {
            return Ok(None);
        };
        let deadline = Instant::now() + WINDOW_WAIT;
        let mut window = vec![line(first)?];
        while window.len() < WINDOW_LINES {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(bytes) => window.push(line(bytes)?),
                Err(_) => break,
            }
        }
        Ok(Some(window))
    }
}

/// Answers the inputs (`args`, else stdin's lines made items by `parse`) window by window and writes each answer
/// with `print` in input order; an input without an answer is reported in its place (`{"line": N, "error": ...}`
/// with `json`, else `error: line N: ...` on stderr). `answer` gets a window's usable items and gives one result
/// per item. Fails with [`Partial`] when some inputs got no answer; `require_input` refuses an empty input.
pub(crate) fn stream<P, T>(
    args: Vec<P>,
    parse: impl Fn(String) -> Result<P, String>,
    json: bool,
    require_input: bool,
    mut answer: impl FnMut(&[&P]) -> Result<Vec<Result<T, String>>>,
    mut print: impl FnMut(&mut dyn Write, usize, &P, T) -> Result<()>,
) -> Result<()> {
    let mut source = Source::new(args);
    let unit = source.unit();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let (mut total, mut failed) = (0, 0);
    while let Some(window) = source.next_window(&parse)? {
        let usable: Vec<&P> = window.iter().filter_map(|i| i.item.as_ref().ok()).collect();
        let mut answers = answer(&usable)?.into_iter();
        for input in &window {
            total += 1;
            let result = match &input.item {
                Ok(item) => answers.next().ok_or_else(|| anyhow!("{unit} {} got no answer", input.number))?.map(|a| (item, a)),
                Err(why) => Err(why.clone()),
            };
            match result {
                Ok((item, a)) => print(&mut out, input.number, item, a)?,
                Err(why) if json => {
                    failed += 1;
                    serde_json::to_writer(&mut out, &json!({"line": input.number, "error": why}))?;
                    writeln!(out)?;
                }
                Err(why) => {
                    failed += 1;
                    out.flush()?;
                    eprintln!("error: {unit} {}: {why}", input.number);
                }
            }
        }
        out.flush()?;
    }
    if total == 0 && require_input {
        bail!("no input: give TEXT arguments or lines on stdin");
    }
    if failed > 0 {
        return Err(Partial { failed, total }.into());
    }
    Ok(())
}

/// A library pipeline's per-input results, errors as text.
fn texts_of<T>(results: Vec<PerInput<T>>) -> Vec<Result<T, String>> {
    results.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
}

/// The items as `&str`.
fn strs<'a>(items: &[&'a String]) -> Vec<&'a str> {
    items.iter().map(|s| s.as_str()).collect()
}

fn warn_truncated(number: usize, truncated: bool, model: &PipelineModel, length: Option<usize>) {
    if truncated {
        let n = model.max_length(length).unwrap_or_default();
        eprintln!("warning: input {number} was truncated to {n} tokens (--max-length)");
    }
}

fn print_json(out: &mut dyn Write, value: serde_json::Value) -> Result<()> {
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)?;
    Ok(())
}

/// Arguments of `albert classify`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert classify --model tests/fixtures/pipelines/sentiment \"I loved this movie.\"\n  \
cat reviews.txt | albert classify --model textattack/albert-base-v2-SST-2 --top-k 1 --json\n\n\
Scores: softmax over the labels; a sigmoid per label for problem_type multi_label_classification (and for one\n\
label without a problem type); the raw output for regression (as transformers' text-classification pipeline).", exit_status_help!()))]
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
    if args.top_k == Some(0) {
        bail!("--top-k must be at least 1");
    }
    let model = args.common.load(Task::Classify)?;
    let opts = args.common.options(&args.length);
    let json = args.common.json;
    stream(args.texts, Ok, json, true, |texts| Ok(texts_of(classify::classify_each(&model, &strs(texts), args.top_k, &opts)?)), |out, n, text, r| {
        warn_truncated(n, r.truncated, &model, args.length.max_length);
        if json {
            return print_json(out, json!({"text": text, "labels": r.labels, "truncated": r.truncated}));
        }
        writeln!(out, "{text}")?;
        let width = r.labels.iter().map(|l| l.label.chars().count()).max().unwrap_or(0);
        for l in &r.labels {
            writeln!(out, "  {:<width$}  {:.4}", l.label, l.score)?;
        }
        Ok(())
    })
}

/// Arguments of `albert fill-mask`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert fill-mask --model tests/fixtures/pipelines/pretraining \"The [MASK] was great.\"\n  \
albert fill-mask --model albert-base-v2 --top-k 3 --json \"Paris is the [MASK] of France.\"\n\n\
Each [MASK] gets the K most probable tokens and the text with that token in its place. As in transformers'\n\
fill-mask pipeline, a text with several masks shows [CLS], [SEP] and the other masks in each filled sequence.\n\
--top-k beyond the vocabulary gives every token (with a warning).", exit_status_help!()))]
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
    if args.top_k == 0 {
        bail!("--top-k must be at least 1");
    }
    let model = args.common.load(Task::FillMask)?;
    let vocab = model.config().vocab_size;
    if args.top_k > vocab {
        eprintln!("warning: --top-k {} is more than the {vocab} tokens of the vocabulary; giving all of them", args.top_k);
    }
    let opts = args.common.options(&args.length);
    let json = args.common.json;
    stream(args.texts, Ok, json, true, |texts| Ok(texts_of(fill_mask::fill_mask_each(&model, &strs(texts), args.top_k, &opts)?)), |out, n, text, r| {
        warn_truncated(n, r.truncated, &model, args.length.max_length);
        if json {
            return print_json(out, json!({"text": text, "masks": r.masks, "truncated": r.truncated}));
        }
        writeln!(out, "{text}")?;
        for (m, candidates) in r.masks.iter().enumerate() {
            if r.masks.len() > 1 {
                writeln!(out, "  mask {}", m + 1)?;
            }
            for c in candidates {
                writeln!(out, "  {:.4}  {:<12}  {}", c.score, c.token_str, c.sequence)?;
            }
        }
        Ok(())
    })
}

/// Arguments of `albert embed`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert embed --model tests/fixtures/pipelines/pretraining \"A man is eating food.\"\n  \
cat sentences.txt | albert embed --model albert-base-v2 --json > vectors.jsonl\n\n\
The vector is the mean of the last hidden state over the text's tokens ([CLS] and [SEP] included, padding not),\n\
or with --pooler the pooler output (tanh of a dense layer on [CLS]), which pooler-less classes lack.\n\
A sentence-transformers directory (modules.json, e.g. sentence-transformers/paraphrase-albert-small-v2) gives the\n\
library's vector: its 1_Pooling modes (mean, cls, max, mean_sqrt_len_tokens, weightedmean, lasttoken,\n\
concatenated), its Normalize module, its max_seq_length.", exit_status_help!()))]
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
    let pooling = if args.pooler { embed::Pooling::Pooler } else { embed::Pooling::Model };
    let opts = args.common.options(&args.length);
    let json = args.common.json;
    stream(args.texts, Ok, json, true, |texts| Ok(texts_of(embed::embed_each(&model, &strs(texts), pooling, &opts)?)), |out, n, text, r| {
        warn_truncated(n, r.truncated, &model, args.length.max_length);
        if json {
            return print_json(out, json!({"text": text, "vector": r.vector, "truncated": r.truncated}));
        }
        let values: Vec<String> = r.vector.iter().map(|v| format!("{v:.6}")).collect();
        writeln!(out, "{text}\n  [{}]", values.join(", "))?;
        Ok(())
    })
}

/// Arguments of `albert similarity`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert similarity --model tests/fixtures/pipelines/pretraining \"A man is eating food.\" \"A man eats bread.\"\n  \
printf 'a cat\\ta dog\\n' | albert similarity --model albert-base-v2 --json\n\n\
The cosine of the two texts' mean-pooled vectors (see `albert embed`), in [-1, 1].", exit_status_help!()))]
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
    let pair = match <[String; 2]>::try_from(args.texts) {
        Ok([a, b]) => vec![(a, b)],
        Err(_) => Vec::new(),
    };
    let parse = |line: String| match line.split_once('\t') {
        Some((a, b)) => Ok((a.to_string(), b.to_string())),
        None => Err("expected two texts separated by a tab".to_string()),
    };
    let opts = args.common.options(&args.length);
    let json = args.common.json;
    let answer = |pairs: &[&(String, String)]| {
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        Ok(texts_of(embed::similarity_each(&model, &refs, &opts)?))
    };
    stream(pair, parse, json, true, answer, |out, n, (a, b), r| {
        warn_truncated(n, r.truncated, &model, args.length.max_length);
        if json {
            return print_json(out, json!({"a": a, "b": b, "cosine": r.cosine, "truncated": r.truncated}));
        }
        writeln!(out, "{:.4}", r.cosine)?;
        Ok(())
    })
}

/// Arguments of `albert qa`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert qa --model tests/fixtures/pipelines/qa --context \"Zoë lives in São Paulo.\" --question \"Where does Zoë live?\"\n  \
cat questions.txt | albert qa --model twmkn9/albert-base-v2-squad2 --context article.txt --json\n\n\
Long contexts are cut into windows of --max-length tokens overlapping by --stride tokens (as transformers'\n\
question-answering pipeline: 384 and 128); each window proposes its --top-k spans of at most --max-answer-length\n\
tokens by start x end probability (softmax within the window), the same text from several windows adds up, and\n\
the --top-k best are printed (with --handle-impossible-answer, an empty answer when [CLS] beats every span).\n\
start/end are code-point offsets into the context. --json prints one object per question; with --top-k above 1,\n\
{\"question\", \"answers\": [...]} best first.\n\
The context is tokenized in 64 kB pieces and its windows are made, run (--batch-size at a time) and decoded as they\n\
come, keeping only the best span: memory grows with the context's tokens, not with its windows (a 2 MB context,\n\
2,000 windows: 140 MB in all with albert-small-xquad). Texts of the other commands are tokenized only as far as --max-length keeps them.", exit_status_help!()))]
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
    /// Answers per question, best first.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    top_k: u64,
    /// Let the empty answer ("the context does not say") compete with the spans.
    #[arg(long)]
    handle_impossible_answer: bool,
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
    let opts = qa::QaOptions {
        max_length: args.max_length,
        stride: args.stride,
        max_answer_length: args.max_answer_length,
        top_k: usize::try_from(args.top_k).unwrap_or(usize::MAX),
        handle_impossible_answer: args.handle_impossible_answer,
        batch_size: args.common.batch_size,
    };
    let json = args.common.json;
    let answer = |questions: &[&String]| Ok(texts_of(qa::answers_each(&model, &strs(questions), &context, &opts)?));
    stream(args.question.into_iter().collect(), Ok, json, true, answer, |out, _, question, answers: Vec<qa::Answer>| {
        if json {
            return match answers.as_slice() {
                [a] if opts.top_k == 1 => print_json(out, json!({"question": question, "answer": a.answer, "score": a.score,
                    "start": a.start, "end": a.end, "windows": a.windows})),
                _ => print_json(out, json!({"question": question, "answers": answers})),
            };
        }
        for a in &answers {
            let text = if a.answer.is_empty() { "(no answer)" } else { a.answer.as_str() };
            writeln!(out, "{text}\n  score {:.4}  code points {}..{}  ({} window(s))", a.score, a.start, a.end, a.windows)?;
        }
        Ok(())
    })
}

/// Arguments of `albert ner`.
#[derive(clap::Args, Debug)]
#[command(after_help = concat!("Examples:\n  albert ner --model tests/fixtures/pipelines/ner \"John Smith works for Google in New York.\"\n  \
cat news.txt | albert ner --model dslim/bert-base-NER --json\n\n\
Each word takes one label (--aggregation); neighbours of the same type are grouped unless a B- tag starts a new\n\
entity; O is dropped (transformers' token-classification pipeline with the same aggregation_strategy). score is\n\
the mean probability of the entity's words, start/end are code-point offsets into the text.", exit_status_help!()))]
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
    let aggregation: ner::Aggregation = args.aggregation.parse().map_err(anyhow::Error::msg)?;
    let opts = args.common.options(&args.length);
    let json = args.common.json;
    stream(args.texts, Ok, json, true, |texts| Ok(texts_of(ner::ner_each(&model, &strs(texts), aggregation, &opts)?)), |out, n, text, r| {
        warn_truncated(n, r.truncated, &model, args.length.max_length);
        if json {
            return print_json(out, json!({"text": text, "entities": r.entities, "truncated": r.truncated}));
        }
        writeln!(out, "{text}")?;
        if r.entities.is_empty() {
            writeln!(out, "  (no entities)")?;
        }
        for e in &r.entities {
            writeln!(out, "  {:<6} {:.4}  {:>3}..{:<3}  {}", e.entity_group, e.score, e.start, e.end, e.span(text))?;
        }
        Ok(())
    })
}
