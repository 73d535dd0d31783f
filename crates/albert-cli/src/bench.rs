//! `albert bench`: throughput and latency of inference or one training step on CPU, per batch size.

use std::path::PathBuf;
use std::time::Instant;

use albert::pipeline::{classify, PipelineModel, PipelineOptions, Task};
use albert::{AlbertConfig, AlbertForAny, AlbertInput, AlbertTokenizer, Architecture, ForwardOptions, LoadOptions, Pretrained};
use albert_train::engine::{LossNormalization, LossTerm, MicroLoss, Objective, StepConfig, Stepper};
use albert_train::optim::{AdamW, AdamWConfig, LinearWarmupSchedule};
use albert_train::tasks::glue::{read_glue, GlueTask};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use serde_json::json;

use crate::bench_protocol::{peak_rss_mib, random_batch, Stats};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert bench --batch 1,16 --seq 128 --threads 2 --json\n  \
albert bench --config small.json --train --batch 16\n  \
albert bench --texts ../shared/data/glue/SST-2/dev.tsv --tokenizer ../shared/data/spm/spiece.model --batch 32\n\n\
--texts times the text-to-logits workload instead: every text of the file's `sentence` column (a TSV with a header,\n\
as GLUE's) tokenized, truncated to --seq tokens, batched, padded to each batch's longest and run through a two-label\n\
sequence classifier to its softmax scores (`albert classify`'s path); seq_per_s counts texts. Batches are cut from\n\
the texts sorted by token count, as `albert classify` cuts them (--texts-order sorted), or in file order\n\
(--texts-order file: what batching by arrival gets, with more padding).\n\n\
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
    #[arg(long, conflicts_with = "texts")]
    train: bool,
    // int8 projections (per-channel int8 weights, per-row int8 activations), inference only. The kernels (the
    // int8 one, and f32's without the flag: `int8_kernel` and `f32_kernel` in --json) are chosen as
    // `albert info --kernels` shows; ALBERT_CPU, ALBERT_F32_KERNEL and ALBERT_INT8_KERNEL choose others to compare.
    #[arg(long, conflicts_with = "train", help = crate::info::int8_help())]
    int8: bool,
    /// Time text-to-logits over this TSV's `sentence` column (e.g. SST-2 dev.tsv) instead of fixed shapes.
    #[arg(long, value_name = "TSV")]
    texts: Option<PathBuf>,
    /// Tokenizer for --texts (spiece.model, tokenizer.json or a directory); default: the --model directory's.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// How --texts are cut into batches: from the texts sorted by token count, or in file order.
    #[arg(long, value_enum, default_value_t = TextsOrder::Sorted, requires = "texts")]
    texts_order: TextsOrder,
    /// Print one JSON line per configuration.
    #[arg(long)]
    json: bool,
}

/// The order `--texts` are batched in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TextsOrder {
    /// Sorted by token count, as `albert classify` batches (little padding).
    Sorted,
    /// In file order, each batch padded to its own longest.
    File,
}

pub fn run(mut args: BenchArgs) -> Result<()> {
    // Without a fast int8 kernel --int8 times f32, and says so (the JSON's `int8` is then false).
    args.int8 = crate::info::int8_wanted(args.int8);
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
    let arch = match (args.train, &args.texts) {
        (true, _) => Architecture::MaskedLM,
        (false, Some(_)) => Architecture::SequenceClassification,
        (false, None) => Architecture::Model,
    };
    let device = Device::Cpu;
    let (source, mut model) = match (&args.model, &args.config) {
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
    model.set_precision(albert::Precision::from_int8(args.int8));
    if let Some(path) = &args.texts {
        return bench_texts(&args, path, source, model);
    }
    if args.seq > model.config.max_position_embeddings {
        bail!("--seq {} exceeds the model's max_position_embeddings {}", args.seq, model.config.max_position_embeddings);
    }
    let threads = candle_core::utils::get_num_threads();
    let vocab_size = model.config.vocab_size;
    // Inference runs the prepared model, as every prediction path does: no autograd graph is kept, and no
    // parameter is kept beside its prepared copy (the peak memory is the weights', plus the largest being packed).
    let mut workload = if args.train {
        let stepper = train_stepper(&model)?;
        Workload::Train(Box::new(model), stepper)
    } else {
        Workload::Inference(model.into_inference()?)
    };
    for &batch in &args.batch {
        let (ids, labels) = random_batch(batch, args.seq, vocab_size, batch as u64)?;
        let predicted = labels.ge(0i64)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()? as usize;
        let objective = MaskedLmBatch { input: AlbertInput::new(ids), labels, rows: batch, predicted };
        let mut step = 0;
        let run = || -> Result<()> {
            match &mut workload {
                Workload::Train(model, stepper) => {
                    stepper.step(step, model, &objective, &[()], None)?;
                    step += 1;
                }
                Workload::Inference(model) => {
                    model.forward(&objective.input, &ForwardOptions::default())?;
                }
            }
            Ok(())
        };
        let stats = time_runs(&args, run)?;
        let mode = if args.train { "train_step" } else { "inference" };
        report(&args, &source, mode, batch, threads, batch as f64 * 1e3 / stats.median, &stats, None)?;
    }
    Ok(())
}

/// What the fixed-shape runs time: a training step of the model, or inference on its prepared copy alone.
enum Workload {
    Train(Box<Pretrained>, Stepper),
    Inference(AlbertForAny),
}

/// Times `repeat` as the arguments ask: --warmup untimed calls, then --runs timed ones.
fn time_runs(args: &BenchArgs, mut repeat: impl FnMut() -> Result<()>) -> Result<Stats> {
    for _ in 0..args.warmup {
        repeat()?;
    }
    let mut ms = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let start = Instant::now();
        repeat()?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(Stats::new(ms))
}

/// The text-to-logits workload of `--texts`, once per batch size.
fn bench_texts(args: &BenchArgs, path: &std::path::Path, source: String, model: Pretrained) -> Result<()> {
    // SST-2's reader: any TSV with a header and a `sentence` column (dev.tsv, test.tsv).
    let texts: Vec<String> = read_glue(GlueTask::Sst2, path)
        .with_context(|| format!("reading {}", path.display()))?
        .examples
        .into_iter()
        .map(|e| e.text_a)
        .collect();
    let tok_path = args.tokenizer.clone().or_else(|| args.model.clone()).context("--texts needs --tokenizer (or --model)")?;
    let tokenizer = AlbertTokenizer::from_path(&tok_path).with_context(|| format!("reading {}", tok_path.display()))?;
    // Prepared in place: the pipeline runs it as its inference model, each weight held once (no explanations here).
    let pipeline = PipelineModel::new(model.into_prepared()?, tokenizer, Task::Classify)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let threads = candle_core::utils::get_num_threads();
    for &batch in &args.batch {
        let opts = PipelineOptions { max_length: Some(args.seq), batch_size: batch };
        let stats = time_runs(args, || {
            match args.texts_order {
                TextsOrder::Sorted => {
                    classify::classify(&pipeline, &refs, None, &opts)?;
                }
                // One call per batch: the pipeline's sort cannot reach across batches.
                TextsOrder::File => {
                    for chunk in refs.chunks(batch) {
                        classify::classify(&pipeline, chunk, None, &opts)?;
                    }
                }
            }
            Ok(())
        })?;
        report(args, &source, "texts_to_logits", batch, threads, refs.len() as f64 * 1e3 / stats.median, &stats, Some(refs.len()))?;
    }
    Ok(())
}

/// Prints one configuration's result as text or one JSON line.
/// `texts`: how many texts a run of `--texts` classifies.
#[allow(clippy::too_many_arguments)]
fn report(args: &BenchArgs, source: &str, mode: &str, batch: usize, threads: usize, seq_per_s: f64, stats: &Stats, texts: Option<usize>) -> Result<()> {
    let rss = peak_rss_mib();
    let kernel = args.int8.then(|| albert::ops::int8_kernel().name());
    // Training always runs gemm; f32 inference runs the packed kernel where it is available.
    let f32_kernel = if !args.int8 && !args.train { albert::ops::f32_kernel().name() } else { "gemm" };
    // The batch order of --texts, as its flag names it.
    let order = args.texts.as_ref().and_then(|_| clap::ValueEnum::to_possible_value(&args.texts_order)).map(|v| v.get_name().to_string());
    if args.json {
        let line = json!({
            "model": source, "mode": mode, "texts": texts, "texts_order": order, "int8": args.int8, "int8_kernel": kernel, "f32_kernel": f32_kernel, "batch": batch, "seq": args.seq, "threads": threads,
            "runs": args.runs, "warmup": args.warmup, "seq_per_s": seq_per_s, "median_ms": stats.median,
            "p10_ms": stats.p10, "p90_ms": stats.p90, "min_ms": stats.min, "peak_rss_mib": rss,
        });
        println!("{line}");
    } else {
        println!(
            "{source} {mode}{}{} batch {batch} x seq {}, {threads} thread(s): {seq_per_s:.2} seq/s, median {:.1} ms \
             (p10 {:.1}, p90 {:.1}), peak RSS {}",
            order.map_or(String::new(), |o| format!(" ({o} order)")),
            kernel.map_or(String::new(), |k| format!(" int8 ({k})")),
            args.seq,
            stats.median,
            stats.p10,
            stats.p90,
            rss.map_or("unknown".to_string(), |r| format!("{r:.0} MiB"))
        );
    }
    Ok(())
}

/// What `--train` times through the engine's step: the masked-LM loss as pretraining runs it (only the predicted
/// positions through the decoder) on one fixed batch.
struct MaskedLmBatch {
    input: AlbertInput,
    labels: Tensor,
    rows: usize,
    predicted: usize,
}

impl Objective for MaskedLmBatch {
    type Micro = ();
    type Stats = ();
    type Error = anyhow::Error;

    fn sample_keys(&self, _: &()) -> Vec<u64> {
        (0..self.rows as u64).collect()
    }

    fn counts(&self, _: &()) -> Vec<usize> {
        vec![self.predicted]
    }

    fn loss(&self, model: &AlbertForAny, _: &(), forward: &ForwardOptions) -> Result<MicroLoss<()>> {
        let AlbertForAny::MaskedLM(m) = model else { bail!("--train needs the masked-LM class") };
        let mean = m.predictions.predicted_loss(&m.albert.forward(&self.input, forward)?.last_hidden_state, &self.labels)?.loss;
        Ok(MicroLoss { terms: vec![LossTerm { mean, count: self.predicted }], stats: () })
    }
}

/// The engine's step with AdamW over every parameter, at a constant rate.
fn train_stepper(model: &Pretrained) -> Result<Stepper> {
    let schedule = LinearWarmupSchedule { peak_lr: 1e-4, warmup_steps: 0, total_steps: u64::MAX };
    let cfg = StepConfig { max_grad_norm: 1.0, schedule, normalization: LossNormalization::MicroBatchMean, frozen: Vec::new() };
    Ok(Stepper::new(model, Box::new(AdamW::new(AdamWConfig::default())?), cfg)?)
}
