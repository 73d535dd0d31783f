//! Search: BM25, dense (the embedder's vectors), or both fused by reciprocal rank; then, optionally, the best
//! candidates reranked by a sequence-pair classifier.

use std::collections::HashMap;
use std::str::FromStr;

use serde::Serialize;

use crate::embedder::Embedder;
use crate::error::{Result, SearchError};
use crate::index::Index;
use crate::passage::Passage;
use crate::rerank::Reranker;

/// Reciprocal rank fusion's constant: a passage at rank r (from 1) of a list adds `1 / (RRF_K + r)` (Cormack,
/// Clarke and Büttcher, 2009).
pub const RRF_K: f32 = 60.0;

/// How passages are found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Lexical: BM25 over titles and texts.
    Bm25,
    /// Semantic: nearest passage vectors to the query's (cosine).
    Dense,
    /// Both lists fused by reciprocal rank (k = 60).
    #[default]
    Hybrid,
}

impl SearchMode {
    /// The spellings `FromStr` accepts.
    pub const NAMES: [&'static str; 3] = ["bm25", "dense", "hybrid"];
}

impl FromStr for SearchMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "bm25" => Ok(Self::Bm25),
            "dense" => Ok(Self::Dense),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(format!("unknown search mode {other:?}: use bm25, dense or hybrid")),
        }
    }
}

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Which lists are searched.
    pub mode: SearchMode,
    /// Hits returned.
    pub k: usize,
    /// Candidates taken from each list before fusion (hybrid); at least `k`.
    pub fusion_depth: usize,
    /// Candidates the reranker reads (the best of the mode's ranking), when there is one; at least `k`.
    pub rerank_depth: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self { mode: SearchMode::Hybrid, k: 10, fusion_depth: 100, rerank_depth: 20 }
    }
}

/// The scores a hit got along the way (`None`: not found by, or not run through, that stage).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    /// BM25 score.
    pub bm25: Option<f32>,
    /// Cosine of the query's and the passage's vectors.
    pub dense: Option<f32>,
    /// Reciprocal-rank-fusion score (hybrid).
    pub fused: Option<f32>,
    /// The reranker's relevance score.
    pub rerank: Option<f32>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Rank, from 1.
    pub rank: usize,
    /// The score that ranked it: the reranker's, else the fused, the cosine or the BM25 score by mode.
    pub score: f32,
    /// Every score it got.
    pub scores: Scores,
    /// The passage, with its source and span.
    pub passage: Passage,
    /// Up to 200 characters of the passage around the query's words (its start when none occurs).
    pub snippet: String,
}

/// Fuses ranked lists of ids by reciprocal rank: each id scores `Σ 1 / (RRF_K + rank)` over the lists holding it
/// (ranks from 1); best first, ties by first appearance (list order, then rank).
pub fn reciprocal_rank_fusion(lists: &[&[u64]]) -> Vec<(u64, f32)> {
    let mut scores: Vec<(u64, f32)> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let add = 1.0 / (RRF_K + rank as f32 + 1.0);
            match at.get(id) {
                Some(&i) => scores[i].1 += add,
                None => {
                    at.insert(*id, scores.len());
                    scores.push((*id, add));
                }
            }
        }
    }
    // Stable: equal scores keep their first appearance's order.
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores
}

impl Index {
    /// The best `opts.k` passages for `query`. Dense and hybrid need `embedder` (the index's own: another is
    /// refused); with `reranker`, the best `opts.rerank_depth` candidates are reordered by it.
    pub fn search(
        &self,
        query: &str,
        opts: &SearchOptions,
        embedder: Option<&Embedder>,
        reranker: Option<&Reranker>,
    ) -> Result<Vec<Hit>> {
        if query.trim().is_empty() {
            return Err(SearchError::Input("the query is empty".into()));
        }
        if opts.k == 0 {
            return Err(SearchError::Input("-k must be at least 1".into()));
        }
        let depth = if reranker.is_some() { opts.rerank_depth.max(opts.k) } else { opts.k };
        let mut scores: HashMap<u64, Scores> = HashMap::new();
        let lexical = |n: usize, scores: &mut HashMap<u64, Scores>| -> Result<Vec<u64>> {
            let hits = self.bm25.search(query, n)?;
            Ok(hits.into_iter().map(|(id, s)| (scores.entry(id).or_default().bm25 = Some(s), id).1).collect())
        };
        let dense = |n: usize, scores: &mut HashMap<u64, Scores>| -> Result<Vec<u64>> {
            let embedder = embedder.ok_or_else(|| SearchError::Input("dense and hybrid search need the index's embedder".into()))?;
            self.check_embedder(embedder)?;
            let q = embedder.embed(&[query])?.remove(0);
            let hits = self.vectors.search(&q, n)?;
            Ok(hits.into_iter().map(|(id, s)| (scores.entry(id).or_default().dense = Some(s), id).1).collect())
        };
        let ranked: Vec<(u64, f32)> = match opts.mode {
            SearchMode::Bm25 => lexical(depth, &mut scores)?.into_iter().map(|id| (id, scores[&id].bm25.unwrap_or(0.0))).collect(),
            SearchMode::Dense => dense(depth, &mut scores)?.into_iter().map(|id| (id, scores[&id].dense.unwrap_or(0.0))).collect(),
            SearchMode::Hybrid => {
                let n = opts.fusion_depth.max(depth);
                let (a, b) = (lexical(n, &mut scores)?, dense(n, &mut scores)?);
                let mut fused = reciprocal_rank_fusion(&[&a, &b]);
                fused.truncate(depth);
                for (id, s) in &fused {
                    scores.entry(*id).or_default().fused = Some(*s);
                }
                fused
            }
        };
        let ids: Vec<u64> = ranked.iter().map(|(id, _)| *id).collect();
        let passages = self.bm25.passages(&ids, query)?;
        let mut hits: Vec<Hit> = passages
            .into_iter()
            .zip(&ranked)
            .map(|((passage, snippet), (id, score))| Hit { rank: 0, score: *score, scores: scores[id], passage, snippet })
            .collect();
        if let Some(reranker) = reranker {
            let texts: Vec<&str> = hits.iter().map(|h| h.passage.text.as_str()).collect();
            let relevance = reranker.score(query, &texts)?;
            for (hit, s) in hits.iter_mut().zip(relevance) {
                hit.scores.rerank = Some(s);
                hit.score = s;
            }
            // Stable: equal relevance keeps the first stage's order.
            hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        }
        hits.truncate(opts.k);
        for (i, h) in hits.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed: a is 1st in list 1 and 2nd in list 2: 1/61 + 1/62; b is 2nd then 1st: the same sum, and
    /// comes after a (first seen later); c only 3rd in list 1: 1/63.
    #[test]
    fn fusion_sums_reciprocal_ranks() {
        let got = reciprocal_rank_fusion(&[&[1, 2, 3], &[2, 1]]);
        let ids: Vec<u64> = got.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!((got[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-7);
        assert!((got[1].1 - got[0].1).abs() < 1e-7);
        assert!((got[2].1 - 1.0 / 63.0).abs() < 1e-7);
        // Found by both lists beats first in one: 1/62 + 1/61 > 1/61.
        let got = reciprocal_rank_fusion(&[&[5, 0], &[0]]);
        assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [0, 5]);
        assert!(reciprocal_rank_fusion(&[]).is_empty());
    }

    #[test]
    fn modes_parse_in_any_case() {
        assert_eq!("BM25".parse::<SearchMode>(), Ok(SearchMode::Bm25));
        assert_eq!("hybrid".parse::<SearchMode>(), Ok(SearchMode::Hybrid));
        assert!("sparse".parse::<SearchMode>().unwrap_err().contains("bm25, dense or hybrid"));
    }
}
