//! `albert bench`: throughput and latency of inference or one training step on CPU, per batch size.

use std::path::PathBuf;
use std::time::Instant;

use albert::{AlbertConfig, AlbertInput, Architecture, ForwardOptions, LoadOptions, Pretrained};
use albert_train::optim::{AdamW, AdamWConfig, Optimizer};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor, Var};
use serde_json::json;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert bench --batch 1,16 --seq 128 --threads 2 --json\n  \
albert bench --config small.json --train --batch 16\n\n\
Each configuration runs --warmup untimed repetitions, then --runs timed ones; the JSON line per configuration has\n\
seq_per_s (from the median), median_ms, p10_ms, p90_ms, threads, the shape and peak_rss_mib (the process's VmHWM\n\
so far: run one configuration per process to attribute it). Weights are random unless --model is given.")]
pub struct BenchArgs {
    /// A published configuration, randomly initialized.
    #[arg(long, default_value = "albert-base-v2", conflicts_with_all = ["model", "config"])]
    preset: String,
    /// Checkpoint directory to load instead of a preset.
    #[arg(long, conflicts_with = "config")]
    model: Option<PathBuf>,
    /// A config.json to initialize randomly instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Batch sizes: repeat the flag or give a comma list.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    batch: Vec<usize>,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// Compute threads (rayon and candle's pools); all physical cores by default.
    #[arg(long)]
    threads: Option<usize>,
    /// Timed repetitions per configuration.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Untimed repetitions before timing.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Time one training step (masked-LM forward, backward, AdamW update) instead of inference.
    #[arg(long)]
    train: bool,
    /// Print one JSON line per configuration.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // Read once, at the pools' first use, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.batch.iter().any(|&b| b == 0) || args.seq == 0 {
        bail!("batch sizes and --seq must be at least 1");
    }
    let arch = if args.train { Architecture::MaskedLM } else { Architecture::Model };
    let device = Device::Cpu;
    let (source, model) = match (&args.model, &args.config) {
        (Some(dir), _) => {
            let opts = LoadOptions { architecture: Some(arch), ..LoadOptions::default() };
            (dir.display().to_string(), Pretrained::load(dir, &opts).with_context(|| format!("loading {}", dir.display()))?)
        }
        (None, Some(path)) => {
            let cfg = AlbertConfig::from_file(path).with_context(|| format!("reading {}", path.display()))?;
            (path.display().to_string(), Pretrained::init(&cfg, arch, 0, DType::F32, &device)?)
        }
        (None, None) => (args.preset.clone(), Pretrained::init(&AlbertConfig::preset(&args.preset)?, arch, 0, DType::F32, &device)?),
    };
    if args.seq > model.config.max_position_embeddings {
        bail!("--seq {} exceeds the model's max_position_embeddings {}", args.seq, model.config.max_position_embeddings);
    }
    let threads = candle_core::utils::get_num_threads();
    let mut trainer = args.train.then(|| Trainer::new(&model)).transpose()?;
    // Inference runs the detached model, as every prediction path does: no autograd graph is kept.
    let inference = model.detached()?;
    for &batch in &args.batch {
        let (ids, labels) = random_batch(batch, args.seq, model.config.vocab_size, batch as u64)?;
        let input = AlbertInput::new(ids);
        let mut step = || -> Result<()> {
            match trainer.as_mut() {
                Some(t) => t.step(&model, &input, &labels),
                None => {
                    inference.forward(&input, &ForwardOptions::default())?;
                    Ok(())
                }
            }
        };
        for _ in 0..args.warmup {
            step()?;
        }
        let mut ms = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let start = Instant::now();
            step()?;
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let stats = Stats::new(ms);
        let seq_per_s = batch as f64 * 1e3 / stats.median;
        let rss = peak_rss_mib();
        let mode = if args.train { "train_step" } else { "inference" };
        if args.json {
            let line = json!({
                "model": source, "mode": mode, "batch": batch, "seq": args.seq, "threads": threads,
                "runs": args.runs, "warmup": args.warmup, "seq_per_s": seq_per_s, "median_ms": stats.median,
                "p10_ms": stats.p10, "p90_ms": stats.p90, "min_ms": stats.min, "peak_rss_mib": rss,
            });
            println!("{line}");
        } else {
            println!(
                "{source} {mode} batch {batch} x seq {}, {threads} thread(s): {seq_per_s:.2} seq/s, median {:.1} ms \
                 (p10 {:.1}, p90 {:.1}), peak RSS {}",
                args.seq,
                stats.median,
                stats.p10,
                stats.p90,
                rss.map_or("unknown".to_string(), |r| format!("{r:.0} MiB"))
            );
        }
    }
    Ok(())
}

/// Order statistics of the timed runs, in milliseconds.
struct Stats {
    median: f64,
    p10: f64,
    p90: f64,
    min: f64,
}

impl Stats {
    fn new(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        // Linear interpolation between order statistics, as numpy's default percentile.
        let q = |p: f64| {
            let x = p * (ms.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            ms[lo] + (ms[hi] - ms[lo]) * (x - lo as f64)
        };
        Self { median: q(0.5), p10: q(0.1), p90: q(0.9), min: ms[0] }
    }
}

/// Token ids uniform over the vocabulary (past the special pieces) and masked-LM labels on 15% of the positions,
/// from a fixed-seed generator so every run sees the same batch.
fn random_batch(batch: usize, seq: usize, vocab: usize, seed: u64) -> Result<(Tensor, Tensor)> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    };
    let low = 5.min(vocab - 1) as u64;
    let ids: Vec<u32> = (0..batch * seq).map(|_| (low + next() % (vocab as u64 - low)) as u32).collect();
    let labels: Vec<i64> = ids.iter().map(|&id| if next() % 100 < 15 { id as i64 } else { -100 }).collect();
    Ok((Tensor::from_vec(ids, (batch, seq), &Device::Cpu)?, Tensor::from_vec(labels, (batch, seq), &Device::Cpu)?))
}

/// One masked-LM training step with AdamW over every parameter.
struct Trainer {
    params: Vec<(String, Var)>,
    optimizer: AdamW,
}

impl Trainer {
    fn new(model: &Pretrained) -> Result<Self> {
        let vars = model.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut params: Vec<(String, Var)> = vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Self { params, optimizer: AdamW::new(AdamWConfig::default())? })
    }

    fn step(&mut self, model: &Pretrained, input: &AlbertInput, labels: &Tensor) -> Result<()> {
        let albert::AlbertForAny::MaskedLM(m) = &model.model else { bail!("--train needs the masked-LM class") };
        let opts = ForwardOptions { train: true, ..ForwardOptions::default() };
        let loss = m.loss(&m.forward(input, &opts)?, labels)?;
        let grads = loss.backward()?;
        self.optimizer.step(&self.params, &grads, 1e-4)?;
        Ok(())
    }
}

/// The process's peak resident set (VmHWM) in MiB, where /proc tells it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
