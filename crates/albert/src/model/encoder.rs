//! `AlbertTransformer`: the E -> H projection, then `num_hidden_layers` applications of the shared layer groups.

use std::ops::Range;

use candle_core::{DType, Tensor};
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

/// A batch with its padding left out ([`AlbertTransformer::forward_packed`]): each sequence's positions up to its
/// last real token, packed one after the other.
#[derive(Debug)]
pub(crate) struct Packing {
    /// Flat (batch x seq) indices of the kept positions, in order.
    rows: Tensor,
    /// Each sequence's rows among the kept ones.
    sequences: Vec<Range<usize>>,
    /// The additive mask of the kept positions (a sequence's padding before or inside it stays, masked).
    mask: Tensor,
    /// (batch, seq)
    shape: (usize, usize),
}

impl Packing {
    /// From the attention mask `mask` (batch, seq: 0 for padding) and its additive form; `None` where no position
    /// would be left out.
    pub(crate) fn of(mask: &Tensor, additive: &Tensor) -> Result<Option<Self>> {
        let (batch, seq) = mask.dims2()?;
        let mut rows = Vec::with_capacity(batch * seq);
        let mut sequences = Vec::with_capacity(batch);
        for (b, row) in mask.to_dtype(DType::F32)?.to_vec2::<f32>()?.iter().enumerate() {
            // A sequence without a real token keeps every position: its attention spreads over all of them.
            let len = row.iter().rposition(|&m| m != 0.0).map_or(seq, |last| last + 1);
            let start = rows.len();
            rows.extend((b * seq..b * seq + len).map(|i| i as u32));
            sequences.push(start..rows.len());
        }
        if rows.len() == batch * seq {
            return Ok(None);
        }
        let rows = Tensor::from_vec(rows, sequences.last().map_or(0, |s| s.end), mask.device())?;
        let mask = additive.flatten_all()?.index_select(&rows, 0)?;
        Ok(Some(Self { rows, sequences, mask, shape: (batch, seq) }))
    }
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

    /// [`Self::forward`] in inference on the positions `packing` keeps, (1, kept, H) through every layer; the last
    /// hidden state has zeros at the positions left out. Every step but attention works row by row, and attention
    /// runs per sequence on its own rows ([`crate::ops::attention_of_sequences`]).
    pub(crate) fn forward_packed(&self, embedded: &Tensor, packing: &Packing) -> Result<EncoderOutput> {
        let (batch, seq) = packing.shape;
        let kept = embedded.flatten_to(1)?.index_select(&packing.rows, 0)?.unsqueeze(0)?;
        let mut hidden = self.embedding_hidden_mapping_in.forward(&kept)?;
        let qkv: Vec<Vec<FusedQkv>> = self
            .albert_layer_groups
            .iter()
            .map(|g| g.layers().iter().map(|l| l.attention().fused_qkv()).collect::<Result<_>>())
            .collect::<Result<_>>()?;
        for &g in &self.group_of_layer {
            for (layer, qkv) in self.albert_layer_groups[g].layers().iter().zip(&qkv[g]) {
                hidden = layer.forward_packed(qkv, &hidden, &packing.mask, &packing.sequences)?;
            }
        }
        let hidden = hidden.squeeze(0)?;
        let width = hidden.dim(1)?;
        let full = Tensor::zeros((batch * seq, width), hidden.dtype(), hidden.device())?.index_add(&packing.rows, &hidden, 0)?;
        Ok(EncoderOutput { last_hidden_state: full.reshape((batch, seq, width))?, hidden_states: None, attentions: None })
    }
}
