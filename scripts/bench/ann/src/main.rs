//! usearch vs hnsw_rs vs instant-distance: build time, recall@10 against exact search and single-thread query
//! latency (p50 / p99) on N synthetic unit vectors of 256 dimensions (albert-small's hidden size), all three with
//! M = 16 (instant-distance: its fixed 32), ef_construction = 128 and ef_search = 64, cosine distance.
//!
//! Usage: ann-bench [N=100000] [QUERIES=500] [clustered|uniform] [LIBRARY TO SKIP...]
//! clustered: around N/100 random centres, as text embeddings cluster; uniform: on the whole sphere, no structure
//! (the hardest case for a graph index).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

const DIM: usize = 256;
const K: usize = 10;
const M: usize = 16;
const EF_CONSTRUCTION: usize = 128;
const EF_SEARCH: usize = 64;

/// Unit vectors around `N / 100` random centres (noise 0.5 per dimension), or, `uniform`, spread over the sphere.
fn data(n: usize, queries: usize, uniform: bool) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..(n / 100).max(1)).map(|_| (0..DIM).map(|_| normal.sample(&mut rng)).collect()).collect();
    let point = |rng: &mut rand::rngs::StdRng| {
        let c = &centres[rng.random_range(0..centres.len())];
        let mut v: Vec<f32> = c.iter().map(|x| if uniform { normal.sample(rng) } else { x + 0.5 * normal.sample(rng) }).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    };
    let base = (0..n).map(|_| point(&mut rng)).collect();
    let q = (0..queries).map(|_| point(&mut rng)).collect();
    (base, q)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The exact top-k by inner product (= cosine on unit vectors).
fn exact(base: &[Vec<f32>], q: &[f32]) -> Vec<usize> {
    let mut s: Vec<(f32, usize)> = base.iter().enumerate().map(|(i, v)| (dot(v, q), i)).collect();
    s.select_nth_unstable_by(K, |a, b| b.0.total_cmp(&a.0));
    s.truncate(K);
    s.into_iter().map(|(_, i)| i).collect()
}

fn report(name: &str, build_s: f64, truth: &[Vec<usize>], queries: &[Vec<f32>], search: impl Fn(&[f32]) -> Vec<usize>) {
    let mut lat = Vec::new();
    let mut hits = 0;
    for (q, t) in queries.iter().zip(truth) {
        let start = Instant::now();
        let got = search(q);
        lat.push(start.elapsed().as_secs_f64() * 1e3);
        hits += got.iter().filter(|i| t.contains(i)).count();
    }
    lat.sort_by(f64::total_cmp);
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<17} build {build_s:>7.1} s  recall@10 {:.4}  query p50 {:.3} ms  p99 {:.3} ms",
        hits as f64 / (K * queries.len()) as f64,
        p(0.5),
        p(0.99)
    );
}

#[derive(Clone)]
struct P(Vec<f32>);

impl instant_distance::Point for P {
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(&self.0, &other.0)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(100_000, |a| a.parse().unwrap());
    let nq: usize = args.next().map_or(500, |a| a.parse().unwrap());
    let uniform = args.next().is_some_and(|a| a == "uniform");
    let skip: Vec<String> = args.collect();
    let (base, queries) = data(n, nq, uniform);
    let start = Instant::now();
    let truth: Vec<Vec<usize>> = queries.par_iter().map(|q| exact(&base, q)).collect();
    println!("N = {n} {} vectors, {nq} queries, dim {DIM}, {} threads; exact search {:.3} ms/query (rayon over queries)",
        if uniform { "uniform" } else { "clustered" }, rayon::current_num_threads(), start.elapsed().as_secs_f64() * 1e3 / nq as f64);
    {
        let mut lat = Vec::new();
        for q in queries.iter().take(50) {
            let s = Instant::now();
            std::hint::black_box(exact(&base, q));
            lat.push(s.elapsed().as_secs_f64() * 1e3);
        }
        lat.sort_by(f64::total_cmp);
        println!("exact (1 thread)  query p50 {:.3} ms", lat[lat.len() / 2]);
    }

    if !skip.iter().any(|s| s == "usearch") {
        let opts = usearch::IndexOptions {
            dimensions: DIM,
            metric: usearch::MetricKind::IP,
            quantization: usearch::ScalarKind::F32,
            connectivity: M,
            expansion_add: EF_CONSTRUCTION,
            expansion_search: EF_SEARCH,
            multi: false,
        };
        let index = usearch::Index::new(&opts).unwrap();
        let start = Instant::now();
        index.reserve_capacity_and_threads(n, rayon::current_num_threads()).unwrap();
        base.par_iter().enumerate().for_each(|(i, v)| index.add(i as u64, v).unwrap());
        let build = start.elapsed().as_secs_f64();
        report("usearch", build, &truth, &queries, |q| {
            index.search(q, K).unwrap().keys.into_iter().map(|k| k as usize).collect()
        });
    }
    if !skip.iter().any(|s| s == "hnsw_rs") {
        let start = Instant::now();
        let hnsw = hnsw_rs::hnsw::Hnsw::<f32, hnsw_rs::anndists::dist::DistDot>::new(M, n, 16, EF_CONSTRUCTION, hnsw_rs::anndists::dist::DistDot {});
        let items: Vec<(&Vec<f32>, usize)> = base.iter().enumerate().map(|(i, v)| (v, i)).collect();
        hnsw.parallel_insert(&items);
        let build = start.elapsed().as_secs_f64();
        report("hnsw_rs", build, &truth, &queries, |q| hnsw.search(q, K, EF_SEARCH).into_iter().map(|nb| nb.d_id).collect());
    }
    if !skip.iter().any(|s| s == "instant-distance") {
        let start = Instant::now();
        let points: Vec<P> = base.iter().cloned().map(P).collect();
        let values: Vec<usize> = (0..n).collect();
        let map = instant_distance::Builder::default().ef_construction(EF_CONSTRUCTION).ef_search(EF_SEARCH).build(points, values);
        let build = start.elapsed().as_secs_f64();
        report("instant-distance", build, &truth, &queries, |q| {
            let mut search = instant_distance::Search::default();
            map.search(&P(q.to_vec()), &mut search).take(K).map(|item| *item.value).collect()
        });
    }
}
