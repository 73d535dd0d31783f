//! A fine-tuned head run over a task's encoded items: the inference half of the fine-tuning task families (sequence
//! classification and regression, token classification, extractive question answering, multiple choice).
//! `albert predict`, `albert evaluate --model` and fine-tuning's dev scores run their models through
//! [`predict_items`]; the pipelines run theirs through the same batch loop, [`run_items`], and read the same typed
//! [`HeadOutput`]. `albert-train` adds reading the data, labels, losses and metrics on top of [`TaskHead`].

use candle_core::{DType, Device, Tensor};

use crate::config::Architecture;
use crate::error::{Error, Result};
use crate::model::{
    AlbertForAny, AlbertForMultipleChoice, AlbertForQuestionAnswering, AlbertForSequenceClassification,
    AlbertForTokenClassification, AlbertInput, AlbertModel, AnyOutput, ForwardOptions, HeadOutput,
};
use crate::pretrained::Pretrained;
use crate::tokenizer::Encoding;

/// Encoded items of a task (a token row; a multiple-choice question's option rows) that batch into model inputs.
pub trait EncodedItems {
    /// Number of items.
    fn count(&self) -> usize;

    /// The padded model input of the items `items` (indices), in that order.
    fn input(&self, items: &[usize], device: &Device) -> Result<AlbertInput>;
}

/// A fine-tuning head class: where it sits in a model and what its output gives for each item of a batch.
pub trait TaskHead: Sized {
    /// The class.
    const ARCHITECTURE: Architecture;
    /// What one item's prediction is read from.
    type Row;

    /// The head, when `model` is of this class.
    fn of(model: &AlbertForAny) -> Option<&Self>;

    /// The encoder under the head.
    fn encoder(&self) -> &AlbertModel;

    /// Each item's part of a batch's head output, in batch order.
    fn rows(output: &HeadOutput) -> Result<Vec<Self::Row>>;
}

/// The head `H` of `model`, or an error naming the class the task needs and the model's.
pub fn task_head<H: TaskHead>(model: &AlbertForAny) -> Result<&H> {
    H::of(model).ok_or_else(|| {
        Error::Input(format!(
            "this task needs {}, the model is {}",
            H::ARCHITECTURE.hf_name(),
            model.architecture().hf_name()
        ))
    })
}

/// Runs the inference model `model` over the items `order` (indices into `items`), `batch_size` at a time, and
/// hands each batch's outputs with its items to `each`. The padding after each item's tokens is left out of the
/// layers ([`ForwardOptions::skip_padding`]): every reader of these outputs reads real positions only.
pub fn run_items(
    model: &AlbertForAny,
    items: &(impl EncodedItems + ?Sized),
    order: &[usize],
    batch_size: usize,
    device: &Device,
    mut each: impl FnMut(&AnyOutput, &[usize]) -> Result<()>,
) -> Result<()> {
    for batch in order.chunks(batch_size.max(1)) {
        let output = model.forward(&items.input(batch, device)?, &ForwardOptions { skip_padding: true, ..ForwardOptions::default() })?;
        each(&output, batch)?;
    }
    Ok(())
}

/// Runs the head `H` of `model` over every item, `batch_size` items at a time in order, on the inference model
/// (the model itself once [`Pretrained::into_prepared`], else [`Pretrained::detached`], in the model's precision);
/// one row per item.
pub fn predict_items<H: TaskHead>(
    model: &Pretrained,
    items: &(impl EncodedItems + ?Sized),
    batch_size: usize,
) -> Result<Vec<H::Row>> {
    let detached;
    let inference = if model.is_prepared() {
        &model.model
    } else {
        detached = model.detached()?;
        &detached
    };
    let device = task_head::<H>(inference)?.encoder().embeddings().word_embeddings().device().clone();
    let order: Vec<usize> = (0..items.count()).collect();
    let mut out = Vec::with_capacity(order.len());
    run_items(inference, items, &order, batch_size, &device, |output, _| {
        out.extend(H::rows(&output.head)?);
        Ok(())
    })?;
    Ok(out)
}

/// Single encodings (a text, or a question and context pair) as items: the pipelines' inputs.
pub struct EncodingRows<'a> {
    /// The encodings, one item each.
    pub encodings: &'a [&'a Encoding],
    /// Id that pads rows to the longest of a batch.
    pub pad_id: u32,
}

impl EncodedItems for EncodingRows<'_> {
    fn count(&self) -> usize {
        self.encodings.len()
    }

    fn input(&self, items: &[usize], device: &Device) -> Result<AlbertInput> {
        let ids: Vec<&[u32]> = items.iter().map(|&i| self.encodings[i].ids.as_slice()).collect();
        let types: Vec<&[u32]> = items.iter().map(|&i| self.encodings[i].type_ids.as_slice()).collect();
        rows_input(&ids, Some(&types), 1, self.pad_id, device)
    }
}

/// The padded input of token rows (`ids`, optionally `type_ids`, one row per entry), each item being `group`
/// consecutive rows: 1 for one sequence per item, the number of options for multiple choice, whose input is shaped
/// (items, options, seq).
pub fn rows_input(
    ids: &[&[u32]],
    type_ids: Option<&[&[u32]]>,
    group: usize,
    pad_id: u32,
    device: &Device,
) -> Result<AlbertInput> {
    let owned = |rows: &[&[u32]]| -> Vec<Vec<u32>> { rows.iter().map(|r| r.to_vec()).collect() };
    let types = type_ids.map(owned);
    let input = AlbertInput::from_rows(&owned(ids), types.as_deref(), pad_id, device)?;
    if group <= 1 {
        return Ok(input);
    }
    let seq = input.input_ids.dim(1)?;
    let shape = (ids.len() / group, group, seq);
    let reshape = |t: Option<Tensor>| t.map(|t| t.reshape(shape)).transpose();
    Ok(AlbertInput {
        input_ids: input.input_ids.reshape(shape)?,
        token_type_ids: reshape(input.token_type_ids)?,
        attention_mask: reshape(input.attention_mask)?,
        position_ids: reshape(input.position_ids)?,
    })
}

/// `TaskHead` for the head class `$head`, the `AlbertForAny` and `Architecture` variant `$class`, whose rows
/// `$rows` reads from the head output `$out`.
macro_rules! task_head {
    ($head:ident, $class:ident, $row:ty, |$out:ident| $rows:expr) => {
        impl TaskHead for $head {
            const ARCHITECTURE: Architecture = Architecture::$class;
            type Row = $row;

            fn of(model: &AlbertForAny) -> Option<&Self> {
                match model {
                    AlbertForAny::$class(h) => Some(h),
                    _ => None,
                }
            }

            fn encoder(&self) -> &AlbertModel {
                &self.albert
            }

            fn rows($out: &HeadOutput) -> Result<Vec<$row>> {
                $rows
            }
        }
    };
}

// The logits of each text, (batch, num_labels).
task_head!(AlbertForSequenceClassification, SequenceClassification, Vec<f32>, |output| Ok(output
    .logits()?
    .to_dtype(DType::F32)?
    .to_vec2()?));

// The most likely class of each position of the padded row: (batch, seq, num_labels) -> (batch, seq).
task_head!(AlbertForTokenClassification, TokenClassification, Vec<u32>, |output| Ok(output.logits()?.argmax(2)?.to_vec2()?));

// Start and end logits of each position of the padded window, (batch, seq) each.
task_head!(AlbertForQuestionAnswering, QuestionAnswering, (Vec<f32>, Vec<f32>), |output| {
    let (start, end) = output.span_logits()?;
    let (start, end): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (start.to_vec2()?, end.to_vec2()?);
    Ok(start.into_iter().zip(end).collect())
});

// The index of the chosen option: (batch, options) -> (batch).
task_head!(AlbertForMultipleChoice, MultipleChoice, u32, |output| Ok(output.logits()?.argmax(1)?.to_vec1()?));
