//! `albert search`: the best passages of an index for a query (the work is `albert_search::Index::search`'s).

use std::path::PathBuf;
use std::time::Instant;

use albert_search::{SearchMode, SearchOptions};
use anyhow::Result;

/// Arguments of `albert search`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
albert search my-index \"when was the treaty signed?\"\n  \
albert search my-index \"treaty signature date\" --mode bm25 -k 3 --json\n  \
albert search my-index \"when was the treaty signed?\" --rerank path/to/cross-encoder\n\n\
Modes: bm25 ranks by words (BM25 over titles and passages, English stemming); dense by meaning (cosine of the \
embedder's vectors, through the HNSW index); hybrid (the default) fuses both lists by reciprocal rank: each passage \
scores the sum of 1/(60 + rank) over the lists that found it. With --rerank, the best --rerank-depth candidates are \
read by a sequence-pair classifier ([CLS] query [SEP] passage [SEP]) and reordered by its relevance label's score \
(one-output models: that output; else a label named relevant, entailment, positive, yes or true; else the last).\n\n\
Each hit shows its rank, score, file, document id and title, the code-point span of the passage in its document, \
and a snippet around the query's words.")]
pub struct SearchArgs {
    /// The index folder (`albert index build`).
    index: PathBuf,
    /// The query.
    query: String,
    /// bm25 (words), dense (meaning) or hybrid (both, fused by reciprocal rank).
    #[arg(long, default_value = "hybrid", value_parser = |s: &str| s.parse::<SearchMode>())]
    mode: SearchMode,
    /// Hits to show.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Rerank the best candidates with this sequence-pair classifier (checkpoint directory or hub id).
    #[arg(long, value_name = "MODEL")]
    rerank: Option<String>,
    /// Candidates the reranker reads.
    #[arg(long, default_value_t = 20)]
    rerank_depth: usize,
    /// Candidates taken from each list before hybrid fusion.
    #[arg(long, default_value_t = 100)]
    fusion_depth: usize,
    /// The embedder of queries, when it does not lie where the index recorded it (it must be the same model).
    #[arg(long, value_name = "MODEL")]
    embedder: Option<String>,
    /// Run the reranker's projections in int8 (about twice as fast on CPUs with a fast int8 kernel; `albert info
    /// --kernels` says which this CPU runs). Queries are still embedded in f32, as the index's passages were.
    #[arg(long)]
    int8: bool,
    /// Print the hits as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `albert search`.
pub fn run(args: SearchArgs) -> Result<()> {
    let index = crate::index::open(&args.index)?;
    let embedder = crate::index::query_embedder(&index, args.mode, args.embedder.as_deref())?;
    let reranker = crate::index::load_reranker(args.rerank.as_deref(), args.int8)?;
    let opts = SearchOptions { mode: args.mode, k: args.k, fusion_depth: args.fusion_depth, rerank_depth: args.rerank_depth };
    let start = Instant::now();
    let hits = index.search(&args.query, &opts, embedder.as_ref(), reranker.as_ref())?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if args.json {
        let out = serde_json::json!({
            "query": args.query,
            "mode": args.mode,
            "reranker": reranker.as_ref().map(|r| serde_json::json!({"model": args.rerank, "label": r.label()})),
            "milliseconds": ms,
            "hits": hits,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no passage matches {:?}", args.query);
    }
    for h in &hits {
        let s = &h.passage.source;
        let title = if s.title.is_empty() || s.title == s.doc_id { String::new() } else { format!(" \"{}\"", s.title) };
        println!(
            "{:>2}. {:.4}  {}  [{}{}] chars {}..{}",
            h.rank,
            h.score,
            s.file.display(),
            s.doc_id,
            title,
            h.passage.span.0,
            h.passage.span.1
        );
        println!("    {}", h.snippet.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    eprintln!("{} hit(s) in {ms:.1} ms ({:?}{})", hits.len(), args.mode, if reranker.is_some() { ", reranked" } else { "" });
    Ok(())
}
