//! `albert predict`: run a fine-tuned checkpoint over a task file (labeled or not) and write its predictions in the
//! format `albert evaluate --predictions` and the task's leaderboard read (GLUE submission TSV).

use std::path::PathBuf;

use albert_train::finetune::task::{companion_path, model_labels, ReadOptions};
use albert_train::finetune::{with_family, FamilyVisitor, TaskFamily};
use albert_train::tasks::Task;

use crate::args::{task_parser, CustomDataArgs, RunArgs};
use crate::output::OverwriteArg;

/// Arguments of `albert predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// Task (squad-v2 also writes NAME.na_odds.json beside --out).
    #[arg(long, value_parser = task_parser())]
    pub task: Task,
    /// Data file in the task's format, labels optional (e.g. GLUE test.tsv).
    #[arg(long)]
    pub data: PathBuf,
    /// Fine-tuned checkpoint directory (config.json, weights, tokenizer files).
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the predictions (default: standard output); an existing file is replaced only with --overwrite.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub overwrite: OverwriteArg,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub custom: CustomDataArgs,
}

/// Runs `albert predict`.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    with_family(args.task, Some(&args.custom.to_task()), Predict(&args))?
}

/// `albert predict` for one task family.
struct Predict<'a>(&'a PredictArgs);

impl FamilyVisitor for Predict<'_> {
    type Output = anyhow::Result<()>;

    fn visit<F: TaskFamily>(self, family: F) -> anyhow::Result<()> {
        let args = self.0;
        if let Some(out) = &args.out {
            args.overwrite.claim_file(out)?;
            for name in family.companions() {
                args.overwrite.claim_file(&companion_path(out, name))?;
            }
        }
        let (model, tokenizer) = args.run.load(&args.model)?;
        let read = ReadOptions { labels: model_labels(&model.config), articles: args.run.articles };
        let data = family.read(&args.data, &read)?;
        let predictions = family.predict(&model, &tokenizer, &data, &args.run.predict_options(args.task))?;
        for file in family.prediction_files(&data, &predictions, &model.config)? {
            match (&args.out, file.companion) {
                (Some(out), None) => crate::output::write_file(out, &file.bytes)?,
                (Some(out), Some(name)) => crate::output::write_file(&companion_path(out, name), &file.bytes)?,
                (None, None) => println!("{}", String::from_utf8_lossy(&file.bytes).trim_end()),
                // Standard output takes the predictions only.
                (None, Some(_)) => {}
            }
        }
        Ok(())
    }
}
