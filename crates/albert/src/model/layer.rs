//! `AlbertLayer` (attention then feed-forward, each with residual and post-LayerNorm) and `AlbertLayerGroup`, the
//! unit of cross-layer parameter sharing.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::attention::{AlbertAttention, FusedQkv};
use super::blocks::{linear, Dropout, LayerNorm, Linear};
use crate::config::{AlbertConfig, HiddenAct};
use crate::error::Result;
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
        let (out, probs) = self.forward_fused(&self.attention.fused_qkv()?, hidden, mask, train, true)?;
        Ok((out, super::attention::required(probs)?))
    }

    /// Prepares the layer's projections for inference (int8 or column-major f32).
    pub fn prepare_inference(&mut self, int8: bool) -> Result<()> {
        self.attention.prepare_inference(int8)?;
        self.full_layer_layer_norm.prepare_inference()?;
        self.ffn.prepare_inference(int8)?;
        self.ffn_output.prepare_inference(int8)
    }

    /// The layer's attention block (its stacked projections are prepared once per forward pass).
    pub(crate) fn attention(&self) -> &AlbertAttention {
        &self.attention
    }

    /// [`Self::forward`] with the attention projections already stacked; the probabilities only when `want_probs`.
    pub(crate) fn forward_fused(
        &self,
        qkv: &FusedQkv,
        hidden: &Tensor,
        mask: Option<&Tensor>,
        train: bool,
        want_probs: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let (attended, probs) = self.attention.forward_fused(qkv, hidden, mask, train, want_probs)?;
        // (batch, seq, intermediate)
        let inner = self.ffn.forward_act(&attended, self.activation)?;
        let ffn = self.dropout.forward(&self.ffn_output.forward(&inner)?, train)?;
        Ok((self.full_layer_layer_norm.forward_residual(&ffn, &attended)?, probs))
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
    pub fn prepare_inference(&mut self, int8: bool) -> Result<()> {
        self.albert_layers.iter_mut().try_for_each(|l| l.prepare_inference(int8))
    }

    /// The group's layers, in order.
    pub fn layers(&self) -> &[AlbertLayer] {
        &self.albert_layers
    }
}
