//! The index's two halves at scale, as albert-search builds, saves, opens and searches them (`albert_search::bench`):
//!
//! - BM25: N passages of 150 words (about 200 tokens, the default passage), each a window at a seeded random place in
//!   the real text of CORPUS (every file under it), written in one commit; timed: build, open, and single-thread
//!   queries (XQuAD English's questions, the ids then the passages with snippets, as `--mode bm25` runs), p50 / p99.
//! - Vectors: N synthetic unit vectors of DIM values (the built-in embedder's width, 256), around N / 100 random
//!   centres with noise 0.5 per dimension (as text embeddings cluster; scripts/bench/ann's distribution), added one by
//!   one as an index update does; timed: build, save, open (header check, memory map), single-thread queries for the
//!   10 nearest, p50 / p99; and recall@10 against exact search (inner product) over the same queries.
//!
//! Prints one JSON line per half. Run by scripts/bench/search_scale.sh:
//!   scale N OUT CORPUS QUESTIONS_JSON [QUERIES=500] [DIM=256]   (the binary `cargo build --release -p albert-search
//!   --features bench --bench scale` makes; `cargo bench -- ARGS` works too, but rebuilds every dependency)

use std::path::{Path, PathBuf};
use std::time::Instant;

use albert::rng::AlbertRng;
use albert_search::bench::{Bm25, Vectors};
use albert_search::{Passage, Source};

const WORDS_PER_PASSAGE: usize = 150;
const K: usize = 10;

fn main() {
    // `cargo bench` appends `--bench`.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.len() < 4 {
        eprintln!("usage: scale N OUT CORPUS QUESTIONS_JSON [QUERIES=500] [DIM=256]");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| {
        args.get(i).map_or(Ok(default), |a| a.parse()).unwrap_or_else(|_| {
            eprintln!("argument {} should be a number, not {:?}", i + 1, args[i]);
            std::process::exit(2)
        })
    };
    let n = number(0, 0);
    if n == 0 {
        eprintln!("N should be at least 1");
        std::process::exit(2);
    }
    let (out, corpus, questions) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]), PathBuf::from(&args[3]));
    let (queries, dim) = (number(4, 500), number(5, 256));
    if let Err(e) = run(n, &out, &corpus, &questions, queries, dim) {
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
    let words = corpus_words(corpus)?;
    if words.len() <= WORDS_PER_PASSAGE {
        return Err(format!("{} holds {} words, fewer than a passage", corpus.display(), words.len()).into());
    }
    let mut rng = AlbertRng::new(1);
    let passages: Vec<Passage> = (0..n)
        .map(|i| {
            let start = rng.below(words.len() - WORDS_PER_PASSAGE);
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
    });
    println!("{line}");
    Ok(())
}

fn vectors(n: usize, path: &Path, queries: usize, dim: usize) -> Result<(), Error> {
    let (base, probes) = clustered(n, queries, dim);
    let ids: Vec<u64> = (0..n as u64).collect();
    let start = Instant::now();
    let index = Vectors::build(dim, &ids, &base)?;
    let build_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let bytes = index.save(path)?;
    let save_ms = ms(start);
    drop(index);
    let start = Instant::now();
    let index = Vectors::open(path, dim, n as u64)?;
    let open_ms = ms(start);
    let (mut latencies, mut found) = (Vec::new(), 0usize);
    for q in &probes {
        let start = Instant::now();
        let got = index.search(q, K)?;
        latencies.push(ms(start));
        let truth = exact(&base, q);
        found += got.iter().filter(|id| truth.contains(id)).count();
    }
    let (p50, p99) = percentiles(latencies);
    let line = serde_json::json!({
        "index": "vectors", "vectors": n, "dim": dim, "synthetic": "clustered unit vectors, N/100 centres, noise 0.5",
        "build_s": build_s, "vectors_per_s": n as f64 / build_s, "bytes": bytes, "save_ms": save_ms, "open_ms": open_ms,
        "queries": probes.len(), "query_p50_ms": p50, "query_p99_ms": p99,
        "recall_at_10": found as f64 / (K.min(n) * probes.len()) as f64,
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

/// The exact `K` nearest ids by inner product.
fn exact(base: &[Vec<f32>], q: &[f32]) -> Vec<u64> {
    let mut scored: Vec<(f32, u64)> =
        base.iter().enumerate().map(|(i, v)| (v.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), i as u64)).collect();
    let k = K.min(scored.len());
    if k < scored.len() {
        scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
    }
    scored.truncate(k);
    scored.into_iter().map(|(_, i)| i).collect()
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
