//! `AlbertLayer` (attention then feed-forward, each with residual and post-LayerNorm) and `AlbertLayerGroup`, the
//! unit of cross-layer parameter sharing.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::albert::Precision;
use super::attention::{AlbertAttention, FusedQkv};
use super::blocks::{linear, Dropout, LayerNorm, Linear};
use crate::config::{AlbertConfig, HiddenAct};
use crate::error::Result;
use crate::ops::LayerDims;
use crate::rng::SharedRng;

/// One transformer layer (Hugging Face `albert_layers.N`).
#[derive(Debug, Clone)]
pub struct AlbertLayer {
    attention: AlbertAttention,
    ffn: Linear,
    ffn_output: Linear,
    full_layer_layer_norm: LayerNorm,
    activation: HiddenAct,
    dropout: Dropout,
}

impl AlbertLayer {
    /// Creates the layer's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Ok(Self {
            attention: AlbertAttention::new(cfg, vb.pp("attention"), rng.clone())?,
            ffn: linear(h, i, vb.pp("ffn"))?,
            ffn_output: linear(i, h, vb.pp("ffn_output"))?,
            full_layer_layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("full_layer_layer_norm"))?,
            activation: cfg.hidden_act,
            dropout: Dropout::new(cfg.hidden_dropout_prob, rng),
        })
    }

    /// (batch, seq, H) -> (batch, seq, H), and the attention probabilities.
    pub fn forward(&self, hidden: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<(Tensor, Tensor)> {
        let (out, probs) = self.forward_fused(&self.attention.fused_qkv()?, None, hidden, mask, train, true)?;
        Ok((out, super::attention::required(probs)?))
    }

    /// Prepares the layer's projections for inference (int8 or column-major f32).
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        self.attention.prepare_inference(precision)?;
        self.full_layer_layer_norm.prepare_inference()?;
        self.ffn.prepare_inference(precision)?;
        self.ffn_output.prepare_inference(precision)
    }

    /// The layer's linear layers: the attention block's, then the feed-forward pair.
    #[cfg(test)]
    pub(crate) fn linears(&self) -> Vec<&Linear> {
        let mut all = self.attention.linears();
        all.extend([&self.ffn, &self.ffn_output]);
        all
    }

    /// The layer's attention block (its stacked projections are prepared once per forward pass).
    pub(crate) fn attention(&self) -> &AlbertAttention {
        &self.attention
    }

    /// The layer's parameters as the flat vector of the fused layer operation ([`crate::ops::layer`]), when that
    /// operation applies to `hidden`: gradients are recorded (training, or a gradient check), no dropout is active,
    /// the weights are not prepared for inference, and the tensors are f32 or f64 on the CPU. Built once per forward
    /// pass from the stacked projection `qkv`, and reused by every layer that shares these weights.
    pub(crate) fn flat_params(&self, qkv: &FusedQkv, hidden: &Tensor, train: bool) -> Result<Option<Tensor>> {
        let applies = !self.attention.prepared()
            && !self.attention.dropout_active(train)
            && !self.dropout.active(train)
            && crate::ops::layer_applies(hidden)
            && (hidden.track_op() || qkv.weight()?.track_op());
        if !applies {
            return Ok(None);
        }
        let [ln_w, ln_b] = self.full_layer_layer_norm.parameters();
        let ffn = [self.ffn.weight()?, self.ffn.bias(), self.ffn_output.weight()?, self.ffn_output.bias(), ln_w, ln_b];
        let parts = self.attention.parameters(qkv)?.into_iter().chain(ffn).map(|t| t.flatten_all()).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Some(Tensor::cat(&parts, 0)?))
    }

    /// [`Self::forward`] with the attention projections already stacked; the probabilities only when `want_probs`.
    /// With `flat` ([`Self::flat_params`]) and a key-only mask, the layer runs as one fused operation.
    pub(crate) fn forward_fused(
        &self,
        qkv: &FusedQkv,
        flat: Option<&Tensor>,
        hidden: &Tensor,
        mask: Option<&Tensor>,
        train: bool,
        want_probs: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        if let (Some(flat), false) = (flat, want_probs) {
            let (b, s, h) = hidden.dims3()?;
            let key_mask = match mask {
                None => Some(Tensor::zeros((b, s), hidden.dtype(), hidden.device())?),
                Some(m) if m.elem_count() == b * s => Some(m.reshape((b, s))?),
                Some(_) => None,
            };
            if let Some(key_mask) = key_mask {
                let (heads, eps) = self.attention.heads_and_eps();
                let intermediate = self.ffn.weight()?.dim(0)?;
                let dims = LayerDims { hidden: h, intermediate, heads, act: self.activation, eps };
                return Ok((crate::ops::layer(hidden, flat, &key_mask, dims)?, None));
            }
        }
        let (attended, probs) = self.attention.forward_fused(qkv, hidden, mask, train, want_probs)?;
        // (batch, seq, intermediate)
        let inner = self.ffn.forward_act(&attended, self.activation)?;
        let ffn = self.dropout.forward(&self.ffn_output.forward(&inner)?, train)?;
        Ok((self.full_layer_layer_norm.forward_residual(&ffn, &attended)?, probs))
    }

    /// The layer in inference over sequences packed without their padding: `hidden` (1, rows, H), `mask` the
    /// additive mask of those rows, `sequences` each sequence's rows ([`super::encoder::Packing`]).
    pub(crate) fn forward_packed(&self, qkv: &FusedQkv, hidden: &Tensor, mask: &Tensor, sequences: &[std::ops::Range<usize>]) -> Result<Tensor> {
        let attended = self.attention.forward_packed(qkv, hidden, mask, sequences)?;
        let inner = self.ffn.forward_act(&attended, self.activation)?;
        Ok(self.full_layer_layer_norm.forward_residual(&self.ffn_output.forward(&inner)?, &attended)?)
    }
}

/// A group of `inner_group_num` layers whose parameters every layer mapped to the group shares.
#[derive(Debug, Clone)]
pub struct AlbertLayerGroup {
    albert_layers: Vec<AlbertLayer>,
}

impl AlbertLayerGroup {
    /// Creates the group's layers under `vb` (`albert_layers.0`, `albert_layers.1`, ...).
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let albert_layers = (0..cfg.inner_group_num)
            .map(|i| AlbertLayer::new(cfg, vb.pp("albert_layers").pp(i), rng.clone()))
            .collect::<Result<_>>()?;
        Ok(Self { albert_layers })
    }

    /// Prepares every layer's projections for inference (int8 or column-major f32).
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        self.albert_layers.iter_mut().try_for_each(|l| l.prepare_inference(precision))
    }

    /// The group's layers, in order.
    pub fn layers(&self) -> &[AlbertLayer] {
        &self.albert_layers
    }
}
