//! Task pipelines: text in, typed answers out, as transformers' pipelines give them.
//!
//! - [`classify`]: sequence classification (label names with softmax, sigmoid or raw scores).
//! - [`fill_mask`]: the top-k tokens for each `[MASK]`.
//! - [`embed`]: sentence vectors (mean-pooled, pooler, or as a sentence-transformers directory's [`embed_st`]
//!   modules say) and their cosine similarity.
//! - [`qa`]: extractive question answering over windows of a long context.
//! - [`ner`]: named entities, word pieces and B-/I- tags grouped into spans.
//! - [`explain`]: token attributions (Integrated Gradients, gradient x input, attention rollout), and
//!   [`faithfulness`]: their deletion curves and AOPC against random orders.
//! - [`bias`]: bias probes of masked language models (CrowS-Pairs).
//!
//! Each pipeline loads a checkpoint directory or hub id with [`PipelineModel::load`], which refuses a checkpoint
//! whose class or weights lack the head the task needs (a head is never initialized at random here). Texts are
//! tokenized with the checkpoint's tokenizer, truncated to [`PipelineOptions::max_length`] (flagged in the
//! outputs, never silently) and run in batches of [`PipelineOptions::batch_size`].
//!
//! Each pipeline has an `_each` form that answers every input it can and gives the others an [`InputError`]
//! (an empty text, a missing `[MASK]`, a NaN output), so one bad input of a stream loses nothing else; the plain
//! form fails the whole call on the first bad input, naming it.
//!
//! ```
//! use albert::pipeline::{classify, PipelineModel, PipelineOptions, Task};
//!
//! // A tiny random checkpoint of the test fixtures; a hub id such as "textattack/albert-base-v2-SST-2" works too.
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pipelines/sentiment");
//! let model = PipelineModel::load(dir, Task::Classify)?;
//! let out = classify::classify(&model, &["I loved this movie."], None, &PipelineOptions::default())?;
//! assert_eq!(out[0].labels.len(), 3); // negative, neutral, positive, best first
//! assert!(out[0].labels[0].score >= out[0].labels[1].score);
//! // A checkpoint without the head is refused rather than completed at random.
//! assert!(PipelineModel::load(dir, Task::Ner).is_err());
//! # Ok::<(), albert::Error>(())
//! ```

pub mod bias;
pub mod classify;
pub mod embed;
pub mod explain;
pub mod faithfulness;
pub mod embed_st;
pub mod fill_mask;
pub mod ner;
pub mod qa;
pub mod task_head;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::Device;

use crate::builtin;
use crate::config::{AlbertConfig, Architecture};
use crate::error::{Error, Result};
use crate::model::{AlbertForAny, AnyOutput, LoadReport, Precision};
use crate::pretrained::{LoadOptions, Pretrained};
use crate::tokenizer::{AlbertTokenizer, Encoding, TokenizerError, TruncationDirection};
use rayon::prelude::*;

/// The tasks, each with the class it runs and the built-in model it falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Sequence classification or regression.
    Classify,
    /// Masked-token prediction.
    FillMask,
    /// Sentence vectors (and similarity).
    Embed,
    /// Extractive question answering.
    QuestionAnswering,
    /// Named entities (token classification).
    Ner,
}

impl Task {
    /// The class the pipeline loads.
    pub fn architecture(self) -> Architecture {
        match self {
            Task::Classify => Architecture::SequenceClassification,
            Task::FillMask => Architecture::MaskedLM,
            Task::Embed => Architecture::Model,
            Task::QuestionAnswering => Architecture::QuestionAnswering,
            Task::Ner => Architecture::TokenClassification,
        }
    }

    /// Whether a checkpoint saved as `arch` holds this task's head (any class holds the encoder that `Embed` runs;
    /// the masked-LM head is part of `AlbertForPreTraining`).
    pub fn accepts(self, arch: Architecture) -> bool {
        match self {
            Task::Embed => true,
            Task::FillMask => matches!(arch, Architecture::MaskedLM | Architecture::PreTraining),
            other => arch == other.architecture(),
        }
    }

    /// The built-in model (see [`crate::builtin`]) used when none is given.
    pub fn default_model(self) -> &'static str {
        match self {
            Task::Classify => builtin::SENTIMENT,
            Task::FillMask | Task::Embed => builtin::PRETRAINED,
            Task::QuestionAnswering => builtin::QUESTION_ANSWERING,
            Task::Ner => builtin::NER,
        }
    }

    /// The command name of the task.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::FillMask => "fill-mask",
            Task::Embed => "embed",
            Task::QuestionAnswering => "qa",
            Task::Ner => "ner",
        }
    }
}

/// How texts are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Longest input in tokens, special tokens included; `None`: 512, or the model's `max_position_embeddings`
    /// when smaller. Longer inputs are truncated and flagged.
    pub max_length: Option<usize>,
    /// Inputs per forward pass.
    pub batch_size: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self { max_length: None, batch_size: 8 }
    }
}

/// A checkpoint loaded for one task, with its tokenizer.
///
/// It holds its weights once: the trainable model a checkpoint is loaded as is turned into the inference model
/// when that is first built (the encoder's weights prepared in place), and loaded again from the checkpoint only if
/// an explanation asks for it ([`PipelineModel::trainable`]), which takes gradients through it. Holding both took
/// twice the weights' memory. A model given in memory ([`PipelineModel::new`]) has nothing to be loaded again from:
/// it is kept, and the inference model built on a copy, unless it was given prepared in place
/// ([`Pretrained::into_prepared`]): then it is the inference model.
pub struct PipelineModel {
    /// The checkpoint's tokenizer.
    pub tokenizer: AlbertTokenizer,
    /// Where the checkpoint lies.
    pub dir: PathBuf,
    /// For `embed` from a sentence-transformers directory: its pooling, normalization and input length, which
    /// [`embed::Pooling::Model`] follows; `None` for any other checkpoint.
    pub sentence: Option<embed_st::SentenceHead>,
    task: Task,
    config: AlbertConfig,
    report: LoadReport,
    /// How the inference model runs the encoder's projections.
    precision: Precision,
    /// The trainable model, while held (see the type's documentation).
    trainable: Mutex<Option<Arc<Pretrained>>>,
    /// Where and how the trainable model is loaded again; `None` for a model given in memory, which is kept.
    reload: Option<(PathBuf, LoadOptions)>,
    /// The inference model and the precision it was built in: built on first use and kept, since preparing it
    /// (packing, int8 quantization) costs about as much as a short request.
    inference: Mutex<Option<(Precision, Arc<AlbertForAny>)>>,
    /// Where the forward passes run, when not in the calling thread (see [`PipelineModel::set_forward`]).
    forward: Option<Arc<dyn Forward>>,
}

/// Why a pipeline over a model given prepared in place ([`PipelineModel::new`]) cannot do what was asked.
fn given_prepared() -> Error {
    Error::Input(
        "the pipeline's model was given prepared for inference in place (Pretrained::into_prepared): it has no \
         trainable model to explain or to prepare in another precision"
            .into(),
    )
}

/// Where a pipeline's forward passes run. Without one, [`PipelineModel::run_batches`] runs them in the calling
/// thread; a server installs its batcher ([`PipelineModel::set_forward`]), which packs the inputs of concurrent
/// requests into shared forward passes on its own threads and hands each request back its rows.
pub trait Forward: Send + Sync {
    /// Runs the model over `encodings` and calls `each` once per forward pass that held some of them, with that
    /// pass's outputs narrowed to those rows and the rows (their index in `encodings`, the encoding) in the order of
    /// the outputs' first dimension. The outputs may be padded past the longest of these rows (other rows shared the
    /// pass); the attention mask keeps padding out of every real position.
    fn run(&self, encodings: &[&Encoding], each: &mut dyn FnMut(&AnyOutput, &[(usize, &Encoding)]) -> Result<()>) -> Result<()>;
}

impl PipelineModel {
    /// Resolves `spec` (a checkpoint directory or a hub id, see [`crate::hub::resolve_model`]) and loads it as the
    /// task's class. A checkpoint whose `architectures` names a class without the task's head, or whose weights
    /// lack any head tensor, is refused, naming the class and the missing tensors.
    pub fn load(spec: &str, task: Task) -> Result<Self> {
        let dir = crate::hub::resolve_model(spec)?;
        Self::load_dir(&dir, task)
    }

    /// Loads a checkpoint directory as the task's class (see [`PipelineModel::load`]). For `embed`, a
    /// sentence-transformers directory (`modules.json`) is read as [`embed_st::SentenceHead`] says, its encoder
    /// from the folder its Transformer module names.
    pub fn load_dir(dir: &Path, task: Task) -> Result<Self> {
        let sentence = if task == Task::Embed { embed_st::SentenceHead::from_dir(dir)? } else { None };
        let given = dir;
        let dir = sentence.as_ref().map_or(dir, |s| s.transformer_dir.as_path());
        let config = AlbertConfig::from_file(dir.join("config.json"))?;
        if let Some(declared) = config.architecture() {
            if !task.accepts(declared) {
                return Err(Error::Input(format!(
                    "{} is an {} checkpoint; `{}` needs {}",
                    dir.display(),
                    declared.hf_name(),
                    task.name(),
                    match task {
                        Task::FillMask => "AlbertForMaskedLM or AlbertForPreTraining",
                        other => other.architecture().hf_name(),
                    }
                )));
            }
        }
        let opts = LoadOptions { architecture: Some(task.architecture()), ..LoadOptions::default() };
        let model = Pretrained::load_with_config(dir, config.clone(), &opts)?;
        // Embed tolerates a missing pooler: only `--pooler` needs it, and it checks.
        let missing: Vec<&String> =
            model.report.initialized.iter().filter(|n| !(task == Task::Embed && n.starts_with("pooler."))).collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(Error::Input(format!(
                "{} lacks the {} head `{}` needs (missing: {}); it would be initialized at random",
                dir.display(),
                task.architecture().hf_name(),
                task.name(),
                names.join(", ")
            )));
        }
        let tokenizer = AlbertTokenizer::from_path(dir)?;
        if let Some(s) = &sentence {
            s.check_tokenizer(&tokenizer)?;
        }
        let reload = Some((dir.to_path_buf(), opts));
        Ok(Self::holding(model, tokenizer, given.to_path_buf(), sentence, task, reload))
    }

    fn holding(
        model: Pretrained,
        tokenizer: AlbertTokenizer,
        dir: PathBuf,
        sentence: Option<embed_st::SentenceHead>,
        task: Task,
        reload: Option<(PathBuf, LoadOptions)>,
    ) -> Self {
        Self {
            tokenizer,
            dir,
            sentence,
            task,
            config: model.config.clone(),
            report: model.report.clone(),
            precision: model.precision(),
            trainable: Mutex::new(Some(Arc::new(model))),
            reload,
            inference: Mutex::new(None),
            forward: None,
        }
    }

    /// A pipeline over a model already in memory (one just trained, or a random one to benchmark); `model` must be
    /// of the task's class. A model prepared in place ([`Pretrained::into_prepared`]) becomes the inference model
    /// itself, each weight held once; it can then neither be explained nor run in another precision.
    pub fn new(model: Pretrained, tokenizer: AlbertTokenizer, task: Task) -> Result<Self> {
        let arch = model.model.architecture();
        if !task.accepts(arch) {
            return Err(Error::Input(format!("`{}` needs {}, not {}", task.name(), task.architecture().hf_name(), arch.hf_name())));
        }
        Ok(Self::holding(model, tokenizer, PathBuf::new(), None, task, None))
    }

    /// The model's configuration.
    pub fn config(&self) -> &AlbertConfig {
        &self.config
    }

    /// What loading the checkpoint initialized and ignored.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// How the inference model runs the encoder's projections ([`Precision::Full`] unless set).
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Chooses how the inference model runs the encoder's projections (int8, say); it is built again on next use.
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    /// The trainable model, which explanations take gradients through: the one loaded, while the inference model
    /// has not been built from it; otherwise loaded again from the checkpoint (as when it was first loaded) and
    /// kept from then on, beside the inference model.
    pub fn trainable(&self) -> Result<Arc<Pretrained>> {
        let mut slot = self.trainable.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(model) = slot.as_ref() {
            return Ok(model.clone());
        }
        let (dir, opts) = self.reload.as_ref().ok_or_else(given_prepared)?;
        let model = Arc::new(Pretrained::load_with_config(dir, self.config.clone(), opts)?);
        *slot = Some(model.clone());
        Ok(model)
    }

    /// The effective maximum input length: `requested`, else a sentence-transformers directory's `max_seq_length`,
    /// else 512, capped by `max_position_embeddings`.
    pub fn max_length(&self, requested: Option<usize>) -> Result<usize> {
        let positions = self.config().max_position_embeddings;
        match requested {
            Some(n) if n > positions => Err(Error::Input(format!(
                "--max-length {n} exceeds the model's max_position_embeddings ({positions})"
            ))),
            Some(n) if n < 3 => Err(Error::Input(format!("--max-length {n} leaves no room for a token"))),
            Some(n) => Ok(n),
            None => Ok(positions.min(self.sentence.as_ref().and_then(|s| s.max_seq_length).unwrap_or(512))),
        }
    }

    /// Encodes single texts, truncated to the effective maximum length; each comes with whether it was cut.
    /// The first empty or untokenizable text fails the call (see [`PipelineModel::encode_each`]).
    pub fn encode(&self, texts: &[&str], max_length: Option<usize>) -> Result<Vec<Truncated>> {
        all(self.encode_each(texts, max_length)?)
    }

    /// Encodes each text as [`PipelineModel::encode`] does; an empty text or one the tokenizer refuses gets its own
    /// error. Only a bad `max_length` fails the call.
    pub fn encode_each(&self, texts: &[&str], max_length: Option<usize>) -> Result<Vec<PerInput<Truncated>>> {
        self.encode_each_from(texts, max_length, TruncationDirection::Right)
    }

    /// [`PipelineModel::encode_each`], cutting long texts from `direction`'s end (`Left` keeps their end).
    pub fn encode_each_from(
        &self,
        texts: &[&str],
        max_length: Option<usize>,
        direction: TruncationDirection,
    ) -> Result<Vec<PerInput<Truncated>>> {
        let max_length = self.max_length(max_length)?;
        Ok(texts
            .par_iter()
            .map(|text| {
                if text.trim().is_empty() {
                    return Err(InputError::Empty);
                }
                let (encoding, truncated) = self.tokenizer.encode_truncated_from(text, max_length, direction)?;
                Ok(Truncated { encoding, truncated })
            })
            .collect())
    }

    /// Token-id inputs taken as they are, the model's whole input (special tokens are not added: ids from
    /// `[CLS] ... [SEP]` encodings carry theirs), cut to the effective maximum length from `direction`'s end. No
    /// ids, or an id outside the tokenizer's or the model's vocabulary, gets its own error.
    pub fn encode_ids_each(
        &self,
        inputs: &[&[u32]],
        max_length: Option<usize>,
        direction: TruncationDirection,
    ) -> Result<Vec<PerInput<Truncated>>> {
        let max_length = self.max_length(max_length)?;
        let vocab_size = self.config().vocab_size;
        Ok(inputs
            .iter()
            .map(|ids| {
                if ids.is_empty() {
                    return Err(InputError::Empty);
                }
                if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
                    return Err(TokenizerError::IdOutOfRange { id, vocab_size }.into());
                }
                let mut encoding = self.tokenizer.encoding_of_ids(ids)?;
                let truncated = encoding.truncate_to(max_length, direction);
                Ok(Truncated { encoding, truncated })
            })
            .collect())
    }

    /// Runs the inputs that encoded (see [`PipelineModel::run_batches`]) and gives each the answer `each` makes of
    /// its row of the batch's outputs (`each(outputs, row, input index, encoding)`); inputs that failed before keep
    /// their error. Results come in input order.
    pub(crate) fn run_each<T>(
        &self,
        encoded: Vec<PerInput<Truncated>>,
        batch_size: usize,
        mut each: impl FnMut(&AnyOutput, usize, usize, &Truncated) -> Result<PerInput<T>>,
    ) -> Result<Vec<PerInput<T>>> {
        let mut out: Vec<Option<PerInput<T>>> = std::iter::repeat_with(|| None).take(encoded.len()).collect();
        let mut good = Vec::with_capacity(encoded.len());
        for (i, r) in encoded.into_iter().enumerate() {
            match r {
                Ok(t) => good.push((i, t)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        let refs: Vec<&Encoding> = good.iter().map(|(_, t)| &t.encoding).collect();
        self.run_batches(&refs, batch_size, |o, batch| {
            for (row, &(k, _)) in batch.iter().enumerate() {
                let (i, t) = &good[k];
                out[*i] = Some(each(o, row, *i, t)?);
            }
            Ok(())
        })?;
        out.into_iter().map(|r| r.ok_or_else(|| Error::Input("an input was left out of the batches".into()))).collect()
    }

    /// Runs the model over `encodings` in batches of `batch_size` and hands each batch's outputs with the batch's
    /// rows (their index in `encodings`, and the encoding) to `each`. Batches are cut from the inputs sorted by
    /// length and padded to their longest, so that little padding is computed (the results do not depend on it).
    /// With a [`Forward`] installed, it runs them instead, in batches of its own making.
    pub fn run_batches(
        &self,
        encodings: &[&Encoding],
        batch_size: usize,
        mut each: impl FnMut(&AnyOutput, &[(usize, &Encoding)]) -> Result<()>,
    ) -> Result<()> {
        if let Some(forward) = &self.forward {
            return forward.run(encodings, &mut each);
        }
        let rows = task_head::EncodingRows { encodings, pad_id: self.pad_id() };
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].ids.len());
        task_head::run_items(&*self.inference_model()?, &rows, &order, batch_size, &Device::Cpu, |out, batch| {
            let batch: Vec<(usize, &Encoding)> = batch.iter().map(|&i| (i, encodings[i])).collect();
            each(out, &batch)
        })
    }

    /// Runs this model's forward passes through `forward` from now on (a server's batcher) rather than in the
    /// calling thread.
    pub fn set_forward(&mut self, forward: Arc<dyn Forward>) {
        self.forward = Some(forward);
    }

    /// The id that pads rows to the longest of a batch.
    pub fn pad_id(&self) -> u32 {
        self.tokenizer.token_to_id("<pad>").unwrap_or(0)
    }

    /// The model prepared for inference: no autograd graph (each intermediate is freed as soon as it is used),
    /// projections prepared once. Rebuilt when the model's [`Pretrained::precision`] changes; a pipeline model's
    /// parameters are not trained, so they do not change under it. A [`Forward`] runs this model.
    pub fn inference_model(&self) -> Result<Arc<AlbertForAny>> {
        let mut slot = self.inference.lock().unwrap_or_else(|e| e.into_inner());
        let precision = self.precision;
        if let Some((built, model)) = slot.as_ref() {
            if *built == precision {
                return Ok(model.clone());
            }
        }
        // The model of another precision goes first, so that two are not held while this one is built.
        *slot = None;
        let model = Arc::new(self.build_inference(precision)?);
        *slot = Some((precision, model.clone()));
        Ok(model)
    }

    /// The inference model in `precision`: the held trainable model turned into it where it can be loaded again
    /// and nothing else holds it; a copy of it where it must stay; else the checkpoint loaded again.
    fn build_inference(&self, precision: Precision) -> Result<AlbertForAny> {
        let mut slot = self.trainable.lock().unwrap_or_else(|e| e.into_inner());
        let owned = |mut model: Pretrained| {
            model.set_precision(precision);
            model.into_inference()
        };
        let held = match (slot.take(), &self.reload) {
            (None, None) => return Err(given_prepared()),
            (None, Some((dir, opts))) => return owned(Pretrained::load_with_config(dir, self.config.clone(), opts)?),
            (Some(held), None) if held.is_prepared() => {
                if held.precision() != precision {
                    *slot = Some(held);
                    return Err(given_prepared());
                }
                return match Arc::try_unwrap(held) {
                    Ok(model) => Ok(model.model),
                    Err(shared) => {
                        *slot = Some(shared);
                        Err(Error::Input("the prepared model is in use elsewhere; it cannot become the inference model".into()))
                    }
                };
            }
            (Some(held), None) => held,
            (Some(held), Some(_)) => match Arc::try_unwrap(held) {
                Ok(model) => return owned(model),
                Err(shared) => shared,
            },
        };
        let model = held.detached_as(precision);
        *slot = Some(held);
        model
    }

    /// Builds the inference model now (weight copies, int8 quantization) rather than on the first request: a
    /// server prepares its models once, at start.
    pub fn prepare(&self) -> Result<()> {
        self.inference_model().map(drop)
    }

    /// The task this model was loaded for.
    pub fn task(&self) -> Task {
        self.task
    }

    /// Refuses a model loaded for another task.
    pub fn require(&self, task: Task) -> Result<()> {
        if self.task != task {
            return Err(Error::Input(format!("the model was loaded for `{}`, not `{}`", self.task.name(), task.name())));
        }
        Ok(())
    }
}

/// Why one input got no answer; the other inputs of the call are answered.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The text is empty or only whitespace.
    #[error("the text is empty")]
    Empty,
    /// fill-mask: the text holds no `[MASK]`.
    #[error("[MASK] is missing")]
    MissingMask,
    /// fill-mask: truncation cut off every `[MASK]` of the text.
    #[error("[MASK] was cut off by truncation (raise --max-length)")]
    MaskCutOff,
    /// qa: the question is empty or only whitespace.
    #[error("the question is empty")]
    EmptyQuestion,
    /// qa: the question leaves no room for the context in a window.
    #[error("the question does not fit windows of {max_length} tokens with stride {stride}: {source}")]
    QuestionTooLong {
        /// Tokens per window.
        max_length: usize,
        /// Tokens shared by consecutive windows.
        stride: usize,
        /// The tokenizer's reason.
        source: TokenizerError,
    },
    /// qa: no window holds a span the model can answer with.
    #[error("the context has no span the model can answer with")]
    NoSpan,
    /// The model's outputs for this input hold NaN or infinite values: its weights are corrupt or diverged.
    #[error("the model's output holds {count} non-finite value(s) (NaN or infinity) out of {total}; the checkpoint's weights are likely corrupt")]
    NonFinite {
        /// How many values are NaN or infinite.
        count: usize,
        /// How many values were checked.
        total: usize,
    },
    /// The tokenizer refused the text.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// The answer to one input, or why it has none.
pub type PerInput<T> = std::result::Result<T, InputError>;

impl InputError {
    /// This error as the failure of a whole call, naming the input (1-based).
    fn at(self, input: usize) -> Error {
        match self {
            InputError::Empty => Error::Input(format!("input {input} is empty")),
            other => Error::Input(format!("input {input}: {other}")),
        }
    }
}

/// Every answer, or the first input's error.
pub(crate) fn all<T>(results: Vec<PerInput<T>>) -> Result<Vec<T>> {
    results.into_iter().enumerate().map(|(i, r)| r.map_err(|e| e.at(i + 1))).collect()
}

/// Refuses outputs holding NaN or infinite values, counting them: a corrupt checkpoint would otherwise print NaN
/// scores (or rank them arbitrarily) as if they were answers.
pub(crate) fn finite(values: &[f32]) -> PerInput<()> {
    match count_non_finite(values) {
        0 => Ok(()),
        count => Err(InputError::NonFinite { count, total: values.len() }),
    }
}

/// An encoding and whether truncation cut it.
#[derive(Debug, Clone)]
pub struct Truncated {
    /// The (possibly truncated) encoding.
    pub encoding: Encoding,
    /// Whether tokens were dropped to fit the maximum length.
    pub truncated: bool,
}

/// How many of `values` are NaN or infinite.
pub(crate) fn count_non_finite(values: &[f32]) -> usize {
    values.iter().filter(|v| !v.is_finite()).count()
}

/// Softmax of a row, as numpy computes it: `exp(x - max) / sum`.
pub(crate) fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|x| (x - max).exp()).collect();
    let total: f32 = e.iter().sum();
    e.into_iter().map(|x| x / total).collect()
}

/// Index of the first largest value (numpy's `argmax`).
pub(crate) fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |best, (i, v)| if *v > row[best] { i } else { best })
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    /// Requests share one prepared inference model; switching the precision builds a new one.
    #[test]
    fn the_inference_model_is_prepared_once_per_precision() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/sentiment");
        let mut pipeline = PipelineModel::load_dir(&dir, Task::Classify).unwrap();
        let first = pipeline.inference_model().unwrap();
        assert!(Arc::ptr_eq(&first, &pipeline.inference_model().unwrap()));
        pipeline.set_precision(Precision::Int8);
        let quantized = pipeline.inference_model().unwrap();
        assert!(!Arc::ptr_eq(&first, &quantized));
        assert!(Arc::ptr_eq(&quantized, &pipeline.inference_model().unwrap()));
    }

    fn values(model: &Pretrained) -> Vec<(String, Vec<f32>)> {
        crate::model::named_tensors(&model.varmap)
            .into_iter()
            .map(|(n, t)| (n, t.flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    }

    /// A checkpoint's trainable model is turned into its inference model, not copied beside it; an explanation
    /// loads it again (the parameters of a fresh load). While something holds it, the inference model is built on a
    /// copy. A model given in memory is kept.
    #[test]
    fn the_trainable_model_becomes_the_inference_model() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/sentiment");
        let held = |p: &PipelineModel| p.trainable.lock().unwrap().is_some();
        let mut pipeline = PipelineModel::load_dir(&dir, Task::Classify).unwrap();
        assert!(held(&pipeline));
        pipeline.prepare().unwrap();
        assert!(!held(&pipeline));
        let again = pipeline.trainable().unwrap();
        let opts = LoadOptions { architecture: Some(Architecture::SequenceClassification), ..LoadOptions::default() };
        assert_eq!(values(&again), values(&Pretrained::load(&dir, &opts).unwrap()));
        pipeline.set_precision(Precision::Int8);
        pipeline.prepare().unwrap();
        assert!(Arc::ptr_eq(&again, &pipeline.trainable().unwrap()), "held by the caller: copied, kept");
        drop(again);
        pipeline.set_precision(Precision::Full);
        pipeline.prepare().unwrap();
        assert!(!held(&pipeline));

        let cfg = pipeline.config().clone();
        let model = Pretrained::init(&cfg, Architecture::SequenceClassification, 1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let in_memory = PipelineModel::new(model, pipeline.tokenizer.clone(), Task::Classify).unwrap();
        in_memory.prepare().unwrap();
        assert!(held(&in_memory));

        // Given prepared in place, the model is the inference model: the same scores, nothing kept beside it.
        let model = Pretrained::init(&cfg, Architecture::SequenceClassification, 1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut given = PipelineModel::new(model.into_prepared().unwrap(), pipeline.tokenizer.clone(), Task::Classify).unwrap();
        let scores = |p: &PipelineModel| {
            let out = classify::classify(p, &["a fine film", "dull"], None, &PipelineOptions::default()).unwrap();
            out.iter().flat_map(|o| o.labels.iter().map(|l| (l.label.clone(), l.score))).collect::<Vec<_>>()
        };
        assert_eq!(scores(&given), scores(&in_memory));
        assert!(!held(&given));
        let err = given.trainable().err().expect("no trainable model").to_string();
        assert!(err.contains("prepared for inference in place"), "{err}");
        given.set_precision(Precision::Int8);
        assert!(given.inference_model().is_err());
    }
}
