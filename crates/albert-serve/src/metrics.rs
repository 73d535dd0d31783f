//! Prometheus metrics (`GET /metrics`), named as Text Embeddings Inference names its own (`te_*`) so that its
//! dashboards read this server. Durations are in seconds. Each server holds its own recorder (no global one), so
//! that several servers in one process (the tests) keep their counts apart.
//!
//! | metric | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `te_request_count` | counter | `route` | requests answered |
//! | `te_request_success` | counter | `route` | answered 2xx |
//! | `te_request_failure` | counter | `route`, `err` | answered 4xx/5xx, by TEI's error type (`timeout` for `--request-timeout`) |
//! | `te_request_duration` | histogram | `route` | from the request's arrival to its answer |
//! | `te_request_in_flight` | gauge | | requests admitted and not yet done (at most `--max-concurrent-requests`) |
//! | `te_request_tokenization_duration` | histogram | | a request's start to its first rows queued |
//! | `te_request_queue_duration` | histogram | | a request's rows waiting for a forward pass |
//! | `te_request_inference_duration` | histogram | | a request's rows in forward passes |
//! | `te_queue_size` | gauge | `model`, `task` | rows (inputs, QA windows) waiting |
//! | `te_queue_inputs` | counter | `model`, `task` | rows queued |
//! | `te_queue_dropped_inputs` | counter | `model`, `task` | rows dropped unrun: their client left or their time ran out |
//! | `te_batch_next_size` | histogram | `model`, `task` | rows per forward pass |
//! | `te_batch_next_tokens` | histogram | `model`, `task` | padded tokens per pass (rows x longest) |
//! | `te_batch_inference_duration` | histogram | `model`, `task` | one forward pass |
//! | `te_batch_inference_success` / `_failure` | counter | `model`, `task` | passes that ran / failed |

use metrics::{Counter, Gauge, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::batcher::Timings;
use crate::error::ErrorType;

/// A server's metrics: its recorder and what renders it.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

/// One queue's handles (see the module's table).
#[derive(Clone)]
pub struct QueueMetrics {
    pub(crate) queue_size: Gauge,
    pub(crate) queued: Counter,
    pub(crate) dropped: Counter,
    pub(crate) batch_size: Histogram,
    pub(crate) batch_tokens: Histogram,
    pub(crate) inference: Histogram,
    pub(crate) batch_success: Counter,
    pub(crate) batch_failure: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A recorder with histogram buckets: durations from 100 µs up by x1.5 (to about 100 s), sizes and tokens by
    /// powers of two.
    pub fn new() -> Self {
        let durations: Vec<f64> = (0..35).map(|i| 1e-4 * 1.5f64.powi(i)).collect();
        let sizes: Vec<f64> = (0..12).map(|i| 2f64.powi(i)).collect();
        let tokens: Vec<f64> = (0..21).map(|i| 2f64.powi(i)).collect();
        let buckets = |builder: PrometheusBuilder, matcher: Matcher, values: &[f64]| {
            // Refused only for an empty list.
            builder.set_buckets_for_metric(matcher, values).expect("bucket lists are not empty")
        };
        let builder = buckets(PrometheusBuilder::new(), Matcher::Suffix("duration".into()), &durations);
        let builder = buckets(builder, Matcher::Full("te_batch_next_size".into()), &sizes);
        let builder = buckets(builder, Matcher::Full("te_batch_next_tokens".into()), &tokens);
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Self { recorder, handle };
        metrics.with(describe);
        metrics
    }

    /// The Prometheus text of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds recorded histogram samples into their buckets, so that memory stays bounded between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The handles of the queue of `model`'s `task` pipeline.
    pub fn queue(&self, model: &str, task: &str) -> QueueMetrics {
        let labels = [("model", model.to_string()), ("task", task.to_string())];
        self.with(|| QueueMetrics {
            queue_size: metrics::gauge!("te_queue_size", &labels),
            queued: metrics::counter!("te_queue_inputs", &labels),
            dropped: metrics::counter!("te_queue_dropped_inputs", &labels),
            batch_size: metrics::histogram!("te_batch_next_size", &labels),
            batch_tokens: metrics::histogram!("te_batch_next_tokens", &labels),
            inference: metrics::histogram!("te_batch_inference_duration", &labels),
            batch_success: metrics::counter!("te_batch_inference_success", &labels),
            batch_failure: metrics::counter!("te_batch_inference_failure", &labels),
        })
    }

    /// The gauge of requests admitted and not yet done.
    pub(crate) fn in_flight(&self) -> Gauge {
        self.with(|| metrics::gauge!("te_request_in_flight"))
    }

    /// Records a request of `route` answered after `seconds`: its success, or its failure's type (`timeout` when
    /// `--request-timeout` cut it).
    pub(crate) fn answered(&self, route: &str, seconds: f64, failure: Option<Failure>) {
        let route = route.to_string();
        self.with(|| {
            metrics::counter!("te_request_count", "route" => route.clone()).increment(1);
            metrics::histogram!("te_request_duration", "route" => route.clone()).record(seconds);
            match failure {
                None => metrics::counter!("te_request_success", "route" => route).increment(1),
                Some(f) => metrics::counter!("te_request_failure", "route" => route, "err" => f.label()).increment(1),
            }
        });
    }

    /// Records where a request's time went once its rows were computed.
    pub(crate) fn timings(&self, t: Timings) {
        self.with(|| {
            metrics::histogram!("te_request_tokenization_duration").record(t.tokenization.as_secs_f64());
            metrics::histogram!("te_request_queue_duration").record(t.queue.as_secs_f64());
            metrics::histogram!("te_request_inference_duration").record(t.inference.as_secs_f64());
        });
    }
}

/// Why a request failed, as `te_request_failure`'s `err` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An error answer of this type.
    Error(ErrorType),
    /// `--request-timeout` ran out.
    Timeout,
}

impl Failure {
    fn label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Error(ErrorType::Unhealthy) => "unhealthy",
            Failure::Error(ErrorType::Backend) => "backend",
            Failure::Error(ErrorType::Overloaded) => "overloaded",
            Failure::Error(ErrorType::Validation) => "validation",
            Failure::Error(ErrorType::Tokenizer) => "tokenizer",
            Failure::Error(ErrorType::Empty) => "empty",
        }
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("te_request_count", "Requests answered, by route");
    describe_counter!("te_request_success", "Requests answered 2xx, by route");
    describe_counter!("te_request_failure", "Requests answered 4xx or 5xx, by route and error type");
    describe_histogram!("te_request_duration", Unit::Seconds, "Request arrival to answer, by route");
    describe_gauge!("te_request_in_flight", "Requests admitted and not yet done");
    describe_histogram!("te_request_tokenization_duration", Unit::Seconds, "Request start to its first rows queued");
    describe_histogram!("te_request_queue_duration", Unit::Seconds, "A request's rows waiting for forward passes");
    describe_histogram!("te_request_inference_duration", Unit::Seconds, "A request's rows in forward passes");
    describe_gauge!("te_queue_size", "Rows (inputs, QA windows) waiting for a forward pass");
    describe_counter!("te_queue_inputs", "Rows queued");
    describe_counter!("te_queue_dropped_inputs", "Rows dropped unrun: their client left or their time ran out");
    describe_histogram!("te_batch_next_size", "Rows per forward pass");
    describe_histogram!("te_batch_next_tokens", "Padded tokens per forward pass (rows x longest)");
    describe_histogram!("te_batch_inference_duration", Unit::Seconds, "One forward pass");
    describe_counter!("te_batch_inference_success", "Forward passes that ran");
    describe_counter!("te_batch_inference_failure", "Forward passes that failed");
}
