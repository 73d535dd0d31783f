//! `AlbertAttention`: multi-head self-attention with its output projection, residual and post-LayerNorm.

use candle_core::{Module, Tensor, D};
use candle_nn::VarBuilder;

use super::blocks::{linear, Dropout, LayerNorm};
use crate::config::AlbertConfig;
use crate::error::Result;
use crate::rng::SharedRng;

/// Self-attention block (Hugging Face `albert_layers.N.attention`).
#[derive(Debug, Clone)]
pub struct AlbertAttention {
    query: candle_nn::Linear,
    key: candle_nn::Linear,
    value: candle_nn::Linear,
    dense: candle_nn::Linear,
    layer_norm: LayerNorm,
    attention_dropout: Dropout,
    output_dropout: Dropout,
    num_heads: usize,
    head_dim: usize,
}

impl AlbertAttention {
    /// Creates the block's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(Self {
            query: linear(h, h, vb.pp("query"))?,
            key: linear(h, h, vb.pp("key"))?,
            value: linear(h, h, vb.pp("value"))?,
            dense: linear(h, h, vb.pp("dense"))?,
            layer_norm: LayerNorm::new(h, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            attention_dropout: Dropout::new(cfg.attention_probs_dropout_prob, rng.clone()),
            output_dropout: Dropout::new(cfg.hidden_dropout_prob, rng),
            num_heads: cfg.num_attention_heads,
            head_dim: cfg.head_dim(),
        })
    }

    /// `hidden`: (batch, seq, H); `mask`: additive, broadcastable to (batch, heads, seq, seq).
    /// Returns the block's output (batch, seq, H) and the attention probabilities (batch, heads, seq, seq).
    pub fn forward(&self, hidden: &Tensor, mask: Option<&Tensor>, train: bool) -> Result<(Tensor, Tensor)> {
        let (b, s, h) = hidden.dims3()?;
        let heads = |x: Tensor| -> Result<Tensor> {
            // (batch, seq, H) -> (batch, heads, seq, head_dim)
            Ok(x.reshape((b, s, self.num_heads, self.head_dim))?.transpose(1, 2)?.contiguous()?)
        };
        let q = heads(self.query.forward(hidden)?)?;
        let k = heads(self.key.forward(hidden)?)?;
        let v = heads(self.value.forward(hidden)?)?;
        let scale = (self.head_dim as f64).powf(-0.5);
        // (batch, heads, seq, seq)
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let dropped = self.attention_dropout.forward(&probs, train)?;
        // (batch, heads, seq, head_dim) -> (batch, seq, H)
        let context = dropped.matmul(&v)?.transpose(1, 2)?.reshape((b, s, h))?;
        let projected = self.output_dropout.forward(&self.dense.forward(&context)?, train)?;
        let out = self.layer_norm.forward(&(hidden + projected)?)?;
        Ok((out, probs))
    }
}
