//! The pretraining objective on one batch: MLM and SOP cross-entropy as transformers computes
//! them, with the counts that accuracies need.

use albert::model::loss::{cross_entropy, IGNORE_INDEX};
use albert::model::{AlbertForPreTraining, PredictedLoss};
use albert::{AlbertInput, ForwardOptions};
use candle_core::{DType, Tensor, D};

use super::TrainError;
use crate::data::BatchTensors;

/// Losses and prediction counts of one batch.
#[derive(Debug, Clone)]
pub struct BatchLosses {
    /// Mean MLM cross-entropy, a scalar with its graph (for backward).
    pub mlm: Tensor,
    /// Mean SOP cross-entropy, a scalar with its graph.
    pub sop: Tensor,
    /// The values and counts.
    pub stats: LossStats,
}

/// The values and counts of a batch's losses, without their graphs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossStats {
    /// Mean MLM cross-entropy over the predicted positions.
    pub mlm_loss: f64,
    /// Mean SOP cross-entropy over the sequences.
    pub sop_loss: f64,
    /// Predicted positions.
    pub mlm_count: usize,
    /// Predicted positions whose argmax is the original token.
    pub mlm_correct: usize,
    /// Sequences.
    pub sop_count: usize,
    /// Sequences whose order was predicted right.
    pub sop_correct: usize,
    /// Real (non-padding) tokens.
    pub tokens: usize,
}

/// Runs `model` on `batch` (dropout on when `train`) and scores both heads, as
/// `AlbertForPreTraining` in transformers does: cross-entropy over every position with label
/// -100 ignored (computed on the predicted positions only, which is the same loss), plus
/// cross-entropy of the sentence-order logits.
pub fn batch_losses(
    model: &AlbertForPreTraining,
    batch: &BatchTensors,
    train: bool,
) -> Result<BatchLosses, TrainError> {
    let input = AlbertInput {
        input_ids: batch.input_ids.clone(),
        token_type_ids: Some(batch.token_type_ids.clone()),
        attention_mask: Some(batch.attention_mask.clone()),
        position_ids: None,
    };
    let opts = ForwardOptions {
        train,
        ..Default::default()
    };
    let base = model.albert.forward(&input, &opts)?;
    let PredictedLoss { loss: mlm, logits, targets } =
        model.predictions.predicted_loss(&base.last_hidden_state, &batch.labels)?;
    let pooled = base
        .pooler_output
        .as_ref()
        .ok_or_else(|| TrainError::InvalidConfig("the pretraining model has no pooler".into()))?;
    let sop_logits = model.sop_classifier.forward(pooled, train)?;
    let sop = cross_entropy(&sop_logits, &batch.sentence_order_label, IGNORE_INDEX)?;

    let predicted: Vec<u32> = logits.detach().argmax(D::Minus1)?.to_vec1()?;
    let mlm_count = targets.len();
    let mlm_correct = targets
        .iter()
        .zip(&predicted)
        .filter(|(&l, &p)| l == p as i64)
        .count();
    let order: Vec<u32> = batch.sentence_order_label.to_vec1()?;
    let order_pred: Vec<u32> = sop_logits.detach().argmax(D::Minus1)?.to_vec1()?;
    let sop_correct = order
        .iter()
        .zip(&order_pred)
        .filter(|(a, b)| a == b)
        .count();
    let tokens = batch
        .attention_mask
        .to_dtype(DType::F64)?
        .sum_all()?
        .to_scalar::<f64>()? as usize;
    let scalar =
        |t: &Tensor| -> Result<f64, TrainError> { Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?) };
    let stats = LossStats {
        mlm_loss: scalar(&mlm)?,
        sop_loss: scalar(&sop)?,
        mlm_count,
        mlm_correct,
        sop_count: order.len(),
        sop_correct,
        tokens,
    };
    Ok(BatchLosses { mlm, sop, stats })
}
