//! `AlbertAttention`: multi-head self-attention with its output projection, residual and post-LayerNorm.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::albert::Precision;
use super::blocks::{linear, Dropout, LayerNorm, Linear};
use crate::ops::{softmax_last_dim, take_f32};
use crate::config::AlbertConfig;
use crate::error::{Error, Result};
use crate::rng::SharedRng;

/// Self-attention block (Hugging Face `albert_layers.N.attention`).
#[derive(Debug, Clone)]
pub struct AlbertAttention {
    projections: Projections,
    dense: Linear,
    layer_norm: LayerNorm,
    attention_dropout: Dropout,
    output_dropout: Dropout,
    num_heads: usize,
    head_dim: usize,
}

/// The query, key and value projections: three trainable layers, or once [`AlbertAttention::prepare_inference`]
/// ran, only their stacked projection prepared for inference (the three are dropped with their weights).
#[derive(Debug, Clone)]
enum Projections {
    Separate { query: Linear, key: Linear, value: Linear },
    Prepared(FusedQkv),
}

impl AlbertAttention {
    /// Creates the block's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            projections: Projections::Separate {
                query: linear(h, h, vb.pp("query"))?,
                key: linear(h, h, vb.pp("key"))?,
                value: linear(h, h, vb.pp("value"))?,
            },
            dense: linear(h, h, vb.pp("dense"))?,
            layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            attention_dropout: Dropout::new(cfg.attention_probs_dropout_prob, rng.clone()),
            output_dropout: Dropout::new(cfg.hidden_dropout_prob, rng),
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// The query, key and value projections stacked into one (3H, H) weight and (3H) bias, the query rows
    /// pre-multiplied by the score scale 1/sqrt(head_dim). Built once per forward pass and shared by every layer that
    /// reuses this block; gradients flow back to the three projections.
    pub(crate) fn fused_qkv(&self) -> Result<FusedQkv> {
        let (query, key, value) = match &self.projections {
            Projections::Prepared(qkv) => return Ok(qkv.clone()),
            Projections::Separate { query, key, value } => (query, key, value),
        };
        let scale = (self.head_dim as f64).powf(-0.5);
        let weight = Tensor::cat(&[&(query.weight()? * scale)?, key.weight()?, value.weight()?], 0)?;
        let bias = Tensor::cat(&[&(query.bias() * scale)?, key.bias(), value.bias()], 0)?;
        Ok(Linear::new(weight, bias))
    }

    /// The block's parameters in the order of [`crate::ops::LayerDims::sizes`], the projections of `qkv` first.
    pub(crate) fn parameters<'a>(&'a self, qkv: &'a FusedQkv) -> Result<[&'a Tensor; 6]> {
        let [ln_w, ln_b] = self.layer_norm.parameters();
        Ok([qkv.weight()?, qkv.bias(), self.dense.weight()?, self.dense.bias(), ln_w, ln_b])
    }

    /// Whether dropout changes anything in this block with this `train` flag.
    pub(crate) fn dropout_active(&self, train: bool) -> bool {
        self.attention_dropout.active(train) || self.output_dropout.active(train)
    }

    /// Whether the projections were prepared for inference.
    pub(crate) fn prepared(&self) -> bool {
        matches!(self.projections, Projections::Prepared(_))
    }

    /// The block's linear layers: the projections as they are held (three, or the stacked one), then `dense`.
    #[cfg(test)]
    pub(crate) fn linears(&self) -> Vec<&Linear> {
        match &self.projections {
            Projections::Separate { query, key, value } => vec![query, key, value, &self.dense],
            Projections::Prepared(qkv) => vec![qkv, &self.dense],
        }
    }

    /// Heads, and the LayerNorm epsilon.
    pub(crate) fn heads_and_eps(&self) -> (usize, f64) {
        (self.num_heads, self.layer_norm.eps())
    }

    /// Prepares the projections for inference ([`Linear::prepare_inference`]); the stacked query/key/value
    /// projection is built once, here, in the three weights' own memory ([`stacked_in_place`]), and the three
    /// separate layers are dropped before it is packed.
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        let Projections::Separate { query, key, value } = &self.projections else {
            return Err(Error::Input("the attention block was already prepared for inference".into()));
        };
        let stacked = match query.weight()?.dtype() {
            candle_core::DType::F32 => stacked_in_place([query, key, value], (self.head_dim as f64).powf(-0.5))?,
            _ => self.fused_qkv()?,
        };
        self.projections = Projections::Prepared(stacked);
        if let Projections::Prepared(qkv) = &mut self.projections {
            qkv.prepare_inference(precision)?;
        }
        self.layer_norm.prepare_inference()?;
        self.dense.prepare_inference(precision)
    }

    /// `hidden`: (batch, seq, H); `mask`: additive, broadcastable to (batch, heads, seq, seq).
    /// Returns the block's output (batch, seq, H) and the attention probabilities (batch, heads, seq, seq).
    pub fn forward(&self, hidden: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<(Tensor, Tensor)> {
        let (out, probs) = self.forward_fused(&self.fused_qkv()?, hidden, mask, train, true)?;
        Ok((out, required(probs)?))
    }

    /// [`Self::forward`] with the projections of [`Self::fused_qkv`]; the probabilities only when `want_probs`.
    /// Without them (and without attention dropout), attention runs as one fused operation
    /// ([`crate::ops::attention`]) where the device and dtype allow.
    pub(crate) fn forward_fused(
        &self,
        qkv: &FusedQkv,
        hidden: &Tensor,
        mask: Option<&Tensor>,
        train: bool,
        want_probs: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (b, s, h) = hidden.dims3()?;
        // (batch, seq, 3H)
        let mixed = qkv.forward(hidden)?;
        let key_mask = mask.filter(|m| m.elem_count() == b * s);
        let fused = !want_probs
            && !self.attention_dropout.active(train)
            && crate::ops::fused_attention_applies(&mixed)
            && (mask.is_none() || key_mask.is_some());
        let (context, probs) = if fused {
            let key_mask = match key_mask {
                Some(m) => m.reshape((b, s))?,
                None => Tensor::zeros((b, s), mixed.dtype(), mixed.device())?,
            };
            (crate::ops::attention(&mixed, &key_mask, self.num_heads)?, None)
        } else {
            // (batch, seq, 3H) -> (3, batch, heads, seq, head_dim) in one copy
            let stacked = mixed.reshape((b, s, 3, self.num_heads, self.head_dim))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
            let (q, k, v) = (stacked.get(0)?, stacked.get(1)?, stacked.get(2)?);
            // (batch, heads, seq, seq); the query already carries the 1/sqrt(head_dim) scale
            let mut scores = q.matmul(&k.t()?)?;
            if let Some(mask) = mask {
                scores = scores.broadcast_add(mask)?;
            }
            let probs = softmax_last_dim(&scores)?;
            let dropped = self.attention_dropout.forward(&probs, train)?;
            // (batch, heads, seq, head_dim) -> (batch, seq, H)
            (dropped.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?, Some(probs))
        };
        let projected = self.output_dropout.forward(&self.dense.forward(&context)?, train)?;
        let out = self.layer_norm.forward_residual(&projected, hidden)?;
        Ok((out, probs))
    }

    /// The block in inference over sequences packed without their padding ([`super::layer::AlbertLayer::forward_packed`]).
    pub(crate) fn forward_packed(&self, qkv: &FusedQkv, hidden: &Tensor, mask: &Tensor, sequences: &[std::ops::Range<usize>]) -> Result<Tensor> {
        let context = crate::ops::attention_of_sequences(&qkv.forward(hidden)?, mask, sequences, self.num_heads)?;
        Ok(self.layer_norm.forward_residual(&self.dense.forward(&context)?, hidden)?)
    }
}

/// [`AlbertAttention::fused_qkv`] for f32 layers whose weights share their storage with no other tensor, as a
/// model being prepared for inference holds them: the query weight's values are moved out of it ([`take_f32`]),
/// scaled where they lie and grown into the stacked weight, and the key's and value's are moved out and appended
/// one at a time. The three layers are left empty. Stacking copies beside the three weights held 256 MiB more than
/// them at albert-xxlarge's size (the scaled query and the stacked weight); here at most one more projection's.
fn stacked_in_place([query, key, value]: [&Linear; 3], scale: f64) -> Result<FusedQkv> {
    let weight = query.weight()?;
    let (dims, device) = (weight.dims2()?, weight.device().clone());
    let mut stacked = take_f32(weight.clone())?;
    stacked.reserve_exact(2 * stacked.len());
    // As `Tensor * f64` (an affine map) computes it, so that the stacked weight is the training path's bit for bit.
    let mul = scale as f32;
    stacked.iter_mut().for_each(|v| *v = *v * mul + 0.0);
    for layer in [key, value] {
        let w = layer.weight()?;
        if w.dims2()? != dims {
            return Err(Error::Input(format!("query, key and value weights of shapes {dims:?} and {:?}", w.dims())));
        }
        stacked.extend_from_slice(&take_f32(w.clone())?);
    }
    let bias = Tensor::cat(&[&(query.bias() * scale)?, key.bias(), value.bias()], 0)?;
    Ok(Linear::new(Tensor::from_vec(stacked, (3 * dims.0, dims.1), &device)?, bias))
}

/// The probabilities a `want_probs` forward pass returned.
pub(crate) fn required(probs: Option<Tensor>) -> Result<Tensor> {
    probs.ok_or_else(|| Error::Input("attention probabilities were not computed".into()))
}

/// The stacked query/key/value projection of [`AlbertAttention::fused_qkv`]: (3H, H) and (3H).
pub(crate) type FusedQkv = Linear;

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Stacked in the layers' own memory, the query/key/value projection is the stacked copy the training path
    /// makes (the query scaled, then the key and the value), bit for bit.
    #[test]
    fn stacking_in_place_gives_the_stacked_copy_bit_for_bit() {
        let (h, scale) = (12, 8f64.powf(-0.5));
        let values = |n: usize, k: f32| (0..n).map(|i| ((i as f32 + 1.0) * k).sin()).collect::<Vec<f32>>();
        let layers: Vec<Linear> = [0.7f32, 1.3, 2.1]
            .iter()
            .map(|&k| Linear::new(Tensor::from_vec(values(h * h, k), (h, h), &Device::Cpu).unwrap(), Tensor::from_vec(values(h, k + 0.5), h, &Device::Cpu).unwrap()))
            .collect();
        let weights: Vec<Tensor> = layers.iter().map(|l| l.weight().unwrap().clone()).collect();
        let want_w = Tensor::cat(&[&(&weights[0] * scale).unwrap(), &weights[1], &weights[2]], 0).unwrap();
        let want_b = Tensor::cat(&[&(layers[0].bias() * scale).unwrap(), layers[1].bias(), layers[2].bias()], 0).unwrap();
        let bits = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let (want_w, want_b) = (bits(&want_w), bits(&want_b));
        drop(weights);
        let stacked = stacked_in_place([&layers[0], &layers[1], &layers[2]], scale).unwrap();
        assert_eq!(stacked.weight().unwrap().dims(), [3 * h, h]);
        assert!(bits(stacked.weight().unwrap()) == want_w && bits(stacked.bias()) == want_b);
    }
}
