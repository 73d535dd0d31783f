//! `albert serve`: the pipelines over HTTP (TEI's and OpenAI's routes, and fill-mask, qa, ner), the models loaded
//! and prepared once at start, requests batched together. The server is `albert_serve`; this parses the options and
//! sets up the logs.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use albert_serve::{IndexSpec, Limits, ModelSpec, ServeConfig};
use anyhow::{bail, Context, Result};

/// Options of `albert serve`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert serve\n  albert serve --model sst2=models/albert-small-sst2 --port 9000 --int8\n  \
albert serve --max-batch-tokens 4096 --max-concurrent-requests 64 --request-timeout 10 --json-logs\n  \
albert serve --index docs=my-index          # /search and /ask over `albert index build`'s folder\n  \
curl -s localhost:8080/predict -H 'Content-Type: application/json' -d '{\"inputs\": \"I loved it.\"}'\n\n\
Routes: GET /health, /ping, /info, /metrics, /v1/models; POST /embed, /embed_all, /predict, /rerank, /similarity, \
/tokenize, /decode (Text Embeddings Inference's JSON), /v1/embeddings (OpenAI's), /fill-mask, /qa, /ner, /explain, and \
with --index /search and /ask. A request names its model in \"model\" (its index in \"index\"), or gets the first \
one that serves its route.\n\n\
How requests run: each is admitted or answered 429 at once (--max-concurrent-requests), tokenized on the \
tokenization workers, and its inputs queued for its model; a batcher packs queued inputs of all requests into one \
forward pass up to --max-batch-tokens (padded: inputs x the longest) and --max-batch-requests, runs it on the \
--threads compute pool, and hands each request its own rows. An answer does not depend on what shared its pass.\n\n\
Operations: the server listens at once and loads the models behind: GET /health answers 503 until every model is \
prepared, then 200 (readiness); GET /ping answers 200 while the process runs (liveness). GET /metrics is \
Prometheus text with TEI's te_* names. Every answer carries x-request-id (the request's own, or a new one), also \
in its log line; RUST_LOG sets the log level (default info). SIGTERM or Ctrl-C stops accepting connections, \
answers every admitted request, and exits 0.")]
pub struct ServeArgs {
    /// A model to serve, as NAME=PATH_OR_HUB_ID (repeat for several; a checkpoint serves the routes its head fits).
    /// Default: the built-in models (albert-small-sst2, albert-small, albert-small-xquad, albert-small-conll03).
    #[arg(long = "model", value_name = "NAME=PATH_OR_HUB_ID")]
    models: Vec<ModelSpec>,
    /// An index to serve on /search and /ask, as NAME=PATH (a folder of `albert index build`; repeat for several).
    /// Its embedder is loaded at start; /ask reads with a served question-answering model.
    #[arg(long = "index", value_name = "NAME=PATH")]
    indexes: Vec<IndexSpec>,
    /// Address to listen on (0.0.0.0: every interface).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0: a free one, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    // int8 projections; the help says what this CPU gets.
    #[arg(long, help = crate::info::int8_help())]
    int8: bool,
    /// Threads of the compute pool the forward passes run on; all cores by default.
    #[arg(long)]
    threads: Option<usize>,
    /// Threads that tokenize requests' inputs (and decode answers); all cores by default.
    #[arg(long, value_name = "N")]
    tokenization_workers: Option<usize>,
    /// Most inputs in one request; more are refused (422).
    #[arg(long, default_value_t = Limits::default().max_client_batch_size)]
    max_client_batch_size: usize,
    /// Most requests admitted at once (tokenizing, queued or computing); one more is answered 429 at once, so the
    /// queue never grows past this.
    #[arg(long, default_value_t = Limits::default().max_concurrent_requests)]
    max_concurrent_requests: usize,
    /// Largest request body in bytes; a larger one is answered 413.
    #[arg(long, default_value_t = Limits::default().payload_limit)]
    payload_limit: usize,
    /// Token budget of one forward pass shared by requests: inputs x the longest of them (padding counts). At least
    /// every model's longest input (512 for the built-in models). Larger passes amortize more per input; each waits
    /// for the whole pass.
    #[arg(long, default_value_t = Limits::default().max_batch_tokens)]
    max_batch_tokens: usize,
    /// Most inputs (or /qa windows) in one forward pass; unbounded by default (the token budget bounds it).
    #[arg(long, value_name = "N")]
    max_batch_requests: Option<usize>,
    /// Windows of one long /qa context handed to the batcher at once (bounds a request's memory).
    #[arg(long, default_value_t = Limits::default().batch_size)]
    batch_size: usize,
    /// Seconds a request may take; one not answered in time is cancelled (its queued inputs dropped) and answered
    /// 503 (error_type Overloaded). No limit by default.
    #[arg(long, value_name = "SECONDS")]
    request_timeout: Option<f64>,
    /// Require `Authorization: Bearer KEY` on every route but the health checks and metrics (GET /health, /ping, /,
    /// /metrics).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Log one JSON object per line (for log collectors) rather than text.
    #[arg(long)]
    json_logs: bool,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if args.threads == Some(0) || args.tokenization_workers == Some(0) {
        bail!("--threads and --tokenization-workers must be at least 1");
    }
    if let Some(n) = args.threads {
        // The compute pool and candle's matrix products read these at their first use, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
    // The tokenization workers are rayon's global pool (the pipelines tokenize on it).
    let workers = args.tokenization_workers.or(args.threads).unwrap_or(0);
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("tokenize {i}"))
        .build_global()
        .context("starting the tokenization workers")?;
    if args.max_client_batch_size == 0 || args.max_concurrent_requests == 0 || args.batch_size == 0 {
        bail!("--max-client-batch-size, --max-concurrent-requests and --batch-size must be at least 1");
    }
    if args.max_batch_requests == Some(0) {
        bail!("--max-batch-requests must be at least 1");
    }
    let request_timeout = match args.request_timeout {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => bail!("--request-timeout must be a positive number of seconds, got {s}"),
    };
    init_logs(args.json_logs);
    let config = ServeConfig {
        models: args.models,
        indexes: args.indexes,
        int8: crate::info::int8_wanted(args.int8),
        limits: Limits {
            max_client_batch_size: args.max_client_batch_size,
            max_concurrent_requests: args.max_concurrent_requests,
            payload_limit: args.payload_limit,
            max_batch_tokens: args.max_batch_tokens,
            max_batch_requests: args.max_batch_requests,
            batch_size: args.batch_size,
            request_timeout,
        },
        api_key: args.api_key,
    };
    let addr = SocketAddr::new(args.host, args.port);
    // Printed once the models are ready (scripts wait for this line); the socket answers 503 before.
    albert_serve::run(config, addr, |bound| eprintln!("listening on http://{bound}")).with_context(|| format!("serving on {addr}"))
}

/// Logs to stderr, text or JSON, at `RUST_LOG`'s level (info by default).
fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A subscriber already set (none is, in the binary) keeps logging; serving does not depend on it.
    let _ = match json {
        true => logs.json().try_init(),
        false => logs.try_init(),
    };
}
