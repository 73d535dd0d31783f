//! Dataset readers for the original formats, and scoring of predictions files from any system.
//!
//! - [`glue`]: every GLUE task's TSV files as distributed (train/dev with labels, test and the
//!   diagnostic `ax` file without), and GLUE submission TSVs as predictions.
//! - [`squad`]: SQuAD v1.1 / v2.0 JSON (XQuAD uses v1.1's) and the fixed XQuAD article split.
//! - [`ner`]: CoNLL-2003 NER files (word POS chunk NER, IOB1 tags).
//! - [`multiple_choice`]: RACE-style multiple choice JSON.
//! - [`custom`]: users' own CSV/TSV/JSONL text classification or regression data.
//! - [`cloze_qa`]: SQuAD-format cloze questions generated from plain text (unlabeled QA data).
//!
//! [`evaluate_predictions`] scores a predictions file against a data file with the official
//! metrics of the task.

pub mod cloze_qa;
pub mod custom;
pub mod glue;
pub mod multiple_choice;
pub mod ner;
pub mod squad;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::metrics::conlleval::ConllevalReport;
use crate::metrics::squad::{SquadV1Scores, SquadV2Scores};
use crate::metrics::MetricError;

/// Errors from reading datasets and predictions or scoring them.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line of a text file is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A JSON file is malformed or does not follow the expected schema.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (it names line and column).
        source: serde_json::Error,
    },
    /// A file is well formed but inconsistent (a whole-file problem, no single line to blame).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The data file has no labels (e.g. a GLUE `test.tsv` or the diagnostic `ax` file).
    #[error("{}: this {task} file has no labels, so predictions cannot be evaluated against it", path.display())]
    Unlabeled {
        /// The file.
        path: PathBuf,
        /// The task name.
        task: String,
    },
    /// The task name is not known.
    #[error("unknown task {0:?}; known tasks: {known}", known = Task::NAMES.join(", "))]
    UnknownTask(String),
    /// Users' own data was given without the description of its columns.
    #[error("the custom task needs the text and label columns (EvalOptions::custom)")]
    NoCustomColumns,
    /// Scoring failed.
    #[error(transparent)]
    Metric(#[from] MetricError),
}

impl TaskError {
    pub(crate) fn parse(path: &Path, line: usize, message: impl Into<String>) -> Self {
        TaskError::Parse {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        TaskError::Invalid {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// Reads a whole UTF-8 text file, dropping a leading byte-order mark.
pub(crate) fn read_text(path: &Path) -> Result<String, TaskError> {
    let text = std::fs::read_to_string(path).map_err(|source| TaskError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// Parses a JSON file into `T`.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TaskError> {
    parse_json(path, &read_text(path)?)
}

/// Parses the JSON `text` of the file `path`.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, TaskError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // A value of the wrong type is named by where it sits (`data[3].paragraphs[0].qas`), not only by line.
        let at = e.path().to_string();
        let source = e.into_inner();
        if at == "." || source.is_syntax() || source.is_eof() {
            TaskError::Json { path: path.to_owned(), source }
        } else {
            TaskError::invalid(path, format!("at `{at}`: {source}"))
        }
    })
}

/// Lines with their one-based numbers, without line terminators (`\n` or `\r\n`).
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l))
}

/// Reads a submission TSV (`index<TAB>prediction`, optional header line) for a data file of
/// `num_examples` examples. `index` is the zero-based position of the example in the data file;
/// every example needs exactly one prediction. `parse` reads a prediction; `expected` says what
/// it accepts, for error messages.
pub(crate) fn read_submission_tsv(
    path: &Path,
    num_examples: usize,
    parse: impl Fn(&str) -> Option<Target>,
    expected: &str,
) -> Result<Vec<Target>, TaskError> {
    let text = read_text(path)?;
    let mut predictions: Vec<Option<Target>> = vec![None; num_examples];
    for (line, row) in numbered_lines(&text).filter(|(_, l)| !l.trim().is_empty()) {
        let Some((index, value)) = row.split_once('\t') else {
            return Err(TaskError::parse(
                path,
                line,
                "expected index<TAB>prediction",
            ));
        };
        let Ok(index) = index.trim().parse::<usize>() else {
            if line == 1 {
                continue; // header
            }
            return Err(TaskError::parse(path, line, format!("bad index {index:?}")));
        };
        let target = parse(value).ok_or_else(|| {
            TaskError::parse(
                path,
                line,
                format!("bad prediction {value:?}: expected {expected}"),
            )
        })?;
        let slot = predictions.get_mut(index).ok_or_else(|| {
            TaskError::parse(
                path,
                line,
                format!("index {index} is out of range: the data file has {num_examples} examples"),
            )
        })?;
        if slot.replace(target).is_some() {
            return Err(TaskError::parse(
                path,
                line,
                format!("second prediction for index {index}"),
            ));
        }
    }
    let missing: Vec<usize> = (0..num_examples)
        .filter(|&i| predictions[i].is_none())
        .collect();
    if let Some(first) = missing.first() {
        return Err(TaskError::invalid(
            path,
            format!(
                "no prediction for {} example(s), first index {first}",
                missing.len()
            ),
        ));
    }
    Ok(predictions.into_iter().flatten().collect())
}

/// The gold value of a text classification or regression example.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Target {
    /// Index into the task's label list.
    Class(usize),
    /// A real-valued score (STS-B similarity, custom regression).
    Score(f64),
}

/// One text classification / regression example: a text or text pair and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExample {
    /// Identifier: the file's `index`/`id` column when it has one, else the one-based line number.
    pub guid: String,
    /// First text (the sentence, or the first sentence / question of a pair).
    pub text_a: String,
    /// Second text of a pair task.
    pub text_b: Option<String>,
    /// Gold label; `None` for unlabeled files (GLUE test sets, the diagnostic set).
    pub label: Option<Target>,
}

/// One named metric value of a task's report.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedMetric {
    /// Key under which the official script reports it (`acc`, `mcc`, `spearmanr`, ...).
    pub name: String,
    /// Value on the 0-100 scale.
    pub value: f64,
}

/// An ordered list of metrics, serialized as a JSON object `{name: value}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskScores {
    /// Metrics in the order the official script reports them.
    pub metrics: Vec<NamedMetric>,
}

impl TaskScores {
    /// Appends a metric.
    pub fn push(&mut self, name: &str, value: f64) {
        self.metrics.push(NamedMetric {
            name: name.to_owned(),
            value,
        });
    }

    /// The value of metric `name`, if reported.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

impl Serialize for TaskScores {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.metrics.len()))?;
        for m in &self.metrics {
            map.serialize_entry(&m.name, &m.value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for TaskScores {
    /// Reads `{name: value}` in document order (the first metric selects checkpoints).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> serde::de::Visitor<'de> for Ordered {
            type Value = TaskScores;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of metric values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<TaskScores, A::Error> {
                let mut scores = TaskScores::default();
                while let Some((name, value)) = map.next_entry::<String, f64>()? {
                    scores.push(&name, value);
                }
                Ok(scores)
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

/// Every task that [`evaluate_predictions`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// A GLUE task.
    Glue(glue::GlueTask),
    /// SQuAD v1.1 (official v1.1 script).
    SquadV1,
    /// SQuAD v2.0 (official v2.0 script, with no-answer handling).
    SquadV2,
    /// XQuAD: SQuAD v1.1 format and metrics, any language.
    Xquad,
    /// CoNLL-2003 English NER, entity-level conlleval scores.
    Conll2003,
    /// RACE-style multiple choice, accuracy.
    Race,
    /// Users' own CSV/TSV/JSONL classification or regression data; the columns come from
    /// [`EvalOptions::custom`].
    Custom,
}

impl Task {
    /// Names accepted by [`Task::from_name`].
    pub const NAMES: [&'static str; 17] = [
        "cola",
        "sst2",
        "mrpc",
        "stsb",
        "qqp",
        "mnli",
        "mnli-mm",
        "qnli",
        "rte",
        "wnli",
        "ax",
        "squad",
        "squad-v2",
        "xquad",
        "conll2003",
        "race",
        "custom",
    ];

    /// The usual longest input: 384 for question answering (windows), 512 for RACE's passages (as ALBERT's
    /// paper), 128 for sentence tasks (GLUE's default).
    pub fn default_max_seq_length(self) -> usize {
        match self {
            Task::SquadV1 | Task::SquadV2 | Task::Xquad => 384,
            Task::Race => 512,
            _ => 128,
        }
    }

    /// Looks a task up by name (case-insensitive; `_` and `-` are interchangeable).
    ///
    /// ```
    /// use albert_train::tasks::{glue::GlueTask, Task};
    /// assert_eq!(Task::from_name("MNLI_mm"), Some(Task::Glue(GlueTask::MnliMismatched)));
    /// assert_eq!(Task::from_name("squad_v2"), Some(Task::SquadV2));
    /// assert_eq!(Task::from_name("imdb"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        let key = name.to_ascii_lowercase().replace('_', "-");
        if let Some(task) = glue::GlueTask::from_name(&key) {
            return Some(Task::Glue(task));
        }
        match key.as_str() {
            "squad" | "squad-v1" | "squad-v1.1" => Some(Task::SquadV1),
            "squad-v2" | "squad-v2.0" | "squad2" => Some(Task::SquadV2),
            "xquad" => Some(Task::Xquad),
            "conll2003" | "conll" | "ner" => Some(Task::Conll2003),
            "race" | "multiple-choice" => Some(Task::Race),
            "custom" => Some(Task::Custom),
            _ => None,
        }
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Glue(t) => t.name(),
            Task::SquadV1 => "squad",
            Task::SquadV2 => "squad-v2",
            Task::Xquad => "xquad",
            Task::Conll2003 => "conll2003",
            Task::Race => "race",
            Task::Custom => "custom",
        }
    }
}

impl Task {
    /// Readable class names indexed by class id: GLUE's (empty for STS-B), the CoNLL-2003 tags,
    /// RACE's option letters; empty for span extraction (SQuAD, XQuAD) and for custom data,
    /// whose labels come from the data.
    ///
    /// ```
    /// use albert_train::tasks::Task;
    /// assert_eq!(Task::from_name("sst2").unwrap().label_names(), ["negative", "positive"]);
    /// ```
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            Task::Glue(t) => t.label_names(),
            Task::Conll2003 => &ner::CONLL2003_LABELS,
            Task::Race => &multiple_choice::RACE_OPTIONS,
            Task::SquadV1 | Task::SquadV2 | Task::Xquad | Task::Custom => &[],
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Options of [`evaluate_predictions`] that only some tasks use.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// SQuAD v2.0: file of no-answer probabilities `{question id: probability}`.
    pub na_prob_file: Option<PathBuf>,
    /// SQuAD v2.0: predict no answer when the probability exceeds this (official default 1.0).
    pub na_prob_thresh: f64,
    /// Custom data: where texts and labels are.
    pub custom: Option<custom::CustomTask>,
}

impl EvalOptions {
    /// The official scripts' defaults.
    pub fn new() -> Self {
        Self {
            na_prob_file: None,
            na_prob_thresh: 1.0,
            custom: None,
        }
    }
}

/// A task's official evaluation result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EvaluationReport {
    /// `evaluate-v1.1.py` output.
    SquadV1(SquadV1Scores),
    /// `evaluate-v2.0.py` output.
    SquadV2(SquadV2Scores),
    /// conlleval output.
    Conll(ConllevalReport),
    /// Named metrics (GLUE, multiple choice).
    Scores(TaskScores),
}

impl EvaluationReport {
    /// The report as named metrics, the first of which selects a fine-tuning checkpoint (higher is better):
    /// SQuAD v1.1 / XQuAD `f1`, `exact_match`; v2.0 `f1`, `exact` and the HasAns / NoAns parts; CoNLL-2003 `f1`,
    /// `precision`, `recall` and token `accuracy`; the others as reported.
    pub fn selection_scores(&self) -> TaskScores {
        let mut scores = TaskScores::default();
        match self {
            EvaluationReport::SquadV1(s) => {
                scores.push("f1", s.f1);
                scores.push("exact_match", s.exact_match);
            }
            EvaluationReport::SquadV2(s) => {
                scores.push("f1", s.f1);
                scores.push("exact", s.exact);
                for (name, v) in [("HasAns_f1", s.has_ans_f1), ("HasAns_exact", s.has_ans_exact), ("NoAns_f1", s.no_ans_f1)] {
                    if let Some(v) = v {
                        scores.push(name, v);
                    }
                }
            }
            EvaluationReport::Conll(r) => {
                scores.push("f1", r.overall.f1);
                scores.push("precision", r.overall.precision);
                scores.push("recall", r.overall.recall);
                scores.push("accuracy", r.accuracy);
            }
            EvaluationReport::Scores(s) => scores = s.clone(),
        }
        scores
    }
}

impl fmt::Display for EvaluationReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            EvaluationReport::Conll(r) => {
                let o = &r.overall;
                writeln!(
                    f,
                    "processed {} tokens with {} phrases; found: {} phrases; correct: {}.",
                    r.processed_tokens, o.phrases, o.found, o.correct
                )?;
                writeln!(
                    f,
                    "accuracy: {:6.2}%; precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}",
                    r.accuracy, o.precision, o.recall, o.f1
                )?;
                for (kind, s) in &r.per_type {
                    writeln!(
                        f,
                        "{kind:>17}: precision: {:6.2}%; recall: {:6.2}%; FB1: {:6.2}  {}",
                        s.precision, s.recall, s.f1, s.found
                    )?;
                }
                Ok(())
            }
            other => {
                let value = serde_json::to_value(other).map_err(|_| fmt::Error)?;
                for (key, v) in value.as_object().into_iter().flatten() {
                    writeln!(f, "{key}: {v}")?;
                }
                Ok(())
            }
        }
    }
}

/// Scores a predictions file from any system against a labelled data file, with the task's
/// official metrics on their 0-100 scale.
///
/// Predictions formats: SQuAD/XQuAD a JSON object `{question id: answer text}`; GLUE a
/// submission TSV (`index<TAB>prediction`, header line, label names or numbers); CoNLL-2003 a
/// CoNLL-style file whose last column is the predicted tag; RACE a JSON object
/// `{example id: "A".."D" or option index}`; custom data a submission TSV like GLUE's, with
/// label names, class ids or, for regression, numbers.
pub fn evaluate_predictions(
    task: Task,
    data: &Path,
    predictions: &Path,
    options: &EvalOptions,
) -> Result<EvaluationReport, TaskError> {
    crate::finetune::task::with_family(
        task,
        options.custom.as_ref(),
        crate::finetune::task::EvaluateFile { data, predictions, options },
    )?
}

#[cfg(test)]
mod tests {
    use super::{glue::GlueTask, Task};

    /// `NAMES` (what --help lists) holds every task once, in order, each found again by its name.
    #[test]
    fn names_list_every_task() {
        let mut tasks: Vec<Task> = GlueTask::ALL.iter().map(|&t| Task::Glue(t)).collect();
        tasks.extend([Task::SquadV1, Task::SquadV2, Task::Xquad, Task::Conll2003, Task::Race, Task::Custom]);
        let names: Vec<&str> = tasks.iter().map(|t| t.name()).collect();
        assert_eq!(names, Task::NAMES);
        for (task, name) in tasks.iter().zip(Task::NAMES) {
            assert_eq!(Task::from_name(name), Some(*task));
        }
    }
}
