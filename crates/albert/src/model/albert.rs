//! `AlbertModel`: embeddings, the shared encoder and the optional pooler.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::blocks::{dtype_min, linear, Linear};
use super::embeddings::AlbertEmbeddings;
use super::encoder::{AlbertTransformer, Packing};
use crate::config::AlbertConfig;
use crate::error::{Error, Result};
use crate::rng::SharedRng;

/// One padded batch of token sequences, all tensors (batch, seq) of u32 (the mask may be any numeric dtype).
#[derive(Debug, Clone)]
pub struct AlbertInput {
    /// Token ids.
    pub input_ids: Tensor,
    /// Segment ids (0 for the first sequence, 1 for the second); zeros when `None`.
    pub token_type_ids: Option<Tensor>,
    /// 1 for real tokens, 0 for padding; all ones when `None`.
    pub attention_mask: Option<Tensor>,
    /// Positions; `0..seq` when `None`.
    pub position_ids: Option<Tensor>,
}

impl AlbertInput {
    /// A batch from token ids alone.
    pub fn new(input_ids: Tensor) -> Self {
        Self { input_ids, token_type_ids: None, attention_mask: None, position_ids: None }
    }

    /// Builds a padded batch from rows of ids (and optional type ids), padding with `pad_id` and masking the padding.
    ///
    /// ```
    /// let input = albert::AlbertInput::from_rows(&[vec![2, 31, 3], vec![2, 3]], None, 0, &candle_core::Device::Cpu).unwrap();
    /// assert_eq!(input.input_ids.to_vec2::<u32>().unwrap(), [[2, 31, 3], [2, 3, 0]]);
    /// assert_eq!(input.attention_mask.unwrap().to_vec2::<u32>().unwrap(), [[1, 1, 1], [1, 1, 0]]);
    /// ```
    pub fn from_rows(ids: &[Vec<u32>], type_ids: Option<&[Vec<u32>]>, pad_id: u32, device: &Device) -> Result<Self> {
        let seq = ids.iter().map(Vec::len).max().unwrap_or(0);
        if ids.is_empty() || seq == 0 {
            return Err(Error::Input("a batch needs at least one non-empty sequence".into()));
        }
        if let Some(t) = type_ids {
            if t.len() != ids.len() || t.iter().zip(ids).any(|(a, b)| a.len() != b.len()) {
                return Err(Error::Input("type ids must have the shape of the input ids".into()));
            }
        }
        let pad = |rows: &[Vec<u32>], fill: u32| -> Vec<u32> {
            rows.iter().flat_map(|r| r.iter().copied().chain(std::iter::repeat(fill).take(seq - r.len()))).collect()
        };
        let mask: Vec<Vec<u32>> = ids.iter().map(|r| vec![1; r.len()]).collect();
        let shape = (ids.len(), seq);
        Ok(Self {
            input_ids: Tensor::from_vec(pad(ids, pad_id), shape, device)?,
            token_type_ids: type_ids.map(|t| Tensor::from_vec(pad(t, 0), shape, device)).transpose()?,
            attention_mask: Some(Tensor::from_vec(pad(&mask, 0), shape, device)?),
            position_ids: None,
        })
    }
}

/// What to compute besides the last hidden state.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardOptions {
    /// Return every layer's hidden state (Hugging Face `output_hidden_states`).
    pub output_hidden_states: bool,
    /// Return every layer's attention probabilities (Hugging Face `output_attentions`).
    pub output_attentions: bool,
    /// Training mode: dropout is active.
    pub train: bool,
    /// Leave the padding after each sequence's last real token (by the attention mask) out of every layer: the
    /// real positions' outputs stay as they are (bit for bit on the packed f32 kernels), the padding positions'
    /// come out as zeros instead of what transformers computes there. For callers that read real positions only,
    /// as the pipelines do: in a batch of 32 SST-2 sentences sorted by length, 8.5% of the positions are padding.
    /// Applies in inference without recorded gradients, hidden states or attentions on the CPU; ignored otherwise.
    pub skip_padding: bool,
}

/// How the encoder's projections run once prepared for inference ([`AlbertModel::prepare_inference`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// In the model's own dtype, the weights laid out as the product reads them fastest.
    #[default]
    Full,
    /// In int8 (dynamic quantization, [`crate::ops::QuantizedLinear`]): faster, scores change slightly.
    Int8,
}

impl Precision {
    /// [`Precision::Int8`] when `int8` is set (a command's `--int8` flag), else [`Precision::Full`].
    pub fn from_int8(int8: bool) -> Self {
        if int8 {
            Self::Int8
        } else {
            Self::Full
        }
    }
}

/// Outputs of [`AlbertModel::forward`].
#[derive(Debug, Clone)]
pub struct AlbertOutput {
    /// (batch, seq, H)
    pub last_hidden_state: Tensor,
    /// tanh(dense(first token)), (batch, H); `None` for classes built without the pooler.
    pub pooler_output: Option<Tensor>,
    /// See [`EncoderOutput::hidden_states`](super::encoder::EncoderOutput::hidden_states).
    pub hidden_states: Option<Vec<Tensor>>,
    /// See [`EncoderOutput::attentions`](super::encoder::EncoderOutput::attentions).
    pub attentions: Option<Vec<Tensor>>,
}

/// The ALBERT encoder (Hugging Face `AlbertModel`).
#[derive(Debug, Clone)]
pub struct AlbertModel {
    embeddings: AlbertEmbeddings,
    encoder: AlbertTransformer,
    pooler: Option<Linear>,
    config: AlbertConfig,
}

impl AlbertModel {
    /// Creates the model's parameters under `vb` (the root for `AlbertModel`, `albert` inside the head classes).
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, with_pooler: bool, rng: SharedRng) -> Result<Self> {
        Ok(Self {
            embeddings: AlbertEmbeddings::new(cfg, vb.pp("embeddings"), rng.clone())?,
            encoder: AlbertTransformer::new(cfg, vb.pp("encoder"), rng)?,
            pooler: with_pooler.then(|| linear(cfg.hidden_size, cfg.hidden_size, vb.pp("pooler"))).transpose()?,
            config: cfg.clone(),
        })
    }

    /// Prepares the encoder's projections for inference ([`crate::model::blocks::Linear::prepare_inference`]) in
    /// `precision` (the embeddings and the pooler, which sees one row per sequence, stay as they are).
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        self.encoder.prepare_inference(precision)
    }

    /// The encoder's linear layers ([`AlbertTransformer::linears`]).
    #[cfg(test)]
    pub(crate) fn encoder_linears(&self) -> Vec<&Linear> {
        self.encoder.linears()
    }

    /// The model's configuration.
    pub fn config(&self) -> &AlbertConfig {
        &self.config
    }

    /// The embedding layer (its word embeddings are tied to the MLM decoder).
    pub fn embeddings(&self) -> &AlbertEmbeddings {
        &self.embeddings
    }

    /// Runs the encoder on a batch.
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<AlbertOutput> {
        let embedded = self.embed(input, opts.train)?;
        self.forward_embedded(&embedded, input.attention_mask.as_ref(), opts)
    }

    /// The output of the embedding layer (`albert.embeddings`: word + position + token type, after its LayerNorm
    /// and dropout) for `input`: (batch, seq, E). Ids are checked against the tables first.
    pub fn embed(&self, input: &AlbertInput, train: bool) -> Result<Tensor> {
        let ids = &input.input_ids;
        let (batch, seq) = ids.dims2().map_err(|_| Error::Input(format!("input_ids must be (batch, seq), got {:?}", ids.dims())))?;
        if seq > self.config.max_position_embeddings {
            return Err(Error::Input(format!(
                "sequence of {seq} tokens exceeds max_position_embeddings {}",
                self.config.max_position_embeddings
            )));
        }
        self.check_ids(ids, self.config.vocab_size, "input_ids")?;
        let device = ids.device();
        let token_type_ids = match &input.token_type_ids {
            Some(t) => {
                self.check_shape(t, batch, seq, "token_type_ids")?;
                self.check_ids(t, self.config.type_vocab_size, "token_type_ids")?;
                t.clone()
            }
            None => Tensor::zeros((batch, seq), DType::U32, device)?,
        };
        let position_ids = match &input.position_ids {
            Some(p) => {
                self.check_shape(p, batch, seq, "position_ids")?;
                self.check_ids(p, self.config.max_position_embeddings, "position_ids")?;
                p.clone()
            }
            None => Tensor::arange(0u32, seq as u32, device)?.unsqueeze(0)?.broadcast_as((batch, seq))?.contiguous()?,
        };
        self.embeddings.forward(ids, &token_type_ids, &position_ids, train)
    }

    /// Runs the encoder and the pooler on `embedded` (batch, seq, E) in place of the embedding layer's output, with
    /// the attention mask `attention_mask` (batch, seq; all ones when `None`): what attribution methods need, which
    /// substitute points between an input's embeddings and a baseline's (Captum's layer hooks).
    pub fn forward_embedded(&self, embedded: &Tensor, attention_mask: Option<&Tensor>, opts: &ForwardOptions) -> Result<AlbertOutput> {
        let (batch, seq, _) = embedded.dims3().map_err(|_| Error::Input(format!("embeddings must be (batch, seq, E), got {:?}", embedded.dims())))?;
        let mask = match attention_mask {
            Some(m) => {
                self.check_shape(m, batch, seq, "attention_mask")?;
                Some(additive_mask(m, embedded.dtype())?)
            }
            None => None,
        };
        let packing = match (attention_mask, &mask) {
            (Some(m), Some(additive))
                if opts.skip_padding
                    && !opts.train
                    && !opts.output_hidden_states
                    && !opts.output_attentions
                    && !embedded.track_op()
                    && crate::ops::fused_attention_applies(embedded) =>
            {
                Packing::of(m, additive)?
            }
            _ => None,
        };
        let enc = match packing {
            Some(packing) => self.encoder.forward_packed(embedded, &packing)?,
            None => self.encoder.forward(embedded, mask.as_ref(), opts.output_hidden_states, opts.output_attentions, opts.train)?,
        };
        let pooler_output = match &self.pooler {
            // (batch, H) from the first token
            Some(p) => Some(p.forward(&enc.last_hidden_state.narrow(1, 0, 1)?.squeeze(1)?)?.tanh()?),
            None => None,
        };
        Ok(AlbertOutput {
            last_hidden_state: enc.last_hidden_state,
            pooler_output,
            hidden_states: enc.hidden_states,
            attentions: enc.attentions,
        })
    }

    fn check_shape(&self, t: &Tensor, batch: usize, seq: usize, name: &str) -> Result<()> {
        if t.dims() != [batch, seq] {
            return Err(Error::Input(format!("{name} has shape {:?}, input_ids ({batch}, {seq})", t.dims())));
        }
        Ok(())
    }

    // An out-of-range id would read past an embedding table: refuse it with the offending value.
    fn check_ids(&self, t: &Tensor, limit: usize, name: &str) -> Result<()> {
        let max = t.to_dtype(DType::U32)?.flatten_all()?.max(0)?.to_scalar::<u32>()?;
        if max as usize >= limit {
            return Err(Error::Input(format!("{name} holds {max}, outside 0..{limit}")));
        }
        Ok(())
    }
}

/// (batch, seq) mask of 1/0 -> (batch, 1, 1, seq) of 0 / dtype-min, added to the attention scores.
fn additive_mask(mask: &Tensor, dtype: DType) -> Result<Tensor> {
    let (b, s) = mask.dims2()?;
    let keep = mask.to_dtype(dtype)?;
    let blocked = (keep.ones_like()? - keep)?;
    Ok((blocked * dtype_min(dtype))?.reshape((b, 1, 1, s))?)
}
