//! Ranking metrics as trec_eval 9 (and pytrec_eval over it) computes them: `recall_1`, `recall_5`, `recall_20`,
//! `ndcg_cut_10`, and the reciprocal rank within the first 10 documents (MRR@10; trec_eval's `recip_rank` on a
//! run cut to 10). Open-domain EM / F1 are SQuAD v1.1's ([`super::squad::evaluate_v1`]).
//!
//! trec_eval's conventions, kept here: a run is ordered by score, highest first, ties broken by document id in
//! decreasing string order (whatever order the documents came in); a document is relevant when its judgment is at
//! least 1; nDCG's gain is the judgment itself, discounted by `log2(rank + 1)`, over the ideal ordering of the
//! judged documents; a query with no relevant document scores 0. Means are taken over every query of the qrels
//! (`trec_eval -c`): a query without results scores 0, a query the qrels do not judge is ignored.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::MetricError;

/// Judgments: query id -> document id -> relevance (0 not relevant; 1, 2, ... graded).
pub type Qrels = BTreeMap<String, HashMap<String, i32>>;

/// Results: query id -> (document id, score) in any order.
pub type Run = BTreeMap<String, Vec<(String, f64)>>;

/// One query's metrics, fractions in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct QueryScores {
    /// Relevant documents in the first 1, over all relevant documents.
    pub recall_1: f64,
    /// Relevant documents in the first 5, over all relevant documents.
    pub recall_5: f64,
    /// Relevant documents in the first 20, over all relevant documents.
    pub recall_20: f64,
    /// 1 / rank of the first relevant document within the first 10, else 0.
    pub mrr_10: f64,
    /// DCG of the first 10 over the ideal DCG of the judgments.
    pub ndcg_10: f64,
}

/// The means over the queries of the qrels, and each query's scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrievalScores {
    /// Mean of each metric over [`RetrievalScores::queries`] queries.
    pub mean: QueryScores,
    /// Queries averaged over (every query of the qrels).
    pub queries: usize,
    /// Queries of the qrels that the run has no result for (each scored 0).
    pub without_results: usize,
    /// Each query's scores, by query id (`trec_eval -q`).
    pub per_query: BTreeMap<String, QueryScores>,
}

/// `ranked` in trec_eval's order: score descending, then document id descending.
fn trec_order(ranked: &[(String, f64)]) -> Vec<&(String, f64)> {
    let mut order: Vec<&(String, f64)> = ranked.iter().collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    order
}

/// Scores one query's results against its judgments. Refuses a document listed twice (as trec_eval does) and a
/// score that is not finite.
pub fn score_query(
    query: &str,
    judgments: &HashMap<String, i32>,
    ranked: &[(String, f64)],
) -> Result<QueryScores, MetricError> {
    let mut seen = HashSet::new();
    for (doc, score) in ranked {
        if !seen.insert(doc.as_str()) {
            return Err(MetricError::DuplicateDocument { query: query.to_string(), document: doc.clone() });
        }
        if !score.is_finite() {
            return Err(MetricError::NonFiniteScore { query: query.to_string(), document: doc.clone() });
        }
    }
    let relevance = |doc: &str| judgments.get(doc).copied().unwrap_or(0);
    let relevant = judgments.values().filter(|&&r| r >= 1).count();
    if relevant == 0 {
        return Ok(QueryScores::default());
    }
    let order = trec_order(ranked);
    let found_within = |k: usize| order.iter().take(k).filter(|(d, _)| relevance(d) >= 1).count() as f64;
    let mrr_10 = order.iter().take(10).position(|(d, _)| relevance(d) >= 1).map_or(0.0, |i| 1.0 / (i + 1) as f64);
    let dcg = |gains: &mut dyn Iterator<Item = i32>| -> f64 {
        gains.take(10).enumerate().filter(|&(_, g)| g > 0).map(|(i, g)| f64::from(g) / ((i + 2) as f64).log2()).sum()
    };
    let mut ideal: Vec<i32> = judgments.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let ndcg_10 = dcg(&mut order.iter().map(|(d, _)| relevance(d))) / dcg(&mut ideal.into_iter());
    Ok(QueryScores {
        recall_1: found_within(1) / relevant as f64,
        recall_5: found_within(5) / relevant as f64,
        recall_20: found_within(20) / relevant as f64,
        mrr_10,
        ndcg_10,
    })
}

/// Scores a run against qrels: each query of the qrels, averaged (see the module's conventions).
pub fn evaluate(qrels: &Qrels, run: &Run) -> Result<RetrievalScores, MetricError> {
    if qrels.is_empty() {
        return Err(MetricError::Empty);
    }
    let mut per_query = BTreeMap::new();
    let mut without_results = 0;
    for (query, judgments) in qrels {
        let scores = match run.get(query).filter(|r| !r.is_empty()) {
            Some(ranked) => score_query(query, judgments, ranked)?,
            None => {
                without_results += 1;
                QueryScores::default()
            }
        };
        per_query.insert(query.clone(), scores);
    }
    let n = qrels.len() as f64;
    let mean_of = |metric: fn(&QueryScores) -> f64| per_query.values().map(metric).sum::<f64>() / n;
    let mean = QueryScores {
        recall_1: mean_of(|s| s.recall_1),
        recall_5: mean_of(|s| s.recall_5),
        recall_20: mean_of(|s| s.recall_20),
        mrr_10: mean_of(|s| s.mrr_10),
        ndcg_10: mean_of(|s| s.ndcg_10),
    };
    Ok(RetrievalScores { mean, queries: qrels.len(), without_results, per_query })
}

/// Reads TREC qrels lines, `query iteration document relevance` (whitespace-separated; the iteration is
/// ignored). A line of another shape or a relevance that is not an integer is refused, naming the line.
pub fn parse_qrels(text: &str) -> Result<Qrels, MetricError> {
    let mut qrels = Qrels::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |message: &str| MetricError::Format { line: i + 1, message: format!("{message}: {line:?}") };
        let [query, _, doc, rel] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            return Err(bad("a qrels line is `query iteration document relevance`"));
        };
        let rel: i32 = rel.parse().map_err(|_| bad("the relevance should be an integer"))?;
        qrels.entry(query.to_string()).or_default().insert(doc.to_string(), rel);
    }
    Ok(qrels)
}

/// Reads TREC run lines, `query Q0 document rank score tag` (the `Q0`, rank and tag are ignored, as trec_eval
/// ignores them). A line of another shape or a score that is not a finite number is refused, naming the line.
pub fn parse_run(text: &str) -> Result<Run, MetricError> {
    let mut run = Run::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |message: &str| MetricError::Format { line: i + 1, message: format!("{message}: {line:?}") };
        let [query, _, doc, _, score, _] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            return Err(bad("a run line is `query Q0 document rank score tag`"));
        };
        let score: f64 = score.parse().ok().filter(|s: &f64| s.is_finite()).ok_or_else(|| bad("the score should be a number"))?;
        run.entry(query.to_string()).or_default().push((doc.to_string(), score));
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, i32)]) -> HashMap<String, i32> {
        pairs.iter().map(|&(d, r)| (d.to_string(), r)).collect()
    }

    fn ranked(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
        pairs.iter().map(|&(d, s)| (d.to_string(), s)).collect()
    }

    /// Worked by hand: d4 0.9, d3 0.7, then the tie at 0.5 in decreasing id order, d2 before d1.
    #[test]
    fn ties_are_broken_by_decreasing_document_id() {
        let s = score_query("q", &judged(&[("d1", 1), ("d2", 2), ("d3", 0)]), &ranked(&[("d1", 0.5), ("d2", 0.5), ("d4", 0.9), ("d3", 0.7)]))
            .unwrap();
        assert_eq!(s.mrr_10, 1.0 / 3.0);
        assert_eq!((s.recall_1, s.recall_5), (0.0, 1.0));
        // (2 / log2 4 + 1 / log2 5) / (2 / log2 2 + 1 / log2 3)
        let want = (2.0 / 4f64.log2() + 1.0 / 5f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((s.ndcg_10 - want).abs() < 1e-15);
    }

    #[test]
    fn duplicates_and_malformed_lines_are_named() {
        let err = score_query("q7", &judged(&[("d1", 1)]), &ranked(&[("d1", 1.0), ("d1", 0.5)])).unwrap_err();
        assert_eq!(err.to_string(), "query q7 lists document d1 twice");
        let err = parse_run("q1 Q0 d1 1 0.5 tag\nq1 Q0 d2 2 high tag\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("score"), "{err}");
        let err = parse_qrels("q1 0 d1\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("query iteration document relevance"), "{err}");
    }
}
