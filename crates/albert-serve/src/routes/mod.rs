//! The router: every route, the JSON bodies they take (refused in the route's error dialect when malformed or too
//! large) and the request shapes several routes share.

mod explain;
mod meta;
mod openai;
mod search;
mod tasks;
mod tei;

use std::sync::Arc;

use albert::pipeline::{PerInput, PipelineModel, PipelineOptions, Task};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, OpenAiError};
use crate::state::AppState;

/// The shared state as handlers take it.
pub(crate) type State = axum::extract::State<Arc<AppState>>;

/// Every route over `state`, request bodies limited to its `payload_limit`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.limits.payload_limit;
    Router::new()
        .route("/", get(meta::health).post(root))
        .route("/health", get(meta::health))
        .route("/ping", get(meta::health))
        .route("/info", get(meta::info))
        .route("/v1/models", get(meta::models))
        .route("/openapi.json", get(openapi))
        .route("/embed", post(tei::embed))
        .route("/predict", post(tei::predict))
        .route("/tokenize", post(tei::tokenize))
        .route("/decode", post(tei::decode))
        .route("/embed_all", post(tei::embed_all))
        .route("/similarity", post(tei::similarity))
        .route("/rerank", post(tei::rerank))
        .route("/v1/embeddings", post(openai::embeddings_route))
        .route("/fill-mask", post(tasks::fill_mask))
        .route("/qa", post(tasks::qa))
        .route("/ner", post(tasks::ner))
        .route("/explain", post(explain::explain))
        .route("/search", post(search::search))
        .route("/ask", post(search::ask))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// TEI's `POST /`: the default model's route (`/predict` for a classifier, `/embed` for an encoder, and this
/// server's `/fill-mask`, `/qa` or `/ner` for the other heads).
async fn root(state: State, req: Request) -> Response {
    let task = state.default_model().served_tasks().next();
    match task {
        Some(Task::Classify) => run(tei::predict, state, req).await,
        Some(Task::Embed) | None => run(tei::embed, state, req).await,
        Some(Task::FillMask) => run(tasks::fill_mask, state, req).await,
        Some(Task::QuestionAnswering) => run(tasks::qa, state, req).await,
        Some(Task::Ner) => run(tasks::ner, state, req).await,
    }
}

/// Calls the handler `route` with the body of `req` (refused in TEI's shape as the route itself would).
async fn run<T, R, F>(route: impl FnOnce(State, Body<T>) -> F, state: State, req: Request) -> Response
where
    Json<T>: FromRequest<(), Rejection = JsonRejection>,
    F: std::future::Future<Output = Result<R, ApiError>>,
    R: IntoResponse,
{
    match Body::<T>::from_request(req, &()).await {
        Ok(body) => route(state, body).await.into_response(),
        Err(e) => e.into_response(),
    }
}

/// This server's OpenAPI document, written for its routes (TEI's schemas for TEI's routes); the tests validate every
/// answer against it.
async fn openapi() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json"))
}

/// Refuses (401) a request without the server's API key, except the health checks (`GET /health`, `/ping`, `/`),
/// as TEI keeps them public.
async fn authorize(state: State, req: Request, next: axum::middleware::Next) -> Response {
    let public = req.method() == axum::http::Method::GET && matches!(req.uri().path(), "/health" | "/ping" | "/");
    let header = req.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.as_bytes());
    if public || state.authorized(header) {
        return next.run(req).await;
    }
    let error = ApiError::with_status(StatusCode::UNAUTHORIZED, "this server needs `Authorization: Bearer <api key>`");
    in_dialect(req.uri(), error)
}

/// `error` in the dialect of the route `uri` names: OpenAI's under `/v1/`, TEI's elsewhere.
fn in_dialect(uri: &axum::http::Uri, error: ApiError) -> Response {
    match uri.path().starts_with("/v1/") {
        true => error.openai().into_response(),
        false => error.into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    in_dialect(&uri, ApiError::with_status(StatusCode::NOT_FOUND, format!("no route {}", uri.path())))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    in_dialect(&uri, ApiError::with_status(StatusCode::METHOD_NOT_ALLOWED, format!("{} does not take {method}", uri.path())))
}

/// A malformed, mistyped or too large body, with axum's status (400 bad JSON, 413 too large, 415 not JSON, 422 a
/// field of the wrong type) and its message, which names the field and where the body went wrong.
fn body_error(rejection: JsonRejection) -> ApiError {
    ApiError::with_status(rejection.status(), rejection.body_text())
}

/// A JSON body whose rejection is answered in TEI's error shape.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state).await.map(|Json(t)| Body(t)).map_err(body_error)
    }
}

/// A JSON body whose rejection is answered in OpenAI's error shape.
pub(crate) struct OpenAiBody<T>(pub T);

impl<S: Send + Sync, T> FromRequest<S> for OpenAiBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
{
    type Rejection = OpenAiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OpenAiError> {
        Json::<T>::from_request(req, state).await.map(|Json(t)| OpenAiBody(t)).map_err(|r| body_error(r).openai())
    }
}

/// One text or a batch of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Texts {
    /// One text: answered with one result.
    Single(String),
    /// A batch: answered with a list.
    Batch(Vec<String>),
}

impl Texts {
    fn texts(&self) -> Vec<&str> {
        match self {
            Texts::Single(t) => vec![t.as_str()],
            Texts::Batch(b) => b.iter().map(String::as_str).collect(),
        }
    }
}

/// One result for a single input, a list for a batch, as TEI answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    /// The answer to a single input.
    One(T),
    /// The answers to a batch, in order.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The results shaped as the inputs were: `batch` gives a list.
    fn shaped(batch: bool, mut results: Vec<T>) -> Self {
        match (batch, results.len()) {
            (false, 1) => OneOrMany::One(results.remove(0)),
            _ => OneOrMany::Many(results),
        }
    }
}

/// TEI's `truncation_direction`: which end of an over-long input is cut (with `truncate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) enum TruncationDirection {
    /// Drop tokens from the start.
    #[serde(alias = "left")]
    Left,
    /// Drop tokens from the end.
    #[serde(alias = "right")]
    #[default]
    Right,
}

impl From<TruncationDirection> for albert::tokenizer::TruncationDirection {
    fn from(d: TruncationDirection) -> Self {
        match d {
            TruncationDirection::Left => Self::Left,
            TruncationDirection::Right => Self::Right,
        }
    }
}

/// TEI's `truncate` and `truncation_direction`: over-long inputs are refused unless `truncate` is true (TEI's
/// default without `--auto-truncate`), and then cut from `direction`'s end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TruncationRequest {
    truncate: bool,
    /// The end that loses tokens.
    pub(crate) direction: albert::tokenizer::TruncationDirection,
}

impl TruncationRequest {
    pub(crate) fn new(truncate: Option<bool>, direction: TruncationDirection) -> Self {
        Self { truncate: truncate.unwrap_or(false), direction: direction.into() }
    }

    /// This request, refused when it asks to cut from the left on a route whose pipeline keeps a text's start
    /// (fill-mask, ner: their answers are offsets into the text from its start).
    pub(crate) fn right_only(self) -> Result<Self, ApiError> {
        match self.direction {
            albert::tokenizer::TruncationDirection::Left => {
                Err(ApiError::validation("`truncation_direction` Left is not served on this route; inputs are cut at the end"))
            }
            albert::tokenizer::TruncationDirection::Right => Ok(self),
        }
    }

    /// Each result, or the request's error: the first input that failed, or (unless truncation was asked for) the
    /// first that was cut to the model's maximum length.
    pub(crate) fn results<T>(
        self,
        model: &PipelineModel,
        results: Vec<PerInput<T>>,
        truncated: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, ApiError> {
        results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let r = r.map_err(|e| ApiError::input(i, &e))?;
                if truncated(&r) && !self.truncate {
                    let max = model.max_length(None)?;
                    return Err(ApiError::validation(format!(
                        "input {i} is longer than the model's {max} tokens; pass \"truncate\": true to cut it"
                    )));
                }
                Ok(r)
            })
            .collect()
    }
}

/// The pipelines' run settings under `state`'s limits.
pub(crate) fn options(state: &AppState) -> PipelineOptions {
    PipelineOptions { max_length: None, batch_size: state.limits.batch_size }
}
