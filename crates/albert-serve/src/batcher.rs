//! Dynamic batching, as Text Embeddings Inference does it. Each served pipeline has one queue and one batcher
//! thread. A request tokenizes its inputs on a worker (the pipelines tokenize on rayon's pool), then its pipeline
//! hands the encoded rows to the queue ([`Batcher`] is the pipeline's [`Forward`]). The batcher packs queued rows
//! first come, first served into a window while the padded cost (longest row x rows) stays within
//! `max_batch_tokens` and the rows within `max_batch_requests`, runs the window as forward passes over its rows
//! sorted by length (cut where a pass costs less than the padding it saves: [`crate::passes`]) on the compute pool
//! (never on the async runtime's threads), and hands each request back its own rows of the outputs. It takes the
//! next window as soon as one ends, so a request alone waits for nobody.
//!
//! A waiting request holds no thread. The pipelines are synchronous, so a request's work (tokenize, forward, decode)
//! runs under its [`Ticket`] until its first forward pass that has no answer yet: the rows are queued and the run
//! ends there ([`suspended`]). The request awaits its rows on the async runtime, then runs its work again: passes
//! already answered are handed their rows at once (the work is deterministic, and the rows asked must be the same),
//! and the next new pass queues again. A request of one pass tokenizes twice, which costs far less than its forward
//! pass; work run outside a request (tests, embedders calling a pipeline directly) waits in its own thread.
//!
//! A request's answer does not depend on what shared its pass, to the bit, in f32 and int8: rows are padded, and
//! attention reads each sequence's own keys only (see the tests). A request whose client left or whose time ran out is [`Ticket::abandon`]ed: its queued rows are
//! dropped before they are run.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use albert::model::{AnyOutput, HeadOutput};
use albert::pipeline::Forward;
use albert::tokenizer::Encoding;
use albert::{AlbertForAny, AlbertInput, AlbertOutput, ForwardOptions};
use candle_core::{Device, Tensor};
use tokio::sync::mpsc;

use crate::metrics::QueueMetrics;
use crate::passes;

/// Most rows one pass of a window takes (bounds the cost of cutting a window into passes).
const MAX_PASS_ROWS: usize = 1024;

/// One forward pass's parts, token ids and type ids.
type PassRows = (Vec<Part>, Vec<Vec<u32>>, Vec<Vec<u32>>);

/// How the batcher packs queued rows into one forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most padded tokens in one pass: rows x the longest of them (TEI's `--max-batch-tokens`). A row longer than
    /// this alone still runs, alone.
    pub max_batch_tokens: usize,
    /// Most rows (inputs, QA windows) in one pass (TEI's `--max-batch-requests`); `None`: only the token budget.
    pub max_batch_requests: Option<usize>,
}

/// One request's stake in the queues: whether it was abandoned (its client left, its time ran out), and how long
/// its rows waited and computed, and its forward passes. Work run under [`Ticket::run`] carries it into the batchers.
#[derive(Debug, Clone, Default)]
pub struct Ticket(Arc<TicketState>);

#[derive(Debug, Default)]
struct TicketState {
    abandoned: AtomicBool,
    /// When the request started, and when its first rows were queued (the end of its tokenization).
    started: OnceLock<Instant>,
    first_queued: OnceLock<Instant>,
    /// Nanoseconds its rows spent queued, and in forward passes.
    queue_nanos: AtomicU64,
    inference_nanos: AtomicU64,
    /// Its work's forward passes: answered, and the one it waits for.
    passes: Mutex<Passes>,
}

/// The forward passes (calls of [`Forward::run`]) of a request's work, in the order its work makes them.
#[derive(Debug, Default)]
struct Passes {
    /// The calls answered so far.
    answered: Vec<Arc<Answered>>,
    /// Calls made by the current run of the work.
    made: usize,
    /// The call the last run ended at, queued.
    waiting: Option<Waiting>,
}

/// A call's rows (shortest first) and the chunks of outputs that answered them.
#[derive(Debug)]
struct Answered {
    rows: Vec<Row>,
    chunks: Vec<Chunk>,
}

/// A queued call: its rows, and where their chunks arrive.
#[derive(Debug)]
struct Waiting {
    rows: Vec<Row>,
    answers: mpsc::UnboundedReceiver<Chunk>,
}

/// Token ids and type ids of one row.
type Row = (Vec<u32>, Vec<u32>);

/// The times of one request, as its metrics report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// From the request's start to its first rows queued (tokenization and checks).
    pub tokenization: Duration,
    /// Waiting in the queue for a forward pass, summed over its passes.
    pub queue: Duration,
    /// In forward passes, summed.
    pub inference: Duration,
}

thread_local! {
    /// The ticket of the request whose work runs on this thread, if any.
    static CURRENT: RefCell<Option<Ticket>> = const { RefCell::new(None) };
}

impl Ticket {
    /// A ticket for a request starting now.
    pub fn start() -> Self {
        let ticket = Self::default();
        ticket.0.started.get_or_init(Instant::now);
        ticket
    }

    /// Marks the request abandoned: its rows still queued are dropped, not run.
    pub fn abandon(&self) {
        self.0.abandoned.store(true, Ordering::Relaxed);
    }

    /// Whether the request was abandoned.
    pub fn abandoned(&self) -> bool {
        self.0.abandoned.load(Ordering::Relaxed)
    }

    /// Runs `work` with this ticket as the current thread's: the batchers it reaches know the request.
    fn scope<R>(&self, work: impl FnOnce() -> R) -> R {
        /// Restores the previous ticket, even when `work` panics.
        struct Restore(Option<Ticket>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(self.clone())));
        work()
    }

    /// Runs `work` on `pool` under the current thread's ticket, if any: the batchers `work` reaches know the
    /// request whichever thread of the pool runs it.
    pub fn install<R: Send>(pool: &rayon::ThreadPool, work: impl FnOnce() -> R + Send) -> R {
        let ticket = Self::current();
        pool.install(move || match ticket {
            Some(ticket) => ticket.scope(work),
            None => work(),
        })
    }

    /// The ticket of the request whose work runs on this thread, if any.
    fn current() -> Option<Self> {
        CURRENT.with(|c| c.borrow().clone())
    }

    fn passes(&self) -> MutexGuard<'_, Passes> {
        self.0.passes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the request's work once more (see the module's documentation): `work` under this ticket, its calls
    /// counted from the first. Then, if the run ended at a call now queued, [`Ticket::wait`] for it and run again.
    pub fn run<R>(&self, work: impl FnOnce() -> R) -> R {
        self.passes().made = 0;
        self.scope(work)
    }

    /// Whether the last run ended at a queued call (its result is then [`suspended`]'s error, to be discarded).
    pub fn suspended(&self) -> bool {
        self.passes().waiting.is_some()
    }

    /// Awaits every row of the queued call, kept for the next run; an error when the queue dropped them (the
    /// request was abandoned, or the server is stopping). Does nothing when no call waits.
    pub async fn wait(&self) -> albert::Result<()> {
        let Some(Waiting { rows, mut answers }) = self.passes().waiting.take() else { return Ok(()) };
        let mut chunks = Vec::new();
        let mut done = 0;
        while done < rows.len() {
            let chunk = answers.recv().await.ok_or_else(dropped)?;
            done = chunk.rows.end;
            chunks.push(chunk);
        }
        self.passes().answered.push(Arc::new(Answered { rows, chunks }));
        Ok(())
    }

    /// The request's times, if its rows reached a queue.
    pub fn timings(&self) -> Option<Timings> {
        let (started, queued) = (self.0.started.get()?, self.0.first_queued.get()?);
        Some(Timings {
            tokenization: queued.saturating_duration_since(*started),
            queue: Duration::from_nanos(self.0.queue_nanos.load(Ordering::Relaxed)),
            inference: Duration::from_nanos(self.0.inference_nanos.load(Ordering::Relaxed)),
        })
    }

    fn add(counter: &AtomicU64, d: Duration) {
        counter.fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// One pipeline's queue and the thread that empties it into forward passes; the pipeline's [`Forward`].
pub struct Batcher {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when rows are queued or the queue closes.
    wake: Condvar,
    model: Arc<AlbertForAny>,
    pad_id: u32,
    limits: BatchLimits,
    pool: Arc<rayon::ThreadPool>,
    metrics: QueueMetrics,
}

#[derive(Default)]
struct Queue {
    entries: VecDeque<Entry>,
    /// Rows waiting, over every entry.
    rows: usize,
    /// No more rows are taken; the thread ends.
    closed: bool,
}

/// A request's rows in the queue.
struct Entry {
    /// The rows not yet run, shortest first.
    rows: VecDeque<Row>,
    /// How many of its rows earlier passes took.
    taken: usize,
    reply: Reply,
    ticket: Ticket,
    /// Since when its next rows wait.
    waiting_since: Instant,
}

/// Where a request's chunks go: to its future ([`Ticket::wait`]), or to the thread that waits for them (work outside
/// a request, which may run inside an async runtime, where tokio's blocking receive is refused).
#[derive(Clone)]
enum Reply {
    Awaited(mpsc::UnboundedSender<Chunk>),
    Blocking(std_mpsc::Sender<Chunk>),
}

impl Reply {
    /// Sends `chunk`; a request gone meanwhile gets nothing.
    fn send(&self, chunk: Chunk) {
        let _ = match self {
            Self::Awaited(s) => s.send(chunk).map_err(drop),
            Self::Blocking(s) => s.send(chunk).map_err(drop),
        };
    }
}

/// The rows `rows` (positions in the entry's order) of one forward pass, or why the pass failed.
#[derive(Debug)]
struct Chunk {
    rows: Range<usize>,
    output: Result<AnyOutput, String>,
}

/// One entry's share of a packed pass.
struct Part {
    reply: Reply,
    ticket: Ticket,
    /// Its rows' positions in the entry's order.
    rows: Range<usize>,
    waited: Duration,
}

impl Batcher {
    /// A batcher for the prepared inference model `model` (rows padded with `pad_id`), running its passes on `pool`;
    /// its thread is named after `label`.
    pub fn start(
        model: Arc<AlbertForAny>,
        pad_id: u32,
        limits: BatchLimits,
        pool: Arc<rayon::ThreadPool>,
        metrics: QueueMetrics,
        label: &str,
    ) -> std::io::Result<Self> {
        let batcher = Self::unstarted(model, pad_id, limits, pool, metrics);
        let shared = batcher.shared.clone();
        std::thread::Builder::new().name(format!("batcher {label}")).spawn(move || while shared.step() {})?;
        Ok(batcher)
    }

    fn unstarted(
        model: Arc<AlbertForAny>,
        pad_id: u32,
        limits: BatchLimits,
        pool: Arc<rayon::ThreadPool>,
        metrics: QueueMetrics,
    ) -> Self {
        let limits = BatchLimits { max_batch_tokens: limits.max_batch_tokens.max(1), ..limits };
        let queue = Mutex::new(Queue::default());
        Self { shared: Arc::new(Shared { queue, wake: Condvar::new(), model, pad_id, limits, pool, metrics }) }
    }
}

impl Drop for Batcher {
    /// Closes the queue; the thread ends after the pass it runs (rows still queued belong to abandoned requests).
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

impl Forward for Batcher {
    fn run(
        &self,
        encodings: &[&Encoding],
        each: &mut dyn FnMut(&AnyOutput, &[(usize, &Encoding)]) -> albert::Result<()>,
    ) -> albert::Result<()> {
        if encodings.is_empty() {
            return Ok(());
        }
        // Shortest first: when the budget splits the request, each pass holds rows of similar lengths.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].ids.len());
        let rows: Vec<Row> = order.iter().map(|&i| (encodings[i].ids.clone(), encodings[i].type_ids.clone())).collect();
        let mut hand = |chunk: Chunk| -> albert::Result<()> {
            let output = chunk.output.map_err(failed)?;
            let rows: Vec<(usize, &Encoding)> = order[chunk.rows].iter().map(|&i| (i, encodings[i])).collect();
            each(&output, &rows)
        };
        let Some(ticket) = Ticket::current() else {
            // Outside a request: wait here.
            let (reply, answers) = std_mpsc::channel();
            let count = rows.len();
            let entry = Entry { rows: rows.into(), taken: 0, reply: Reply::Blocking(reply), ticket: Ticket::start(), waiting_since: Instant::now() };
            self.shared.enqueue(entry)?;
            let mut done = 0;
            while done < count {
                let chunk = answers.recv().map_err(|_| dropped())?;
                done = chunk.rows.end;
                hand(chunk)?;
            }
            return Ok(());
        };
        let answered = {
            let mut passes = ticket.passes();
            if passes.waiting.is_some() {
                // The work went on past a queued call (it set the error aside): it stops at the first.
                return Err(suspended());
            }
            passes.made += 1;
            passes.answered.get(passes.made - 1).cloned()
        };
        match answered {
            Some(answered) if answered.rows == rows => {
                for chunk in &answered.chunks {
                    hand(Chunk { rows: chunk.rows.clone(), output: chunk.output.clone() })?;
                }
                Ok(())
            }
            Some(_) => Err(failed("the request's work asked for other rows when run again")),
            None => {
                let (reply, answers) = mpsc::unbounded_channel();
                let reply = Reply::Awaited(reply);
                let entry = Entry { rows: rows.clone().into(), taken: 0, reply, ticket: ticket.clone(), waiting_since: Instant::now() };
                self.shared.enqueue(entry)?;
                ticket.passes().waiting = Some(Waiting { rows, answers });
                Err(suspended())
            }
        }
    }
}

/// What a request's work returns from a forward pass it has queued (see the module's documentation); its run's
/// result is discarded.
pub fn suspended() -> albert::Error {
    failed("the request waits for its forward pass")
}

fn dropped() -> albert::Error {
    failed("the request was dropped from the queue (abandoned, or the server is stopping)")
}

/// A failure of the batcher, as the model's (TEI's "backend" error).
fn failed(message: impl Into<String>) -> albert::Error {
    candle_core::Error::Msg(message.into()).into()
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, entry: Entry) -> albert::Result<()> {
        let _ = entry.ticket.0.first_queued.set(entry.waiting_since);
        let mut queue = self.lock();
        if queue.closed {
            return Err(failed("the server is stopping"));
        }
        queue.rows += entry.rows.len();
        self.metrics.queued.increment(entry.rows.len() as u64);
        self.metrics.queue_size.set(queue.rows as f64);
        queue.entries.push_back(entry);
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// Waits for rows, runs one pass over as many as the limits allow, and hands each request its rows. False once
    /// the queue is closed.
    fn step(&self) -> bool {
        let (parts, ids, types) = {
            let mut queue = self.lock();
            loop {
                self.drop_abandoned(&mut queue);
                if queue.closed {
                    return false;
                }
                if !queue.entries.is_empty() {
                    break;
                }
                queue = self.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            self.pack(&mut queue)
        };
        for (parts, ids, types) in self.window_passes(parts, ids, types) {
            // A request abandoned while the window's earlier passes ran has its rows dropped here.
            if parts.iter().all(|p| p.ticket.abandoned()) {
                self.metrics.dropped.increment(ids.len() as u64);
                continue;
            }
            self.run(parts, &ids, &types);
        }
        true
    }

    /// The packed window as forward passes ([`crate::passes`]): its rows sorted by length and cut where a pass
    /// costs less than the padding it saves; each pass's parts (a request's rows in it stay contiguous and in order)
    /// and rows.
    fn window_passes(&self, parts: Vec<Part>, ids: Vec<Vec<u32>>, types: Vec<Vec<u32>>) -> Vec<PassRows> {
        // Each window row's part and its position in the part's entry.
        let owners: Vec<(usize, usize)> =
            parts.iter().enumerate().flat_map(|(p, part)| part.rows.clone().map(move |row| (p, row))).collect();
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let (mut ids, mut types): (Vec<_>, Vec<_>) = (ids.into_iter().map(Some).collect(), types.into_iter().map(Some).collect());
        passes::plan(&lengths, passes::PASS_OVERHEAD_TOKENS, MAX_PASS_ROWS)
            .into_iter()
            .map(|rows| {
                // Rows come in the window's order, so a part's rows in this pass are consecutive.
                let mut pass_parts: Vec<(usize, Part)> = Vec::new();
                for &row in &rows {
                    let (p, position) = owners[row];
                    match pass_parts.last_mut() {
                        Some((last, part)) if *last == p => part.rows.end = position + 1,
                        _ => {
                            let part = &parts[p];
                            pass_parts.push((p, Part {
                                reply: part.reply.clone(),
                                ticket: part.ticket.clone(),
                                rows: position..position + 1,
                                waited: part.waited,
                            }));
                        }
                    }
                }
                let take = |column: &mut Vec<Option<Vec<u32>>>| -> Vec<Vec<u32>> {
                    rows.iter().map(|&row| column[row].take().expect("each row in one pass")).collect()
                };
                let (pass_ids, pass_types) = (take(&mut ids), take(&mut types));
                (pass_parts.into_iter().map(|(_, part)| part).collect(), pass_ids, pass_types)
            })
            .collect()
    }

    /// Drops the rows of abandoned requests (their answers would go nowhere); closing drops every row.
    fn drop_abandoned(&self, queue: &mut Queue) {
        let closed = queue.closed;
        let before = queue.rows;
        queue.entries.retain(|e| !(closed || e.ticket.abandoned()));
        queue.rows = queue.entries.iter().map(|e| e.rows.len()).sum();
        if queue.rows != before {
            self.metrics.dropped.increment((before - queue.rows) as u64);
            self.metrics.queue_size.set(queue.rows as f64);
        }
    }

    /// Takes rows from the front of the queue while the padded cost stays within the budget: whole requests, and the
    /// first rows of one that does not fit (its others wait at the front for the next pass).
    fn pack(&self, queue: &mut Queue) -> (Vec<Part>, Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let max_rows = self.limits.max_batch_requests.unwrap_or(usize::MAX).max(1);
        let now = Instant::now();
        let (mut parts, mut ids, mut types) = (Vec::new(), Vec::new(), Vec::new());
        let mut longest = 0;
        while let Some(entry) = queue.entries.front_mut() {
            let first = entry.taken;
            while let Some((row, _)) = entry.rows.front() {
                let cost = longest.max(row.len()) * (ids.len() + 1);
                if !ids.is_empty() && (cost > self.limits.max_batch_tokens || ids.len() >= max_rows) {
                    break;
                }
                let (row, row_types) = entry.rows.pop_front().expect("a front row");
                longest = longest.max(row.len());
                ids.push(row);
                types.push(row_types);
                entry.taken += 1;
            }
            if entry.taken > first {
                let waited = now.saturating_duration_since(entry.waiting_since);
                Ticket::add(&entry.ticket.0.queue_nanos, waited);
                parts.push(Part { reply: entry.reply.clone(), ticket: entry.ticket.clone(), rows: first..entry.taken, waited });
                entry.waiting_since = now;
            }
            if !entry.rows.is_empty() {
                break;
            }
            queue.entries.pop_front();
        }
        queue.rows -= ids.len();
        self.metrics.queue_size.set(queue.rows as f64);
        (parts, ids, types)
    }

    /// Runs one pass over `ids` (padded to the longest, the padding left out of the layers) on the compute pool and
    /// sends each part its rows.
    fn run(&self, parts: Vec<Part>, ids: &[Vec<u32>], types: &[Vec<u32>]) {
        let longest = ids.iter().map(Vec::len).max().unwrap_or(0);
        self.metrics.batch_size.record(ids.len() as f64);
        self.metrics.batch_tokens.record((longest * ids.len()) as f64);
        let started = Instant::now();
        // A panic fails this pass's requests, not the batcher: its thread goes on to the next pass.
        let output = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.pool.install(|| {
                let input = AlbertInput::from_rows(ids, Some(types), self.pad_id, &Device::Cpu)?;
                // Every reader of a pass's outputs (the pipelines above `Forward`) reads real positions only.
                self.model.forward(&input, &ForwardOptions { skip_padding: true, ..ForwardOptions::default() })
            })
        }))
        .unwrap_or_else(|_| Err(failed("the forward pass panicked")));
        let took = started.elapsed();
        self.metrics.inference.record(took.as_secs_f64());
        match &output {
            Ok(_) => self.metrics.batch_success.increment(1),
            Err(e) => {
                self.metrics.batch_failure.increment(1);
                tracing::error!(error = %e, rows = ids.len(), "forward pass failed");
            }
        }
        let mut offset = 0;
        for part in parts {
            let count = part.rows.len();
            Ticket::add(&part.ticket.0.inference_nanos, took);
            tracing::trace!(rows = count, waited_ms = part.waited.as_secs_f64() * 1e3, "rows computed");
            let output = match &output {
                Ok(out) => rows_of(out, offset, count).map_err(|e| e.to_string()),
                Err(e) => Err(format!("forward pass failed: {e}")),
            };
            part.reply.send(Chunk { rows: part.rows, output });
            offset += count;
        }
    }
}

/// The outputs of rows `start..start + len` of a pass (views, no copy).
fn rows_of(out: &AnyOutput, start: usize, len: usize) -> candle_core::Result<AnyOutput> {
    let rows = |t: &Tensor| t.narrow(0, start, len);
    let head = match &out.head {
        HeadOutput::None => HeadOutput::None,
        HeadOutput::PreTraining { prediction_logits, sop_logits } => {
            HeadOutput::PreTraining { prediction_logits: rows(prediction_logits)?, sop_logits: rows(sop_logits)? }
        }
        HeadOutput::Logits(logits) => HeadOutput::Logits(rows(logits)?),
        HeadOutput::Span { start_logits, end_logits } => {
            HeadOutput::Span { start_logits: rows(start_logits)?, end_logits: rows(end_logits)? }
        }
    };
    let base = AlbertOutput {
        last_hidden_state: rows(&out.base.last_hidden_state)?,
        pooler_output: out.base.pooler_output.as_ref().map(rows).transpose()?,
        // A pass asks for neither.
        hidden_states: None,
        attentions: None,
    };
    Ok(AnyOutput { base, head })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use albert::model::Precision;
    use albert::pipeline::{PipelineModel, Task};
    use albert::builtin;
    use candle_core::IndexOp;

    use super::*;
    use crate::metrics::Metrics;

    fn pool() -> Arc<rayon::ThreadPool> {
        Arc::new(rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap())
    }

    fn dir(name: &str) -> PathBuf {
        builtin::path(name).unwrap()
    }

    /// `pipeline` with an unstarted batcher (the test runs its passes), and the batcher.
    fn batched(mut pipeline: PipelineModel, limits: BatchLimits) -> (Arc<PipelineModel>, Arc<Batcher>) {
        let queue = Metrics::new().queue("m", pipeline.task().name());
        let batcher = Arc::new(Batcher::unstarted(pipeline.inference_model().unwrap(), pipeline.pad_id(), limits, pool(), queue));
        pipeline.set_forward(batcher.clone());
        (Arc::new(pipeline), batcher)
    }

    /// Row `row`'s real tokens of every output: the last hidden state and the head's, flattened.
    fn row_values(out: &AnyOutput, row: usize, len: usize) -> Vec<f32> {
        let mut tensors = vec![out.base.last_hidden_state.i((row, ..len)).unwrap()];
        tensors.extend(match &out.head {
            HeadOutput::None => vec![],
            HeadOutput::PreTraining { prediction_logits, sop_logits } => {
                vec![prediction_logits.i((row, ..len)).unwrap(), sop_logits.i(row).unwrap()]
            }
            // Per token (NER) or per text (classification).
            HeadOutput::Logits(l) if l.rank() == 3 => vec![l.i((row, ..len)).unwrap()],
            HeadOutput::Logits(l) => vec![l.i(row).unwrap()],
            HeadOutput::Span { start_logits, end_logits } => {
                vec![start_logits.i((row, ..len)).unwrap(), end_logits.i((row, ..len)).unwrap()]
            }
        });
        tensors.iter().flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect()
    }

    /// The outputs of `pipeline` for one text (its real tokens), by the pipeline's batch loop.
    fn outputs(pipeline: &PipelineModel, text: &str) -> Vec<f32> {
        let encoded = pipeline.encode(&[text], None).unwrap().remove(0).encoding;
        let mut values = Vec::new();
        pipeline
            .run_batches(&[&encoded], 8, |o, rows| {
                values = row_values(o, 0, rows[0].1.len());
                Ok(())
            })
            .unwrap();
        values
    }

    const TEXTS: [&str; 6] = [
        "Fine.",
        "I loved this movie.",
        "A dull, lifeless film that drags on and on without a single moment of real feeling.",
        "The actors from Paris and Berlin did well.",
        "Wow.",
        "It was long, it was loud, and by the end of its third hour nobody in the theatre in London remembered why \
         they had come, although the music, the costumes and one scene on a bridge over the Thames were lovely.",
    ];

    /// Each text as a request of its own, all queued before one window runs them together: each request's outputs
    /// equal the same text run alone (the pipeline's own loop, no padding) bit for bit, for every built-in model's
    /// head, in f32 and in int8 (attention reads each sequence's own keys only, so padding changes no bit).
    #[test]
    fn a_request_alone_equals_the_same_request_inside_a_full_batch_of_others() {
        let limits = BatchLimits { max_batch_tokens: 16_384, max_batch_requests: None };
        for (name, task) in [
            (builtin::SENTIMENT, Task::Classify),
            (builtin::PRETRAINED, Task::FillMask),
            (builtin::QUESTION_ANSWERING, Task::QuestionAnswering),
            (builtin::NER, Task::Ner),
        ] {
            for precision in [Precision::Full, Precision::Int8] {
                let load = || {
                    let mut pipeline = PipelineModel::load_dir(&dir(name), task).unwrap();
                    pipeline.set_precision(precision);
                    pipeline
                };
                let alone = load();
                let (pipeline, batcher) = batched(load(), limits);
                let requests: Vec<_> = TEXTS
                    .iter()
                    .map(|&text| {
                        let pipeline = pipeline.clone();
                        std::thread::spawn(move || outputs(&pipeline, text))
                    })
                    .collect();
                while batcher.shared.lock().entries.len() < TEXTS.len() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                assert!(batcher.shared.step());
                assert!(batcher.shared.lock().entries.is_empty(), "one pass took every request");
                for (request, text) in requests.into_iter().zip(TEXTS) {
                    let (got, want) = (request.join().unwrap(), outputs(&alone, text));
                    assert_eq!(got.len(), want.len());
                    let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(got == want, "{name} {precision:?} {text:?}: differs by {worst:e} when batched");
                }
            }
        }
    }

    /// An entry of rows of lengths `lengths`, queued by the test.
    fn entry(lengths: &[usize]) -> (Entry, std_mpsc::Receiver<Chunk>, Ticket) {
        let (reply, answers) = std_mpsc::channel();
        let reply = Reply::Blocking(reply);
        let ticket = Ticket::start();
        let rows = lengths.iter().map(|&n| (vec![5; n], vec![0; n])).collect();
        (Entry { rows, taken: 0, reply, ticket: ticket.clone(), waiting_since: Instant::now() }, answers, ticket)
    }

    fn packed_rows(parts: &[Part]) -> Vec<Range<usize>> {
        parts.iter().map(|p| p.rows.clone()).collect()
    }

    /// A window of short and long rows runs as two passes, the short rows together and the long ones together,
    /// each request answered its rows in order (one split across the passes gets two chunks).
    #[test]
    fn a_window_runs_as_passes_of_similar_lengths() {
        let model = PipelineModel::load_dir(&dir(builtin::SENTIMENT), Task::Classify).unwrap();
        let metrics = Metrics::new();
        let limits = BatchLimits { max_batch_tokens: 16_384, max_batch_requests: None };
        let batcher = Batcher::unstarted(model.inference_model().unwrap(), 0, limits, pool(), metrics.queue("m", "t"));
        // Costs (overhead 32): one pass 32 + 5 x 60 = 332; [4, 4, 5] [58, 60]: 32 + 15 + 32 + 120 = 199.
        let (a, ra, _) = entry(&[4, 58]);
        let (b, rb, _) = entry(&[5]);
        let (c, rc, _) = entry(&[4, 60]);
        for e in [a, b, c] {
            batcher.shared.enqueue(e).unwrap();
        }
        assert!(batcher.shared.step());
        let chunks = |r: &std_mpsc::Receiver<Chunk>| -> Vec<(Range<usize>, usize)> {
            r.try_iter().map(|c| (c.rows.clone(), c.output.unwrap().base.last_hidden_state.dim(1).unwrap())).collect()
        };
        // Each chunk's rows, and the padded length of the pass that computed them.
        assert_eq!(chunks(&ra), [(0..1, 5), (1..2, 60)]);
        assert_eq!(chunks(&rb), [(0..1, 5)]);
        assert_eq!(chunks(&rc), [(0..1, 5), (1..2, 60)]);
        let text = metrics.render();
        assert!(text.contains("te_batch_next_size_count{model=\"m\",task=\"t\"} 2"), "{text}");
    }

    /// First come, first served up to the padded token budget and the row cap; a request that does not fit is
    /// split, its first rows in this pass; abandoned requests' rows are dropped unrun.
    #[test]
    fn passes_are_packed_within_the_budget_and_abandoned_rows_are_dropped() {
        let model = PipelineModel::load_dir(&dir(builtin::SENTIMENT), Task::Classify).unwrap();
        let metrics = Metrics::new();
        let make = |max_batch_tokens, max_batch_requests| {
            let limits = BatchLimits { max_batch_tokens, max_batch_requests };
            Batcher::unstarted(model.inference_model().unwrap(), 0, limits, pool(), metrics.queue("m", "t"))
        };
        // 3 x 5 tokens (cost 15), then rows of 10: the first makes 4 x 10 = 40, the second 5 x 10 = 50 > 40.
        let batcher = make(40, None);
        let (a, _ra, _) = entry(&[5, 5, 5]);
        let (b, _rb, _) = entry(&[10, 10]);
        batcher.shared.enqueue(a).unwrap();
        batcher.shared.enqueue(b).unwrap();
        let mut queue = batcher.shared.lock();
        let (parts, ids, _) = batcher.shared.pack(&mut queue);
        assert_eq!(packed_rows(&parts), [0..3, 0..1]);
        assert_eq!(ids.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 5, 10]);
        assert_eq!(queue.rows, 1);
        let (parts, ..) = batcher.shared.pack(&mut queue);
        assert_eq!(packed_rows(&parts), [1..2], "the rest of the split request, next");
        drop(queue);

        // At most 2 rows a pass.
        let batcher = make(16_384, Some(2));
        let (a, _ra, _) = entry(&[5, 5, 5]);
        batcher.shared.enqueue(a).unwrap();
        let (parts, ..) = batcher.shared.pack(&mut batcher.shared.lock());
        assert_eq!(packed_rows(&parts), [0..2]);

        // A row over the budget runs alone rather than never.
        let batcher = make(8, None);
        let (a, _ra, _) = entry(&[20, 20]);
        batcher.shared.enqueue(a).unwrap();
        let (parts, ..) = batcher.shared.pack(&mut batcher.shared.lock());
        assert_eq!(packed_rows(&parts), [0..1]);

        // An abandoned request's rows are dropped before the pass; the others run, and its waiter learns it.
        let batcher = make(16_384, None);
        let (a, ra, abandoned) = entry(&[5, 5]);
        let (b, rb, _) = entry(&[7]);
        batcher.shared.enqueue(a).unwrap();
        batcher.shared.enqueue(b).unwrap();
        abandoned.abandon();
        assert!(batcher.shared.step());
        assert!(ra.recv().is_err(), "the abandoned request gets nothing");
        let chunk = rb.recv().unwrap();
        assert_eq!(chunk.rows, 0..1);
        assert!(chunk.output.is_ok());
        let text = metrics.render();
        assert!(text.contains("te_queue_dropped_inputs{model=\"m\",task=\"t\"} 2"), "{text}");

        // Closing ends the thread's loop and refuses new rows.
        let shared = batcher.shared.clone();
        drop(batcher);
        assert!(!shared.step());
        assert!(shared.enqueue(entry(&[3]).0).is_err());
    }
}
