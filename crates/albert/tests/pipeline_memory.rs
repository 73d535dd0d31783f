//! Memory of the QA pipeline over a long context (issue 22, defect 9), counted by a global allocator: the peak of
//! live heap bytes while answering, which is deterministic up to thread scheduling, unlike a timing or the RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use albert::pipeline::{qa, PipelineModel, Task};

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

/// Over a 200 kB context (about 830 windows of 384 tokens), answering holds the context's tokens and one batch of
/// windows: under 25 MB above what was live before. Keeping every candidate span of every window (as before the
/// fix: ~5,000 spans of ~100 bytes per window) took over 400 MB; keeping every window's encoding, ~40 kB each,
/// over 30 MB.
#[test]
fn qa_over_a_long_context_holds_one_batch_of_windows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/qa");
    let model = PipelineModel::load_dir(&dir, Task::QuestionAnswering).unwrap();
    let sentence = "In 1900, the museum number 12 opened in the city of Lyon with 30 rooms and a café. ";
    let context = sentence.repeat(200_000 / sentence.len());
    let opts = qa::QaOptions::default();
    // Once first: the inference model and its caches are built on first use.
    qa::answer(&model, "Where?", "In Lyon.", &opts).unwrap();
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let answer = qa::answer(&model, "What does the café serve?", &context, &opts).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    eprintln!("peak {:.1} MB over {} windows", peak as f64 / (1 << 20) as f64, answer.windows);
    assert!(answer.windows > 180, "{} windows", answer.windows);
    assert!(peak < 25 << 20, "peak {} MB above the start", peak >> 20);
}
