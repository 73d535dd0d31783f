//! `albert evaluate`: score a predictions file from any system with the task's official metrics.

use std::path::PathBuf;

use albert_train::tasks::custom::{CustomTask, FileFormat, LabelKind};
use albert_train::tasks::{evaluate_predictions, EvalOptions, EvaluationReport, Task, TaskError};
use anyhow::Context;

use crate::predict::{na_odds_path, predict_to_file, read_qa_data, RunArgs};

pub fn parse_task(name: &str) -> Result<Task, String> {
    Task::from_name(name).ok_or_else(|| TaskError::UnknownTask(name.to_owned()).to_string())
}

/// Arguments of `albert evaluate`. What to score comes from exactly one source (the `source`
/// group): a `--predictions` file, or a fine-tuned `--model` run over the data.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["predictions", "model"])))]
pub struct EvaluateArgs {
    /// Task: cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli, ax, squad, squad-v2,
    /// xquad, conll2003, race, custom.
    #[arg(long, value_parser = parse_task)]
    pub task: Task,
    /// Labelled data file in the task's original format (e.g. GLUE dev.tsv, SQuAD dev JSON,
    /// CoNLL eng.testa, RACE directory).
    #[arg(long)]
    pub data: PathBuf,
    /// Predictions file: SQuAD JSON {id: answer}, GLUE submission TSV (index<TAB>prediction),
    /// CoNLL file whose last column is the predicted tag, RACE JSON {id: letter}, custom data
    /// a submission TSV like GLUE's.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Fine-tuned checkpoint directory to run over the data; its predictions are scored (SQuAD v2.0: with its
    /// no-answer odds unless --na-prob-file is given).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// How to run `--model`.
    #[command(flatten)]
    pub run: RunArgs,
    /// SQuAD v2.0: JSON {id: probability of no answer}; adds best_exact / best_f1 thresholds.
    #[arg(long)]
    pub na_prob_file: Option<PathBuf>,
    /// SQuAD v2.0: predict no answer when the no-answer probability exceeds this.
    #[arg(long, default_value_t = 1.0)]
    pub na_prob_thresh: f64,
    /// Print the official scripts' JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Columns of users' own data (`--task custom`).
    #[command(flatten)]
    pub custom: CustomDataArgs,
}

/// Where texts and labels are in users' own CSV/TSV/JSONL files (`--task custom`).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Custom data (--task custom)")]
pub struct CustomDataArgs {
    /// Column (or JSON key) of the text.
    #[arg(long, default_value = "text")]
    pub text_column: String,
    /// Column of the second text, for text-pair tasks.
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// Column of the label.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Comma-separated label list fixing class ids (default: the sorted labels found).
    #[arg(long, value_delimiter = ',', conflicts_with = "regression")]
    pub labels: Option<Vec<String>>,
    /// Labels are real numbers (regression).
    #[arg(long)]
    pub regression: bool,
    /// File format when the extension does not tell: csv, tsv or jsonl.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<FileFormat>,
}

fn parse_format(name: &str) -> Result<FileFormat, String> {
    FileFormat::from_path(format!("x.{name}").as_ref())
        .ok_or_else(|| format!("unknown format {name:?}: use csv, tsv or jsonl"))
}

impl CustomDataArgs {
    /// The library's description of the data.
    pub fn to_task(&self) -> CustomTask {
        CustomTask {
            text_column: self.text_column.clone(),
            text_pair_column: self.text_pair_column.clone(),
            label_column: self.label_column.clone(),
            kind: if self.regression {
                LabelKind::Regression
            } else {
                LabelKind::Classification {
                    labels: self.labels.clone(),
                }
            },
            format: self.format,
        }
    }
}

/// Runs `albert evaluate`.
pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    // XQuAD restricted to the split's articles: score against that part only.
    let data = match args.run.articles {
        Some(part) => {
            let path = tmp.path().join("articles.json");
            std::fs::write(&path, serde_json::to_vec(&read_qa_data(args.task, &args.data, Some(part))?)?)?;
            path
        }
        None => args.data.clone(),
    };
    let mut na_prob_file = args.na_prob_file.clone();
    let predictions = match (&args.predictions, &args.model) {
        (Some(p), _) => p.clone(),
        (None, Some(model)) => {
            let path = tmp.path().join("predictions.out");
            let run = RunArgs { articles: None, ..args.run.clone() };
            predict_to_file(args.task, &data, model, &args.custom, &run, &path)?;
            if args.task == Task::SquadV2 && na_prob_file.is_none() {
                na_prob_file = Some(na_odds_path(&path));
            }
            path
        }
        (None, None) => anyhow::bail!("--predictions or --model is required"),
    };
    let predictions = predictions.as_path();
    let options = EvalOptions {
        na_prob_file,
        na_prob_thresh: args.na_prob_thresh,
        custom: (args.task == Task::Custom).then(|| args.custom.to_task()),
    };
    let report =
        evaluate_predictions(args.task, &data, predictions, &options).with_context(|| {
            format!(
                "evaluating {} predictions {}",
                args.task,
                predictions.display()
            )
        })?;
    if let EvaluationReport::SquadV1(scores) = &report {
        if let Some(first) = scores.unanswered.first() {
            eprintln!(
                "warning: {} unanswered question(s) receive score 0 (first: {first})",
                scores.unanswered.len()
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}
