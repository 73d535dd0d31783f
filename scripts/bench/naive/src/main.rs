//! `albert-naive`: `albert bench`'s measurement on the model core's first version (commit 0c47b66), the naive
//! engine of scripts/bench/peers.py. Built by scripts/bench/build_naive.sh against a git worktree of that commit.
//!
//! The protocol is `albert bench`'s (crates/albert-cli/src/bench.rs): the model randomly initialized from seed 0
//! (`Pretrained::init`), per batch size the same fixed-seed batch (token ids uniform over the vocabulary past the
//! special pieces, masked-LM labels on ~15% of the positions, both from the same xorshift64* generator seeded with the
//! batch size), --warmup untimed repetitions, --runs timed ones, and one JSON line with the same fields (median,
//! p10/p90 by linear interpolation, min, peak RSS from VmHWM).
//!
//! What is timed is what the old code offered, composed of candle operations with autograd on every parameter:
//! - inference: `AlbertModel::forward` (embeddings, encoder, pooler) on the batch, no attention mask (the old code
//!   reads a missing mask as all ones, as `albert bench` passes none), or an explicit all-ones mask with
//!   --explicit-mask. The old tree has no detached inference model: its parameters are `Var`s, so the forward
//!   records the autograd graph as every prediction did then.
//! - --train: `AlbertForMaskedLM::forward` (logits over the whole vocabulary at every position), its `loss` (the
//!   old cross-entropy: log-softmax over every row, gather, ignore -100), `backward`, and `candle_nn::AdamW` over
//!   every parameter (the old tree has no optimizer of its own). With --sop the class is `AlbertForPreTraining` and
//!   the loss its MLM plus sentence-order cross-entropy (labels alternating 0, 1 over the batch).
//!   `albert bench --train` times the masked-LM class with the MLM loss alone, so the default is like for like.

use std::time::Instant;

use albert::{AlbertConfig, AlbertForAny, AlbertInput, Architecture, ForwardOptions, Pretrained};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde_json::json;

// `albert bench`'s own batch, statistics and RSS, so both engines measure alike.
#[path = "../../../../crates/albert-cli/src/bench_protocol.rs"]
mod bench_protocol;
use bench_protocol::{peak_rss_mib, random_batch, Stats};

const USAGE: &str = "usage: albert-naive [--preset NAME | --config FILE] [--batch N[,N...]] [--seq N] [--threads N] \
[--runs N] [--warmup N] [--train [--sop]] [--explicit-mask] [--json]";

struct Args {
    preset: String,
    config: Option<String>,
    batch: Vec<usize>,
    seq: usize,
    threads: Option<usize>,
    runs: usize,
    warmup: usize,
    train: bool,
    sop: bool,
    explicit_mask: bool,
    json: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        preset: "albert-base-v2".into(),
        config: None,
        batch: vec![1],
        seq: 128,
        threads: None,
        runs: 10,
        warmup: 2,
        train: false,
        sop: false,
        explicit_mask: false,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value\n{USAGE}"));
        let number =
            |s: String, what: &str| s.parse::<usize>().with_context(|| format!("{what}: `{s}` is not a count"));
        match flag.as_str() {
            "--preset" => a.preset = value()?,
            "--config" => a.config = Some(value()?),
            "--batch" => {
                a.batch = value()?.split(',').map(|s| number(s.to_string(), "--batch")).collect::<Result<_>>()?;
            }
            "--seq" => a.seq = number(value()?, "--seq")?,
            "--threads" => a.threads = Some(number(value()?, "--threads")?),
            "--runs" => a.runs = number(value()?, "--runs")?,
            "--warmup" => a.warmup = number(value()?, "--warmup")?,
            "--train" => a.train = true,
            "--sop" => a.sop = true,
            "--explicit-mask" => a.explicit_mask = true,
            "--json" => a.json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown argument `{flag}`\n{USAGE}"),
        }
    }
    if a.sop && !a.train {
        bail!("--sop needs --train");
    }
    Ok(a)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    if let Some(n) = args.threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        // As `albert bench`: read once, at the pools' first use, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
    }
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.batch.iter().any(|&b| b == 0) || args.seq == 0 {
        bail!("batch sizes and --seq must be at least 1");
    }
    let arch = match (args.train, args.sop) {
        (true, true) => Architecture::PreTraining,
        (true, false) => Architecture::MaskedLM,
        (false, _) => Architecture::Model,
    };
    let device = Device::Cpu;
    let (source, cfg) = match &args.config {
        Some(path) => (path.clone(), AlbertConfig::from_file(path).with_context(|| format!("reading {path}"))?),
        None => (args.preset.clone(), AlbertConfig::preset(&args.preset)?),
    };
    let model = Pretrained::init(&cfg, arch, 0, DType::F32, &device)?;
    if args.seq > cfg.max_position_embeddings {
        bail!("--seq {} exceeds the model's max_position_embeddings {}", args.seq, cfg.max_position_embeddings);
    }
    let threads = candle_core::utils::get_num_threads();
    let mut optimizer = if args.train {
        let mut vars: Vec<(String, candle_core::Var)> = model
            .varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        // torch.optim.AdamW's defaults, the learning rate `albert bench --train` steps with.
        let params = ParamsAdamW { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
        Some(AdamW::new(vars.into_iter().map(|(_, v)| v).collect(), params)?)
    } else {
        None
    };
    for &batch in &args.batch {
        let (ids, labels) = random_batch(batch, args.seq, cfg.vocab_size, batch as u64)?;
        let mut input = AlbertInput::new(ids);
        if args.explicit_mask {
            input.attention_mask = Some(Tensor::ones((batch, args.seq), DType::U32, &device)?);
        }
        let sop_labels = Tensor::from_vec((0..batch as i64).map(|i| i % 2).collect::<Vec<_>>(), batch, &device)?;
        let train_opts = ForwardOptions { train: true, ..ForwardOptions::default() };
        let mut step = || -> Result<()> {
            match (&model.model, optimizer.as_mut()) {
                (AlbertForAny::Model(m), None) => {
                    m.forward(&input, &ForwardOptions::default())?;
                }
                (AlbertForAny::MaskedLM(m), Some(opt)) => {
                    let out = m.forward(&input, &train_opts)?;
                    let grads = m.loss(&out, &labels)?.backward()?;
                    opt.step(&grads)?;
                }
                (AlbertForAny::PreTraining(m), Some(opt)) => {
                    let out = m.forward(&input, &train_opts)?;
                    let grads = m.loss(&out, &labels, &sop_labels)?.backward()?;
                    opt.step(&grads)?;
                }
                _ => unreachable!("the class follows the mode"),
            }
            Ok(())
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
        let mode = if args.train { "train_step" } else { "inference" };
        let seq_per_s = batch as f64 * 1e3 / stats.median;
        let rss = peak_rss_mib();
        if args.json {
            let line = json!({
                "engine": "naive-0c47b66", "model": source, "mode": mode,
                "head": args.train.then_some(if args.sop { "pretraining" } else { "masked-lm" }),
                "int8": false, "int8_kernel": null, "batch": batch, "seq": args.seq, "threads": threads,
                "runs": args.runs, "warmup": args.warmup, "seq_per_s": seq_per_s, "median_ms": stats.median,
                "p10_ms": stats.p10, "p90_ms": stats.p90, "min_ms": stats.min, "peak_rss_mib": rss,
            });
            println!("{line}");
        } else {
            println!(
                "naive (0c47b66) {source} {mode} batch {batch} x seq {}, {threads} thread(s): {seq_per_s:.2} seq/s, \
                 median {:.1} ms (p10 {:.1}, p90 {:.1}), peak RSS {}",
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
