//! `albert serve`: ALBERT's pipelines over HTTP, in Text Embeddings Inference's (TEI) and OpenAI's dialects.
//!
//! - [`state`]: the served models, loaded and prepared once at start ([`AppState::load`]), each named, each serving
//!   the tasks its head fits; request limits; admission (429 when full).
//! - [`batcher`]: dynamic batching as TEI does it: one queue per served pipeline, forward passes packed up to a
//!   token budget across requests on a compute pool of their own, each request handed back its rows.
//! - [`routes`]: TEI's `/embed`, `/predict`, `/rerank`, `/similarity`, `/embed_all`, `/tokenize`, `/decode`,
//!   `/info`, `/health`, OpenAI's `/v1/embeddings` and `/v1/models`, and `/fill-mask`, `/qa`, `/ner`, `/explain` in
//!   TEI's style; `/search` and `/ask` over the indexes of `albert_search` ([`IndexSpec`]).
//! - [`ops`]: readiness, request ids and logs (`tracing`), `--request-timeout`, per-route counts; [`metrics`]:
//!   Prometheus metrics at `/metrics`, named as TEI's.
//! - [`error`]: TEI's error shape and statuses (OpenAI's on `/v1/*`): every request gets a status and a JSON body.
//!
//! [`run`] listens at once, loads the models behind (`/health` answers 503 until they are ready), and on Ctrl-C or
//! SIGTERM stops accepting, finishes every admitted request and returns. Routes call `albert::pipeline`, never the
//! training crate.

pub mod batcher;
pub mod error;
pub mod metrics;
pub mod ops;
pub mod passes;
pub mod routes;
pub mod state;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use error::{ApiError, ErrorType};
pub use metrics::Metrics;
pub use state::{AppState, IndexSpec, Limits, ModelSpec, ServeConfig, ServedIndex, ServedModel};

/// Why a server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding or serving the socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A model did not load, or the configuration is refused.
    #[error("loading the models: {0}")]
    Load(#[from] albert::Error),
}

/// Every route over `state`, ready at once: what [`run`] serves once the models are loaded, for tests and embedders.
pub fn router(state: Arc<AppState>) -> axum::Router {
    let (metrics, timeout) = (state.metrics.clone(), state.limits.request_timeout);
    ops::service(Arc::new(OnceLock::from(ops::tagged(routes::router(state)))), metrics, timeout)
}

/// Serves `config` on `addr` until Ctrl-C or SIGTERM (see [`serve`]); `ready` is called with the bound address
/// (port 0 picks a free one) once every model is prepared (connections are accepted, and answered 503, before).
pub fn run(config: ServeConfig, addr: SocketAddr, ready: impl FnOnce(SocketAddr) + Send + 'static) -> Result<(), ServeError> {
    // A request holds a blocking thread only while it tokenizes or decodes, never while its rows wait (see
    // `batcher`): tokio's default cap on the blocking pool does not bound the requests in flight.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        tracing::info!(address = %bound, "listening; loading the models");
        serve(listener, config, shutdown_signal(), move || ready(bound)).await
    });
    // Work of requests whose client left may still run; it ends on its own, but exiting need not wait long for it.
    runtime.shutdown_timeout(Duration::from_secs(10));
    result
}

/// Serves `config` on `listener` until `shutdown` resolves: routes answer 503 until every model is loaded and
/// prepared (on a blocking thread, while `/health` and `/metrics` already answer), then `ready` is called; on
/// `shutdown`, the listener closes, every admitted request is answered, and this returns. A model that fails to
/// load ends it with the error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready_now: impl FnOnce(),
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::new());
    let ready: ops::Ready = Arc::new(OnceLock::new());
    let app = ops::service(ready.clone(), metrics.clone(), config.limits.request_timeout);
    let upkeep = tokio::spawn({
        let metrics = metrics.clone();
        async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                metrics.upkeep();
            }
        }
    });
    let loading = tokio::task::spawn_blocking(move || AppState::load_with_metrics(&config, metrics));
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let mut server = std::pin::pin!(server.into_future());
    let result = tokio::select! {
        // Stopped while loading.
        served = &mut server => served.map_err(ServeError::from),
        loaded = loading => match loaded {
            Ok(Ok(state)) => {
                for m in &state.models {
                    let tasks: Vec<&str> = m.served_tasks().map(|t| t.name()).collect();
                    tracing::info!(model = %m.name, source = %m.source, class = m.architecture.hf_name(), tasks = %tasks.join(", "), "model ready");
                }
                // Set once, here; nothing else sets it.
                let _ = ready.set(ops::tagged(routes::router(Arc::new(state))));
                tracing::info!("ready");
                ready_now();
                server.await.map_err(ServeError::from)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(std::io::Error::other(format!("loading the models panicked: {e}")).into()),
        },
    };
    upkeep.abort();
    tracing::info!("stopped");
    result
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a handler there is no signal to wait for; SIGTERM (or the process ending) still stops the server.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: no new connections; answering the admitted requests");
}
