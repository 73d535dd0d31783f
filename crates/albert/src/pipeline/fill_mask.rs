//! Masked-token prediction, as transformers' `fill-mask` pipeline: for each `[MASK]`, the `top_k` most probable
//! tokens (softmax over the vocabulary), each with the text decoded with it in place of that mask. As in
//! transformers, a text with one mask decodes without special tokens, and a text with several keeps them
//! (`[CLS]`, `[SEP]` and the other masks stay visible).

use serde::Serialize;

use super::{head, InOrder, softmax, PipelineModel, PipelineOptions, Task};
use crate::error::{Error, Result};

/// The mask token.
pub const MASK: &str = "[MASK]";

/// One candidate for a mask.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaskCandidate {
    /// Its probability.
    pub score: f32,
    /// Its id.
    pub token: u32,
    /// The token decoded alone.
    pub token_str: String,
    /// The text with the token in place of the mask.
    pub sequence: String,
}

/// The candidates of every mask of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FillMask {
    /// Per mask, in text order, the `top_k` candidates by decreasing probability.
    pub masks: Vec<Vec<MaskCandidate>>,
    /// Whether the text was truncated to the maximum length.
    pub truncated: bool,
}

/// Predicts the masks of `texts`. A text without `[MASK]` (or whose masks truncation cut off) is an error.
pub fn fill_mask(model: &PipelineModel, texts: &[&str], top_k: usize, opts: &PipelineOptions) -> Result<Vec<FillMask>> {
    model.require(Task::FillMask)?;
    if top_k == 0 {
        return Err(Error::Input("top-k must be at least 1".into()));
    }
    let tok = &model.tokenizer;
    let mask_id = tok.token_to_id(MASK).ok_or_else(|| Error::Input(format!("the tokenizer has no {MASK} token")))?;
    let encoded = model.encode(texts, opts.max_length)?;
    for (i, e) in encoded.iter().enumerate() {
        if !e.encoding.ids.contains(&mask_id) {
            let why = if texts[i].contains(MASK) { "was cut off by truncation (raise --max-length)" } else { "is missing" };
            return Err(Error::Input(format!("input {}: {MASK} {why}: {:?}", i + 1, texts[i])));
        }
    }
    let encodings: Vec<_> = encoded.iter().map(|t| &t.encoding).collect();
    let mut out = InOrder::new(texts.len());
    model.run_batches(&encodings, opts.batch_size, |o, batch| {
        let logits = head(o, "logits")?;
        for (row, &(i, e)) in batch.iter().enumerate() {
            let positions: Vec<usize> = (0..e.ids.len()).filter(|&i| e.ids[i] == mask_id).collect();
            let single = positions.len() == 1;
            let mut masks = Vec::with_capacity(positions.len());
            for &pos in &positions {
                // (vocab)
                let row_logits: Vec<f32> = logits.get(row)?.get(pos)?.to_dtype(candle_core::DType::F32)?.to_vec1()?;
                let probs = softmax(&row_logits);
                let mut order: Vec<usize> = (0..probs.len()).collect();
                order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
                let mut candidates = Vec::with_capacity(top_k);
                for &id in order.iter().take(top_k) {
                    let mut ids = e.ids.clone();
                    ids[pos] = id as u32;
                    candidates.push(MaskCandidate {
                        score: probs[id],
                        token: id as u32,
                        token_str: tok.decode(&[id as u32], false)?,
                        sequence: tok.decode(&ids, single)?,
                    });
                }
                masks.push(candidates);
            }
            out.set(i, masks);
        }
        Ok(())
    })?;
    Ok(out.finish()?.into_iter().zip(&encoded).map(|(masks, e)| FillMask { masks, truncated: e.truncated }).collect())
}
