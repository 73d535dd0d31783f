//! GLUE tasks as the GLUE distribution lays out its TSV files (`glue_data/TASK/*.tsv`).
//!
//! Files are tab separated without quoting. Columns are found by header name, except CoLA's
//! train/dev files, which have no header (`source, label, original mark, sentence`). A file
//! whose header lacks the label column (every `test.tsv`, the diagnostic `ax` file) reads as
//! unlabeled; scoring predictions against it is an error.

use std::path::{Path, PathBuf};

use super::{
    numbered_lines, read_submission_tsv, read_text, NamedMetric, Target, TaskError, TaskScores,
    TextExample,
};
use crate::metrics::{pearson, spearman, ConfusionMatrix};

/// The GLUE tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlueTask {
    /// Corpus of Linguistic Acceptability.
    Cola,
    /// Stanford Sentiment Treebank, binary.
    Sst2,
    /// Microsoft Research Paraphrase Corpus.
    Mrpc,
    /// Semantic Textual Similarity Benchmark (regression, 0-5).
    Stsb,
    /// Quora Question Pairs.
    Qqp,
    /// MultiNLI, matched dev/test (`dev_matched.tsv`).
    Mnli,
    /// MultiNLI, mismatched dev/test (`dev_mismatched.tsv`).
    MnliMismatched,
    /// Question NLI (from SQuAD).
    Qnli,
    /// Recognizing Textual Entailment.
    Rte,
    /// Winograd NLI.
    Wnli,
    /// The diagnostic set (`diagnostic.tsv`), MNLI labels, distributed without labels.
    Ax,
}

/// Column names of a task's TSV files.
struct Layout {
    text_a: &'static str,
    text_b: Option<&'static str>,
    label: &'static str,
}

impl GlueTask {
    /// All tasks.
    pub const ALL: [GlueTask; 11] = [
        GlueTask::Cola,
        GlueTask::Sst2,
        GlueTask::Mrpc,
        GlueTask::Stsb,
        GlueTask::Qqp,
        GlueTask::Mnli,
        GlueTask::MnliMismatched,
        GlueTask::Qnli,
        GlueTask::Rte,
        GlueTask::Wnli,
        GlueTask::Ax,
    ];

    /// Canonical lower-case name (`mnli-mm` for mismatched MNLI).
    pub fn name(self) -> &'static str {
        match self {
            GlueTask::Cola => "cola",
            GlueTask::Sst2 => "sst2",
            GlueTask::Mrpc => "mrpc",
            GlueTask::Stsb => "stsb",
            GlueTask::Qqp => "qqp",
            GlueTask::Mnli => "mnli",
            GlueTask::MnliMismatched => "mnli-mm",
            GlueTask::Qnli => "qnli",
            GlueTask::Rte => "rte",
            GlueTask::Wnli => "wnli",
            GlueTask::Ax => "ax",
        }
    }

    /// Looks a task up by name: canonical names, GLUE folder names (`SST-2`, `STS-B`) and
    /// `mnli-matched` / `mnli-mismatched` / `diagnostic`, case-insensitive.
    ///
    /// ```
    /// use albert_train::tasks::glue::GlueTask;
    /// assert_eq!(GlueTask::from_name("STS-B"), Some(GlueTask::Stsb));
    /// assert_eq!(GlueTask::from_name("mnli_mismatched"), Some(GlueTask::MnliMismatched));
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        let key = name.to_ascii_lowercase().replace('_', "-");
        Some(match key.as_str() {
            "cola" => GlueTask::Cola,
            "sst2" | "sst-2" => GlueTask::Sst2,
            "mrpc" => GlueTask::Mrpc,
            "stsb" | "sts-b" => GlueTask::Stsb,
            "qqp" => GlueTask::Qqp,
            "mnli" | "mnli-m" | "mnli-matched" => GlueTask::Mnli,
            "mnli-mm" | "mnli-mismatched" => GlueTask::MnliMismatched,
            "qnli" => GlueTask::Qnli,
            "rte" => GlueTask::Rte,
            "wnli" => GlueTask::Wnli,
            "ax" | "diagnostic" => GlueTask::Ax,
            _ => return None,
        })
    }

    /// The folder of the GLUE distribution holding the task's files.
    pub fn folder(self) -> &'static str {
        match self {
            GlueTask::Cola => "CoLA",
            GlueTask::Sst2 => "SST-2",
            GlueTask::Mrpc => "MRPC",
            GlueTask::Stsb => "STS-B",
            GlueTask::Qqp => "QQP",
            GlueTask::Mnli | GlueTask::MnliMismatched => "MNLI",
            GlueTask::Qnli => "QNLI",
            GlueTask::Rte => "RTE",
            GlueTask::Wnli => "WNLI",
            GlueTask::Ax => "diagnostic",
        }
    }

    /// The labelled evaluation file inside [`folder`](Self::folder) (`diagnostic.tsv` for `ax`,
    /// which has no labels).
    pub fn dev_file(self) -> &'static str {
        match self {
            GlueTask::Mnli => "dev_matched.tsv",
            GlueTask::MnliMismatched => "dev_mismatched.tsv",
            GlueTask::Ax => "diagnostic.tsv",
            _ => "dev.tsv",
        }
    }

    /// Readable class names, indexed by class id (the order of the Hugging Face `glue`
    /// datasets); empty for the regression task STS-B.
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            GlueTask::Cola => &["unacceptable", "acceptable"],
            GlueTask::Sst2 => &["negative", "positive"],
            GlueTask::Mrpc => &["not_equivalent", "equivalent"],
            GlueTask::Qqp => &["not_duplicate", "duplicate"],
            GlueTask::Stsb => &[],
            GlueTask::Mnli | GlueTask::MnliMismatched | GlueTask::Ax => {
                &["entailment", "neutral", "contradiction"]
            }
            GlueTask::Qnli | GlueTask::Rte => &["entailment", "not_entailment"],
            GlueTask::Wnli => &["not_entailment", "entailment"],
        }
    }

    /// Labels as the TSV files and GLUE's submission files write them (`0`/`1` for CoLA, SST-2, MRPC, QQP and
    /// WNLI), indexed by class id.
    pub fn file_labels(self) -> &'static [&'static str] {
        match self {
            GlueTask::Cola | GlueTask::Sst2 | GlueTask::Mrpc | GlueTask::Qqp | GlueTask::Wnli => {
                &["0", "1"]
            }
            other => other.label_names(),
        }
    }

    /// Whether the task is a regression (STS-B).
    pub fn is_regression(self) -> bool {
        self == GlueTask::Stsb
    }

    fn layout(self) -> Layout {
        let pair = |a, b, label| Layout {
            text_a: a,
            text_b: Some(b),
            label,
        };
        match self {
            GlueTask::Cola => Layout {
                text_a: "sentence",
                text_b: None,
                label: "label",
            },
            GlueTask::Sst2 => Layout {
                text_a: "sentence",
                text_b: None,
                label: "label",
            },
            GlueTask::Mrpc => pair("#1 String", "#2 String", "Quality"),
            GlueTask::Stsb => pair("sentence1", "sentence2", "score"),
            GlueTask::Qqp => pair("question1", "question2", "is_duplicate"),
            GlueTask::Mnli | GlueTask::MnliMismatched => {
                pair("sentence1", "sentence2", "gold_label")
            }
            GlueTask::Qnli => pair("question", "sentence", "label"),
            GlueTask::Rte | GlueTask::Wnli | GlueTask::Ax => {
                pair("sentence1", "sentence2", "label")
            }
        }
    }

    /// Parses a label: the file's own form (`0`/`1`, `entailment`), a readable name, or a class
    /// index; for STS-B a real number.
    ///
    /// ```
    /// use albert_train::tasks::{glue::GlueTask, Target};
    /// assert_eq!(GlueTask::Sst2.parse_label("positive"), Some(Target::Class(1)));
    /// assert_eq!(GlueTask::Rte.parse_label("not_entailment"), Some(Target::Class(1)));
    /// assert_eq!(GlueTask::Mnli.parse_label("2"), Some(Target::Class(2)));
    /// assert_eq!(GlueTask::Stsb.parse_label("3.8"), Some(Target::Score(3.8)));
    /// assert_eq!(GlueTask::Cola.parse_label("maybe"), None);
    /// ```
    pub fn parse_label(self, text: &str) -> Option<Target> {
        let text = text.trim();
        if self.is_regression() {
            return text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Target::Score);
        }
        let position = |names: &[&str]| names.iter().position(|n| *n == text);
        position(self.file_labels())
            .or_else(|| position(self.label_names()))
            .or_else(|| {
                text.parse::<usize>()
                    .ok()
                    .filter(|&i| i < self.label_names().len())
            })
            .map(Target::Class)
    }

    fn expected_labels(self) -> String {
        if self.is_regression() {
            "a real number".to_owned()
        } else {
            format!(
                "one of {:?} or {:?}",
                self.file_labels(),
                self.label_names()
            )
        }
    }
}

/// A GLUE TSV file read into examples.
#[derive(Debug, Clone, PartialEq)]
pub struct GlueDataset {
    /// The task.
    pub task: GlueTask,
    /// The file read.
    pub path: PathBuf,
    /// Examples in file order.
    pub examples: Vec<TextExample>,
    /// Whether the file has labels (false for test files and the diagnostic set).
    pub labeled: bool,
}

impl GlueDataset {
    /// Fails with [`TaskError::Unlabeled`] for files without labels.
    pub fn require_labels(&self) -> Result<(), TaskError> {
        if self.labeled {
            Ok(())
        } else {
            Err(TaskError::Unlabeled {
                path: self.path.clone(),
                task: self.task.name().to_owned(),
            })
        }
    }
}

/// Reads any of a GLUE task's TSV files (train, dev or test).
///
/// ```no_run
/// use albert_train::tasks::glue::{read_glue, GlueTask};
/// let dev = read_glue(GlueTask::Rte, "glue_data/RTE/dev.tsv".as_ref())?;
/// assert!(dev.labeled);
/// # Ok::<(), albert_train::tasks::TaskError>(())
/// ```
pub fn read_glue(task: GlueTask, path: &Path) -> Result<GlueDataset, TaskError> {
    let text = read_text(path)?;
    let mut lines = numbered_lines(&text)
        .filter(|(_, l)| !l.is_empty())
        .peekable();
    let layout = task.layout();
    let first: Vec<&str> = lines
        .peek()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    // (text_a, text_b, label, id) column indices.
    let (a, b, label, id) = if task == GlueTask::Cola && first.first() != Some(&"index") {
        (3, None, Some(1), None)
    } else {
        let Some((line, _)) = lines.next() else {
            return Err(TaskError::invalid(
                path,
                "empty file: expected a header line",
            ));
        };
        let column = |name: &str| first.iter().position(|c| *c == name);
        let required = |name: &str| {
            column(name).ok_or_else(|| {
                TaskError::parse(
                    path,
                    line,
                    format!("header has no {name:?} column ({} file?)", task.name()),
                )
            })
        };
        let a = required(layout.text_a)?;
        (
            a,
            layout.text_b.map(required).transpose()?,
            column(layout.label),
            column("index").or_else(|| column("id")),
        )
    };
    let needed = [Some(a), b, label, id]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;
    let mut examples = Vec::new();
    for (line, row) in lines {
        let fields: Vec<&str> = row.split('\t').collect();
        if fields.len() < needed {
            return Err(TaskError::parse(
                path,
                line,
                format!(
                    "expected at least {needed} tab-separated fields, found {}",
                    fields.len()
                ),
            ));
        }
        let label = label
            .map(|c| {
                task.parse_label(fields[c]).ok_or_else(|| {
                    TaskError::parse(
                        path,
                        line,
                        format!(
                            "bad label {:?}: expected {}",
                            fields[c],
                            task.expected_labels()
                        ),
                    )
                })
            })
            .transpose()?;
        examples.push(TextExample {
            guid: id.map_or_else(|| line.to_string(), |c| fields[c].to_owned()),
            text_a: fields[a].to_owned(),
            text_b: b.map(|c| fields[c].to_owned()),
            label,
        });
    }
    if examples.is_empty() {
        return Err(TaskError::invalid(path, "no examples"));
    }
    Ok(GlueDataset {
        task,
        path: path.to_owned(),
        examples,
        labeled: label.is_some(),
    })
}

/// Reads a GLUE submission TSV (`index<TAB>prediction`, optional header line) for a file of
/// `num_examples` examples. `index` is the zero-based position of the example in the data
/// file (equal to its `index` column where it has one); every example needs exactly one
/// prediction. Labels may be written as in the data files, as readable names or as class ids.
pub fn read_glue_predictions(
    task: GlueTask,
    path: &Path,
    num_examples: usize,
) -> Result<Vec<Target>, TaskError> {
    read_submission_tsv(
        path,
        num_examples,
        |v| task.parse_label(v),
        &task.expected_labels(),
    )
}

fn classes(targets: impl Iterator<Item = Target>) -> Vec<usize> {
    targets
        .map(|t| {
            if let Target::Class(c) = t {
                c
            } else {
                unreachable!("classification targets")
            }
        })
        .collect()
}

fn scores(targets: impl Iterator<Item = Target>) -> Vec<f64> {
    targets
        .map(|t| {
            if let Target::Score(s) = t {
                s
            } else {
                unreachable!("regression targets")
            }
        })
        .collect()
}

/// Scores predictions (in example order) with the task's GLUE metrics, under the keys of the
/// Hugging Face `glue_compute_metrics` and on a 0-100 scale: CoLA `mcc`; MRPC and QQP `acc`,
/// `f1` (of the positive class 1), `acc_and_f1`; STS-B `pearson`, `spearmanr`, `corr`; MNLI
/// `mnli/acc` and `mnli-mm/acc`; the others `acc`.
pub fn score_glue(dataset: &GlueDataset, predictions: &[Target]) -> Result<TaskScores, TaskError> {
    let task = dataset.task;
    dataset.require_labels()?;
    let gold = || {
        dataset
            .examples
            .iter()
            .map(|e| e.label.expect("labeled file"))
    };
    let mut out = TaskScores::default();
    if task.is_regression() {
        let (p, g) = (scores(predictions.iter().copied()), scores(gold()));
        let (r, rho) = (pearson(&p, &g)?, spearman(&p, &g)?);
        out.push("pearson", 100.0 * r);
        out.push("spearmanr", 100.0 * rho);
        out.push("corr", 100.0 * (r + rho) / 2.0);
        return Ok(out);
    }
    let cm = ConfusionMatrix::new(
        &classes(predictions.iter().copied()),
        &classes(gold()),
        task.label_names().len(),
    )?;
    match task {
        GlueTask::Cola => out.push("mcc", 100.0 * cm.matthews_corrcoef()),
        GlueTask::Mrpc | GlueTask::Qqp => {
            let (acc, f1) = (cm.accuracy(), cm.f1(1));
            out.metrics.extend([
                NamedMetric {
                    name: "acc".into(),
                    value: 100.0 * acc,
                },
                NamedMetric {
                    name: "f1".into(),
                    value: 100.0 * f1,
                },
                NamedMetric {
                    name: "acc_and_f1".into(),
                    value: 100.0 * (acc + f1) / 2.0,
                },
            ]);
        }
        GlueTask::Mnli => out.push("mnli/acc", 100.0 * cm.accuracy()),
        GlueTask::MnliMismatched => out.push("mnli-mm/acc", 100.0 * cm.accuracy()),
        _ => out.push("acc", 100.0 * cm.accuracy()),
    }
    Ok(out)
}
