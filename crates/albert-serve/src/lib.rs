//! `albert serve`: ALBERT's pipelines over HTTP, in Text Embeddings Inference's (TEI) and OpenAI's dialects.
//!
//! - [`state`]: the served models, loaded and prepared once at start ([`AppState::load`]), each named, each serving
//!   the tasks its head fits; request limits; admission (429 when full) and the blocking pool inference runs on.
//! - [`routes`]: [`router`] over TEI's `/embed`, `/predict`, `/tokenize`, `/decode`, `/info`, `/health`, OpenAI's
//!   `/v1/embeddings` and `/v1/models`, and `/fill-mask`, `/qa`, `/ner` in TEI's style.
//! - [`error`]: TEI's error shape and statuses (OpenAI's on `/v1/*`): every request gets a status and a JSON body.
//!
//! Routes call `albert::pipeline`, never the training crate.

pub mod error;
pub mod routes;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::{ApiError, ErrorType};
pub use routes::router;
pub use state::{AppState, Limits, ModelSpec, ServeConfig, ServedModel};

/// Serves `state` on `addr` until Ctrl-C or SIGTERM, then finishes the requests in flight and returns. `ready` is
/// called with the bound address (port 0 picks a free one) once the server accepts connections.
pub fn run(state: AppState, addr: SocketAddr, ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, router(Arc::new(state))).with_graceful_shutdown(shutdown_signal()).await
    })
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
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
}
