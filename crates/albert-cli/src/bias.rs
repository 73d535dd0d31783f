//! `albert bias`: bias probes of a masked-LM checkpoint (`crows-pairs`), over `albert::pipeline::bias`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use albert::pipeline::bias::crows_pairs::{self, BootstrapOptions, CrowsOptions, CrowsReport, Tally};
use albert::pipeline::{PipelineModel, Task};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Which probe runs.
#[derive(clap::Args)]
pub struct BiasArgs {
    #[command(subcommand)]
    probe: Probe,
}

#[derive(clap::Subcommand)]
enum Probe {
    /// CrowS-Pairs (Nangia et al. 2020): how often the model prefers the more stereotypical sentence of a pair.
    CrowsPairs(CrowsPairsArgs),
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
albert bias crows-pairs --data ../shared/data/crows_pairs/crows_pairs_anonymized.csv\n  \
albert bias crows-pairs --model albert-base-v2 --data crows_pairs_anonymized.csv --json --pairs scores.csv\n\n\
The metric of nyu-mll/crows-pairs metric.py: both sentences of a pair are tokenized (lowercased first when the\n\
tokenizer lowercases), the tokens they share are found by difflib's alignment of the token ids, and each shared\n\
token but [CLS] and [SEP] is masked in turn; a sentence scores the sum of those tokens' log-probabilities (its\n\
pseudo-log-likelihood). A pair counts for the stereotype when the more stereotypical sentence scores higher (both\n\
rounded to 3 decimals; equal ones are neutral). 50 is the score of a model without preference; the paper measured\n\
BERT-base 60.5, RoBERTa-large 64.1, ALBERT-xxlarge-v2 67.0.\n\n\
overall and each bias type: stereotyped pairs over all pairs (neutral ones included, as metric.py's metric score);\n\
stereo and antistereo: over their non-neutral pairs, as metric.py's stereotype and anti-stereotype scores.\n\
The interval is a percentile bootstrap of the overall score over the pairs.")]
pub struct CrowsPairsArgs {
    /// Masked-LM checkpoint directory or Hugging Face hub id [default: the built-in albert-small].
    #[arg(long)]
    model: Option<String>,
    /// The CrowS-Pairs CSV (crows_pairs_anonymized.csv, or a file with its columns sent_more, sent_less,
    /// stereo_antistereo, bias_type).
    #[arg(long, value_name = "CSV")]
    data: PathBuf,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Write each pair's scores to this CSV (index, sentences, both pseudo-log-likelihoods unrounded, score,
    /// direction, bias type, masked tokens). An existing file is not replaced without --overwrite.
    #[arg(long, value_name = "FILE")]
    pairs: Option<PathBuf>,
    /// Most masked copies of a sentence per forward pass (a sentence's copies go through the model together).
    #[arg(long, value_name = "N", default_value_t = CrowsOptions::default().batch_size)]
    batch: usize,
    /// Score only the first N pairs (a quick look; the published figures use all 1,508).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Bootstrap resamples of the overall score's 95% interval.
    #[arg(long, value_name = "N", default_value_t = BootstrapOptions::default().resamples)]
    resamples: usize,
    /// Seed of the bootstrap resamples.
    #[arg(long, default_value_t = BootstrapOptions::default().seed)]
    seed: u64,
    /// Run the encoder's projections in int8 (dynamic quantization): faster, scores change slightly.
    #[arg(long)]
    int8: bool,
    #[command(flatten)]
    overwrite: crate::output::OverwriteArg,
}

/// Runs `albert bias`.
pub fn run(args: BiasArgs) -> Result<()> {
    match args.probe {
        Probe::CrowsPairs(a) => run_crows_pairs(a),
    }
}

fn run_crows_pairs(a: CrowsPairsArgs) -> Result<()> {
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if let Some(path) = &a.pairs {
        a.overwrite.claim_file(path)?;
    }
    let mut pairs = crows_pairs::read_pairs(&a.data)?;
    if let Some(n) = a.limit {
        if n == 0 {
            bail!("--limit must be at least 1");
        }
        pairs.truncate(n);
    }
    let (spec, name) = match &a.model {
        Some(m) => (m.clone(), m.clone()),
        None => {
            let dir = albert::builtin::path(albert::builtin::PRETRAINED)?.to_string_lossy().into_owned();
            (dir, format!("{} (built-in)", albert::builtin::PRETRAINED))
        }
    };
    let mut model = PipelineModel::load(&spec, Task::FillMask)
        .with_context(|| format!("loading {} as a masked language model", albert::hub::echo(&spec)))?;
    model.set_precision(albert::Precision::from_int8(a.int8));

    let bar = match !a.json && std::io::stderr().is_terminal() {
        true => ProgressBar::new(pairs.len() as u64),
        false => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} pairs [{elapsed_precise}<{eta_precise}] {per_sec}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    let scores = crows_pairs::score_pairs(&model, &pairs, CrowsOptions { batch_size: a.batch }, || bar.inc(1))?;
    bar.finish_and_clear();

    let bootstrap = BootstrapOptions { resamples: a.resamples, seed: a.seed, ..BootstrapOptions::default() };
    let report = crows_pairs::report(&pairs, &scores, &bootstrap)?;
    if let Some(path) = &a.pairs {
        crate::output::write_file(path, &crows_pairs::pairs_csv(&pairs, &scores)?)?;
    }
    if a.json {
        let out = json!({"model": name, "data": a.data, "report": report});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", table(&name, &a.data.display().to_string(), &report));
    }
    if let Some(path) = &a.pairs {
        eprintln!("pair scores: {}", path.display());
    }
    Ok(())
}

/// The report for people: one row per group, the interval under the overall row.
fn table(model: &str, data: &str, r: &CrowsReport) -> String {
    let row = |name: &str, t: &Tally| {
        format!("{name:<22} {:>6} {:>12} {:>8} {:>7.2}\n", t.pairs, t.stereotyped, t.neutral, t.score)
    };
    let mut out = format!("CrowS-Pairs: {model} on {data}\n\n");
    out += &format!("{:<22} {:>6} {:>12} {:>8} {:>7}\n", "", "pairs", "stereotyped", "neutral", "score");
    out += &row("overall", &r.overall);
    let i = &r.interval;
    out += &format!(
        "{:<22} {:.0}% interval {:.2} - {:.2} ({} bootstrap resamples)\n",
        "",
        i.confidence * 100.0,
        i.low,
        i.high,
        i.resamples
    );
    out += &row("stereo", &r.stereo);
    out += &row("antistereo", &r.antistereo);
    out += "\n";
    for (name, t) in &r.per_type {
        out += &row(name, t);
    }
    out
}
