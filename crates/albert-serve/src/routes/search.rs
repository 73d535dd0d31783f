//! `POST /search` and `POST /ask` over the indexes of `--index NAME=PATH` (`albert_search`), in TEI's style: a
//! request names its index as it names a model (`"index"`, else the first), and its reranker and reader among the
//! served models. The answers are what `albert search --json` and `albert ask --json` give (`/search` less the timing
//! and the query it echoes); retrieval (query vectors, BM25, the vector index) runs on the compute pool, reranking and
//! reading through the models' batchers.

use std::sync::{Arc, OnceLock};

use albert::pipeline::qa::QaOptions;
use albert::pipeline::Task;
use albert_search::ask::{self, AskSettings, Reply};
use albert_search::{Hit, Reranker, SearchError, SearchMode, SearchOptions};
use axum::extract::State as AxumState;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{Body, State};
use crate::error::{ApiError, ErrorType};
use crate::state::{AppState, ServedIndex};

/// Most hits, candidates or passages one request may ask for.
const MAX_DEPTH: usize = 1000;

/// The retrieval fields `/search` and `/ask` share (`albert search`'s options).
#[derive(Debug, Deserialize)]
pub(crate) struct Retrieval {
    /// The served index (the first by default).
    #[serde(default)]
    index: Option<String>,
    /// `bm25`, `dense` or `hybrid` (the default).
    #[serde(default)]
    mode: Option<String>,
    /// A served sequence classifier that reorders the best candidates.
    #[serde(default)]
    rerank: Option<String>,
    /// Candidates the reranker reads (20).
    #[serde(default)]
    rerank_depth: Option<usize>,
    /// Candidates taken from each list before hybrid fusion (100).
    #[serde(default)]
    fusion_depth: Option<usize>,
}

/// What a retrieval runs: the index, its options (`k` hits) and the reranker.
struct Retriever {
    index: Arc<ServedIndex>,
    opts: SearchOptions,
    reranker: Option<Reranker>,
    /// The reranker's model as named, and its relevance label.
    rerank: Option<RerankerInfo>,
}

/// The reranker of an answer, as `albert search --json` names it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RerankerInfo {
    model: String,
    label: String,
}

impl Retrieval {
    /// The retrieval of `k` hits (asked for by the field `k_field`) these fields ask for, or the 4xx that names
    /// what is wrong.
    fn retriever(&self, state: &AppState, k: usize, k_field: &str) -> Result<Retriever, ApiError> {
        let defaults = SearchOptions::default();
        let mode = match &self.mode {
            Some(m) => m.parse::<SearchMode>().map_err(|e| ApiError::validation(format!("`mode`: {e}")))?,
            None => defaults.mode,
        };
        let opts = SearchOptions {
            mode,
            k,
            fusion_depth: self.fusion_depth.unwrap_or(defaults.fusion_depth),
            rerank_depth: self.rerank_depth.unwrap_or(defaults.rerank_depth),
        };
        for (name, n) in [(k_field, opts.k), ("`fusion_depth`", opts.fusion_depth), ("`rerank_depth`", opts.rerank_depth)] {
            if n == 0 || n > MAX_DEPTH {
                return Err(ApiError::validation(format!("{name} should be between 1 and {MAX_DEPTH}")));
            }
        }
        let index = state.index(self.index.as_deref())?;
        let (reranker, rerank) = match &self.rerank {
            Some(name) => {
                let (_, pipeline) = state.pipeline(Task::Classify, Some(name))?;
                let reranker = Reranker::shared(pipeline).map_err(search_error)?;
                let info = RerankerInfo { model: name.clone(), label: reranker.label().to_string() };
                (Some(reranker), Some(info))
            }
            None => (None, None),
        };
        Ok(Retriever { index, opts, reranker, rerank })
    }
}

impl Retriever {
    /// The hits for `query`, retrieved on the compute pool (reranked through the reranker's batcher).
    fn search(&self, state: &AppState, query: &str) -> Result<Vec<Hit>, ApiError> {
        let index = &self.index;
        state
            .on_compute_pool(|| index.index.search(query, &self.opts, Some(&index.embedder), self.reranker.as_ref()))
            .map_err(search_error)
    }
}

/// A failure of the search library in TEI's terms: the request's (422) or the model's and the index's (424).
fn search_error(e: SearchError) -> ApiError {
    match e {
        SearchError::Input(message) => ApiError::validation(message),
        SearchError::Model(e) => e.into(),
        other => ApiError::new(ErrorType::Backend, other.to_string()),
    }
}

fn ten() -> usize {
    SearchOptions::default().k
}

/// `POST /search`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchRequest {
    /// The query.
    query: String,
    /// Hits wanted (10).
    #[serde(default = "ten")]
    k: usize,
    #[serde(flatten)]
    retrieval: Retrieval,
}

/// `POST /search`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct SearchResponse {
    index: String,
    mode: SearchMode,
    reranker: Option<RerankerInfo>,
    hits: Vec<Hit>,
}

/// `POST /search`: the best passages of the index for the query, as `albert search --json` gives them.
pub(crate) async fn search(AxumState(state): State, Body(req): Body<SearchRequest>) -> Result<Json<SearchResponse>, ApiError> {
    if req.query.trim().is_empty() {
        return Err(ApiError::new(ErrorType::Empty, "`query` cannot be empty"));
    }
    let retriever = req.retrieval.retriever(&state, req.k, "`k`")?;
    let shared = state.clone();
    state
        .compute(move || {
            let hits = retriever.search(&shared, &req.query)?;
            let (index, reranker) = (retriever.index.name.clone(), retriever.rerank.clone());
            Ok(Json(SearchResponse { index, mode: retriever.opts.mode, reranker, hits }))
        })
        .await
}

fn five() -> usize {
    5
}

fn threshold() -> f32 {
    ask::DEFAULT_THRESHOLD
}

fn three() -> usize {
    3
}

fn thirty() -> usize {
    30
}

/// `POST /ask`'s body: `albert ask`'s options; a conversation's previous turns come with the question.
#[derive(Debug, Deserialize)]
pub(crate) struct AskRequest {
    /// The question.
    question: String,
    /// The served question-answering model that reads the passages (the first by default).
    #[serde(default)]
    model: Option<String>,
    /// Passages read, the best of the retrieval (5).
    #[serde(default = "five")]
    passages: usize,
    /// Lowest reader score (start x end probability) taken as an answer (`albert ask`'s default, 0.1: calibrated
    /// for the built-in reader, see [`ask::DEFAULT_THRESHOLD`]).
    #[serde(default = "threshold")]
    threshold: f32,
    /// Runner-up answers (3).
    #[serde(default = "three")]
    runner_ups: usize,
    /// Longest answer in tokens (30).
    #[serde(default = "thirty")]
    max_answer_length: usize,
    /// The conversation so far, `[question, answer]` pairs, oldest first: the question is read after them, as
    /// `albert ask --chat` reads a follow-up.
    #[serde(default)]
    history: Vec<(String, String)>,
    #[serde(flatten)]
    retrieval: Retrieval,
}

/// `POST /ask`: the answer to the question from the index's passages, with its source, as `albert ask --json`
/// gives it (`answer` null when the documents do not hold one).
pub(crate) async fn ask(AxumState(state): State, Body(req): Body<AskRequest>) -> Result<Json<Reply>, ApiError> {
    if req.question.trim().is_empty() {
        return Err(ApiError::new(ErrorType::Empty, "`question` cannot be empty"));
    }
    if !(0.0..=1.0).contains(&req.threshold) {
        return Err(ApiError::validation(format!("`threshold` {} should be a probability, between 0 and 1", req.threshold)));
    }
    if req.max_answer_length == 0 {
        return Err(ApiError::validation("`max_answer_length` should be at least 1"));
    }
    let retriever = req.retrieval.retriever(&state, req.passages, "`passages`")?;
    let (_, reader) = state.pipeline(Task::QuestionAnswering, req.model.as_deref())?;
    let settings = AskSettings {
        search: retriever.opts,
        qa: QaOptions { max_answer_length: req.max_answer_length, batch_size: state.limits.batch_size, ..QaOptions::default() },
        threshold: req.threshold,
        runner_ups: req.runner_ups,
    };
    let read_as = ask::with_history(&req.history, &req.question, req.history.len());
    // The work runs again after each forward pass it waits for: the retrieval is kept from its first run.
    let retrieved: OnceLock<Vec<Hit>> = OnceLock::new();
    let shared = state.clone();
    state
        .compute(move || {
            let hits = match retrieved.get() {
                Some(hits) => hits,
                None => {
                    let hits = retriever.search(&shared, &read_as)?;
                    retrieved.get_or_init(|| hits)
                }
            };
            let reply = ask::read(&reader, &settings, &req.question, read_as.clone(), hits).map_err(search_error)?;
            Ok(Json(reply))
        })
        .await
}
