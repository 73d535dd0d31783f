//! The `albert` command: one binary for the whole life of an ALBERT model.

use clap::{Parser, Subcommand};

mod args;
mod ask;
mod bench;
mod bias;
mod bench_protocol;
mod cloze_qa;
mod demo;
mod evaluate;
mod evaluate_retrieval;
mod explain;
mod export;
mod faithfulness;
mod finetune;
mod forward;
mod index;
mod info;
mod output;
mod pipelines;
mod plot;
mod predict;
mod pretrain;
mod search;
mod serve;
mod tokenize;
mod vocab;

/// ALBERT ("A Lite BERT") in Rust: inspect, run, tokenize, train and evaluate ALBERT models.
///
/// MODEL arguments are Hugging Face checkpoint directories (config.json + model.safetensors or pytorch_model.bin).
#[derive(Parser)]
#[command(name = "albert", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: the built-in models classify, fill a mask, answer questions and find entities, offline.
    Demo(demo::DemoArgs),
    /// Which tokens a prediction rests on: Integrated Gradients (as Captum), gradient x input, attention rollout.
    Explain(explain::ExplainArgs),
    /// Rewrite a checkpoint with its tokenizer as a Hugging Face directory, weights in f16, bf16 or f32.
    Export(export::ExportArgs),
    /// Make extractive-QA training data from plain text: cloze questions (a first stage before a small QA set).
    ClozeQa(cloze_qa::ClozeQaArgs),
    /// Summarize a checkpoint or preset: configuration, parameter count, weight memory.
    Info(info::InfoArgs),
    /// Run a checkpoint's own head on one token sequence and print its outputs.
    Forward(forward::ForwardArgs),
    /// Measure inference or training-step speed on CPU (sequences per second, latency spread, peak memory).
    Bench(bench::BenchArgs),
    /// Score predictions with a task's official metrics (GLUE, SQuAD v1.1/v2.0, XQuAD, CoNLL-2003, RACE, custom).
    Evaluate(evaluate::EvaluateArgs),
    /// Fine-tune a head on a task: GLUE or custom classification and regression, CoNLL-2003, SQuAD/XQuAD, RACE.
    Finetune(finetune::FinetuneArgs),
    /// Draw a pretraining run's loss, accuracy and learning-rate curves to a PNG.
    Plot(plot::PlotArgs),
    /// Predict a task file with a fine-tuned checkpoint, in the format `evaluate` reads (GLUE: a submission TSV).
    Predict(predict::PredictArgs),
    /// Prepare a corpus and pretrain ALBERT on it (MLM + sentence-order prediction).
    #[command(subcommand_required = true)]
    Pretrain(pretrain::PretrainArgs),
    /// Tokenize text with a SentencePiece model, tokenizer.json or checkpoint directory.
    Tokenize(tokenize::TokenizeArgs),
    /// Classify texts: every label with its score (sentiment, topics, ...).
    Classify(pipelines::ClassifyArgs),
    /// Predict the tokens behind each [MASK] of a text.
    FillMask(pipelines::FillMaskArgs),
    /// Turn texts into vectors (mean-pooled last hidden state, or the pooler).
    Embed(pipelines::EmbedArgs),
    /// Cosine similarity of two texts' mean-pooled vectors.
    Similarity(pipelines::SimilarityArgs),
    /// Answer a question from a context, however long (extractive question answering).
    Qa(pipelines::QaArgs),
    /// Find named entities in texts, with labels, scores and code-point spans.
    Ner(pipelines::NerArgs),
    /// Index a folder of documents for search: build, add, remove, sync, info.
    Index(index::IndexArgs),
    /// Find the passages of an index that answer a query (BM25, dense, hybrid; optional reranking).
    Search(search::SearchArgs),
    /// Ask an index a question: retrieve, rerank, read with an extractive QA model; the answer with its source (--chat: a session).
    Ask(ask::AskArgs),
    /// Serve the pipelines over HTTP (Text Embeddings Inference's and OpenAI's routes, fill-mask, qa, ner).
    Serve(serve::ServeArgs),
    /// Probe a masked-LM model for social bias (CrowS-Pairs).
    #[command(subcommand_required = true)]
    Bias(bias::BiasArgs),
    /// Train or inspect a SentencePiece vocabulary.
    Vocab(vocab::VocabArgs),
}

fn main() {
    // Die quietly when stdout is closed early (`albert ... | head`), as command-line tools do.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Export(a) => export::run(a),
        Command::ClozeQa(a) => cloze_qa::run(a),
        Command::Info(a) => info::run(a),
        Command::Forward(a) => forward::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Finetune(a) => finetune::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Vocab(a) => vocab::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Bias(a) => bias::run(a),
        Command::Pretrain(a) => pretrain::run(a),
        Command::Classify(a) => pipelines::run_classify(a),
        Command::FillMask(a) => pipelines::run_fill_mask(a),
        Command::Embed(a) => pipelines::run_embed(a),
        Command::Similarity(a) => pipelines::run_similarity(a),
        Command::Qa(a) => pipelines::run_qa(a),
        Command::Ner(a) => pipelines::run_ner(a),
        Command::Index(a) => index::run(a),
        Command::Search(a) => search::run(a),
        Command::Ask(a) => ask::run(a),
        Command::Serve(a) => serve::run(a),
    };
    if let Err(e) = result {
        eprintln!("error: {}", describe(&e));
        std::process::exit(if e.is::<pipelines::Partial>() { 3 } else { 1 });
    }
}

/// The error and its causes on one line, each said once: several error types repeat their cause's text in their own
/// message and also return it as their source, which `{:#}` would print twice.
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Tensors of several MiB are allocated and freed on every step; glibc's default hands such blocks back to the
/// kernel with munmap and page-faults them in again on the next step, which cost about a fifth of a training step
/// (measured with `albert bench --train`). Keeping freed memory in the heap avoids it.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        // 32 MiB is the largest threshold glibc accepts on 64-bit systems.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
