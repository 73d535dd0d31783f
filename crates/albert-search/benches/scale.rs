//! The index's two halves at scale, as albert-search builds, saves, opens and searches them (`albert_search::bench`):
//!
//! - BM25: N passages of 150 words (about 200 tokens, the default passage), each a window of the real text of CORPUS
//!   (every file under it, about 2.4M words in the shared corpus) starting at a distinct word drawn at random, so no
//!   two passages are the same text (at 1M passages, windows overlap: each word of the corpus is in about 62 of
//!   them), written in one commit; timed: build, open, and single-thread queries (XQuAD English's questions, the ids
//!   then the passages with snippets, as `--mode bm25` runs), p50 / p99.
//! - Vectors: N synthetic unit vectors of DIM values (the built-in embedder's width, 256), around N / 100 random
//!   centres with noise 0.5 per dimension (as text embeddings cluster; scripts/bench/ann's distribution), added as an
//!   index update adds them (in parallel on the rayon pool, RAYON_NUM_THREADS); timed: build, save, open (header
//!   check, memory map), single-thread queries for the 10 nearest, p50 / p99; recall@10 against exact search (inner
//!   product) over the same queries, at the index's ef (64) and at other ef for the trade-off.
//!
//! Each line carries the process's peak resident memory during that half (VmHWM, reset between halves).
//!
//! `scale build-ab N ROUNDS` times the vector build alone, one insertion at a time (a rayon pool of one thread, the
//! build as it was before it went parallel) against the rayon pool, alternating, ROUNDS of each on the same vectors:
//! build time, vectors re-inserted after the parallel insertion stranded them, recall@10 against exact search, and
//! how many of a sample of the stored vectors their own search finds (among its 10 nearest).
//!
//! `scale shards N S` splits N vectors into S shards by id (id modulo S), builds each, fans every query out to all of
//! them and merges their 10 nearest by cosine: recall@10 of the merge against exact search and the query latency
//! (the shards one after another, and the slowest shard: what a fan-out to S machines waits for), beside one index
//! of all N.
//!
//! Prints one JSON line per measurement. Run by scripts/bench/search_scale.sh:
//!   scale N OUT CORPUS QUESTIONS_JSON [QUERIES=500] [DIM=256]
//!   scale build-ab N ROUNDS [QUERIES=500] [DIM=256]
//!   scale shards N S [QUERIES=500] [DIM=256]
//! (the binary `cargo build --release -p albert-search --features bench --bench scale` makes; `cargo bench -- ARGS`
//! works too, but rebuilds every dependency)

use std::path::{Path, PathBuf};
use std::time::Instant;

use albert::rng::AlbertRng;
use albert_search::bench::{Bm25, Vectors};
use albert_search::{Passage, Source};
use rayon::prelude::*;

const WORDS_PER_PASSAGE: usize = 150;
const K: usize = 10;

const USAGE: &str =
    "usage: scale N OUT CORPUS QUESTIONS_JSON [QUERIES=500] [DIM=256]\n       scale build-ab N ROUNDS [QUERIES=500] [DIM=256]\n       scale shards N S [QUERIES=500] [DIM=256]";

fn main() {
    // `cargo bench` appends `--bench`.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let mode = match args.first().map(String::as_str) {
        Some(m @ ("build-ab" | "shards")) => m.to_owned(),
        _ => String::new(),
    };
    let args = if mode.is_empty() { &args[..] } else { &args[1..] };
    if args.len() < if mode.is_empty() { 4 } else { 2 } {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| {
        args.get(i).map_or(Ok(default), |a| a.parse()).unwrap_or_else(|_| {
            eprintln!("argument {:?} should be a number\n{USAGE}", args[i]);
            std::process::exit(2)
        })
    };
    let n = number(0, 0);
    if n == 0 {
        eprintln!("N should be at least 1");
        std::process::exit(2);
    }
    let done = if mode == "build-ab" {
        build_ab(n, number(1, 0), number(2, 500), number(3, 256))
    } else if mode == "shards" {
        shards(n, number(1, 0).max(1), number(2, 500), number(3, 256))
    } else {
        let (out, corpus, questions) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]), PathBuf::from(&args[3]));
        run(n, &out, &corpus, &questions, number(4, 500), number(5, 256))
    };
    if let Err(e) = done {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

type Error = Box<dyn std::error::Error>;

fn run(n: usize, out: &Path, corpus: &Path, questions: &Path, queries: usize, dim: usize) -> Result<(), Error> {
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let questions = xquad_questions(questions, queries)?;
    bm25(n, &out.join("bm25"), corpus, &questions)?;
    vectors(n, &out.join("vectors.usearch"), queries, dim)?;
    std::fs::remove_dir_all(out)?;
    Ok(())
}

fn bm25(n: usize, dir: &Path, corpus: &Path, questions: &[String]) -> Result<(), Error> {
    reset_peak_rss();
    let words = corpus_words(corpus)?;
    if words.len() <= WORDS_PER_PASSAGE {
        return Err(format!("{} holds {} words, fewer than a passage", corpus.display(), words.len()).into());
    }
    let mut starts: Vec<usize> = (0..=words.len() - WORDS_PER_PASSAGE).collect();
    if starts.len() < n {
        return Err(format!(
            "{} holds {} words: fewer than {n} distinct windows of {WORDS_PER_PASSAGE}",
            corpus.display(),
            words.len()
        )
        .into());
    }
    AlbertRng::new(1).shuffle(&mut starts);
    let passages: Vec<Passage> = starts[..n]
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let text = words[start..start + WORDS_PER_PASSAGE].join(" ");
            let source = Source { file: PathBuf::from("corpus"), doc_id: format!("p{i}"), title: String::new() };
            Passage { id: i as u64, source, span: (0, text.chars().count()), text }
        })
        .collect();
    std::fs::create_dir_all(dir)?;
    let start = Instant::now();
    drop(Bm25::build(dir, &passages)?);
    let build_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let store = Bm25::open(dir)?;
    let open_ms = ms(start);
    let latencies = questions.iter().map(|q| timed(|| store.query(q, K))).collect::<Result<Vec<_>, _>>()?;
    let (p50, p99) = percentiles(latencies);
    let line = serde_json::json!({
        "index": "bm25", "passages": n, "build_s": build_s, "passages_per_s": n as f64 / build_s, "bytes": size(dir)?,
        "open_ms": open_ms, "queries": questions.len(), "query_p50_ms": p50, "query_p99_ms": p99,
        "corpus_words": words.len(), "peak_rss_mib": peak_rss_mib()?, "load_average": load_average()?,
    });
    println!("{line}");
    Ok(())
}

/// The ef values of the trade-off between recall and latency (the index searches with 64).
const EF_SWEEP: [usize; 6] = [16, 32, 64, 128, 256, 512];
/// How many stored vectors `build-ab` searches for, to count those no search reaches.
const REACH_SAMPLE: usize = 10_000;

fn vectors(n: usize, path: &Path, queries: usize, dim: usize) -> Result<(), Error> {
    reset_peak_rss();
    let (base, probes) = clustered(n, queries, dim);
    let truth = exact_all(&base, &probes);
    let ids: Vec<u64> = (0..n as u64).collect();
    let (start, cpu) = (Instant::now(), cpu_s()?);
    let (index, reinserted) = Vectors::build(dim, &ids, &base)?;
    let (build_s, build_cpu_s) = (start.elapsed().as_secs_f64(), cpu_s()? - cpu);
    let start = Instant::now();
    let bytes = index.save(path)?;
    let save_ms = ms(start);
    drop(index);
    let start = Instant::now();
    let index = Vectors::open(path, dim, n as u64)?;
    let open_ms = ms(start);
    let (p50, p99, recall) = queried(&index, &probes, &truth)?;
    let mut sweep = Vec::new();
    for ef in EF_SWEEP {
        index.set_expansion_search(ef);
        let (p50, p99, recall) = queried(&index, &probes, &truth)?;
        sweep.push(serde_json::json!({"ef": ef, "query_p50_ms": p50, "query_p99_ms": p99, "recall_at_10": recall}));
    }
    let line = serde_json::json!({
        "index": "vectors", "vectors": n, "dim": dim, "synthetic": "clustered unit vectors, N/100 centres, noise 0.5",
        "threads": rayon::current_num_threads(), "build_s": build_s, "build_cpu_s": build_cpu_s,
        "vectors_per_s": n as f64 / build_s,
        "reinserted": reinserted, "bytes": bytes, "save_ms": save_ms, "open_ms": open_ms, "queries": probes.len(),
        "query_p50_ms": p50, "query_p99_ms": p99, "recall_at_10": recall, "ef_sweep": sweep,
        "peak_rss_mib": peak_rss_mib()?, "load_average": load_average()?,
    });
    println!("{line}");
    Ok(())
}

/// Single-thread queries for the `K` nearest: p50 and p99 milliseconds, and recall@K against `truth`.
fn queried(index: &Vectors, probes: &[Vec<f32>], truth: &[Vec<u64>]) -> Result<(f64, f64, f64), Error> {
    let (mut latencies, mut found) = (Vec::new(), 0usize);
    for (q, t) in probes.iter().zip(truth) {
        let start = Instant::now();
        let got = index.search(q, K)?;
        latencies.push(ms(start));
        found += got.iter().filter(|(id, _)| t.contains(id)).count();
    }
    let (p50, p99) = percentiles(latencies);
    Ok((p50, p99, found as f64 / truth.iter().map(Vec::len).sum::<usize>() as f64))
}

/// The vector build one insertion at a time (a pool of one thread) against the rayon pool, alternating.
fn build_ab(n: usize, rounds: usize, queries: usize, dim: usize) -> Result<(), Error> {
    let (base, probes) = clustered(n, queries, dim);
    let truth = exact_all(&base, &probes);
    let ids: Vec<u64> = (0..n as u64).collect();
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let every = rayon::current_num_threads();
    // Every (n / REACH_SAMPLE)-th stored vector.
    let sample: Vec<usize> = (0..n).step_by((n / REACH_SAMPLE).max(1)).collect();
    for round in 0..rounds {
        for threads in [1, every] {
            let (start, cpu) = (Instant::now(), cpu_s()?);
            let (index, reinserted) =
                if threads == 1 { one.install(|| Vectors::build(dim, &ids, &base))? } else { Vectors::build(dim, &ids, &base)? };
            let (build_s, build_cpu_s) = (start.elapsed().as_secs_f64(), cpu_s()? - cpu);
            let (_, _, recall) = queried(&index, &probes, &truth)?;
            let mut reached = 0;
            for &i in &sample {
                reached += usize::from(index.search(&base[i], K)?.iter().any(|&(id, _)| id == ids[i]));
            }
            let line = serde_json::json!({
                "measure": "vector build", "vectors": n, "dim": dim, "round": round, "threads": threads, "build_s": build_s,
                "build_cpu_s": build_cpu_s, "load_average": load_average()?,
                "reinserted": reinserted, "recall_at_10": recall, "queries": probes.len(),
                "reached": reached, "reach_sample": sample.len(),
            });
            println!("{line}");
        }
    }
    Ok(())
}

/// Shards by id, as a search spread over machines would hold them: S indexes, shard s holding the ids equal to s
/// modulo S, each built on the pool; every query fanned out to each shard for its `K` nearest and the answers merged
/// by cosine (comparable across shards: the same embedder), against one index of all N.
fn shards(n: usize, count: usize, queries: usize, dim: usize) -> Result<(), Error> {
    let (base, probes) = clustered(n, queries, dim);
    let truth = exact_all(&base, &probes);
    let (mut parts, mut shard_build_s) = (Vec::new(), Vec::new());
    for shard in 0..count {
        let ids: Vec<u64> = (shard..n).step_by(count).map(|i| i as u64).collect();
        let vectors: Vec<Vec<f32>> = ids.iter().map(|&i| base[i as usize].clone()).collect();
        let start = Instant::now();
        parts.push(Vectors::build(dim, &ids, &vectors)?.0);
        shard_build_s.push(start.elapsed().as_secs_f64());
    }
    let ids: Vec<u64> = (0..n as u64).collect();
    let start = Instant::now();
    let (whole, _) = Vectors::build(dim, &ids, &base)?;
    let whole_build_s = start.elapsed().as_secs_f64();
    let (p50, p99, recall) = queried(&whole, &probes, &truth)?;
    let (mut one_after_another, mut slowest, mut found) = (Vec::new(), Vec::new(), 0usize);
    for (q, t) in probes.iter().zip(&truth) {
        let (mut merged, mut total, mut most) = (Vec::new(), 0.0, 0f64);
        for part in &parts {
            let start = Instant::now();
            merged.extend(part.search(q, K)?);
            let took = ms(start);
            (total, most) = (total + took, most.max(took));
        }
        merged.sort_by(|a, b| b.1.total_cmp(&a.1));
        merged.truncate(K);
        found += merged.iter().filter(|(id, _)| t.contains(id)).count();
        one_after_another.push(total);
        slowest.push(most);
    }
    let ((serial_p50, serial_p99), (slowest_p50, slowest_p99)) = (percentiles(one_after_another), percentiles(slowest));
    let line = serde_json::json!({
        "measure": "shards", "vectors": n, "dim": dim, "shards": count, "queries": probes.len(),
        "shard_build_s": shard_build_s, "whole_build_s": whole_build_s,
        "whole_query_p50_ms": p50, "whole_query_p99_ms": p99, "whole_recall_at_10": recall,
        "fanout_sum_p50_ms": serial_p50, "fanout_sum_p99_ms": serial_p99,
        "fanout_slowest_shard_p50_ms": slowest_p50, "fanout_slowest_shard_p99_ms": slowest_p99,
        "merged_recall_at_10": found as f64 / truth.iter().map(Vec::len).sum::<usize>() as f64,
        "load_average": load_average()?,
    });
    println!("{line}");
    Ok(())
}

/// Every whitespace-separated word of the files under `dir`, in path order.
fn corpus_words(dir: &Path) -> Result<Vec<String>, Error> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut words = Vec::new();
    for f in files {
        // Some files are Latin-1 or carry a BOM: their bytes read lossily are words all the same.
        words.extend(String::from_utf8_lossy(&std::fs::read(&f)?).split_whitespace().map(str::to_owned));
    }
    Ok(words)
}

/// The first `limit` questions of a SQuAD-format file.
fn xquad_questions(path: &Path, limit: usize) -> Result<Vec<String>, Error> {
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let questions: Vec<String> = data["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["paragraphs"].as_array().into_iter().flatten())
        .flat_map(|p| p["qas"].as_array().into_iter().flatten())
        .filter_map(|q| q["question"].as_str().map(str::to_owned))
        .take(limit)
        .collect();
    if questions.is_empty() {
        return Err(format!("{} holds no SQuAD question", path.display()).into());
    }
    Ok(questions)
}

/// `n` base and `queries` query unit vectors around `n / 100` centres drawn from a standard normal, each point its
/// centre plus normal noise of deviation 0.5 per dimension, normalized.
fn clustered(n: usize, queries: usize, dim: usize) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = AlbertRng::new(7);
    let mut normal = move || {
        // Box-Muller from two uniforms in (0, 1].
        let u = |rng: &mut AlbertRng| (rng.below(1 << 24) as f64 + 1.0) / (1u64 << 24) as f64;
        let (a, b) = (u(&mut rng), u(&mut rng));
        ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32
    };
    let centres: Vec<Vec<f32>> = (0..(n / 100).max(1)).map(|_| (0..dim).map(|_| normal()).collect()).collect();
    let mut pick = AlbertRng::new(8);
    let mut point = || {
        let c = &centres[pick.below(centres.len())];
        let mut v: Vec<f32> = c.iter().map(|x| x + 0.5 * normal()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    };
    let base = (0..n).map(|_| point()).collect();
    (base, (0..queries).map(|_| point()).collect())
}

/// The exact `K` nearest ids by inner product of each query, on the rayon pool.
fn exact_all(base: &[Vec<f32>], queries: &[Vec<f32>]) -> Vec<Vec<u64>> {
    queries.par_iter().map(|q| exact(base, q)).collect()
}

/// The exact `K` nearest ids by inner product.
fn exact(base: &[Vec<f32>], q: &[f32]) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> = base.iter().enumerate().map(|(i, v)| (dot(v, q), i as u64)).collect();
    let k = K.min(scored.len());
    if k < scored.len() {
        scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    }
    // Collected from a borrow: `into_iter().collect()` would reuse, and keep, the N-entry buffer (16 MB at 1M).
    scored[..k].iter().map(|&(_, i)| i).collect()
}

/// Inner product in eight running sums, which the compiler turns into SIMD lanes (one sum it could not reorder):
/// exact search over 1M vectors for 500 queries is 128 G multiply-adds.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8.remainder().iter().zip(b8.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a8.zip(b8) {
        for lane in 0..8 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// The process's CPU time so far (user and system, /proc/self/stat), in seconds: on a machine shared with other
/// jobs, what a build costs whatever share of the cores it got.
fn cpu_s() -> Result<f64, Error> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th
    // and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')').ok_or("no command name in /proc/self/stat")?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).ok_or("short /proc/self/stat");
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// The one-minute load average (/proc/loadavg): how busy the machine was.
fn load_average() -> Result<f64, Error> {
    let text = std::fs::read_to_string("/proc/loadavg")?;
    Ok(text.split_whitespace().next().and_then(|v| v.parse().ok()).ok_or("no load average in /proc/loadavg")?)
}

/// Resets the process's peak resident memory (Linux: `5` to /proc/self/clear_refs), so that each half reports its own.
fn reset_peak_rss() {
    // Where it cannot be reset (not Linux, an old kernel) the figure is the peak since the process started.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory since [`reset_peak_rss`], in MiB (`VmHWM` of /proc/self/status).
fn peak_rss_mib() -> Result<f64, Error> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(kib / 1024.0)
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn timed<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<f64, E> {
    let start = Instant::now();
    f()?;
    Ok(ms(start))
}

/// p50 and p99, the nearest order statistic (numpy's `percentile(..., method="nearest")`).
fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Bytes of the files under `dir`.
fn size(dir: &Path) -> Result<u64, Error> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        total += if e.path().is_dir() { size(&e.path())? } else { e.metadata()?.len() };
    }
    Ok(total)
}
