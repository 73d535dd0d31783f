//! The serving core over real sockets: servers started in process on an ephemeral loopback port ([`serve`]),
//! talked to by plain HTTP/1.1 clients. Dynamic batching (answers do not depend on what shared a pass; a client that
//! leaves has its queued inputs dropped), admission (429s and no crash over the concurrency limit), the request
//! timeout, readiness, request ids and the Prometheus metrics. `albert serve`'s SIGTERM drain is tested on the
//! binary (crates/albert-cli/tests/serve_shutdown.rs).

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use albert::builtin;
use albert_serve::{serve, Limits, Metrics, ModelSpec, ServeConfig, ServeError};
use albert_testkit::http::{self, metric};
use serde_json::{json, Value};

/// A server running in its own thread until dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// Serves the built-in sentiment classifier (as `sst2`) under `limits`, once ready.
    fn start(limits: Limits) -> Self {
        Self::start_with(limits, 512)
    }

    /// [`Server::start`] on a runtime of at most `blocking_threads` blocking threads (tokio's default: 512).
    fn start_with(limits: Limits, blocking_threads: usize) -> Self {
        let source = builtin::path(builtin::SENTIMENT).unwrap().to_string_lossy().into_owned();
        let config = ServeConfig { models: vec![ModelSpec { name: "sst2".into(), source }], indexes: Vec::new(), int8: false, limits, api_key: None };
        let (bound, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .max_blocking_threads(blocking_threads)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                bound.send(listener.local_addr()?).unwrap();
                serve(listener, config, async move { stopped.await.unwrap_or(()) }, || {}).await
            })
        });
        let server = Self { addr: addr.recv().unwrap(), stop: Some(stop), thread: Some(thread) };
        server.wait_for(|s| http::get(s.addr, "/health").is_ok_and(|r| r.status == 200), "ready");
        server
    }

    /// Polls `done` every 2 ms for 60 s at most.
    fn wait_for(&self, done: impl Fn(&Self) -> bool, what: &str) {
        let start = Instant::now();
        while !done(self) {
            assert!(start.elapsed() < Duration::from_secs(60), "the server never became {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn metrics(&self) -> String {
        http::get(self.addr, "/metrics").unwrap().text()
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = http::post(self.addr, path, &body.to_string()).unwrap();
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let served = self.thread.take().unwrap().join().unwrap();
        if !std::thread::panicking() {
            served.unwrap();
        }
    }
}

/// A text of about `words` word pieces.
fn long_text(words: usize) -> String {
    let sentence = ["the", "film", "was", "long", "and", "loud", "but", "the", "music", "was", "lovely"];
    (0..words).map(|i| sentence[i % sentence.len()]).collect::<Vec<_>>().join(" ")
}

/// Requests arriving together share forward passes, and each answer equals the same request answered alone (one
/// text per pass, no padding) exactly: texts of different lengths, raw logits compared.
#[test]
fn concurrent_requests_get_the_answers_they_get_alone() {
    let server = Arc::new(Server::start(Limits::default()));
    let texts: Vec<String> =
        ["Fine.", "I loved this movie.", "A dull, lifeless film.", &long_text(60), &long_text(200), "Wow, just wow."]
            .into_iter()
            .map(str::to_string)
            .collect();
    let ask = |server: &Server, text: &str| {
        let (status, answer) = server.post("/predict", &json!({"inputs": text, "raw_scores": true}));
        assert_eq!(status, 200, "{answer}");
        let mut scores: Vec<(String, f64)> =
            answer.as_array().unwrap().iter().map(|p| (p["label"].to_string(), p["score"].as_f64().unwrap())).collect();
        scores.sort_by(|a, b| a.0.cmp(&b.0));
        scores
    };
    let alone: Vec<_> = texts.iter().map(|t| ask(&server, t)).collect();
    let passes_alone = metric(&server.metrics(), "te_batch_next_size_count");
    // Every text four times, all at once.
    let together: Vec<_> = (0..4)
        .flat_map(|_| texts.iter().cloned().enumerate())
        .map(|(i, text)| {
            let server = server.clone();
            std::thread::spawn(move || (i, ask(&server, &text)))
        })
        .collect();
    for request in together {
        let (i, got) = request.join().unwrap();
        for ((label, got), (_, want)) in got.iter().zip(&alone[i]) {
            assert_eq!(got, want, "text {i}, {label}: batched vs alone");
        }
    }
    let passes = metric(&server.metrics(), "te_batch_next_size_count") - passes_alone;
    eprintln!("{} requests ran in {passes} forward passes", 4 * texts.len());
}

/// A client that disconnects while its inputs wait in the queue has them dropped unrun: with one input per pass,
/// a 64-input request keeps the batcher busy while a second request queues behind it and leaves.
#[test]
fn a_client_that_disconnects_has_its_queued_inputs_dropped() {
    let limits = Limits { max_batch_requests: Some(1), max_client_batch_size: 64, ..Limits::default() };
    let server = Arc::new(Server::start(limits));
    let first = {
        let server = server.clone();
        let inputs: Vec<Vec<String>> = (0..64).map(|i| vec![long_text(150 + i)]).collect();
        std::thread::spawn(move || server.post("/predict", &json!({"inputs": inputs, "truncate": true})).0)
    };
    server.wait_for(|s| metric(&s.metrics(), "te_queue_inputs") >= 64.0, "busy");
    let mut leaving = TcpStream::connect(server.addr).unwrap();
    let inputs: Vec<Vec<String>> = (0..16).map(|i| vec![format!("short text {i}")]).collect();
    let body = json!({"inputs": inputs}).to_string();
    leaving.write_all(&http::request_bytes("POST", "/predict", &[], &body)).unwrap();
    server.wait_for(|s| metric(&s.metrics(), "te_queue_inputs") >= 80.0, "queued with the second request");
    assert!(metric(&server.metrics(), "te_batch_inference_success") < 64.0, "the first request was still running");
    drop(leaving);
    assert_eq!(first.join().unwrap(), 200);
    server.wait_for(|s| metric(&s.metrics(), "te_queue_dropped_inputs") >= 16.0, "rid of the second request's inputs");
    let text = server.metrics();
    assert_eq!(metric(&text, "te_queue_dropped_inputs"), 16.0, "{text}");
    assert_eq!(metric(&text, "te_batch_inference_success"), 64.0, "only the first request's inputs ran: {text}");
    assert_eq!(metric(&text, "te_queue_size"), 0.0, "{text}");
}

/// Far more concurrent requests than `--max-concurrent-requests`: every answer is a 200 or a 429 in TEI's shape,
/// the server keeps answering `/health`, and `/metrics` counts both.
#[test]
fn overload_answers_only_200s_and_429s_and_health_still_answers() {
    let server = Arc::new(Server::start(Limits { max_concurrent_requests: 2, ..Limits::default() }));
    let inputs: Vec<Vec<String>> = (0..8).map(|i| vec![long_text(40 + i)]).collect();
    let clients: Vec<_> = (0..64)
        .map(|_| {
            let (server, body) = (server.clone(), json!({"inputs": inputs}));
            std::thread::spawn(move || server.post("/predict", &body))
        })
        .collect();
    let health = http::get(server.addr, "/health").unwrap();
    assert_eq!(health.status, 200, "health answers under load");
    let (mut ok, mut overloaded) = (0, 0);
    for client in clients {
        match client.join().unwrap() {
            (200, _) => ok += 1,
            (429, body) => {
                assert_eq!(body["error_type"], "Overloaded", "{body}");
                overloaded += 1;
            }
            (status, body) => panic!("answered {status}: {body}"),
        }
    }
    assert!(ok > 0 && overloaded > 0, "{ok} answered, {overloaded} refused");
    let text = server.metrics();
    assert_eq!(metric(&text, "te_request_success{route=\"/predict\"}"), ok as f64, "{text}");
    assert_eq!(metric(&text, "te_request_failure{route=\"/predict\",err=\"overloaded\"}"), overloaded as f64, "{text}");
    assert_eq!(metric(&text, "te_request_count{route=\"/predict\"}"), 64.0, "{text}");
    assert_eq!(metric(&text, "te_request_in_flight"), 0.0, "{text}");
    for name in ["te_request_duration", "te_request_tokenization_duration", "te_request_queue_duration", "te_batch_next_tokens"] {
        assert!(metric(&text, &format!("{name}_count")) > 0.0, "{name} is recorded: {text}");
    }
    assert_eq!(http::get(server.addr, "/health").unwrap().status, 200);
}

/// A waiting request holds no thread: 600 concurrent connections against a runtime of 2 blocking threads get only
/// 200s and 429s (over `--max-concurrent-requests` 256), `/health` answers meanwhile, and the admitted requests
/// share forward passes: fewer passes than half of them, which 2 threads could not give if each waiting request
/// held one (at most 2 rows would then wait for a pass).
#[test]
fn a_waiting_request_holds_no_thread() {
    let server = Arc::new(Server::start_with(Limits { max_concurrent_requests: 256, ..Limits::default() }, 2));
    let clients: Vec<_> = (0..600)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || server.post("/predict", &json!({"inputs": format!("Review {i}: fine.")})))
        })
        .collect();
    assert_eq!(http::get(server.addr, "/health").unwrap().status, 200, "health answers under load");
    let (mut ok, mut overloaded) = (0, 0);
    for client in clients {
        match client.join().unwrap() {
            (200, _) => ok += 1,
            (429, _) => overloaded += 1,
            (status, body) => panic!("answered {status}: {body}"),
        }
    }
    let passes = metric(&server.metrics(), "te_batch_next_size_count");
    eprintln!("{ok} answered in {passes} forward passes, {overloaded} refused");
    assert!(ok > 0 && passes < f64::from(ok) / 2.0, "{ok} answered in {passes} passes");
}

/// A request not answered within `--request-timeout` gets a 503 in TEI's shape (OpenAI's on `/v1/*`), and its
/// inputs still queued are dropped.
#[test]
fn a_request_over_the_timeout_is_answered_503_and_its_inputs_dropped() {
    let limits = Limits {
        max_batch_requests: Some(1),
        request_timeout: Some(Duration::from_millis(50)),
        ..Limits::default()
    };
    let server = Server::start(limits);
    let inputs: Vec<Vec<String>> = (0..32).map(|i| vec![long_text(300 + i)]).collect();
    let started = Instant::now();
    let (status, body) = server.post("/predict", &json!({"inputs": inputs, "truncate": true}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error_type"], "Overloaded", "{body}");
    assert!(body["error"].as_str().unwrap().contains("--request-timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered when the time ran out");
    server.wait_for(|s| metric(&s.metrics(), "te_queue_dropped_inputs") > 0.0, "rid of the inputs");
    assert_eq!(metric(&server.metrics(), "te_request_failure{route=\"/predict\",err=\"timeout\"}"), 1.0);
    // A short request still fits.
    let (status, _) = server.post("/predict", &json!({"inputs": "Fine."}));
    assert_eq!(status, 200);
}

/// Before the models are ready, `/health` and every route answer 503 `Unhealthy`, `/ping` and `/metrics` 200;
/// once ready, the routes answer. Every answer names its request: the client's `x-request-id`, else a new one.
#[test]
fn routes_answer_503_until_ready_and_every_answer_names_its_request() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        use tower::ServiceExt;
        let ready: albert_serve::ops::Ready = Arc::new(OnceLock::new());
        let app = albert_serve::ops::service(ready.clone(), Arc::new(Metrics::new()), None);
        let send = |method: &str, path: &str, id: Option<&str>| {
            let mut req = axum::http::Request::builder().method(method).uri(path);
            if let Some(id) = id {
                req = req.header("x-request-id", id);
            }
            app.clone().oneshot(req.body(axum::body::Body::empty()).unwrap())
        };
        let loading = send("GET", "/health", None).await.unwrap();
        assert_eq!(loading.status(), 503);
        let body = axum::body::to_bytes(loading.into_body(), 1 << 20).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error_type"], "Unhealthy", "{body}");
        assert_eq!(send("POST", "/predict", None).await.unwrap().status(), 503);
        assert_eq!(send("GET", "/ping", None).await.unwrap().status(), 200);
        assert_eq!(send("GET", "/metrics", None).await.unwrap().status(), 200);

        let routes = axum::Router::new().route("/health", axum::routing::get(|| async {}));
        ready.set(albert_serve::ops::tagged(routes)).unwrap();
        let answer = send("GET", "/health", Some("client-id-7")).await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["x-request-id"], "client-id-7");
        let (a, b) = (send("GET", "/health", None).await.unwrap(), send("GET", "/nowhere", None).await.unwrap());
        let (a, b) = (&a.headers()["x-request-id"], &b.headers()["x-request-id"]);
        assert!(!a.is_empty() && a != b, "{a:?} {b:?}");
        // An id that is not visible ASCII is replaced.
        let replaced = send("GET", "/health", Some("a b")).await.unwrap();
        assert_ne!(replaced.headers()["x-request-id"], "a b");
    });
}
