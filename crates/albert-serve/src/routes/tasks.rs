//! The tasks TEI does not serve, in its style (`inputs`, `truncate`, `model`; one result for one input, a list for
//! a batch; TEI's errors): `POST /fill-mask`, `POST /qa`, `POST /ner`. Each answer is the pipeline's typed result
//! as `albert fill-mask`, `qa` and `ner --json` print it.

use albert::pipeline::fill_mask::{self, FillMask};
use albert::pipeline::ner::{self, Aggregation, Entities};
use albert::pipeline::qa::{self, Answer, QaOptions};
use albert::pipeline::{PerInput, PipelineModel, PipelineOptions, Task};
use axum::extract::State as AxumState;
use axum::Json;
use serde::Deserialize;

use super::{options, Body, OneOrMany, State, Texts, TruncationDirection, TruncationRequest};
use crate::error::ApiError;
use crate::state::AppState;

fn five() -> usize {
    5
}

/// `POST /fill-mask`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct FillMaskRequest {
    /// Texts holding `[MASK]`, and how to run them.
    #[serde(flatten)]
    texts: TextsRequest,
    /// Candidates per mask (5, as transformers).
    #[serde(default = "five")]
    top_k: usize,
}

/// `POST /fill-mask`: per text, the candidates of each mask.
pub(crate) async fn fill_mask(
    AxumState(state): State,
    Body(req): Body<FillMaskRequest>,
) -> Result<Json<OneOrMany<FillMask>>, ApiError> {
    let top_k = req.top_k;
    per_text(&state, Task::FillMask, req.texts, move |pipeline, refs, opts| fill_mask::fill_mask_each(pipeline, refs, top_k, opts), |r| {
        r.truncated
    })
    .await
}

/// `POST /ner`'s body.
#[derive(Debug, Deserialize)]
pub(crate) struct NerRequest {
    /// Texts, and how to run them.
    #[serde(flatten)]
    texts: TextsRequest,
    /// transformers' `aggregation_strategy`: `first` (the default, as `albert ner`), `average`, `max` or `simple`.
    #[serde(default = "first")]
    aggregation_strategy: String,
}

/// `POST /ner`: per text, its entities.
pub(crate) async fn ner(AxumState(state): State, Body(req): Body<NerRequest>) -> Result<Json<OneOrMany<Entities>>, ApiError> {
    let aggregation: Aggregation =
        req.aggregation_strategy.parse().map_err(|e: String| ApiError::validation(format!("`aggregation_strategy`: {e}")))?;
    per_text(&state, Task::Ner, req.texts, move |pipeline, refs, opts| ner::ner_each(pipeline, refs, aggregation, opts), |r| r.truncated)
        .await
}

/// The fields every per-text route shares.
#[derive(Debug, Deserialize)]
pub(crate) struct TextsRequest {
    inputs: Texts,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default, rename = "truncation_direction")]
    direction: TruncationDirection,
    /// The served model to use.
    #[serde(default)]
    model: Option<String>,
}

/// Runs `each` over the request's texts on the pipeline of `task`, off the async threads: one result for one input, a
/// list for a batch; `truncated` tells which results were cut (an error unless truncation was asked for).
async fn per_text<R: Send + 'static>(
    state: &AppState,
    task: Task,
    req: TextsRequest,
    each: impl Fn(&PipelineModel, &[&str], &PipelineOptions) -> albert::Result<Vec<PerInput<R>>> + Send + 'static,
    truncated: impl Fn(&R) -> bool + Send + 'static,
) -> Result<Json<OneOrMany<R>>, ApiError> {
    let truncation = TruncationRequest::new(req.truncate, req.direction).right_only()?;
    let batch = matches!(req.inputs, Texts::Batch(_));
    let texts: Vec<String> = req.inputs.texts().into_iter().map(str::to_string).collect();
    state.check_batch(texts.len())?;
    let (_, pipeline) = state.pipeline(task, req.model.as_deref())?;
    let opts = options(state);
    let results = state
        .compute(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let results = each(&pipeline, &refs, &opts)?;
            truncation.results(&pipeline, results, &truncated)
        })
        .await?;
    Ok(Json(OneOrMany::shaped(batch, results)))
}

fn first() -> String {
    "first".into()
}

fn one() -> usize {
    1
}

/// `POST /qa`'s body: transformers' question-answering pipeline's parameters (the context of any length is read in
/// windows).
#[derive(Debug, Deserialize)]
pub(crate) struct QaRequest {
    question: String,
    context: String,
    /// Answers wanted, best first (1: one answer; more: a list).
    #[serde(default = "one")]
    top_k: usize,
    /// Let the empty answer (the context does not say) compete with the spans.
    #[serde(default)]
    handle_impossible_answer: bool,
    /// Tokens per window (384).
    #[serde(default)]
    max_seq_len: Option<usize>,
    /// Tokens shared by consecutive windows (128).
    #[serde(default)]
    doc_stride: Option<usize>,
    /// Longest answer in tokens (15).
    #[serde(default)]
    max_answer_len: Option<usize>,
    #[serde(default)]
    model: Option<String>,
}

/// `POST /qa`: the best answer of the context, or the `top_k` best as a list, as `albert qa --json` gives them.
pub(crate) async fn qa(AxumState(state): State, Body(req): Body<QaRequest>) -> Result<Json<OneOrMany<Answer>>, ApiError> {
    if req.top_k == 0 {
        return Err(ApiError::validation("`top_k` should be at least 1"));
    }
    let (_, pipeline) = state.pipeline(Task::QuestionAnswering, req.model.as_deref())?;
    let defaults = QaOptions { batch_size: state.limits.batch_size, ..QaOptions::default() };
    let opts = QaOptions {
        max_length: req.max_seq_len.unwrap_or(defaults.max_length),
        stride: req.doc_stride.unwrap_or(defaults.stride),
        max_answer_length: req.max_answer_len.unwrap_or(defaults.max_answer_length),
        top_k: req.top_k,
        handle_impossible_answer: req.handle_impossible_answer,
        ..defaults
    };
    let answers = state
        .compute(move || {
            let mut answers = qa::answers_each(&pipeline, &[req.question.as_str()], &req.context, &opts)?;
            answers.remove(0).map_err(|e| ApiError::input(0, &e))
        })
        .await?;
    Ok(Json(OneOrMany::shaped(opts.top_k > 1, answers)))
}
