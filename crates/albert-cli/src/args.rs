//! Argument types that several commands share (task, users' own data columns, how a model runs over a file), and
//! the typed value parser that lists every accepted name in --help.

use std::ffi::OsStr;
use std::fmt::Display;
use std::path::Path;
use std::str::FromStr;

use albert::tokenizer::AlbertTokenizer;
use albert::{LoadOptions, Precision, Pretrained};
use anyhow::Context;
use albert_train::data::DocBoundary;
use albert_train::finetune::task::PredictOptions;
use albert_train::pretrain::OptimizerKind;
use albert_train::tasks::custom::{CustomTask, FileFormat, LabelKind};
use albert_train::tasks::squad::ArticlePart;
use albert_train::tasks::{Task, TaskError};
use clap::builder::{PossibleValue, TypedValueParser};

/// Parses a value with `parse`, which may accept aliases (any case, `_` for `-`), and lists the canonical `names`
/// in --help and completions.
#[derive(Clone)]
pub struct Named<T> {
    names: &'static [&'static str],
    parse: fn(&str) -> Result<T, String>,
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Named<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &OsStr) -> Result<T, clap::Error> {
        let bad = |message: String| {
            let arg = arg.map_or_else(|| "...".to_owned(), |a| a.to_string());
            clap::Error::raw(clap::error::ErrorKind::InvalidValue, format!("invalid value for '{arg}': {message}\n")).with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| bad(format!("{value:?} is not UTF-8")))?;
        (self.parse)(text).map_err(bad)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.names.iter().map(PossibleValue::new)))
    }
}

impl<T: FromStr> Named<T>
where
    T::Err: Display,
{
    /// Parses with `T`'s `FromStr`, whose spellings are `names`.
    fn from_str(names: &'static [&'static str]) -> Self {
        Named { names, parse: |s| s.parse::<T>().map_err(|e| e.to_string()) }
    }
}

/// `--optimizer`.
pub fn optimizer_parser() -> Named<OptimizerKind> {
    Named::from_str(&["lamb", "adamw"])
}

/// `--doc-boundary`.
pub fn doc_boundary_parser() -> Named<DocBoundary> {
    Named::from_str(&["blank-line", "file", "wikitext-heading"])
}

/// `--task`: every task by its canonical name; aliases (`mnli_mm`, `squad-v1.1`, `ner`, ...) parse too.
pub fn task_parser() -> Named<Task> {
    Named { names: &Task::NAMES, parse: |name| Task::from_name(name).ok_or_else(|| TaskError::UnknownTask(name.to_owned()).to_string()) }
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
    /// File format when the extension does not tell.
    #[arg(long, value_parser = Named { names: &["csv", "tsv", "jsonl"], parse: parse_format })]
    pub format: Option<FileFormat>,
}

fn parse_format(name: &str) -> Result<FileFormat, String> {
    FileFormat::from_path(format!("x.{name}").as_ref()).ok_or_else(|| format!("unknown format {name:?}: use csv, tsv or jsonl"))
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
                LabelKind::Classification { labels: self.labels.clone() }
            },
            format: self.format,
        }
    }
}

/// How to run a model over a task file.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Longest input in tokens [default: 384 for question answering (windows sharing 128 tokens), 512 for RACE,
    /// else 128; longer texts are truncated, longest first; RACE cuts the passage].
    #[arg(long)]
    pub max_seq_length: Option<usize>,
    /// XQuAD: only the train or test articles of the committed split (data/splits/xquad_split.json).
    #[arg(long, value_parser = Named::<ArticlePart>::from_str(&["train", "test"]))]
    pub articles: Option<ArticlePart>,
    /// Examples per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    // int8 projections; the help says what this CPU gets.
    #[arg(long, help = crate::info::int8_help())]
    pub int8: bool,
}

impl RunArgs {
    /// Loads the checkpoint directory `dir` and its tokenizer, prepared for inference in place (each weight held
    /// once: `predict` and `evaluate --model` only predict), in int8 with --int8.
    pub fn load(&self, dir: &Path) -> anyhow::Result<(Pretrained, AlbertTokenizer)> {
        let mut model =
            Pretrained::load(dir, &LoadOptions::default()).with_context(|| format!("loading the model in {}", dir.display()))?;
        model.set_precision(Precision::from_int8(crate::info::int8_wanted(self.int8)));
        let model = model.into_prepared()?;
        let tokenizer =
            AlbertTokenizer::from_path(dir).with_context(|| format!("loading the tokenizer in {}", dir.display()))?;
        Ok((model, tokenizer))
    }

    /// Window or truncation length and batch size for `task`.
    pub fn predict_options(&self, task: Task) -> PredictOptions {
        PredictOptions { max_seq_length: self.max_seq_length.unwrap_or_else(|| task.default_max_seq_length()), batch_size: self.batch }
    }
}
