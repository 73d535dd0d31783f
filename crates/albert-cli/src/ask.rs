//! `albert ask`: a question answered from an index of the user's documents: retrieve (and rerank) passages, read the
//! best ones with an extractive QA model, answer with the source, or say that the documents do not contain the
//! answer. `--chat` keeps a session: each follow-up is read with the previous turns prepended, as CoQA's baselines
//! read a conversation.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use albert::pipeline::qa::QaOptions;
use albert::pipeline::{PipelineModel, Task};
use albert_search::ask::{with_history, AskSettings, Asker, Found, Reply, DEFAULT_THRESHOLD};
use albert_search::{SearchMode, SearchOptions};
use anyhow::{bail, Context, Result};

/// Arguments of `albert ask`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
albert ask my-index \"When was the treaty signed?\"\n  \
albert ask my-index \"Who signed it?\" --reader twmkn9/albert-base-v2-squad2 --json\n  \
albert ask my-index --chat              # one question per line; follow-ups may say \"it\", \"he\", \"there\"\n\n\
The question retrieves --passages passages (--mode, as `albert search`; --rerank reorders them), each is read by \
the extractive QA model (--reader, default the built-in albert-small-xquad), and the span with the highest \
probability (start x end, softmax within its passage) is the answer, with its file, document and code-point span in \
the document. Below --threshold the answer is that the documents do not contain it. Runner-up answers come from \
the other passages (the same text counted once).\n\n\
--chat reads questions from stdin, one per line (an empty line or end of input ends the session); each one is \
retrieved and read together with the previous --history turns, prepended as \"Q: ... A: ...\" (the CoQA baselines' \
reading of a conversation), so a follow-up can refer to an earlier answer.")]
pub struct AskArgs {
    /// The index folder (`albert index build`).
    index: PathBuf,
    /// The question (with --chat, the first turn; without it, required).
    question: Option<String>,
    /// The extractive QA model (checkpoint directory or hub id); default: the built-in one.
    #[arg(long, value_name = "MODEL")]
    reader: Option<String>,
    /// bm25 (words), dense (meaning) or hybrid (both, fused by reciprocal rank).
    #[arg(long, default_value = "hybrid", value_parser = |s: &str| s.parse::<SearchMode>())]
    mode: SearchMode,
    /// Rerank the candidates with this sequence-pair classifier before reading.
    #[arg(long, value_name = "MODEL")]
    rerank: Option<String>,
    /// Candidates the reranker reads.
    #[arg(long, default_value_t = 20)]
    rerank_depth: usize,
    /// Passages the reader reads, the best of the retrieval.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    passages: u64,
    /// Lowest reader score taken as an answer: the probability the reader gives its best span (start x end, softmax
    /// within its passage), 0 to 1. Below it the reply says the documents do not contain the answer, and still shows
    /// the best span and its score. The default was chosen for the built-in reader by SQuAD v2's best-F1 rule over
    /// questions whose documents do and do not hold the answer (XQuAD English, docs/search/README.md): its scores
    /// stay below 0.034 whether or not the answer is there, and its answers are rarely right, so any threshold above
    /// them is best and it answers nothing by default; --threshold 0 always answers. Another reader's scores are on
    /// the same scale but not calibrated alike: measure it with scripts/experiments/ask_threshold.sh (READER=...).
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    threshold: f32,
    /// Runner-up answers shown.
    #[arg(long, default_value_t = 3)]
    runner_ups: usize,
    /// Longest answer in tokens.
    #[arg(long, default_value_t = 30)]
    max_answer_length: usize,
    /// Passage windows per forward pass. The passages are read in one call either way, with the same answers; on a
    /// CPU, passages of different lengths padded into one pass cost more than one pass each (five XQuAD paragraphs of
    /// 112 to 300 tokens: 1.5 to 1.7 times the time on 2 cores, docs/search/README.md), hence 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Keep a session: read questions from stdin, each with the previous turns.
    #[arg(long)]
    chat: bool,
    /// Previous turns prepended to a follow-up (--chat).
    #[arg(long, default_value_t = 2)]
    history: usize,
    /// The embedder of queries, when it does not lie where the index recorded it (it must be the same model).
    #[arg(long, value_name = "MODEL")]
    embedder: Option<String>,
    /// Run the reranker's and the reader's projections in int8 (about twice as fast on CPUs with a fast int8 kernel;
    /// `albert info --kernels` says which this CPU runs; scores change slightly). Queries are still embedded in f32,
    /// as the index's passages were.
    #[arg(long)]
    int8: bool,
    /// Print each answer as one JSON object (one per line with --chat).
    #[arg(long)]
    json: bool,
}

/// Loads the reader `spec` (default: the built-in QA model), its projections in int8 where `int8` asks and this CPU
/// runs it fast.
pub fn load_reader(spec: Option<&str>, int8: bool) -> Result<PipelineModel> {
    let spec = match spec {
        Some(s) => s.to_string(),
        None => albert::builtin::path(Task::QuestionAnswering.default_model())?.to_string_lossy().into_owned(),
    };
    let mut reader = PipelineModel::load(&spec, Task::QuestionAnswering)
        .with_context(|| format!("loading the reader {}", albert::hub::echo(&spec)))?;
    reader.set_precision(albert::Precision::from_int8(crate::info::int8_wanted(int8)));
    Ok(reader)
}

/// Runs `albert ask`.
pub fn run(args: AskArgs) -> Result<()> {
    if args.question.is_none() && !args.chat {
        bail!("give a question, or --chat to read questions from stdin");
    }
    if !(0.0..=1.0).contains(&args.threshold) {
        bail!("--threshold {} should be a probability, between 0 and 1", args.threshold);
    }
    let index = crate::index::open(&args.index)?;
    let embedder = crate::index::query_embedder(&index, args.mode, args.embedder.as_deref())?;
    let reranker = crate::index::load_reranker(args.rerank.as_deref(), args.int8)?;
    let reader = load_reader(args.reader.as_deref(), args.int8)?;
    let asker = Asker { index: &index, embedder: embedder.as_ref(), reranker: reranker.as_ref(), reader: &reader };
    let settings = AskSettings {
        search: SearchOptions {
            mode: args.mode,
            k: usize::try_from(args.passages).unwrap_or(usize::MAX),
            rerank_depth: args.rerank_depth,
            ..SearchOptions::default()
        },
        qa: QaOptions {
            max_answer_length: args.max_answer_length,
            batch_size: usize::try_from(args.batch_size).unwrap_or(usize::MAX),
            ..QaOptions::default()
        },
        threshold: args.threshold,
        runner_ups: args.runner_ups,
    };
    let mut out = std::io::stdout().lock();
    if !args.chat {
        let question = args.question.clone().unwrap_or_default();
        let reply = asker.ask(&settings, &question, question.clone())?;
        return print_reply(&mut out, &reply, args.json);
    }
    let mut history: Vec<(String, String)> = Vec::new();
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut lines = args.question.clone().into_iter().map(Ok).chain(stdin.lock().lines());
    loop {
        if interactive {
            eprint!("> ");
        }
        let Some(line) = lines.next() else { break };
        let question = line.context("reading a question from stdin")?;
        let question = question.trim();
        if question.is_empty() {
            break;
        }
        let read_as = with_history(&history, question, args.history);
        let reply = asker.ask(&settings, question, read_as)?;
        print_reply(&mut out, &reply, args.json)?;
        out.flush()?;
        // A turn without an answer is remembered as such: the next question is read after it.
        let said = reply.answer.as_ref().map_or_else(|| "unknown".to_string(), |a| a.answer.clone());
        history.push((question.to_string(), said));
    }
    Ok(())
}

fn print_reply(out: &mut impl Write, reply: &Reply, json: bool) -> Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(reply)?)?;
        return Ok(());
    }
    let place = |f: &Found| {
        let s = &f.source;
        let title = if s.title.is_empty() || s.title == s.doc_id { String::new() } else { format!(" \"{}\"", s.title) };
        format!("{} [{}{}] chars {}..{}", s.file.display(), s.doc_id, title, f.span.0, f.span.1)
    };
    match (&reply.answer, &reply.best) {
        (Some(a), _) => {
            writeln!(out, "{}", a.answer)?;
            writeln!(out, "  score {:.4}  {}", a.score, place(a))?;
        }
        (None, Some(b)) => writeln!(
            out,
            "The documents do not contain the answer (the best span, {:?}, scored {:.4}, below the threshold).",
            b.answer, b.score
        )?,
        (None, None) => writeln!(out, "The documents do not contain the answer ({} passage(s) read).", reply.passages_read)?,
    }
    if !reply.runner_ups.is_empty() {
        writeln!(out, "  runner-ups:")?;
        for r in &reply.runner_ups {
            writeln!(out, "    {:.4}  {}  {}", r.score, r.answer, place(r))?;
        }
    }
    Ok(())
}
