//! `AlbertEmbeddings`: word, position and token-type embeddings of size E, summed, normalized and dropped out.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use super::blocks::{embedding, Dropout, LayerNorm};
use crate::config::AlbertConfig;
use crate::error::Result;
use crate::rng::SharedRng;

/// Embedding layer (Hugging Face `albert.embeddings`).
#[derive(Debug, Clone)]
pub struct AlbertEmbeddings {
    word_embeddings: candle_nn::Embedding,
    position_embeddings: candle_nn::Embedding,
    token_type_embeddings: candle_nn::Embedding,
    layer_norm: LayerNorm,
    dropout: Dropout,
    pad_token_id: Option<u32>,
}

impl AlbertEmbeddings {
    /// Creates the layer's parameters under `vb` (`embeddings`).
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let e = cfg.embedding_size;
        Ok(Self {
            word_embeddings: embedding(cfg.vocab_size, e, vb.pp("word_embeddings"))?,
            position_embeddings: embedding(cfg.max_position_embeddings, e, vb.pp("position_embeddings"))?,
            token_type_embeddings: embedding(cfg.type_vocab_size, e, vb.pp("token_type_embeddings"))?,
            layer_norm: LayerNorm::new(e, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            dropout: Dropout::new(cfg.hidden_dropout_prob, rng),
            pad_token_id: cfg.pad_token_id,
        })
    }

    /// The word-embedding matrix (vocab x E), which the MLM decoder shares.
    pub fn word_embeddings(&self) -> &Tensor {
        self.word_embeddings.embeddings()
    }

    /// Embeds `input_ids`, `token_type_ids` and `position_ids`, all (batch, seq) u32; returns (batch, seq, E).
    pub fn forward(&self, input_ids: &Tensor, token_type_ids: &Tensor, position_ids: &Tensor, train: bool) -> Result<Tensor> {
        let words = self.lookup_words(input_ids)?;
        let types = self.token_type_embeddings.forward(token_type_ids)?;
        let positions = self.position_embeddings.forward(position_ids)?;
        let summed = ((words + types)? + positions)?;
        let normed = self.layer_norm.forward(&summed)?;
        self.dropout.forward(&normed, train)
    }

    /// (batch, seq) -> (batch, seq, E). Like torch's `Embedding(padding_idx=pad)`, the padding row receives no
    /// gradient: pad positions read a detached copy of it, so training leaves it as it is.
    fn lookup_words(&self, input_ids: &Tensor) -> Result<Tensor> {
        let words = self.word_embeddings.forward(input_ids)?;
        let Some(pad) = self.pad_token_id else { return Ok(words) };
        let table = self.word_embeddings.embeddings();
        let pad_row = table.narrow(0, pad as usize, 1)?.detach();
        // (batch, seq, 1): 1 where the token is padding
        let is_pad = input_ids.eq(pad)?.unsqueeze(2)?;
        Ok(is_pad.broadcast_as(words.shape())?.where_cond(&pad_row.unsqueeze(0)?.broadcast_as(words.shape())?, &words)?)
    }
}
