//! Memory on big inputs (issue 22, defect 9), counted by a global allocator: the peak of live heap bytes while
//! tokenizing a long line, classifying it, and answering a question over a long context, which is deterministic up
//! to thread scheduling, unlike a timing or the RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use albert::pipeline::{classify, qa, PipelineModel, PipelineOptions, Task};
use albert::tokenizer::{AlbertTokenizer, EncodeOptions};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counters are the process's: the tests hold this while they run, so that one test's allocations do not count
/// in another's peak (cargo runs a binary's tests on parallel threads).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The peak of live heap bytes above the start while `f` runs.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - before)
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name)
}

/// A 1 MB line of about 240,000 tokens: encoding it holds the tokens (about 120 bytes each with their strings,
/// ids, offsets and masks) and the per-byte structures of one 64 kB piece at a time: 29 MB measured, bound 45 MB
/// (the whole line's per-byte structures at once took several times that). Classifying it (truncated to 512
/// tokens) tokenizes only its first piece: 7 MB measured, bound 16 MB.
#[test]
fn a_long_line_is_tokenized_a_piece_at_a_time() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let model = PipelineModel::load_dir(&fixture("sentiment"), Task::Classify).unwrap();
    let sentence = "In 1900, the museum number 12 opened in the city of Lyon with 30 rooms and a café. ";
    let line = sentence.repeat(1_000_000 / sentence.len());
    classify::classify(&model, &["warm up"], None, &PipelineOptions::default()).unwrap();
    let (encoding, peak) = peak_of(|| model.tokenizer.encode(&line, None, &EncodeOptions::default()).unwrap());
    eprintln!("encode: peak {:.1} MB for {} tokens", peak as f64 / (1 << 20) as f64, encoding.len());
    assert!(encoding.len() > 200_000);
    assert!(peak < 45 << 20, "encode: peak {} MB above the start", peak >> 20);
    drop(encoding);
    let (labels, peak) = peak_of(|| classify::classify(&model, &[&line], None, &PipelineOptions::default()).unwrap());
    eprintln!("classify: peak {:.1} MB", peak as f64 / (1 << 20) as f64);
    assert!(labels[0].truncated);
    assert!(peak < 16 << 20, "classify: peak {} MB above the start", peak >> 20);
}

/// Over a 200 kB context (193 windows of 384 tokens), answering holds the context's tokens and one batch of
/// windows: 9 MB measured, bound 16 MB. Keeping every candidate span of every window (about 5,500 spans of about
/// 100 bytes per window) took 227 MB; tokenizing the context whole, 18 MB.
#[test]
fn qa_over_a_long_context_holds_one_batch_of_windows() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let model = PipelineModel::load_dir(&fixture("qa"), Task::QuestionAnswering).unwrap();
    let sentence = "In 1900, the museum number 12 opened in the city of Lyon with 30 rooms and a café. ";
    let context = sentence.repeat(200_000 / sentence.len());
    let opts = qa::QaOptions::default();
    // Once first: the inference model and its caches are built on first use.
    qa::answer(&model, "Where?", "In Lyon.", &opts).unwrap();
    let (answer, peak) = peak_of(|| qa::answer(&model, "What does the café serve?", &context, &opts).unwrap());
    eprintln!("peak {:.1} MB over {} windows", peak as f64 / (1 << 20) as f64, answer.windows);
    assert!(answer.windows > 180, "{} windows", answer.windows);
    assert!(peak < 16 << 20, "peak {} MB above the start", peak >> 20);
}

/// The live heap bytes `f` leaves behind (what it returns holds them), and its peak above the start.
fn kept_and_peak<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let (out, peak) = peak_of(f);
    (out, LIVE.load(Ordering::Relaxed).saturating_sub(before), peak)
}

/// A pipeline holds its weights once. The built-in SST-2 model (11.5 MB of f32 weights) loaded and its inference
/// model built keeps 11.7 MB besides its tokenizer (measured; bound 1.25x the weights): the trainable model is
/// turned into the inference model instead of copied beside it, which kept twice the weights. Loading peaks at
/// 13.4 MB (bound 1.5x), each tensor moved from the file into its parameter. An explanation's trainable model is
/// loaded again: then both are held.
#[test]
fn a_pipeline_holds_its_weights_once() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/albert-small-sst2");
    let (tokenizer, tokenizer_bytes, _) = kept_and_peak(|| AlbertTokenizer::from_path(&dir).unwrap());
    drop(tokenizer);
    let (model, kept, peak) = kept_and_peak(|| {
        let model = PipelineModel::load_dir(&dir, Task::Classify).unwrap();
        model.prepare().unwrap();
        model
    });
    let weights = albert::memory::weight_bytes(model.config(), Task::Classify.architecture(), 4) as usize;
    let (kept, peak) = (kept - tokenizer_bytes, peak - tokenizer_bytes);
    let mb = |b: usize| b as f64 / (1 << 20) as f64;
    eprintln!("weights {:.1} MB, kept {:.1} MB, peak {:.1} MB (tokenizer {:.1} MB apart)", mb(weights), mb(kept), mb(peak), mb(tokenizer_bytes));
    assert!(kept < weights * 5 / 4, "kept {:.1} MB for {:.1} MB of weights", mb(kept), mb(weights));
    assert!(peak < weights * 3 / 2, "peak {:.1} MB for {:.1} MB of weights", mb(peak), mb(weights));
    let (trainable, again, _) = kept_and_peak(|| model.trainable().unwrap());
    assert!(again > weights * 9 / 10, "the trainable model loaded again: {:.1} MB", mb(again));
    drop(trainable);
}
