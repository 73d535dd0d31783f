//! `albert evaluate --task retrieval`: each question of a SQuAD-format file searched in an index built over the same
//! file's paragraphs, the ranking scored with trec_eval's definitions (recall@1/5/20, MRR@10, nDCG@10), and with
//! `--reader`, the questions answered as `albert ask` does, scored with SQuAD v1.1's EM / F1 (open-domain QA).
//!
//! A passage is relevant to a question when it overlaps the paragraph the question was asked on: the index reads a
//! SQuAD file as one document per paragraph, `{title}#{paragraph}`, so the relevant passages are that document's
//! (their number counted by cutting the paragraph as the index did). The run keeps the search's own order (scores
//! `1 / rank`), so trec_eval's tie-breaking never reorders it.

use std::collections::HashMap;
use std::path::PathBuf;

use albert::pipeline::qa::QaOptions;
use albert_search::ask::{AskSettings, Asker};
use albert_search::passage::{chunk, Document};
use albert_search::{SearchMode, SearchOptions, Source};
use albert_train::metrics::retrieval::{evaluate, QueryScores, Qrels, Run};
use albert_train::metrics::squad::{evaluate_v1, SquadReference};
use albert_train::tasks::squad::{read_squad, ArticleSplit};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use serde::Serialize;

use crate::ask::load_reader;

/// Settings of `--task retrieval`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Retrieval (--task retrieval)")]
pub struct RetrievalArgs {
    /// The index to search, built over the --data file (`albert index build --docs FILE`).
    #[arg(long, value_name = "INDEX")]
    pub index: Option<PathBuf>,
    /// bm25, dense or hybrid, as `albert search`.
    #[arg(long, default_value = "hybrid", value_parser = |s: &str| s.parse::<SearchMode>())]
    pub mode: SearchMode,
    /// Rerank the candidates with this sequence-pair classifier.
    #[arg(long, value_name = "MODEL")]
    pub rerank: Option<String>,
    /// Candidates the reranker reads.
    #[arg(long, default_value_t = 20)]
    pub rerank_depth: usize,
    /// Also answer each question as `albert ask` does with this QA model, and score EM / F1.
    #[arg(long, value_name = "MODEL")]
    pub reader: Option<String>,
    /// Passages the reader reads (--reader).
    #[arg(long, default_value_t = 5)]
    pub passages: usize,
    /// Reader scores below this answer "not in the documents" (--reader; an empty prediction).
    #[arg(long, default_value_t = 0.1)]
    pub threshold: f32,
}

/// The scores of a retrieval evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalReport {
    /// Questions scored.
    pub queries: usize,
    /// Questions the search found nothing for (each scored 0).
    pub without_results: usize,
    /// Means over the questions (fractions).
    #[serde(flatten)]
    pub ranking: QueryScores,
    /// SQuAD v1.1 exact match of the `ask` answers, 0-100 (with --reader).
    pub exact_match: Option<f64>,
    /// SQuAD v1.1 F1 of the `ask` answers, 0-100 (with --reader).
    pub f1: Option<f64>,
}

impl std::fmt::Display for RetrievalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.ranking;
        writeln!(f, "questions   {} ({} without results)", self.queries, self.without_results)?;
        writeln!(f, "recall@1    {:.4}", r.recall_1)?;
        writeln!(f, "recall@5    {:.4}", r.recall_5)?;
        writeln!(f, "recall@20   {:.4}", r.recall_20)?;
        writeln!(f, "MRR@10      {:.4}", r.mrr_10)?;
        writeln!(f, "nDCG@10     {:.4}", r.ndcg_10)?;
        if let (Some(em), Some(f1)) = (self.exact_match, self.f1) {
            writeln!(f, "ask EM      {em:.2}")?;
            writeln!(f, "ask F1      {f1:.2}")?;
        }
        Ok(())
    }
}

/// One question: what is asked, its gold answers, the document of its paragraph.
struct Question {
    id: String,
    text: String,
    answers: Vec<String>,
    doc_id: String,
}

/// Runs the evaluation; `articles` picks the XQuAD split's part of the file.
pub fn run(data: &std::path::Path, articles: Option<albert_train::tasks::squad::ArticlePart>, args: &RetrievalArgs) -> Result<RetrievalReport> {
    let index_dir = args.index.as_deref().context("--task retrieval needs --index INDEX")?;
    let mut dataset = read_squad(data)?;
    if let Some(part) = articles {
        dataset = ArticleSplit::xquad().part(&dataset, data, part)?;
    }
    let index = crate::index::open(index_dir)?;
    // The index's embedder: its tokenizer cut the passages (and it embeds queries in dense and hybrid modes).
    let embedder = crate::index::index_embedder(&index, None)?;
    let chunking = index.manifest().chunking;
    let mut questions = Vec::new();
    let mut relevant_passages: HashMap<String, usize> = HashMap::new();
    for article in &dataset.data {
        for (i, paragraph) in article.paragraphs.iter().enumerate() {
            let doc_id = format!("{}#{i}", article.title);
            let doc = Document {
                source: Source { file: data.to_path_buf(), doc_id: doc_id.clone(), title: article.title.clone() },
                text: paragraph.context.clone(),
            };
            relevant_passages.insert(doc_id.clone(), chunk(&doc, embedder.tokenizer(), chunking, 0)?.len());
            for q in &paragraph.qas {
                let answers = q.answers.iter().flatten().map(|a| a.text.clone()).collect();
                questions.push(Question { id: q.id.clone(), text: q.question.clone(), answers, doc_id: doc_id.clone() });
            }
        }
    }
    anyhow::ensure!(!questions.is_empty(), "{} holds no question", data.display());
    let reranker = crate::index::load_reranker(args.rerank.as_deref())?;
    let reader = args.reader.as_deref().map(|spec| load_reader(Some(spec))).transpose()?;
    let embedder = (args.mode != SearchMode::Bm25).then_some(&embedder);
    let search = SearchOptions { mode: args.mode, k: 20, rerank_depth: args.rerank_depth.max(20), ..SearchOptions::default() };
    let asker = reader.as_ref().map(|reader| Asker { index: &index, embedder, reranker: reranker.as_ref(), reader });
    let settings = AskSettings {
        search: SearchOptions { k: args.passages.max(1), ..search },
        qa: QaOptions { max_answer_length: 30, ..QaOptions::default() },
        threshold: args.threshold,
        runner_ups: 0,
    };
    let bar = match std::io::stderr().is_terminal() {
        true => ProgressBar::new(questions.len() as u64),
        false => ProgressBar::hidden(),
    };
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} questions [{elapsed_precise}<{eta_precise}]").expect("valid template"));
    let (mut qrels, mut run) = (Qrels::new(), Run::new());
    let mut predictions = HashMap::new();
    for q in &questions {
        let hits = index.search(&q.text, &search, embedder, reranker.as_ref())?;
        let mut judged: HashMap<String, i32> = HashMap::new();
        let ranked = hits
            .iter()
            .map(|h| {
                if h.passage.source.doc_id == q.doc_id {
                    judged.insert(h.passage.id.to_string(), 1);
                }
                (h.passage.id.to_string(), 1.0 / h.rank as f64)
            })
            .collect();
        // The gold paragraph's passages the search did not return, relevant all the same.
        let missing = relevant_passages[&q.doc_id].saturating_sub(judged.len());
        judged.extend((0..missing).map(|n| (format!("unretrieved-{n}"), 1)));
        qrels.insert(q.id.clone(), judged);
        run.insert(q.id.clone(), ranked);
        if let Some(asker) = &asker {
            let reply = asker.ask(&settings, &q.text, q.text.clone())?;
            predictions.insert(q.id.clone(), reply.answer.map(|a| a.answer).unwrap_or_default());
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let scores = evaluate(&qrels, &run)?;
    let (exact_match, f1) = if asker.is_some() {
        let references: Vec<SquadReference> =
            questions.iter().map(|q| SquadReference { id: q.id.clone(), answers: q.answers.clone() }).collect();
        let s = evaluate_v1(&references, &predictions)?;
        (Some(s.exact_match), Some(s.f1))
    } else {
        (None, None)
    };
    Ok(RetrievalReport { queries: scores.queries, without_results: scores.without_results, ranking: scores.mean, exact_match, f1 })
}
