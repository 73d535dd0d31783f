//! Users' own text classification and regression data in CSV, TSV or JSON Lines, with the text,
//! optional text-pair and label columns named by options. CSV/TSV files have a header row and
//! standard quoting; JSON Lines files have one object per line.

use std::path::{Path, PathBuf};

use super::{
    numbered_lines, read_submission_tsv, read_text, Target, TaskError, TaskScores, TextExample,
};
use crate::metrics::{pearson, spearman, ConfusionMatrix};

/// File layout, usually taken from the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

impl FileFormat {
    /// Guesses the format from the extension: `.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`/`.json`.
    ///
    /// ```
    /// use albert_train::tasks::custom::FileFormat;
    /// assert_eq!(FileFormat::from_path("reviews.jsonl".as_ref()), Some(FileFormat::Jsonl));
    /// ```
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "tsv" | "tab" => Some(FileFormat::Tsv),
            "jsonl" | "ndjson" | "json" => Some(FileFormat::Jsonl),
            _ => None,
        }
    }
}

/// What the label column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelKind {
    /// Class names. With `labels`, values must be among them and class ids follow their
    /// order; without, the label list is the sorted set of values found (numerically when all
    /// are integers).
    Classification {
        /// The label list, if fixed in advance.
        labels: Option<Vec<String>>,
    },
    /// Real-valued targets.
    Regression,
}

/// Where to find texts and labels in a user's file.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomTask {
    /// Column (or JSON key) of the first text.
    pub text_column: String,
    /// Column of the second text for pair tasks.
    pub text_pair_column: Option<String>,
    /// Column of the label; a file without it reads as unlabeled.
    pub label_column: String,
    /// Classification or regression.
    pub kind: LabelKind,
    /// File format; `None` takes it from the extension.
    pub format: Option<FileFormat>,
}

/// A user's file read into examples.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomDataset {
    /// The file read.
    pub path: PathBuf,
    /// Examples in file order; `guid` is the one-based line number of the record.
    pub examples: Vec<TextExample>,
    /// Class names indexed by class id (empty for regression).
    pub labels: Vec<String>,
    /// Whether the file has the label column.
    pub labeled: bool,
}

/// One record before label resolution: (line, text, pair, raw label).
struct Record {
    line: usize,
    text_a: String,
    text_b: Option<String>,
    label: Option<String>,
}

fn read_delimited(
    task: &CustomTask,
    path: &Path,
    delimiter: u8,
) -> Result<(Vec<Record>, bool), TaskError> {
    let text = read_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| TaskError::parse(path, 1, e.to_string()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let required = |name: &str| {
        column(name)
            .ok_or_else(|| TaskError::parse(path, 1, format!("header has no {name:?} column")))
    };
    let a = required(&task.text_column)?;
    let b = task.text_pair_column.as_deref().map(required).transpose()?;
    let label = column(&task.label_column);
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            TaskError::parse(path, line, e.to_string())
        })?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let field = |i: usize| {
            row.get(i)
                .map(str::to_owned)
                .ok_or_else(|| TaskError::parse(path, line, format!("missing field {}", i + 1)))
        };
        records.push(Record {
            line,
            text_a: field(a)?,
            text_b: b.map(field).transpose()?,
            label: label.map(field).transpose()?,
        });
    }
    Ok((records, label.is_some()))
}

fn read_jsonl(task: &CustomTask, path: &Path) -> Result<(Vec<Record>, bool), TaskError> {
    let text = read_text(path)?;
    let mut records = Vec::new();
    let mut any_label = false;
    for (line, row) in numbered_lines(&text).filter(|(_, l)| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(row).map_err(|e| TaskError::parse(path, line, e.to_string()))?;
        let string = |key: &str| -> Result<Option<String>, TaskError> {
            match value.get(key) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => {
                    Ok(Some(v.to_string()))
                }
                Some(_) => Err(TaskError::parse(
                    path,
                    line,
                    format!("{key:?} must be a string, number or boolean"),
                )),
            }
        };
        let required = |key: &str| {
            string(key)?.ok_or_else(|| TaskError::parse(path, line, format!("missing key {key:?}")))
        };
        let label = string(&task.label_column)?;
        any_label |= label.is_some();
        records.push(Record {
            line,
            text_a: required(&task.text_column)?,
            text_b: task.text_pair_column.as_deref().map(required).transpose()?,
            label,
        });
    }
    if any_label {
        if let Some(r) = records.iter().find(|r| r.label.is_none()) {
            return Err(TaskError::parse(
                path,
                r.line,
                format!("missing key {:?} (other lines have it)", task.label_column),
            ));
        }
    }
    Ok((records, any_label))
}

/// Reads a user's CSV/TSV/JSONL file.
///
/// ```
/// use albert_train::tasks::custom::{read_custom, CustomTask, LabelKind};
/// use albert_train::tasks::Target;
/// let path = std::env::temp_dir().join("albert_custom_doc.csv");
/// std::fs::write(&path, "review,stars\n\"Great, really\",good\nDull,bad\n").unwrap();
/// let task = CustomTask {
///     text_column: "review".into(),
///     text_pair_column: None,
///     label_column: "stars".into(),
///     kind: LabelKind::Classification { labels: None },
///     format: None,
/// };
/// let data = read_custom(&task, &path)?;
/// assert_eq!(data.labels, ["bad", "good"]);
/// assert_eq!(data.examples[0].text_a, "Great, really");
/// assert_eq!(data.examples[0].label, Some(Target::Class(1)));
/// # Ok::<(), albert_train::tasks::TaskError>(())
/// ```
pub fn read_custom(task: &CustomTask, path: &Path) -> Result<CustomDataset, TaskError> {
    let format = task.format.or_else(|| FileFormat::from_path(path)).ok_or_else(|| {
        TaskError::invalid(path, "cannot tell the format from the extension: use .csv, .tsv or .jsonl, or name the format")
    })?;
    let (records, labeled) = match format {
        FileFormat::Csv => read_delimited(task, path, b',')?,
        FileFormat::Tsv => read_delimited(task, path, b'\t')?,
        FileFormat::Jsonl => read_jsonl(task, path)?,
    };
    if records.is_empty() {
        return Err(TaskError::invalid(path, "no examples"));
    }
    let labels: Vec<String> = match &task.kind {
        LabelKind::Regression => Vec::new(),
        LabelKind::Classification {
            labels: Some(labels),
        } => labels.clone(),
        LabelKind::Classification { labels: None } => {
            let mut found: Vec<String> = records.iter().filter_map(|r| r.label.clone()).collect();
            found.sort();
            found.dedup();
            if found.iter().all(|l| l.parse::<i64>().is_ok()) {
                found.sort_by_key(|l| l.parse::<i64>().expect("checked"));
            }
            found
        }
    };
    let mut examples = Vec::with_capacity(records.len());
    for r in records {
        let label = match (&r.label, &task.kind) {
            (None, _) => None,
            (Some(raw), LabelKind::Regression) => Some(Target::Score(
                raw.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        TaskError::parse(path, r.line, format!("label {raw:?} is not a number"))
                    })?,
            )),
            (Some(raw), LabelKind::Classification { .. }) => Some(Target::Class(
                labels.iter().position(|l| l == raw).ok_or_else(|| {
                    TaskError::parse(
                        path,
                        r.line,
                        format!("label {raw:?} is not one of {labels:?}"),
                    )
                })?,
            )),
        };
        examples.push(TextExample {
            guid: r.line.to_string(),
            text_a: r.text_a,
            text_b: r.text_b,
            label,
        });
    }
    Ok(CustomDataset {
        path: path.to_owned(),
        examples,
        labels,
        labeled,
    })
}

impl CustomDataset {
    /// Parses a prediction: a label name or class id, or a number for regression.
    pub fn parse_prediction(&self, text: &str) -> Option<Target> {
        let text = text.trim();
        if self.labels.is_empty() {
            return text
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Target::Score);
        }
        self.labels
            .iter()
            .position(|l| l == text)
            .or_else(|| {
                text.parse::<usize>()
                    .ok()
                    .filter(|&i| i < self.labels.len())
            })
            .map(Target::Class)
    }
}

/// Reads predictions for a custom dataset: a submission TSV (`index<TAB>prediction`, header
/// line optional) with label names, class ids, or numbers for regression.
pub fn read_custom_predictions(
    dataset: &CustomDataset,
    path: &Path,
) -> Result<Vec<Target>, TaskError> {
    let expected = if dataset.labels.is_empty() {
        "a number".to_owned()
    } else {
        format!("one of {:?} or a class id", dataset.labels)
    };
    read_submission_tsv(
        path,
        dataset.examples.len(),
        |v| dataset.parse_prediction(v),
        &expected,
    )
}

/// Scores predictions (in example order), 0-100: classification `acc`, `mcc` and, with two
/// classes, `f1` of class 1; regression `pearson`, `spearmanr`, `corr`.
pub fn score_custom(
    dataset: &CustomDataset,
    predictions: &[Target],
) -> Result<TaskScores, TaskError> {
    if !dataset.labeled {
        return Err(TaskError::Unlabeled {
            path: dataset.path.clone(),
            task: "custom".into(),
        });
    }
    let gold: Vec<Target> = dataset.examples.iter().filter_map(|e| e.label).collect();
    let mut out = TaskScores::default();
    if dataset.labels.is_empty() {
        let values = |t: &[Target]| {
            t.iter()
                .map(|t| {
                    if let Target::Score(s) = t {
                        *s
                    } else {
                        f64::NAN
                    }
                })
                .collect::<Vec<_>>()
        };
        let (p, g) = (values(predictions), values(&gold));
        let (r, rho) = (pearson(&p, &g)?, spearman(&p, &g)?);
        out.push("pearson", 100.0 * r);
        out.push("spearmanr", 100.0 * rho);
        out.push("corr", 100.0 * (r + rho) / 2.0);
        return Ok(out);
    }
    let ids = |t: &[Target]| {
        t.iter()
            .map(|t| {
                if let Target::Class(c) = t {
                    *c
                } else {
                    usize::MAX
                }
            })
            .collect::<Vec<_>>()
    };
    let cm = ConfusionMatrix::new(&ids(predictions), &ids(&gold), dataset.labels.len())?;
    out.push("acc", 100.0 * cm.accuracy());
    out.push("mcc", 100.0 * cm.matthews_corrcoef());
    if dataset.labels.len() == 2 {
        out.push("f1", 100.0 * cm.f1(1));
    }
    Ok(out)
}
