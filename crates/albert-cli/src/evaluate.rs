//! `albert evaluate`: score a predictions file from any system with the task's official metrics, or (`--task
//! retrieval`) an index's search and `ask` answers (see [`crate::evaluate_retrieval`]).

use std::path::PathBuf;

use albert_train::finetune::task::{model_labels, ReadOptions};
use albert_train::finetune::{with_family, FamilyVisitor, TaskFamily};
use albert_train::tasks::{EvalOptions, EvaluationReport, Task};
use anyhow::Context;

use crate::args::{CustomDataArgs, RunArgs};
use crate::evaluate_retrieval::RetrievalArgs;

/// What `--task` names: a task of the fine-tuning families, or retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalTask {
    /// A task scored from predictions or a fine-tuned model.
    Task(Task),
    /// An index's search (and `ask`) on a SQuAD-format file.
    Retrieval,
}

fn eval_task(name: &str) -> Result<EvalTask, String> {
    if name.eq_ignore_ascii_case("retrieval") {
        return Ok(EvalTask::Retrieval);
    }
    Task::from_name(name).map(EvalTask::Task).ok_or_else(|| {
        format!("{}; or retrieval", albert_train::tasks::TaskError::UnknownTask(name.to_owned()))
    })
}

/// Arguments of `albert evaluate`. What to score comes from exactly one source (the `source`
/// group): a `--predictions` file, a fine-tuned `--model` run over the data, or (retrieval) an `--index`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["predictions", "model", "index"])))]
pub struct EvaluateArgs {
    /// Task: a task name (sst-2, squad, xquad, conll2003, race, custom, ...), or retrieval (--index, with
    /// --data a SQuAD-format file the index was built over).
    #[arg(long, value_parser = eval_task)]
    pub task: EvalTask,
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
    /// The index and how it is searched (`--task retrieval`).
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
}

/// Runs `albert evaluate`.
pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let task = match (args.task, &args.retrieval.index) {
        (EvalTask::Retrieval, _) => {
            let report = crate::evaluate_retrieval::run(&args.data, args.run.articles, &args.retrieval, args.run.int8)?;
            match args.json {
                true => println!("{}", serde_json::to_string_pretty(&report)?),
                false => print!("{report}"),
            }
            return Ok(());
        }
        (EvalTask::Task(task), None) => task,
        (EvalTask::Task(task), Some(_)) => anyhow::bail!("--index is for --task retrieval, not {task}"),
    };
    let report = with_family(task, Some(&args.custom.to_task()), Evaluate(&args, task))??;
    if let EvaluationReport::SquadV1(scores) = &report {
        if let Some(first) = scores.unanswered.first() {
            eprintln!("warning: {} unanswered question(s) receive score 0 (first: {first})", scores.unanswered.len());
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// `albert evaluate` for one task family: a predictions file, or a model's predictions in memory, scored.
struct Evaluate<'a>(&'a EvaluateArgs, Task);

impl FamilyVisitor for Evaluate<'_> {
    type Output = anyhow::Result<EvaluationReport>;

    fn visit<F: TaskFamily>(self, family: F) -> anyhow::Result<EvaluationReport> {
        let (args, task) = (self.0, self.1);
        // The family holds the custom data's columns already.
        let options = EvalOptions { na_prob_file: args.na_prob_file.clone(), na_prob_thresh: args.na_prob_thresh, custom: None };
        match (&args.predictions, &args.model) {
            (Some(path), _) => {
                let data = family.read(&args.data, &ReadOptions { labels: None, articles: args.run.articles })?;
                let predictions = family.read_predictions(&data, path)?;
                family
                    .evaluate(&data, &predictions, &options)
                    .with_context(|| format!("evaluating {task} predictions {}", path.display()))
            }
            (None, Some(dir)) => {
                let (model, tokenizer) = args.run.load(dir)?;
                let read = ReadOptions { labels: model_labels(&model.config), articles: args.run.articles };
                let data = family.read(&args.data, &read)?;
                let predictions = family.predict(&model, &tokenizer, &data, &args.run.predict_options(task))?;
                family
                    .evaluate(&data, &predictions, &options)
                    .with_context(|| format!("evaluating {task} predictions of {}", dir.display()))
            }
            (None, None) => anyhow::bail!("--predictions or --model is required"),
        }
    }
}
