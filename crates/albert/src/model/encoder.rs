//! `AlbertTransformer`: the E -> H projection, then `num_hidden_layers` applications of the shared layer groups.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::albert::Precision;
use super::attention::FusedQkv;
use super::blocks::{linear, Linear};
use super::layer::AlbertLayerGroup;
use crate::config::AlbertConfig;
use crate::error::Result;
use crate::rng::SharedRng;

/// The encoder (Hugging Face `albert.encoder`).
#[derive(Debug, Clone)]
pub struct AlbertTransformer {
    embedding_hidden_mapping_in: Linear,
    albert_layer_groups: Vec<AlbertLayerGroup>,
    group_of_layer: Vec<usize>,
}

/// What the encoder returns: the last hidden state and, when asked, every intermediate one and every attention map.
#[derive(Debug, Clone)]
pub struct EncoderOutput {
    /// (batch, seq, H)
    pub last_hidden_state: Tensor,
    /// The input of the first layer, then the output of every layer run (as transformers 5 records them:
    /// `num_hidden_layers * inner_group_num + 1` entries), each (batch, seq, H).
    pub hidden_states: Option<Vec<Tensor>>,
    /// The attention probabilities of every layer run, each (batch, heads, seq, seq).
    pub attentions: Option<Vec<Tensor>>,
}

impl AlbertTransformer {
    /// Creates the encoder's parameters under `vb` (`encoder`).
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let albert_layer_groups = (0..cfg.num_hidden_groups)
            .map(|g| AlbertLayerGroup::new(cfg, vb.pp("albert_layer_groups").pp(g), rng.clone()))
            .collect::<Result<_>>()?;
        Ok(Self {
            embedding_hidden_mapping_in: linear(cfg.embedding_size, cfg.hidden_size, vb.pp("embedding_hidden_mapping_in"))?,
            albert_layer_groups,
            group_of_layer: (0..cfg.num_hidden_layers).map(|i| cfg.group_of_layer(i)).collect(),
        })
    }

    /// Prepares the E -> H projection and every layer's projections for inference (int8 or column-major f32).
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        self.embedding_hidden_mapping_in.prepare_inference(precision)?;
        self.albert_layer_groups.iter_mut().try_for_each(|g| g.prepare_inference(precision))
    }

    /// The encoder's linear layers: the E -> H projection, then every layer's, group by group.
    #[cfg(test)]
    pub(crate) fn linears(&self) -> Vec<&Linear> {
        let layers = self.albert_layer_groups.iter().flat_map(|g| g.layers().iter().flat_map(|l| l.linears()));
        std::iter::once(&self.embedding_hidden_mapping_in).chain(layers).collect()
    }

    /// `embedded`: (batch, seq, E); `mask`: additive attention mask or `None`.
    pub fn forward(
        &self,
        embedded: &Tensor,
        mask: Option<&Tensor>,
        output_hidden_states: bool,
        output_attentions: bool,
        train: bool,
    ) -> Result<EncoderOutput> {
        // (batch, seq, H)
        let mut hidden = self.embedding_hidden_mapping_in.forward(embedded)?;
        // Every layer mapped to a group reuses its stacked attention projections: build them once.
        let qkv: Vec<Vec<FusedQkv>> = self
            .albert_layer_groups
            .iter()
            .map(|g| g.layers().iter().map(|l| l.attention().fused_qkv()).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        // And, in training, their parameters as one flat vector for the fused layer operation.
        let flat: Vec<Vec<Option<Tensor>>> = self
            .albert_layer_groups
            .iter()
            .zip(&qkv)
            .map(|(g, qkv)| g.layers().iter().zip(qkv).map(|(l, qkv)| if output_attentions { Ok(None) } else { l.flat_params(qkv, &hidden, train) }).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        let mut all_hidden = output_hidden_states.then(|| vec![hidden.clone()]);
        let mut all_attentions = output_attentions.then(Vec::new);
        for &g in &self.group_of_layer {
            for ((layer, qkv), flat) in self.albert_layer_groups[g].layers().iter().zip(&qkv[g]).zip(&flat[g]) {
                let (next, probs) = layer.forward_fused(qkv, flat.as_ref(), &hidden, mask, train, output_attentions)?;
                hidden = next;
                if let Some(h) = all_hidden.as_mut() {
                    h.push(hidden.clone());
                }
                if let (Some(a), Some(p)) = (all_attentions.as_mut(), probs) {
                    a.push(p);
                }
            }
        }
        Ok(EncoderOutput { last_hidden_state: hidden, hidden_states: all_hidden, attentions: all_attentions })
    }
}
