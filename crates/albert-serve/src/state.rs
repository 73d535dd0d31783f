//! The served models, loaded and prepared once at start, the limits every request is held to, and the one way a
//! request reaches a model: [`AppState::pipeline`] picks it, [`AppState::compute`] admits the request and runs its
//! work off the async runtime, where the pipeline's forward passes go through the model's batcher
//! ([`crate::batcher`]).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albert::pipeline::{PipelineModel, Task};
use albert::{builtin, Architecture, Precision};
use tokio::sync::Semaphore;

use crate::batcher::{BatchLimits, Batcher, Ticket};
use crate::error::{ApiError, ErrorType};
use crate::metrics::Metrics;

/// Every task, in the order `/info` and `/v1/models` list them.
pub const TASKS: [Task; 5] = [Task::Classify, Task::Embed, Task::FillMask, Task::QuestionAnswering, Task::Ner];

/// One `--model NAME=PATH_OR_HUB_ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The name requests give in their `"model"` field.
    pub name: String,
    /// A checkpoint directory or a hub id ([`albert::hub::resolve_model`]).
    pub source: String,
}

/// `NAME=VALUE`, both not empty, trimmed; else an error that says the form expected (`NAME=` then `value`).
fn named(s: &str, value: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, v)) if !name.trim().is_empty() && !v.trim().is_empty() => Ok((name.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected NAME={value}, got {s:?}")),
    }
}

impl FromStr for ModelSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        named(s, "PATH_OR_HUB_ID").map(|(name, source)| Self { name, source })
    }
}

/// One `--index NAME=PATH`: an index (`albert index build`) that `/search` and `/ask` serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// The name requests give in their `"index"` field.
    pub name: String,
    /// The index folder.
    pub path: PathBuf,
}

impl FromStr for IndexSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        named(s, "PATH").map(|(name, path)| Self { name, path: path.into() })
    }
}

/// An index opened once, at start, with the embedder of its queries (the one it was built with).
pub struct ServedIndex {
    /// Its name in requests.
    pub name: String,
    /// The index.
    pub index: albert_search::Index,
    /// The embedder of queries (dense and hybrid search).
    pub embedder: albert_search::Embedder,
}

impl ServedIndex {
    /// Opens `spec`'s index and loads its embedder.
    pub fn open(spec: &IndexSpec) -> albert::Result<Self> {
        let failed = |e: albert_search::SearchError| albert::Error::Input(format!("index `{}` ({}): {e}", spec.name, spec.path.display()));
        let index = albert_search::Index::open(&spec.path).map_err(failed)?;
        let embedder = index.load_embedder().map_err(failed)?;
        Ok(Self { name: spec.name.clone(), index, embedder })
    }
}

impl ModelSpec {
    /// The built-in models (see [`albert::builtin`]), the sentiment classifier first (the default of `/info`).
    pub fn builtins() -> albert::Result<Vec<Self>> {
        [builtin::SENTIMENT, builtin::PRETRAINED, builtin::QUESTION_ANSWERING, builtin::NER]
            .into_iter()
            .map(|name| Ok(Self { name: name.to_string(), source: builtin::path(name)?.to_string_lossy().into_owned() }))
            .collect()
    }
}

/// What every request is held to, and how requests share forward passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most inputs in one request (TEI's `--max-client-batch-size`, 32); more are refused with a 422.
    pub max_client_batch_size: usize,
    /// Most requests admitted at once, tokenizing, queued or computing (TEI's `--max-concurrent-requests`, 512);
    /// one more is answered 429 at once rather than queued.
    pub max_concurrent_requests: usize,
    /// Largest request body in bytes (TEI's `--payload-limit`, 2 MB); a larger one is answered 413.
    pub payload_limit: usize,
    /// Most padded tokens (rows x the longest row) in one forward pass shared by requests (TEI's
    /// `--max-batch-tokens`, 16384); at least every model's maximum input length.
    pub max_batch_tokens: usize,
    /// Most rows (inputs, QA windows) in one forward pass (TEI's `--max-batch-requests`); `None`: only the token
    /// budget bounds it.
    pub max_batch_requests: Option<usize>,
    /// Windows of one long `/qa` context handed to the batcher at once (the other routes hand all their inputs at
    /// once): a request's memory stays bounded however long its context.
    pub batch_size: usize,
    /// A request not answered within this is cancelled (its queued rows dropped) and answered 503; `None`: no limit.
    pub request_timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_client_batch_size: 32,
            max_concurrent_requests: 512,
            payload_limit: 2_000_000,
            max_batch_tokens: 16_384,
            max_batch_requests: None,
            batch_size: 8,
            request_timeout: None,
        }
    }
}

/// What to serve and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The models, each named; the first is the default of `/info` (empty: the built-in models).
    pub models: Vec<ModelSpec>,
    /// The indexes `/search` and `/ask` serve, each named; the first is their default.
    pub indexes: Vec<IndexSpec>,
    /// Run the encoders' projections in int8.
    pub int8: bool,
    /// Request limits.
    pub limits: Limits,
    /// When set, every route but the health checks needs `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
}

/// A named model and the pipelines it serves (one per task its class holds a head for).
pub struct ServedModel {
    /// Its name in requests and listings.
    pub name: String,
    /// Where it was loaded from, as given.
    pub source: String,
    /// The checkpoint's class.
    pub architecture: Architecture,
    /// One loaded, prepared pipeline per task it serves, in [`TASKS`] order.
    pub pipelines: Vec<Arc<PipelineModel>>,
}

impl ServedModel {
    /// The tasks a checkpoint of class `arch` serves: its head's task; sentence vectors from the classes that are
    /// not fine-tuned for a task (the encoder, masked-LM and pretraining checkpoints).
    pub fn tasks(arch: Architecture) -> Vec<Task> {
        let encoder = matches!(arch, Architecture::Model | Architecture::MaskedLM | Architecture::PreTraining);
        TASKS.into_iter().filter(|&t| if t == Task::Embed { encoder } else { t.accepts(arch) }).collect()
    }

    /// Loads `spec` once per task its class serves, each prepared for inference in `precision`.
    pub fn load(spec: &ModelSpec, precision: Precision) -> albert::Result<Self> {
        let dir = albert::hub::resolve_model(&spec.source)?;
        let config = albert::AlbertConfig::from_file(dir.join("config.json"))?;
        let architecture = config.architecture().unwrap_or(Architecture::Model);
        let tasks = Self::tasks(architecture);
        if tasks.is_empty() {
            return Err(albert::Error::Input(format!(
                "model `{}` ({}) is an {} checkpoint, which no route serves",
                spec.name,
                spec.source,
                architecture.hf_name()
            )));
        }
        let pipelines = tasks
            .into_iter()
            .map(|task| {
                let mut p = PipelineModel::load_dir(&dir, task)?;
                p.set_precision(precision);
                p.prepare()?;
                Ok(Arc::new(p))
            })
            .collect::<albert::Result<_>>()?;
        Ok(Self { name: spec.name.clone(), source: spec.source.clone(), architecture, pipelines })
    }

    /// Gives each of its pipelines a batcher (its queue and thread) that runs its forward passes on `pool`.
    fn batch(&mut self, limits: BatchLimits, pool: &Arc<rayon::ThreadPool>, metrics: &Metrics) -> albert::Result<()> {
        for pipeline in &mut self.pipelines {
            let task = pipeline.task().name();
            let label = format!("{}/{task}", self.name);
            let p = Arc::get_mut(pipeline)
                .ok_or_else(|| albert::Error::Input(format!("{label}: the pipeline is shared; serve a model of its own")))?;
            let batcher = Batcher::start(p.inference_model()?, p.pad_id(), limits, pool.clone(), metrics.queue(&self.name, task), &label)
                .map_err(|e| albert::Error::Input(format!("{label}: cannot start its batcher thread: {e}")))?;
            p.set_forward(Arc::new(batcher));
        }
        Ok(())
    }

    /// Its pipeline for `task`, if it serves it.
    pub fn pipeline(&self, task: Task) -> Option<&Arc<PipelineModel>> {
        self.pipelines.iter().find(|p| p.task() == task)
    }

    /// The tasks it serves.
    pub fn served_tasks(&self) -> impl Iterator<Item = Task> + '_ {
        self.pipelines.iter().map(|p| p.task())
    }
}

/// The server's state, shared by every request.
pub struct AppState {
    /// The models, in the order they were given.
    pub models: Vec<ServedModel>,
    /// The indexes, in the order they were given (see [`AppState::with_indexes`]).
    pub indexes: Vec<Arc<ServedIndex>>,
    /// Request limits.
    pub limits: Limits,
    /// The precision the models run in.
    pub precision: Precision,
    /// Seconds since the epoch when the models were ready (OpenAI's `created`).
    pub created: u64,
    /// The key requests must bear, if any (see [`AppState::with_api_key`]).
    api_key: Option<String>,
    permits: Arc<Semaphore>,
    /// The compute pool the batchers' forward passes run on (and `/explain`'s, `/search`'s and `/ask`'s own work).
    pool: Arc<rayon::ThreadPool>,
    /// What `/metrics` renders.
    pub metrics: Arc<Metrics>,
    in_flight: metrics::Gauge,
}

impl AppState {
    /// Loads and prepares every model of `config` (the built-in ones when it names none).
    pub fn load(config: &ServeConfig) -> albert::Result<Self> {
        Self::load_with_metrics(config, Arc::new(Metrics::new()))
    }

    /// [`AppState::load`], recording into `metrics` (a server renders them while the models load).
    pub fn load_with_metrics(config: &ServeConfig, metrics: Arc<Metrics>) -> albert::Result<Self> {
        let specs = match config.models.is_empty() {
            true => ModelSpec::builtins()?,
            false => config.models.clone(),
        };
        let precision = Precision::from_int8(config.int8);
        let models = specs.iter().map(|s| ServedModel::load(s, precision)).collect::<albert::Result<_>>()?;
        let indexes = config.indexes.iter().map(ServedIndex::open).collect::<albert::Result<_>>()?;
        Ok(Self::new_with_metrics(models, config.limits, precision, metrics)?
            .with_indexes(indexes)?
            .with_api_key(config.api_key.clone()))
    }

    /// A state over models already loaded (names distinct), each pipeline given its batcher.
    pub fn new(models: Vec<ServedModel>, limits: Limits, precision: Precision) -> albert::Result<Self> {
        Self::new_with_metrics(models, limits, precision, Arc::new(Metrics::new()))
    }

    /// [`AppState::new`], recording into `metrics`. The batchers' forward passes run on a pool of their own,
    /// `RAYON_NUM_THREADS` threads (all cores by default).
    pub fn new_with_metrics(
        mut models: Vec<ServedModel>,
        limits: Limits,
        precision: Precision,
        metrics: Arc<Metrics>,
    ) -> albert::Result<Self> {
        for (i, m) in models.iter().enumerate() {
            if models[..i].iter().any(|o| o.name == m.name) {
                return Err(albert::Error::Input(format!("two models are named `{}`", m.name)));
            }
        }
        if models.is_empty() {
            return Err(albert::Error::Input("no model to serve".into()));
        }
        for m in &models {
            let longest = m.pipelines[0].max_length(None)?;
            if limits.max_batch_tokens < longest {
                return Err(albert::Error::Input(format!(
                    "--max-batch-tokens {} is below the {longest}-token inputs model `{}` takes; give at least {longest}",
                    limits.max_batch_tokens, m.name
                )));
            }
        }
        let limits = Limits { max_concurrent_requests: limits.max_concurrent_requests.max(1), ..limits };
        let pool = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("compute {i}"))
            .build()
            .map_err(|e| albert::Error::Input(format!("cannot start the compute threads: {e}")))?;
        let pool = Arc::new(pool);
        let batch = BatchLimits { max_batch_tokens: limits.max_batch_tokens, max_batch_requests: limits.max_batch_requests };
        for m in &mut models {
            m.batch(batch, &pool, &metrics)?;
        }
        let created = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let permits = Arc::new(Semaphore::new(limits.max_concurrent_requests));
        let in_flight = metrics.in_flight();
        Ok(Self { models, indexes: Vec::new(), limits, precision, created, api_key: None, permits, pool, metrics, in_flight })
    }

    /// Serves `indexes` on `/search` and `/ask` (names distinct).
    pub fn with_indexes(self, indexes: Vec<ServedIndex>) -> albert::Result<Self> {
        for (i, x) in indexes.iter().enumerate() {
            if indexes[..i].iter().any(|o| o.name == x.name) {
                return Err(albert::Error::Input(format!("two indexes are named `{}`", x.name)));
            }
        }
        Ok(Self { indexes: indexes.into_iter().map(Arc::new).collect(), ..self })
    }

    /// The index named `requested`, else the first; a 404 that lists the served ones for an unknown name, a 424
    /// when none is served.
    pub fn index(&self, requested: Option<&str>) -> Result<Arc<ServedIndex>, ApiError> {
        let first = self.indexes.first().ok_or_else(|| {
            ApiError::new(ErrorType::Backend, "this server serves no index (start it with --index NAME=PATH, a folder of `albert index build`)")
        })?;
        let Some(name) = requested else { return Ok(first.clone()) };
        self.indexes.iter().find(|x| x.name == name).cloned().ok_or_else(|| {
            let names: Vec<String> = self.indexes.iter().map(|x| format!("`{}`", x.name)).collect();
            ApiError::with_status(
                axum::http::StatusCode::NOT_FOUND,
                format!("unknown index `{name}`; this server serves {}", names.join(", ")),
            )
        })
    }

    /// Runs `work` on the compute pool, under the calling request's ticket (its forward passes still batch): for
    /// work that computes itself (explanations, query vectors), called from [`AppState::compute`]'s `work`.
    pub fn on_compute_pool<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        crate::batcher::Ticket::install(&self.pool, work)
    }

    /// Requires `Authorization: Bearer <key>` on every route but the health checks (`None`: no key).
    pub fn with_api_key(self, api_key: Option<String>) -> Self {
        Self { api_key, ..self }
    }

    /// Whether a request bearing `authorization` (the header's value) may pass: always without a key; else when it
    /// is `Bearer <key>`, compared in constant time.
    pub fn authorized(&self, authorization: Option<&[u8]>) -> bool {
        use subtle::ConstantTimeEq;
        let Some(key) = &self.api_key else { return true };
        match authorization.and_then(|h| h.strip_prefix(b"Bearer ")) {
            Some(given) => given.ct_eq(key.as_bytes()).into(),
            None => false,
        }
    }

    /// The default model (the first): what `/info` describes and what `/tokenize` and `/decode` use by default.
    pub fn default_model(&self) -> &ServedModel {
        &self.models[0]
    }

    /// The model named `name`, or a 404 that lists the served ones.
    pub fn model(&self, name: &str) -> Result<&ServedModel, ApiError> {
        self.models.iter().find(|m| m.name == name).ok_or_else(|| {
            ApiError::with_status(
                axum::http::StatusCode::NOT_FOUND,
                format!("unknown model `{name}`; this server serves {}", self.names()),
            )
        })
    }

    /// The model named `requested`, else the default one.
    pub fn model_or_default(&self, requested: Option<&str>) -> Result<&ServedModel, ApiError> {
        requested.map_or(Ok(self.default_model()), |name| self.model(name))
    }

    /// The pipeline of `task` in the model named `requested`, or in the first model that serves the task. A named
    /// model without the task's head is a 422; no model with it at all is TEI's 424 ("model is not a classifier"),
    /// each naming the class the task needs.
    pub fn pipeline(&self, task: Task, requested: Option<&str>) -> Result<(&ServedModel, Arc<PipelineModel>), ApiError> {
        let needs = match task {
            Task::Embed => "an AlbertModel, AlbertForMaskedLM or AlbertForPreTraining checkpoint".to_string(),
            Task::FillMask => "an AlbertForMaskedLM or AlbertForPreTraining checkpoint".to_string(),
            other => format!("an {} checkpoint", other.architecture().hf_name()),
        };
        self.pipeline_where(task, requested, |_| true, &needs)
    }

    /// [`AppState::pipeline`] among the pipelines that also `fit` (a reranker: a classifier with one output), the
    /// refusals saying that the route `needs` one.
    pub fn pipeline_where(
        &self,
        task: Task,
        requested: Option<&str>,
        fits: impl Fn(&PipelineModel) -> bool,
        needs: &str,
    ) -> Result<(&ServedModel, Arc<PipelineModel>), ApiError> {
        let fitting = |m: &ServedModel| m.pipeline(task).filter(|p| fits(p)).cloned();
        if let Some(name) = requested {
            let model = self.model(name)?;
            return fitting(model).map(|p| (model, p)).ok_or_else(|| {
                ApiError::validation(format!(
                    "model `{name}` ({}) does not serve this route, which needs {needs}",
                    model.architecture.hf_name()
                ))
            });
        }
        self.models.iter().find_map(|m| fitting(m).map(|p| (m, p))).ok_or_else(|| {
            ApiError::new(
                ErrorType::Backend,
                format!("no served model fits this route: it needs {needs} (start the server with --model NAME=PATH for one)"),
            )
        })
    }

    /// Runs `work` on the blocking pool, off the async runtime's threads, once admitted: with
    /// `max_concurrent_requests` requests already admitted it is refused at once with a 429, before any work.
    /// `work` tokenizes on rayon's pool and its forward passes go through the batchers; while one is queued the
    /// request holds no thread: `work` ends there, the rows are awaited here, and `work` runs again with them
    /// ([`crate::batcher`]), so it must give the same result each time it runs. When the request is dropped before
    /// it ends (its client left, its time ran out), its rows still queued are dropped unrun. A panic in `work`
    /// answers 424 rather than dropping the connection.
    pub async fn compute<T: Send + 'static>(
        &self,
        mut work: impl Fn() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorType::Overloaded,
                format!("model is overloaded: {} requests are in flight", self.limits.max_concurrent_requests),
            )
        })?;
        /// Holds the request's place (its permit, its count in flight) while it waits or any of its runs goes on.
        struct Admitted {
            _permit: tokio::sync::OwnedSemaphorePermit,
            in_flight: metrics::Gauge,
        }
        impl Drop for Admitted {
            fn drop(&mut self) {
                self.in_flight.decrement(1.0);
            }
        }
        self.in_flight.increment(1.0);
        let admitted = Arc::new(Admitted { _permit: permit, in_flight: self.in_flight.clone() });
        /// Abandons the ticket if the request's future is dropped before it ends.
        struct AbandonOnDrop(Option<Ticket>);
        impl Drop for AbandonOnDrop {
            fn drop(&mut self) {
                if let Some(ticket) = self.0.take() {
                    ticket.abandon();
                }
            }
        }
        let ticket = Ticket::start();
        let mut abandon = AbandonOnDrop(Some(ticket.clone()));
        let result = loop {
            let (span, run_ticket, admitted) = (tracing::Span::current(), ticket.clone(), admitted.clone());
            // The work goes to the blocking thread and comes back for the next run.
            let ran = tokio::task::spawn_blocking(move || {
                let _admitted = admitted;
                let result = span.in_scope(|| run_ticket.run(&work));
                (work, result)
            })
            .await;
            match ran {
                Ok((back, _)) if ticket.suspended() => {
                    work = back;
                    ticket.wait().await?;
                }
                Ok((_, result)) => break Ok(result),
                Err(panicked) => break Err(panicked),
            }
        };
        abandon.0 = None;
        if let Some(timings) = ticket.timings() {
            self.metrics.timings(timings);
        }
        result.map_err(|e| ApiError::new(ErrorType::Backend, format!("inference failed: {e}")))?
    }

    /// Refuses an empty request (400) or one with more inputs than `max_client_batch_size` (422), as TEI does.
    pub fn check_batch(&self, count: usize) -> Result<(), ApiError> {
        if count == 0 {
            return Err(ApiError::new(ErrorType::Empty, "`inputs` cannot be empty"));
        }
        if count > self.limits.max_client_batch_size {
            return Err(ApiError::validation(format!(
                "batch size {count} > maximum allowed batch size {}",
                self.limits.max_client_batch_size
            )));
        }
        Ok(())
    }

    fn names(&self) -> String {
        self.models.iter().map(|m| format!("`{}`", m.name)).collect::<Vec<_>>().join(", ")
    }
}
