//! One task interface. A task family (sequence classification and regression, token classification, extractive
//! question answering, multiple choice) reads its files, holds out what selects the checkpoint, says what its head
//! predicts, encodes training features whose loss the training loop computes, predicts, scores and writes
//! predictions. `albert finetune`, `albert predict` and `albert evaluate` are generic over [`TaskFamily`], reached
//! from a [`Task`] through [`with_family`]: a new family is one implementation and one line there.
//!
//! The inference half (running a fine-tuned head over encoded items) is [`albert::pipeline::task_head`], which needs
//! nothing of this crate; [`TrainHead`] and [`LabeledItems`] add the labels and the loss.

use std::path::{Path, PathBuf};

use albert::pipeline::task_head::{task_head, EncodedItems, TaskHead};
use albert::tokenizer::AlbertTokenizer;
use albert::{AlbertConfig, AlbertInput, Architecture, ForwardOptions, Pretrained, ProblemType};
use candle_core::{Device, Tensor};

use super::{FinetuneError, TrainFeatures};
use crate::augment::Method;
use crate::tasks::custom::CustomTask;
use crate::tasks::squad::ArticlePart;
use crate::tasks::{EvalOptions, EvaluationReport, Task, TaskError, TaskScores};

/// A head whose loss trains a task family: its training forward pass and the labels of a batch it takes.
pub trait TrainHead: TaskHead {
    /// The forward pass's outputs, kept whole for the loss.
    type Output;
    /// A batch's labels as tensors.
    type Labels;

    /// The forward pass over a batch (`opts`: training mode, dropout).
    fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> albert::Result<Self::Output>;

    /// The mean loss of a batch's `output` against its `labels`.
    fn loss(&self, output: &Self::Output, labels: &Self::Labels) -> albert::Result<Tensor>;
}

/// `TrainHead` for a head class `$head` whose forward pass gives `$output` and whose loss takes one label tensor.
macro_rules! train_head {
    ($head:ty, $output:ty) => {
        impl crate::finetune::task::TrainHead for $head {
            type Output = $output;
            type Labels = candle_core::Tensor;

            fn forward(&self, input: &albert::AlbertInput, opts: &albert::ForwardOptions) -> albert::Result<$output> {
                <$head>::forward(self, input, opts)
            }

            fn loss(&self, output: &$output, labels: &candle_core::Tensor) -> albert::Result<candle_core::Tensor> {
                <$head>::loss(self, output, labels)
            }
        }
    };
}
pub(crate) use train_head;

/// Encoded items with their labels: all the training loop needs to train the head [`LabeledItems::Head`] on them
/// (every such type is [`TrainFeatures`]).
pub trait LabeledItems: EncodedItems {
    /// The head trained.
    type Head: TrainHead;

    /// Tokens of item `item` (a multiple-choice question counts its longest option), the length a batch pads to.
    fn item_len(&self, item: usize) -> usize;

    /// The labels of `items`; an error names an item that has none.
    fn labels(&self, items: &[usize], device: &Device) -> Result<<Self::Head as TrainHead>::Labels, FinetuneError>;
}

impl<T: LabeledItems> TrainFeatures for T {
    fn len(&self) -> usize {
        self.count()
    }

    fn row_len(&self, row: usize) -> usize {
        self.item_len(row)
    }

    fn loss(&self, model: &albert::AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError> {
        let head = task_head::<T::Head>(model)?;
        let output = head.forward(&self.input(batch, device)?, forward)?;
        Ok(head.loss(&output, &self.labels(batch, device)?)?)
    }
}

/// What a task's head predicts, which fixes its configuration ([`configure_head`]).
#[derive(Debug, Clone, PartialEq)]
pub enum HeadLabels {
    /// One of these classes (by id).
    Classes(Vec<String>),
    /// A real-valued score (regression).
    Score,
    /// Scores with no labels of their own: span start and end (question answering), one per option (multiple
    /// choice).
    Unlabeled,
}

/// Sets the head's labels, output count and problem type in `config` for `labels`.
pub fn configure_head(config: &mut AlbertConfig, labels: &HeadLabels) {
    match labels {
        HeadLabels::Classes(names) => {
            config.set_labels(names);
            config.problem_type = Some(ProblemType::SingleLabelClassification);
        }
        HeadLabels::Score => {
            config.id2label = None;
            config.label2id = None;
            config.num_labels = Some(1);
            config.problem_type = Some(ProblemType::Regression);
        }
        HeadLabels::Unlabeled => {
            // transformers' default of 2 labels: unused by the span and option heads.
            config.id2label = None;
            config.label2id = None;
            config.num_labels = Some(2);
            config.problem_type = None;
        }
    }
}

/// The class names of a fine-tuned model, by id; `None` for a regression head (one output).
pub fn model_labels(config: &AlbertConfig) -> Option<Vec<String>> {
    let n = config.num_labels();
    (n != 1).then(|| (0..n).map(|i| config.label_name(i)).collect())
}

/// How to read a file to predict or score.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Users' own data: the class names fixing class ids (a model's labels, [`model_labels`]).
    pub labels: Option<Vec<String>>,
    /// XQuAD: only the train or test articles of the committed split.
    pub articles: Option<ArticlePart>,
}

impl ReadOptions {
    /// Refuses an article split for a task other than XQuAD (`path` is the file being read).
    pub(crate) fn no_articles(&self, task: Task, path: &Path) -> Result<(), TaskError> {
        match self.articles {
            Some(_) => Err(TaskError::invalid(path, format!("the article split applies to XQuAD only, not {task}"))),
            None => Ok(()),
        }
    }
}

/// Where a fine-tuning run's data is and how much of it is used.
#[derive(Debug, Clone)]
pub struct TrainingSource {
    /// The training data: a file, or the task's folder (GLUE, CoNLL-2003).
    pub data: PathBuf,
    /// A labeled dev file that selects the checkpoint.
    pub dev: Option<PathBuf>,
    /// Only the first this many training examples.
    pub limit: Option<usize>,
    /// Sentence tasks: select the checkpoint on this seeded fraction of the training data instead of the dev file,
    /// which then stays unseen.
    pub holdout_fraction: Option<f64>,
    /// Seed of the hold-out draw.
    pub seed: u64,
}

impl TrainingSource {
    /// Refuses a hold-out fraction for a family whose hold-out is fixed.
    pub(crate) fn no_holdout_fraction(&self, task: Task) -> Result<(), FinetuneError> {
        match self.holdout_fraction {
            Some(_) => Err(FinetuneError::Invalid(format!(
                "a hold-out fraction applies to GLUE and custom data only; {task} holds out its own"
            ))),
            None => Ok(()),
        }
    }
}

/// The data of a fine-tuning run.
#[derive(Debug, Clone)]
pub struct Training<D> {
    /// Trained on.
    pub train: D,
    /// Scored after each epoch to select the checkpoint, when there is any.
    pub select: Option<D>,
}

/// How a model runs over a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictOptions {
    /// Longest input in tokens (window length for question answering).
    pub max_seq_length: usize,
    /// Items per forward pass.
    pub batch_size: usize,
}

/// A task file's contents and where they came from (scores and errors name the file).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFile<T> {
    /// The file (or folder) read.
    pub path: PathBuf,
    /// What it holds.
    pub items: T,
}

/// One file of written predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionFile {
    /// `None` for the predictions file itself; else the companion's name, written as `STEM.NAME.json` beside it
    /// ([`companion_path`]).
    pub companion: Option<&'static str>,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

/// `value` as pretty-printed JSON.
pub(crate) fn json_bytes(value: &impl serde::Serialize) -> Result<Vec<u8>, FinetuneError> {
    serde_json::to_vec_pretty(value).map_err(|e| FinetuneError::Invalid(format!("predictions as JSON: {e}")))
}

/// Where the companion `name` of the predictions file `out` goes: `STEM.NAME.json` beside it.
pub fn companion_path(out: &Path, name: &str) -> PathBuf {
    let stem = out.file_stem().map_or_else(|| "predictions".into(), |s| s.to_string_lossy().to_string());
    out.with_file_name(format!("{stem}.{name}.json"))
}

/// A task family: everything fine-tuning, prediction and evaluation need to know of a task.
pub trait TaskFamily {
    /// The examples of one file, labeled or not.
    type Data;
    /// Encoded training items with their labels.
    type Features: TrainFeatures;
    /// Answers for a file's examples, from a model or read from a predictions file.
    type Predictions;

    /// Items per forward pass when fine-tuning scores the selection data after each epoch.
    const EVAL_BATCH: usize;

    /// The task.
    fn task(&self) -> Task;

    /// The head class fine-tuned and run.
    fn architecture(&self) -> Architecture;

    /// Reads a file to predict or score.
    fn read(&self, path: &Path, opts: &ReadOptions) -> Result<Self::Data, TaskError>;

    /// The training data and what selects the checkpoint, by the task's hold-out policy.
    fn training(&self, source: &TrainingSource) -> Result<Training<Self::Data>, FinetuneError>;

    /// Examples (sentences, questions) in `data`.
    fn size(&self, data: &Self::Data) -> usize;

    /// What the head predicts, given the training data.
    fn head_labels(&self, train: &Self::Data) -> HeadLabels;

    /// The training data with augmented copies of its texts; only sentence tasks have them.
    fn augment(&self, _train: Self::Data, _method: &Method, _seed: u64) -> Result<Self::Data, FinetuneError> {
        Err(FinetuneError::Invalid(format!("augmentation applies to GLUE and custom data only, not {}", self.task())))
    }

    /// Encodes labeled training data.
    fn features(&self, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<Self::Features, FinetuneError>;

    /// Runs `model` over every example of `data`.
    fn predict(
        &self,
        model: &Pretrained,
        tokenizer: &AlbertTokenizer,
        data: &Self::Data,
        opts: &PredictOptions,
    ) -> Result<Self::Predictions, FinetuneError>;

    /// Reads a predictions file from any system, in the format [`TaskFamily::prediction_files`] writes.
    fn read_predictions(&self, data: &Self::Data, path: &Path) -> Result<Self::Predictions, TaskError>;

    /// Scores predictions against labeled data with the task's official metrics.
    fn evaluate(&self, data: &Self::Data, predictions: &Self::Predictions, opts: &EvalOptions) -> Result<EvaluationReport, TaskError>;

    /// The scores that select the checkpoint (the first metric, higher is better) on `data`.
    fn select(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<TaskScores, FinetuneError> {
        let opts = PredictOptions { max_seq_length, batch_size: Self::EVAL_BATCH };
        let predictions = self.predict(model, tokenizer, data, &opts)?;
        Ok(self.evaluate(data, &predictions, &EvalOptions::new())?.selection_scores())
    }

    /// The companions [`TaskFamily::prediction_files`] writes beside the predictions file.
    fn companions(&self) -> &'static [&'static str] {
        &[]
    }

    /// The predictions as files: the one `evaluate` reads (and the task's leaderboard: a GLUE submission TSV), then
    /// any companions. `model` is the configuration of the model that predicted.
    fn prediction_files(&self, data: &Self::Data, predictions: &Self::Predictions, model: &AlbertConfig) -> Result<Vec<PredictionFile>, FinetuneError>;
}

/// Something done with a task family, whichever it is ([`with_family`]).
pub trait FamilyVisitor {
    /// The result.
    type Output;

    /// Does it with `family`.
    fn visit<F: TaskFamily>(self, family: F) -> Self::Output;
}

/// Runs `visitor` with the family of `task`; `custom` describes users' own data (needed by [`Task::Custom`] only).
pub fn with_family<V: FamilyVisitor>(task: Task, custom: Option<&CustomTask>, visitor: V) -> Result<V::Output, TaskError> {
    use super::{choice::ChoiceTask, qa::QaTask, sequence::SequenceTask, token::TokenTask};
    Ok(match task {
        Task::Glue(t) => visitor.visit(SequenceTask::Glue(t)),
        Task::Custom => visitor.visit(SequenceTask::Custom(custom.ok_or(TaskError::NoCustomColumns)?.clone())),
        Task::Conll2003 => visitor.visit(TokenTask),
        Task::SquadV1 | Task::SquadV2 | Task::Xquad => visitor.visit(QaTask(task)),
        Task::Race => visitor.visit(ChoiceTask),
    })
}

/// Scores the predictions file `predictions` against the labeled `data` file of `task` (see
/// [`crate::tasks::evaluate_predictions`]).
pub(crate) struct EvaluateFile<'a> {
    pub data: &'a Path,
    pub predictions: &'a Path,
    pub options: &'a EvalOptions,
}

impl FamilyVisitor for EvaluateFile<'_> {
    type Output = Result<EvaluationReport, TaskError>;

    fn visit<F: TaskFamily>(self, family: F) -> Self::Output {
        let data = family.read(self.data, &ReadOptions::default())?;
        let predictions = family.read_predictions(&data, self.predictions)?;
        family.evaluate(&data, &predictions, self.options)
    }
}
