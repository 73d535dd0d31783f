//! `albert plot`: a pretraining run's loss, accuracy and learning-rate curves as a PNG.

use std::path::{Path, PathBuf};

use albert_train::plot::{pretraining_panels, read_metrics, render_png};
use anyhow::{Context, Result};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert plot runs/small            # writes runs/small/curves.png\n  albert plot runs/small/metrics.jsonl --out curves.png")]
pub struct PlotArgs {
    /// A `albert pretrain run` output directory, or its metrics.jsonl.
    run: PathBuf,
    /// Where to write the PNG [default: curves.png beside metrics.jsonl]; an existing file is replaced only with
    /// --overwrite, or when albert wrote it (a run's own curves.png).
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    overwrite: crate::output::OverwriteArg,
}

pub fn run(args: PlotArgs) -> Result<()> {
    let metrics = if args.run.is_dir() { args.run.join(albert_train::pretrain::METRICS_FILE) } else { args.run.clone() };
    let out = args.out.unwrap_or_else(|| metrics.with_file_name("curves.png"));
    args.overwrite.claim_file(&out)?;
    let steps = write_curves(&metrics, &out)?;
    println!("{} ({steps} steps)", out.display());
    Ok(())
}

/// Draws the curves of `metrics` (a metrics.jsonl) into `out` atomically; returns the number of training steps.
pub fn write_curves(metrics: &Path, out: &Path) -> Result<usize> {
    let records = read_metrics(metrics).with_context(|| format!("reading {}", metrics.display()))?;
    let steps = records.iter().filter(|r| matches!(r, albert_train::pretrain::Record::Train(_))).count();
    crate::output::write_file(out, &render_png(&pretraining_panels(&records), "step")?)?;
    Ok(steps)
}
