//! Masked-token prediction, as transformers' `fill-mask` pipeline: for each `[MASK]`, the `top_k` most probable
//! tokens (softmax over the vocabulary), each with the text decoded with it in place of that mask. As in
//! transformers, a text with one mask decodes without special tokens, and a text with several keeps them
//! (`[CLS]`, `[SEP]` and the other masks stay visible).

use serde::Serialize;

use super::{all, finite, softmax, InputError, PerInput, PipelineModel, PipelineOptions, Task};
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

/// Predicts the masks of `texts`. A text without `[MASK]` (or whose masks truncation cut off) fails the call (see
/// [`fill_mask_each`]). `top_k` beyond the vocabulary gives every token; 0 is refused.
pub fn fill_mask(model: &PipelineModel, texts: &[&str], top_k: usize, opts: &PipelineOptions) -> Result<Vec<FillMask>> {
    all(fill_mask_each(model, texts, top_k, opts)?)
}

/// Predicts the masks of each text as [`fill_mask`] does; a text without `[MASK]`, an empty one, or one whose
/// logits are not finite gets its own error and the others their candidates.
pub fn fill_mask_each(
    model: &PipelineModel,
    texts: &[&str],
    top_k: usize,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<FillMask>>> {
    model.require(Task::FillMask)?;
    if top_k == 0 {
        return Err(Error::Input("top-k must be at least 1".into()));
    }
    // More candidates than tokens cannot be given; clamping keeps `--top-k 100000000` from allocating for them.
    let top_k = top_k.min(model.config().vocab_size);
    let tok = &model.tokenizer;
    let mask_id = tok.token_to_id(MASK).ok_or_else(|| Error::Input(format!("the tokenizer has no {MASK} token")))?;
    let encoded = model.encode_each(texts, opts.max_length)?.into_iter().zip(texts).map(|(r, text)| {
        r.and_then(|t| match t.encoding.ids.contains(&mask_id) {
            true => Ok(t),
            false if text.contains(MASK) => Err(InputError::MaskCutOff),
            false => Err(InputError::MissingMask),
        })
    });
    model.run_each(encoded.collect(), opts.batch_size, |o, row, _, t| {
        let e = &t.encoding;
        let logits = o.head.logits()?.get(row)?;
        let positions: Vec<usize> = (0..e.ids.len()).filter(|&i| e.ids[i] == mask_id).collect();
        // (vocab) per mask
        let rows: Vec<Vec<f32>> = positions
            .iter()
            .map(|&pos| logits.get(pos)?.to_dtype(candle_core::DType::F32)?.to_vec1())
            .collect::<candle_core::Result<_>>()?;
        if let Err(e) = finite(&rows.concat()) {
            return Ok(Err(e));
        }
        let single = positions.len() == 1;
        let mut masks = Vec::with_capacity(positions.len());
        for (&pos, row_logits) in positions.iter().zip(&rows) {
            let probs = softmax(row_logits);
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
        Ok(Ok(FillMask { masks, truncated: t.truncated }))
    })
}
