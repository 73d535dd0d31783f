//! `albert evaluate --task retrieval`: each question of a SQuAD-format file searched in an index built over the same
//! file's paragraphs, the ranking scored with trec_eval's definitions (recall@1/5/20, MRR@10, nDCG@10), and with
//! `--reader`, the questions answered as `albert ask` does, scored with SQuAD v1.1's EM / F1 (open-domain QA).
//!
//! A passage is relevant to a question when it overlaps the paragraph the question was asked on: the index reads a
//! SQuAD file as one document per paragraph, `{title}#{paragraph}`, so the relevant passages are that document's
//! (their number counted by cutting the paragraph as the index did). The run keeps the search's own order (scores
//! `1 / rank`), so trec_eval's tie-breaking never reorders it.
//!
//! Each mean comes with a percentile bootstrap interval over the questions; `--per-question` writes every
//! question's scores, and `--baseline` reads another system's such file and adds the paired bootstrap interval of
//! each difference (the same resampled questions for both systems). `--gold-paragraph` reads each question's own
//! paragraph instead of the retrieved passages: the reader's ceiling, as `albert qa` on the gold context.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use albert::pipeline::qa::{self, QaOptions};
use albert::stats::{percentile_bootstrap, BootstrapOptions, Interval};
use albert_search::ask::{AskSettings, Asker};
use albert_search::passage::{chunk, Document};
use albert_search::{SearchMode, SearchOptions, Source};
use albert_train::metrics::retrieval::{evaluate, QueryScores, Qrels, Run};
use albert_train::metrics::squad::{score_question_v1, SquadReference};
use albert_train::tasks::squad::{read_squad, ArticleSplit};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use serde::{Deserialize, Serialize};

use crate::ask::load_reader;
use crate::output::{write_file, OverwriteArg};

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
    /// Reader scores below this answer "not in the documents" (--reader; an empty prediction); default: `albert ask`'s.
    #[arg(long, default_value_t = albert_search::ask::DEFAULT_THRESHOLD)]
    pub threshold: f32,
    /// With --reader: read each question's own paragraph instead of the retrieved passages (the reader's ceiling,
    /// `albert qa` on the gold context); the ranking is scored all the same.
    #[arg(long, requires = "reader")]
    pub gold_paragraph: bool,
    /// Write each question's scores to FILE, one JSON object per line: id, the ranking metrics (fractions) and,
    /// with --reader, the prediction, exact_match and f1 (0-100). What --baseline reads.
    #[arg(long, value_name = "FILE")]
    pub per_question: Option<PathBuf>,
    /// Another system's --per-question file over the same questions: adds each metric's mean difference (this run
    /// minus the baseline) with its paired bootstrap interval.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Resamples of the questions for the bootstrap intervals.
    #[arg(long, default_value_t = BootstrapOptions::default().resamples)]
    pub bootstrap_resamples: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = BootstrapOptions::default().seed)]
    pub bootstrap_seed: u64,
    #[command(flatten)]
    pub overwrite: OverwriteArg,
}

/// One question's scores: a line of the --per-question file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionScores {
    /// The question's id.
    pub id: String,
    /// Its ranking metrics.
    #[serde(flatten)]
    pub ranking: QueryScores,
    /// The answer `ask` gave ("" for "not in the documents"), with --reader.
    pub prediction: Option<String>,
    /// The reader's score of its best span, with --reader, whether or not it reached --threshold (what
    /// `scripts/experiments/ask_threshold.sh` calibrates the threshold on); absent when no passage gave a span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// SQuAD v1.1 exact match, 0 or 100, with --reader.
    pub exact_match: Option<f64>,
    /// SQuAD v1.1 F1, 0-100, with --reader.
    pub f1: Option<f64>,
}

impl QuestionScores {
    /// Each metric's name and value, the reader's only when it ran.
    fn metrics(&self) -> Vec<(&'static str, f64)> {
        let r = &self.ranking;
        let mut out =
            vec![("recall_1", r.recall_1), ("recall_5", r.recall_5), ("recall_20", r.recall_20), ("mrr_10", r.mrr_10), ("ndcg_10", r.ndcg_10)];
        out.extend(self.exact_match.map(|v| ("exact_match", v)));
        out.extend(self.f1.map(|v| ("f1", v)));
        out
    }
}

/// A difference of means between this run and the baseline, with its paired bootstrap interval.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// This run's mean minus the baseline's.
    pub difference: f64,
    /// Percentile bootstrap interval of the difference, the questions resampled for both systems at once.
    pub interval: Interval,
}

/// The comparison with `--baseline`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The baseline's --per-question file.
    pub baseline: PathBuf,
    /// By metric, for each metric both runs have.
    pub differences: BTreeMap<String, Difference>,
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
    /// Percentile bootstrap interval of each mean, by metric.
    pub intervals: BTreeMap<String, Interval>,
    /// The paired comparison with --baseline.
    pub compared: Option<Comparison>,
}

impl std::fmt::Display for RetrievalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.ranking;
        writeln!(f, "questions   {} ({} without results)", self.queries, self.without_results)?;
        let rows = [
            ("recall@1", "recall_1", Some(r.recall_1)),
            ("recall@5", "recall_5", Some(r.recall_5)),
            ("recall@20", "recall_20", Some(r.recall_20)),
            ("MRR@10", "mrr_10", Some(r.mrr_10)),
            ("nDCG@10", "ndcg_10", Some(r.ndcg_10)),
            ("ask EM", "exact_match", self.exact_match),
            ("ask F1", "f1", self.f1),
        ];
        for (label, key, value) in rows {
            let Some(value) = value else { continue };
            write!(f, "{label:<11} {value:.4}")?;
            if let Some(i) = self.intervals.get(key) {
                write!(f, "  [{:.4}, {:.4}]", i.low, i.high)?;
            }
            if let Some(d) = self.compared.as_ref().and_then(|c| c.differences.get(key)) {
                write!(f, "  vs baseline {:+.4} [{:+.4}, {:+.4}]", d.difference, d.interval.low, d.interval.high)?;
            }
            writeln!(f)?;
        }
        if let Some(i) = self.intervals.values().next() {
            writeln!(f, "intervals   {:.0}% percentile bootstrap over the questions, {} resamples", 100.0 * i.confidence, i.resamples)?;
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
    /// The paragraph it was asked on.
    context: String,
}

/// Runs the evaluation; `articles` picks the XQuAD split's part of the file.
/// `int8`: evaluate's `--int8`, which runs the reranker's and the reader's projections in int8 (queries are still
/// embedded in f32, as `albert search --int8` and `albert ask --int8` do).
pub fn run(data: &std::path::Path, articles: Option<albert_train::tasks::squad::ArticlePart>, args: &RetrievalArgs, int8: bool) -> Result<RetrievalReport> {
    let index_dir = args.index.as_deref().context("--task retrieval needs --index INDEX")?;
    if let Some(path) = &args.per_question {
        args.overwrite.claim_file(path)?;
    }
    let baseline = args.baseline.as_deref().map(read_per_question).transpose()?;
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
                let context = paragraph.context.clone();
                questions.push(Question { id: q.id.clone(), text: q.question.clone(), answers, doc_id: doc_id.clone(), context });
            }
        }
    }
    anyhow::ensure!(!questions.is_empty(), "{} holds no question", data.display());
    let reranker = crate::index::load_reranker(args.rerank.as_deref(), int8)?;
    let reader = args.reader.as_deref().map(|spec| load_reader(Some(spec), int8)).transpose()?;
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
        // (the answer given, "" below the threshold; the best span's score)
        let prediction = match &asker {
            Some(asker) if args.gold_paragraph => {
                let a = qa::answer(asker.reader, &q.text, &q.context, &settings.qa)?;
                Some((if a.score >= settings.threshold { a.answer } else { String::new() }, Some(a.score)))
            }
            Some(asker) => {
                let reply = asker.ask(&settings, &q.text, q.text.clone())?;
                Some((reply.answer.map(|a| a.answer).unwrap_or_default(), reply.best.map(|b| b.score)))
            }
            None => None,
        };
        if let Some(p) = prediction {
            predictions.insert(q.id.clone(), p);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let scores = evaluate(&qrels, &run)?;
    let mut per_question = Vec::with_capacity(questions.len());
    for q in &questions {
        let reference = SquadReference { id: q.id.clone(), answers: q.answers.clone() };
        let read = predictions.get(&q.id).map(|(p, _)| Ok::<_, anyhow::Error>((p.clone(), score_question_v1(&reference, p)?))).transpose()?;
        per_question.push(QuestionScores {
            id: q.id.clone(),
            ranking: scores.per_query[&q.id],
            exact_match: read.as_ref().map(|(_, (em, _))| if *em { 100.0 } else { 0.0 }),
            f1: read.as_ref().map(|(_, (_, f1))| 100.0 * f1),
            prediction: read.map(|(p, _)| p),
            score: predictions.get(&q.id).and_then(|(_, s)| *s),
        });
    }
    if let Some(path) = &args.per_question {
        let mut lines = String::new();
        for q in &per_question {
            lines.push_str(&serde_json::to_string(q)?);
            lines.push('\n');
        }
        write_file(path, lines.as_bytes())?;
    }
    let bootstrap = BootstrapOptions { resamples: args.bootstrap_resamples, seed: args.bootstrap_seed, ..BootstrapOptions::default() };
    let (intervals, compared) = intervals(&per_question, baseline.as_ref().zip(args.baseline.as_deref()), &bootstrap)?;
    let mean_of = |pick: fn(&QuestionScores) -> Option<f64>| {
        per_question.iter().map(pick).sum::<Option<f64>>().map(|total| total / per_question.len() as f64)
    };
    Ok(RetrievalReport {
        queries: scores.queries,
        without_results: scores.without_results,
        ranking: scores.mean,
        exact_match: mean_of(|q| q.exact_match),
        f1: mean_of(|q| q.f1),
        intervals,
        compared,
    })
}

/// Reads a --per-question file, naming the line of a bad record.
fn read_per_question(path: &Path) -> Result<Vec<QuestionScores>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the baseline {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| {
                format!("{} line {}: not a --per-question record of `albert evaluate --task retrieval`", path.display(), i + 1)
            })
        })
        .collect()
}

/// The bootstrap interval of each of `run`'s means and, with a baseline (its records and file), of each difference
/// of means over the metrics both have, from the same resamples of the questions (so the differences are paired).
/// The baseline must hold exactly the run's questions.
fn intervals(
    run: &[QuestionScores],
    baseline: Option<(&Vec<QuestionScores>, &Path)>,
    opts: &BootstrapOptions,
) -> Result<(BTreeMap<String, Interval>, Option<Comparison>)> {
    let names: Vec<&'static str> = run.first().map(|q| q.metrics().into_iter().map(|(n, _)| n).collect()).unwrap_or_default();
    // columns[m][question]: the run's metrics, then the differences.
    let mut columns: Vec<Vec<f64>> = names.iter().map(|_| Vec::with_capacity(run.len())).collect();
    let mut compared_names = Vec::new();
    if let Some((base, path)) = baseline {
        let by_id: HashMap<&str, &QuestionScores> = base.iter().map(|q| (q.id.as_str(), q)).collect();
        if let Some(missing) = run.iter().find(|q| !by_id.contains_key(q.id.as_str())) {
            anyhow::bail!("the baseline {} has no question {} (it holds {} questions, this run {})", path.display(), missing.id, base.len(), run.len());
        }
        anyhow::ensure!(
            by_id.len() == run.len(),
            "the baseline {} holds {} questions, this run {}: compare runs over the same questions",
            path.display(),
            by_id.len(),
            run.len()
        );
        let theirs: Vec<&str> = base.first().map(|q| q.metrics().into_iter().map(|(n, _)| n).collect()).unwrap_or_default();
        compared_names = names.iter().copied().filter(|n| theirs.contains(n)).collect();
        let mut differences: Vec<Vec<f64>> = compared_names.iter().map(|_| Vec::with_capacity(run.len())).collect();
        for q in run {
            let other: HashMap<&str, f64> = by_id[q.id.as_str()].metrics().into_iter().collect();
            let ours: HashMap<&str, f64> = q.metrics().into_iter().collect();
            for (column, name) in differences.iter_mut().zip(&compared_names) {
                let base_value = other.get(name).with_context(|| format!("the baseline's question {} has no {name}", q.id))?;
                column.push(ours[name] - base_value);
            }
        }
        columns.extend(differences);
    }
    for q in run {
        for (column, (_, value)) in columns.iter_mut().zip(q.metrics()) {
            column.push(value);
        }
    }
    let mean_over = |column: &[f64], draw: &[usize]| draw.iter().map(|&i| column[i]).sum::<f64>() / draw.len() as f64;
    let mut found = percentile_bootstrap(run.len(), opts, |draw| columns.iter().map(|c| mean_over(c, draw)).collect())?.into_iter();
    let own: BTreeMap<String, Interval> = names.iter().map(|n| (n.to_string(), found.next().expect("one per column"))).collect();
    let compared = baseline.map(|(_, path)| Comparison {
        baseline: path.to_path_buf(),
        differences: compared_names
            .iter()
            .zip(&columns[names.len()..])
            .zip(found)
            .map(|((n, column), interval)| {
                (n.to_string(), Difference { difference: column.iter().sum::<f64>() / column.len() as f64, interval })
            })
            .collect(),
    });
    Ok((own, compared))
}
