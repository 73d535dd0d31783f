//! `albert explain --faithfulness`: deletion curves and AOPC of the attribution methods against random orders on a
//! data set (`albert::pipeline::faithfulness`), as a table, JSON, and a PNG of the mean curves.

use std::io::Write;

use albert::pipeline::explain::{ExplainOptions, Method};
use albert::pipeline::faithfulness::{self, Estimate, FaithfulnessOptions, Ranking, Summary};
use albert::pipeline::{PipelineModel, Task};
use albert::stats::BootstrapOptions;
use albert_train::plot::{render_png, Panel, Series};
use albert_train::tasks::glue::{read_glue, GlueTask};
use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::explain::{progress_bar, ExplainArgs};
use crate::output::write_file;

/// Line colors of the rankings, in order (matplotlib's first four; random last in grey).
const COLORS: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];
const GREY: [u8; 3] = [127, 127, 127];

/// Runs the check as `args` ask (`--faithfulness` is set).
pub fn run(args: &ExplainArgs) -> Result<()> {
    let data = args.data.as_ref().context("--faithfulness needs --data")?;
    if args.resamples == 0 || args.batch_size == 0 || args.limit == Some(0) {
        bail!("--resamples, --batch-size and --limit must be at least 1");
    }
    if let Some(png) = &args.png {
        args.overwrite.claim_file(png)?;
    }
    // SST-2's reader: any TSV with a header and a `sentence` column.
    let examples = read_glue(GlueTask::Sst2, data).with_context(|| format!("reading {}", data.display()))?.examples;
    let texts: Vec<String> = examples.into_iter().take(args.limit.unwrap_or(usize::MAX)).map(|e| e.text_a).collect();
    let (spec, source) = match &args.model {
        Some(m) => (m.clone(), albert::hub::echo(m)),
        None => {
            let name = Task::Classify.default_model();
            (albert::builtin::path(name)?.to_string_lossy().into_owned(), format!("{name} (built-in)"))
        }
    };
    let model = PipelineModel::load(&spec, Task::Classify).with_context(|| format!("loading {source}"))?;
    let opts = FaithfulnessOptions {
        explain: ExplainOptions { steps: args.steps, internal_batch_size: args.internal_batch_size, max_length: args.max_length },
        methods: match args.method {
            Some(m) => vec![m],
            None => vec![Method::IntegratedGradients, Method::GradXInput, Method::AttentionRollout],
        },
        random_seeds: args.random_seeds,
        seed: args.seed,
        batch_size: args.batch_size,
    };
    let bar = progress_bar(true, texts.len() as u64, "checking", "texts");
    let mut curves = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let c = faithfulness::text_curves(&model, i, text, &opts)
            .with_context(|| format!("text {} of {} ({text:?})", i + 1, data.display()))?;
        if c.truncated {
            bar.suspend(|| eprintln!("warning: text {} was truncated (raise --max-length)", i + 1));
        }
        curves.push(c);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let bootstrap = BootstrapOptions { resamples: args.resamples, seed: args.seed, ..BootstrapOptions::default() };
    let summary = faithfulness::summarize(&curves, &bootstrap)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let line = json!({"model": source, "data": data, "summary": summary, "texts": curves});
        writeln!(out, "{}", serde_json::to_string(&line)?)?;
    } else {
        print_table(&mut out, &source, &data.display().to_string(), &summary)?;
    }
    if let Some(png) = &args.png {
        // The checkpoint's folder name (or hub id's) keeps the title short.
        let short = args.model.as_deref().map_or(Task::Classify.default_model(), |m| m.trim_end_matches('/').rsplit('/').next().unwrap_or(m));
        write_file(png, &curves_png(&summary, short)?)?;
        if !args.json {
            eprintln!("wrote {}", png.display());
        }
    }
    Ok(())
}

/// The ranking as the table names it.
fn label(r: Ranking) -> String {
    match r {
        Ranking::Method(m) => m.name().to_string(),
        Ranking::Random { seeds: 1 } => "random (1 seed)".to_string(),
        Ranking::Random { seeds } => format!("random ({seeds} seeds)"),
    }
}

fn estimate(e: &Estimate, signed: bool) -> String {
    match signed {
        true => format!("{:+.3} [{:+.3}, {:+.3}]", e.mean, e.low, e.high),
        false => format!("{:.3} [{:.3}, {:.3}]", e.mean, e.low, e.high),
    }
}

/// The summary as a table: per ranking the AOPC and its difference to random with intervals, then the mean drops.
fn print_table(out: &mut impl Write, model: &str, data: &str, s: &Summary) -> Result<()> {
    let pct = 100.0 * s.confidence;
    writeln!(out, "{model} on {} texts of {data}: deletion of the top-ranked word pieces", s.texts)?;
    writeln!(out, "ranked by signed attribution toward the predicted class c; k = ceil(q n / 100) of n pieces removed from the ids")?;
    writeln!(out, "drop = p(c | text) - p(c | text without them); AOPC = (sum of the {} drops) / {} (Samek et al. 2017)", s.levels.len(), s.levels.len() + 1)?;
    writeln!(out, "{pct:.0}% intervals: percentile bootstrap over texts, {} resamples, seed {}", s.resamples, s.seed)?;
    writeln!(out)?;
    let levels: String = s.levels.iter().map(|q| format!("{:>7}", format!("{q}%"))).collect();
    writeln!(out, "{:<20} {:<22} {:<25} mean drop at{levels}", "ranking", "AOPC", "AOPC - random")?;
    for r in &s.rankings {
        let versus = r.versus_random.as_ref().map(|e| estimate(e, true)).unwrap_or_default();
        let drops: String = r.drops.iter().map(|d| format!("{:>7.3}", d.mean)).collect();
        writeln!(out, "{:<20} {:<22} {:<25} {:12}{drops}", label(r.ranking), estimate(&r.aopc, false), versus, "")?;
    }
    Ok(())
}

/// The mean deletion curves (drop against the percentage deleted, from 0 at 0 %) as a PNG.
fn curves_png(s: &Summary, model: &str) -> Result<Vec<u8>> {
    let series = s
        .rankings
        .iter()
        .enumerate()
        .map(|(i, r)| Series {
            name: format!("{} (AOPC {:.3})", label(r.ranking), r.aopc.mean),
            color: if matches!(r.ranking, Ranking::Random { .. }) { GREY } else { COLORS[i % COLORS.len()] },
            points: std::iter::once((0.0, 0.0)).chain(s.levels.iter().zip(&r.drops).map(|(&q, d)| (f64::from(q), d.mean))).collect(),
        })
        .collect();
    let title = format!("Deletion: mean drop in p(predicted), {model}, {} texts", s.texts);
    Ok(render_png(&[Panel { title, series }], "% of word pieces deleted")?)
}
