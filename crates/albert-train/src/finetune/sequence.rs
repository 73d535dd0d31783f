//! Sequence classification and regression (GLUE, users' own CSV/TSV/JSONL data): one label per text or text pair,
//! read from the pooled `[CLS]`. Texts are encoded as `[CLS] a [SEP] (b [SEP])`, truncated longest-first to
//! `max_seq_length`, and padded to the longest of each batch.

use std::path::{Path, PathBuf};

use albert::model::{AlbertForSequenceClassification, LogitsOutput};
use albert::pipeline::task_head::{predict_items, rows_input, EncodedItems};
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use albert::{AlbertConfig, AlbertInput, Architecture, Pretrained};
use candle_core::{Device, Tensor};

use super::task::{HeadLabels, LabeledItems, PredictOptions, PredictionFile, ReadOptions, TaskFamily, Training, TrainingSource};
use super::FinetuneError;
use crate::augment::{augment_examples, Method};
use crate::tasks::custom::{read_custom, read_custom_predictions, score_custom, CustomDataset, CustomTask, LabelKind};
use crate::tasks::glue::{read_glue, read_glue_predictions, score_glue, GlueDataset, GlueTask};
use crate::tasks::{EvalOptions, EvaluationReport, Target, Task, TaskError, TaskScores, TextExample};

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
        let opts = EncodeOptions::truncating(max_seq_length, TruncationStrategy::LongestFirst);
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

impl EncodedItems for SequenceFeatures {
    fn count(&self) -> usize {
        self.ids.len()
    }

    fn input(&self, items: &[usize], device: &Device) -> albert::Result<AlbertInput> {
        let ids: Vec<&[u32]> = items.iter().map(|&r| self.ids[r].as_slice()).collect();
        let types: Vec<&[u32]> = items.iter().map(|&r| self.type_ids[r].as_slice()).collect();
        rows_input(&ids, Some(&types), 1, self.pad_id, device)
    }
}

super::task::train_head!(AlbertForSequenceClassification, LogitsOutput);

impl LabeledItems for SequenceFeatures {
    type Head = AlbertForSequenceClassification;

    fn item_len(&self, item: usize) -> usize {
        self.ids[item].len()
    }

    fn labels(&self, items: &[usize], device: &Device) -> Result<Tensor, FinetuneError> {
        self.label_tensor(items, device)
    }
}

/// Predicts every row of `features`: the arg-max class, or the score when the head has one output.
pub fn predict(model: &Pretrained, features: &SequenceFeatures, batch_size: usize) -> Result<Vec<Target>, FinetuneError> {
    Ok(predict_items::<AlbertForSequenceClassification>(model, features, batch_size)?
        .iter()
        .map(|row| match row.as_slice() {
            [score] => Target::Score(*score as f64),
            _ => Target::Class(argmax(row)),
        })
        .collect())
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
        self.with_examples(examples)
    }

    /// This file's description with other examples.
    fn with_examples(&self, examples: Vec<TextExample>) -> Self {
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
        // A regression model's scores against classes (or the reverse) would be counted as nonsense.
        let regression = self.label_names().is_empty();
        if let Some(p) = predictions.iter().find(|p| matches!(p, Target::Score(_)) != regression) {
            let expected = if regression { "a score" } else { "a class" };
            return Err(TaskError::invalid(self.path(), format!("a prediction is {p:?}, this file needs {expected}")));
        }
        match self {
            Self::Glue(d) => score_glue(d, predictions),
            Self::Custom(d) => score_custom(d, predictions),
        }
    }
}

/// Sequence classification and regression: a GLUE task, or users' own data described by its columns.
#[derive(Debug, Clone)]
pub enum SequenceTask {
    /// A GLUE task, read from its TSV files.
    Glue(GlueTask),
    /// Users' own CSV/TSV/JSONL data.
    Custom(CustomTask),
}

impl TaskFamily for SequenceTask {
    type Data = SequenceSplit;
    type Features = SequenceFeatures;
    type Predictions = Vec<Target>;

    const EVAL_BATCH: usize = 64;

    fn task(&self) -> Task {
        match self {
            Self::Glue(t) => Task::Glue(*t),
            Self::Custom(_) => Task::Custom,
        }
    }

    fn architecture(&self) -> Architecture {
        Architecture::SequenceClassification
    }

    /// Reads a GLUE file, or a custom file whose class ids `opts.labels` fixes.
    fn read(&self, path: &Path, opts: &ReadOptions) -> Result<SequenceSplit, TaskError> {
        opts.no_articles(self.task(), path)?;
        match self {
            Self::Glue(t) => SequenceSplit::glue(*t, path),
            Self::Custom(c) => SequenceSplit::custom(c, path, opts.labels.as_deref()),
        }
    }

    /// GLUE: `data` is the task folder (train.tsv and the dev file); custom: the training file and an optional dev
    /// file. The dev file selects the checkpoint, unless a seeded fraction of the training data is held out for it.
    fn training(&self, source: &TrainingSource) -> Result<Training<SequenceSplit>, FinetuneError> {
        let (train_path, dev_path) = match self {
            Self::Glue(t) => {
                if !source.data.is_dir() {
                    return Err(FinetuneError::Invalid(format!(
                        "the GLUE data must be the task folder holding train.tsv, got {}",
                        source.data.display()
                    )));
                }
                (source.data.join("train.tsv"), Some(source.data.join(t.dev_file())))
            }
            Self::Custom(_) => (source.data.clone(), source.dev.clone()),
        };
        let train = self.read(&train_path, &ReadOptions::default())?;
        let labels = train.label_names();
        let train = match source.limit {
            Some(n) => train.subset(|i| i < n),
            None => train,
        };
        if let Some(f) = source.holdout_fraction {
            if !(f > 0.0 && f < 1.0) {
                return Err(FinetuneError::Invalid(format!("the hold-out fraction must be between 0 and 1, got {f}")));
            }
            let (rest, held) = train.hold_out(f, source.seed);
            return Ok(Training { train: rest, select: Some(held) });
        }
        let dev = dev_path.map(|p| self.read(&p, &ReadOptions { labels: Some(labels), ..ReadOptions::default() })).transpose()?;
        Ok(Training { train, select: dev })
    }

    fn size(&self, data: &SequenceSplit) -> usize {
        data.examples().len()
    }

    fn head_labels(&self, train: &SequenceSplit) -> HeadLabels {
        match train.label_names() {
            names if names.is_empty() => HeadLabels::Score,
            names => HeadLabels::Classes(names),
        }
    }

    fn augment(&self, train: SequenceSplit, method: &Method, seed: u64) -> Result<SequenceSplit, FinetuneError> {
        Ok(train.with_examples(augment_examples(train.examples(), method, seed)?))
    }

    fn features(&self, tokenizer: &AlbertTokenizer, data: &SequenceSplit, max_seq_length: usize) -> Result<SequenceFeatures, FinetuneError> {
        SequenceFeatures::encode(tokenizer, data.examples(), max_seq_length)
    }

    fn predict(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &SequenceSplit, opts: &PredictOptions) -> Result<Vec<Target>, FinetuneError> {
        predict(model, &self.features(tokenizer, data, opts.max_seq_length)?, opts.batch_size)
    }

    /// A submission TSV (`index<TAB>prediction`, header optional) with label names, class ids or numbers.
    fn read_predictions(&self, data: &SequenceSplit, path: &Path) -> Result<Vec<Target>, TaskError> {
        match data {
            SequenceSplit::Glue(d) => {
                d.require_labels()?;
                read_glue_predictions(d.task, path, d.examples.len())
            }
            SequenceSplit::Custom(d) => read_custom_predictions(d, path),
        }
    }

    fn evaluate(&self, data: &SequenceSplit, predictions: &Vec<Target>, _opts: &EvalOptions) -> Result<EvaluationReport, TaskError> {
        Ok(EvaluationReport::Scores(data.score(predictions)?))
    }

    /// A submission TSV (`index<TAB>prediction` with a header): classes by name, scores as numbers. GLUE names
    /// classes as its files do (0/1 for the binary tasks) whatever the model calls them; custom data by the model's
    /// label names.
    fn prediction_files(&self, _data: &SequenceSplit, predictions: &Vec<Target>, model: &AlbertConfig) -> Result<Vec<PredictionFile>, FinetuneError> {
        let labels = super::task::model_labels(model).unwrap_or_default();
        let names: Vec<String> = match self {
            Self::Glue(t) if t.file_labels().len() == labels.len() => t.file_labels().iter().map(|l| l.to_string()).collect(),
            _ => labels,
        };
        let mut text = String::from("index\tprediction\n");
        for (i, p) in predictions.iter().enumerate() {
            let value = match p {
                Target::Class(c) => names.get(*c).cloned().unwrap_or_else(|| c.to_string()),
                Target::Score(s) => format!("{s:.6}"),
            };
            text.push_str(&format!("{i}\t{value}\n"));
        }
        Ok(vec![PredictionFile { companion: None, bytes: text.into_bytes() }])
    }
}
