//! Sequence classification and regression: one label per text or text pair, read from the pooled `[CLS]`.
//! Texts are encoded as `[CLS] a [SEP] (b [SEP])`, truncated longest-first to `max_seq_length`, and padded to the
//! longest of each batch.

use std::path::{Path, PathBuf};

use albert::model::AlbertForSequenceClassification;
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, Truncation, TruncationStrategy};
use albert::{AlbertForAny, AlbertInput, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor};

use super::{FinetuneError, TrainFeatures};
use crate::tasks::custom::{read_custom, CustomDataset, CustomTask, LabelKind};
use crate::tasks::glue::{read_glue, GlueDataset, GlueTask};
use crate::tasks::{Target, TaskError, TaskScores, TextExample};

/// Encoded texts with their labels (absent for unlabeled data).
#[derive(Debug, Clone)]
pub struct SequenceFeatures {
    /// Token ids, one row per example, without padding.
    pub ids: Vec<Vec<u32>>,
    /// Segment ids of the rows.
    pub type_ids: Vec<Vec<u32>>,
    /// Labels of the rows.
    pub labels: Vec<Option<Target>>,
    /// Id that pads rows to the longest of a batch.
    pub pad_id: u32,
}

impl SequenceFeatures {
    /// Encodes `examples` as (pairs of) texts of at most `max_seq_length` tokens.
    pub fn encode(
        tokenizer: &AlbertTokenizer,
        examples: &[TextExample],
        max_seq_length: usize,
    ) -> Result<Self, FinetuneError> {
        let opts = EncodeOptions {
            truncation: Some(Truncation {
                max_length: max_seq_length,
                stride: 0,
                strategy: TruncationStrategy::LongestFirst,
            }),
            ..EncodeOptions::default()
        };
        let inputs: Vec<(&str, Option<&str>)> = examples
            .iter()
            .map(|e| (e.text_a.as_str(), e.text_b.as_deref()))
            .collect();
        let encodings = tokenizer.encode_batch(&inputs, &opts)?;
        Ok(Self {
            ids: encodings.iter().map(|e| e.ids.clone()).collect(),
            type_ids: encodings.iter().map(|e| e.type_ids.clone()).collect(),
            labels: examples.iter().map(|e| e.label).collect(),
            pad_id: tokenizer.token_to_id("<pad>").unwrap_or(0),
        })
    }

    fn input(&self, rows: &[usize], device: &Device) -> Result<AlbertInput, FinetuneError> {
        let ids: Vec<Vec<u32>> = rows.iter().map(|&r| self.ids[r].clone()).collect();
        let types: Vec<Vec<u32>> = rows.iter().map(|&r| self.type_ids[r].clone()).collect();
        Ok(AlbertInput::from_rows(&ids, Some(&types), self.pad_id, device)?)
    }

    fn label_tensor(&self, rows: &[usize], device: &Device) -> Result<Tensor, FinetuneError> {
        let labels = rows
            .iter()
            .map(|&r| {
                self.labels[r].ok_or_else(|| FinetuneError::Invalid(format!("training example {r} has no label")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match labels[0] {
            Target::Class(_) => {
                let v: Vec<u32> = labels
                    .iter()
                    .map(|t| if let Target::Class(c) = t { *c as u32 } else { 0 })
                    .collect();
                Tensor::new(v, device)?
            }
            Target::Score(_) => {
                let v: Vec<f32> = labels
                    .iter()
                    .map(|t| if let Target::Score(s) = t { *s as f32 } else { 0.0 })
                    .collect();
                Tensor::new(v, device)?
            }
        })
    }
}

fn head(model: &AlbertForAny) -> Result<&AlbertForSequenceClassification, FinetuneError> {
    super::require_head(model, albert::Architecture::SequenceClassification, |m| match m {
        AlbertForAny::SequenceClassification(h) => Some(h),
        _ => None,
    })
}

impl TrainFeatures for SequenceFeatures {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn row_len(&self, row: usize) -> usize {
        self.ids[row].len()
    }

    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError> {
        let head = head(model)?;
        let out = head.forward(
            &self.input(batch, device)?,
            forward,
        )?;
        Ok(head.loss(&out, &self.label_tensor(batch, device)?)?)
    }
}

/// Predicts every row of `features`: the arg-max class, or the score when the head has one output.
pub fn predict(
    model: &Pretrained,
    features: &SequenceFeatures,
    batch_size: usize,
) -> Result<Vec<Target>, FinetuneError> {
    let detached = model.detached()?;
    let head = head(&detached)?;
    let device = head.albert.embeddings().word_embeddings().device().clone();
    let rows: Vec<usize> = (0..features.ids.len()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for batch in rows.chunks(batch_size.max(1)) {
        // (batch, num_labels)
        let logits = head
            .forward(&features.input(batch, &device)?, &ForwardOptions::default())?
            .logits;
        let logits: Vec<Vec<f32>> = logits.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        out.extend(logits.iter().map(|row| match row.as_slice() {
            [score] => Target::Score(*score as f64),
            _ => Target::Class(argmax(row)),
        }));
    }
    Ok(out)
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, v)| if *v > row[best] { i } else { best })
}

/// A labeled or unlabeled split of a sequence task, with what it takes to score predictions on it.
#[derive(Debug, Clone)]
pub enum SequenceSplit {
    /// A GLUE TSV file.
    Glue(GlueDataset),
    /// Users' own CSV/TSV/JSONL file.
    Custom(CustomDataset),
}

impl SequenceSplit {
    /// Reads a GLUE file.
    pub fn glue(task: GlueTask, path: &Path) -> Result<Self, TaskError> {
        Ok(Self::Glue(read_glue(task, path)?))
    }

    /// Reads a custom file; `labels` fixes the class ids (those of the training file, for a dev file).
    pub fn custom(task: &CustomTask, path: &Path, labels: Option<&[String]>) -> Result<Self, TaskError> {
        let mut task = task.clone();
        if let (LabelKind::Classification { labels: slot }, Some(fixed)) = (&mut task.kind, labels) {
            *slot = Some(fixed.to_vec());
        }
        Ok(Self::Custom(read_custom(&task, path)?))
    }

    /// The examples, in file order.
    pub fn examples(&self) -> &[TextExample] {
        match self {
            Self::Glue(d) => &d.examples,
            Self::Custom(d) => &d.examples,
        }
    }

    /// Class names by id; empty for regression.
    pub fn label_names(&self) -> Vec<String> {
        match self {
            Self::Glue(d) => d.task.label_names().iter().map(|s| s.to_string()).collect(),
            Self::Custom(d) => d.labels.clone(),
        }
    }

    /// The file read.
    pub fn path(&self) -> &PathBuf {
        match self {
            Self::Glue(d) => &d.path,
            Self::Custom(d) => &d.path,
        }
    }

    /// The examples at the indices `keep` accepts, in file order.
    pub fn subset(&self, keep: impl Fn(usize) -> bool) -> Self {
        let examples: Vec<TextExample> = self.examples().iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, e)| e.clone()).collect();
        match self {
            Self::Glue(d) => Self::Glue(GlueDataset { examples, ..d.clone() }),
            Self::Custom(d) => Self::Custom(CustomDataset { examples, ..d.clone() }),
        }
    }

    /// Splits off a seeded random `fraction` of the examples (at least one, when there are two or more), both parts
    /// in file order: (the rest, the held-out part). Checkpoint selection on held-out training data keeps the dev
    /// file for the final score.
    pub fn hold_out(&self, fraction: f64, seed: u64) -> (Self, Self) {
        let n = self.examples().len();
        let k = if n >= 2 { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) } else { 0 };
        let mut order: Vec<usize> = (0..n).collect();
        albert::AlbertRng::new(seed).fork(4).shuffle(&mut order);
        let held: std::collections::HashSet<usize> = order[..k].iter().copied().collect();
        (self.subset(|i| !held.contains(&i)), self.subset(|i| held.contains(&i)))
    }

    /// Scores predictions in example order with the task's official metrics.
    pub fn score(&self, predictions: &[Target]) -> Result<TaskScores, TaskError> {
        match self {
            Self::Glue(d) => crate::tasks::glue::score_glue(d, predictions),
            Self::Custom(d) => crate::tasks::custom::score_custom(d, predictions),
        }
    }
}

/// Writes predictions as a submission TSV (`index<TAB>prediction` with a header): class names from `label_names`
/// (ids when it has none), scores as numbers. `albert evaluate --predictions` reads it back.
pub fn write_submission(path: &Path, predictions: &[Target], label_names: &[String]) -> Result<(), FinetuneError> {
    let mut text = String::from("index\tprediction\n");
    for (i, p) in predictions.iter().enumerate() {
        let value = match p {
            Target::Class(c) => label_names.get(*c).cloned().unwrap_or_else(|| c.to_string()),
            Target::Score(s) => format!("{s:.6}"),
        };
        text.push_str(&format!("{i}\t{value}\n"));
    }
    albert::fsio::write_atomic(path, text.as_bytes()).map_err(|e| FinetuneError::io(path, e))
}

/// Reads a file of a sequence task: a GLUE TSV, or users' own data described by `custom` (`Task::Custom`), whose
/// class ids `labels` fixes.
pub fn read_split(
    task: crate::tasks::Task,
    path: &Path,
    custom: Option<&CustomTask>,
    labels: Option<&[String]>,
) -> Result<SequenceSplit, FinetuneError> {
    match (task, custom) {
        (crate::tasks::Task::Glue(t), _) => Ok(SequenceSplit::glue(t, path)?),
        (crate::tasks::Task::Custom, Some(c)) => Ok(SequenceSplit::custom(c, path, labels)?),
        (crate::tasks::Task::Custom, None) => Err(FinetuneError::Invalid(
            "custom data needs its column description".into(),
        )),
        (other, _) => Err(FinetuneError::Invalid(format!(
            "{other} is not a sequence classification task (fine-tuning supports GLUE and custom data so far)"
        ))),
    }
}

/// Encodes a split and predicts every example with `model`.
pub fn predict_split(
    model: &Pretrained,
    tokenizer: &AlbertTokenizer,
    split: &SequenceSplit,
    max_seq_length: usize,
    batch_size: usize,
) -> Result<Vec<Target>, FinetuneError> {
    let features = SequenceFeatures::encode(tokenizer, split.examples(), max_seq_length)?;
    predict(model, &features, batch_size)
}
