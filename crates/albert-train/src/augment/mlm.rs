//! Contextual replacement with the model's own masked-LM head: some non-stop words of a sentence are each replaced
//! by one `[MASK]`, and every mask is refilled with a whole word the head proposes (drawn among its `top_k`
//! predictions in proportion to their probabilities, the original word excluded), so the variants stay fluent and
//! in context, a paraphrase rather than a synonym list's guess.

use albert::model::AlbertForMaskedLM;
use albert::tokenizer::{AlbertTokenizer, EncodeOptions};
use albert::{AlbertInput, AlbertRng, ForwardOptions};
use candle_core::Device;

use super::{is_stop_word, AugmentError};

/// Settings of [`MlmAugmenter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlmConfig {
    /// Fraction of the words replaced (at least one).
    pub alpha: f64,
    /// Candidates per mask.
    pub top_k: usize,
    /// Variants per sentence.
    pub num_aug: usize,
}

impl Default for MlmConfig {
    fn default() -> Self {
        Self { alpha: 0.15, top_k: 10, num_aug: 4 }
    }
}

/// A masked-LM model and its tokenizer.
pub struct MlmAugmenter<'a> {
    /// The model (any checkpoint with the `predictions` head).
    pub model: &'a AlbertForMaskedLM,
    /// Its tokenizer.
    pub tokenizer: &'a AlbertTokenizer,
    /// Settings.
    pub config: MlmConfig,
}

impl MlmAugmenter<'_> {
    /// Up to `num_aug` variants of `sentence` (words split on whitespace).
    pub fn augment(&self, sentence: &str, rng: &mut AlbertRng) -> Result<Vec<String>, AugmentError> {
        let words: Vec<&str> = sentence.split_whitespace().collect();
        let candidates: Vec<usize> = (0..words.len())
            .filter(|&i| !is_stop_word(&words[i].to_lowercase()) && words[i].chars().any(char::is_alphabetic))
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let special = |token: &str| {
            self.tokenizer
                .token_to_id(token)
                .ok_or_else(|| AugmentError::Tokenizer(albert::tokenizer::TokenizerError::MissingToken(token.into())))
        };
        let (mask_id, cls, sep) = (special("[MASK]")?, special("[CLS]")?, special("[SEP]")?);
        let n = ((self.config.alpha * words.len() as f64).round() as usize).clamp(1, candidates.len());
        let bare = EncodeOptions { add_special_tokens: false, ..EncodeOptions::default() };
        let pieces: Vec<Vec<u32>> = words.iter().map(|w| self.tokenizer.encode(w, None, &bare).map(|e| e.ids)).collect::<Result<_, _>>()?;
        // Each variant masks its own draw of words; all variants go through the model as one batch.
        let mut chosen_sets = Vec::new();
        let mut rows = Vec::new();
        let mut mask_positions = Vec::new();
        for _ in 0..self.config.num_aug {
            let mut pool = candidates.clone();
            rng.shuffle(&mut pool);
            let mut chosen = pool[..n].to_vec();
            chosen.sort_unstable();
            let mut ids = vec![cls];
            let mut positions = Vec::new();
            for (i, p) in pieces.iter().enumerate() {
                if chosen.contains(&i) {
                    positions.push(ids.len());
                    ids.push(mask_id);
                } else {
                    ids.extend(p);
                }
            }
            ids.push(sep);
            rows.push(ids);
            mask_positions.push(positions);
            chosen_sets.push(chosen);
        }
        let device = Device::Cpu;
        let logits = self.model.forward(&AlbertInput::from_rows(&rows, None, 0, &device)?, &ForwardOptions::default())?.logits;
        let probs = albert::ops::softmax_last_dim(&logits.to_dtype(candle_core::DType::F32)?)?;
        let mut out = Vec::new();
        for (v, (chosen, positions)) in chosen_sets.iter().zip(&mask_positions).enumerate() {
            let mut new_words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            for (&word, &pos) in chosen.iter().zip(positions) {
                // (vocab)
                let p: Vec<f32> = probs.get(v)?.get(pos)?.to_vec1()?;
                let mut order: Vec<usize> = (0..p.len()).collect();
                order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
                let proposals: Vec<(String, f32)> = order
                    .into_iter()
                    .filter_map(|id| {
                        let token = self.tokenizer.id_to_token(id as u32)?;
                        let word_piece = token.strip_prefix('▁')?;
                        (word_piece.chars().all(char::is_alphabetic)
                            && !word_piece.is_empty()
                            && !word_piece.eq_ignore_ascii_case(words[word]))
                        .then(|| (word_piece.to_string(), p[id]))
                    })
                    .take(self.config.top_k)
                    .collect();
                let total: f32 = proposals.iter().map(|(_, q)| q).sum();
                if proposals.is_empty() || total <= 0.0 {
                    continue;
                }
                let mut r = rng.uniform() as f32 * total;
                let pick = proposals.iter().position(|(_, q)| {
                    r -= q;
                    r <= 0.0
                });
                new_words[word] = proposals[pick.unwrap_or(proposals.len() - 1)].0.clone();
            }
            let variant = new_words.join(" ");
            if variant != sentence && !out.contains(&variant) {
                out.push(variant);
            }
        }
        Ok(out)
    }
}
