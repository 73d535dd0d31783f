//! What runs around every route: readiness, `GET /metrics`, request ids and logs, the request timeout and the
//! per-route counts.
//!
//! - Readiness: the server listens at once and loads its models behind; until every model is prepared `GET /health`
//!   (and every other route) answers 503 `Unhealthy`, as TEI's `/health` does while it is not ready, and `GET /ping`
//!   answers 200 (the process is alive). `/metrics` answers throughout.
//! - Every answer carries `x-request-id`: the request's own header when it sent a usable one (1 to 128 visible ASCII
//!   characters), else a new id; the request's log lines (`tracing`) carry it in their span.
//! - `--request-timeout`: a request not answered in time is cancelled (its queued rows are dropped) and answered 503
//!   with TEI's error type `Overloaded` (OpenAI's error shape on `/v1/*`).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;
use tracing::Instrument;

use crate::error::{ApiError, ErrorType};
use crate::metrics::{Failure, Metrics};

/// The response header that names the request.
pub const REQUEST_ID: &str = "x-request-id";

/// The routes once loaded, shared with the service that answers before.
pub type Ready = Arc<OnceLock<Router>>;

struct Ops {
    metrics: Arc<Metrics>,
    timeout: Option<Duration>,
    ready: Ready,
    /// New ids: a random prefix per process and a count.
    prefix: u32,
    next: AtomicU64,
}

/// A server's whole service: `/metrics`, and every route of `ready`'s router once it is set (503 before), each
/// request logged under its id, timed out after `timeout`, counted by route.
pub fn service(ready: Ready, metrics: Arc<Metrics>, timeout: Option<Duration>) -> Router {
    // RandomState is seeded from the OS: a prefix that differs between runs without a dependency.
    let prefix = std::collections::hash_map::RandomState::new().build_hasher().finish() as u32;
    let ops = Arc::new(Ops { metrics, timeout, ready, prefix, next: AtomicU64::new(0) });
    Router::new()
        .route("/metrics", get(render))
        .fallback(forward)
        .layer(axum::middleware::from_fn_with_state(ops.clone(), observe))
        .with_state(ops)
}

/// The routes' router, each answer tagged with the route that answered it (for the per-route counts).
pub fn tagged(routes: Router) -> Router {
    routes.route_layer(axum::middleware::from_fn(tag_route))
}

async fn tag_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

async fn render(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], ops.metrics.render())
}

/// Hands the request to the routes once they are ready; before, `/ping` is alive and the rest is unhealthy.
async fn forward(State(ops): State<Arc<Ops>>, req: Request) -> Response {
    match ops.ready.get() {
        Some(routes) => routes.clone().oneshot(req).await.unwrap_or_else(|never| match never {}),
        None if req.uri().path() == "/ping" => StatusCode::OK.into_response(),
        None => ApiError::new(ErrorType::Unhealthy, "the models are still loading; try again when /health answers 200")
            .into_response(),
    }
}

/// The request's id, log lines, timeout and counts.
async fn observe(State(ops): State<Arc<Ops>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = given_id(req.headers()).unwrap_or_else(|| ops.new_id());
    let path = req.uri().path().to_string();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %path);
    let run = next.run(req).instrument(span.clone());
    let (mut response, timed_out) = match ops.timeout {
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(response) => (response, false),
            Err(_) => (timeout_answer(limit, path.starts_with("/v1/")), true),
        },
        None => (run.await, false),
    };
    let status = response.status();
    let failure = match (timed_out, response.extensions().get::<ErrorType>()) {
        (true, _) => Some(Failure::Timeout),
        (false, Some(&error_type)) => Some(Failure::Error(error_type)),
        (false, None) => None,
    };
    // Counted by the route that answered; a timed-out request's route is its path (only routes take long).
    let route = response.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    if let Some(route) = route.or_else(|| timed_out.then(|| path.clone())) {
        ops.metrics.answered(&route, started.elapsed().as_secs_f64(), failure);
    }
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    span.in_scope(|| match status.is_server_error() {
        true => tracing::warn!(status = status.as_u16(), latency_ms, "answered"),
        false => tracing::info!(status = status.as_u16(), latency_ms, "answered"),
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

impl Ops {
    fn new_id(&self) -> String {
        format!("{:08x}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// The id a request sent in `x-request-id`, when usable: 1 to 128 visible ASCII characters.
fn given_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let usable = (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_string())
}

/// The answer to a request cut by `--request-timeout`.
fn timeout_answer(limit: Duration, openai: bool) -> Response {
    let error = ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error_type: ErrorType::Overloaded,
        message: format!("the request was not answered within the server's --request-timeout ({limit:?}) and was cancelled"),
    };
    match openai {
        true => error.openai().into_response(),
        false => error.into_response(),
    }
}
