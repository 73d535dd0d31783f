//! `albert serve`: the pipelines over HTTP (TEI's and OpenAI's routes, and fill-mask, qa, ner), the models loaded
//! and prepared once at start. The server is `albert_serve`; this parses the options.

use std::net::{IpAddr, SocketAddr};

use albert_serve::{AppState, Limits, ModelSpec, ServeConfig};
use anyhow::{bail, Context, Result};

/// Options of `albert serve`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert serve\n  albert serve --model sst2=models/albert-small-sst2 --port 9000 --int8\n  \
curl -s localhost:8080/predict -H 'Content-Type: application/json' -d '{\"inputs\": \"I loved it.\"}'\n\n\
Routes: GET /health, /info, /v1/models; POST /embed, /predict, /tokenize, /decode (Text Embeddings Inference's \
JSON), /v1/embeddings (OpenAI's), /fill-mask, /qa, /ner. A request names its model in \"model\", or gets the first \
one that serves its route.")]
pub struct ServeArgs {
    /// A model to serve, as NAME=PATH_OR_HUB_ID (repeat for several; a checkpoint serves the routes its head fits).
    /// Default: the built-in models (albert-small-sst2, albert-small, albert-small-xquad, albert-small-conll03).
    #[arg(long = "model", value_name = "NAME=PATH_OR_HUB_ID")]
    models: Vec<ModelSpec>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0: a free one, printed at start).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Run the encoders' projections in int8 (dynamic quantization): faster, scores change slightly.
    #[arg(long)]
    int8: bool,
    /// Compute threads (rayon and candle's pools); all cores by default.
    #[arg(long)]
    threads: Option<usize>,
    /// Most inputs in one request; more are refused (422).
    #[arg(long, default_value_t = Limits::default().max_client_batch_size)]
    max_client_batch_size: usize,
    /// Most requests in flight; one more is answered 429 at once.
    #[arg(long, default_value_t = Limits::default().max_concurrent_requests)]
    max_concurrent_requests: usize,
    /// Largest request body in bytes; a larger one is answered 413.
    #[arg(long, default_value_t = Limits::default().payload_limit)]
    payload_limit: usize,
    /// Inputs per forward pass within a request.
    #[arg(long, default_value_t = Limits::default().batch_size)]
    batch_size: usize,
    /// Require `Authorization: Bearer KEY` on every route but the health checks (GET /health, /ping, /).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // Read once, at the pools' first use, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
    if args.max_client_batch_size == 0 || args.max_concurrent_requests == 0 || args.batch_size == 0 {
        bail!("--max-client-batch-size, --max-concurrent-requests and --batch-size must be at least 1");
    }
    let config = ServeConfig {
        models: args.models,
        int8: args.int8,
        limits: Limits {
            max_client_batch_size: args.max_client_batch_size,
            max_concurrent_requests: args.max_concurrent_requests,
            payload_limit: args.payload_limit,
            batch_size: args.batch_size,
        },
        api_key: args.api_key,
    };
    let state = AppState::load(&config).context("loading the models")?;
    for m in &state.models {
        let tasks: Vec<&str> = m.served_tasks().map(|t| t.name()).collect();
        eprintln!("model {} ({}, {}): {}", m.name, m.source, m.architecture.hf_name(), tasks.join(", "));
    }
    let addr = SocketAddr::new(args.host, args.port);
    albert_serve::run(state, addr, |bound| eprintln!("listening on http://{bound}"))
        .with_context(|| format!("serving on {addr}"))
}
