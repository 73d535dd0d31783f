//! Batches of masked segment pairs, reproducible from `(seed, epoch, batch index)`.

use std::path::Path;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::corpus::PreparedSplit;
use super::length_groups::group_by_length;
use super::manifest::Split;
use super::masking::{mask_tokens, MaskingConfig, MaskingVocab};
use super::pairing::{pairs_from_document, PairingConfig, SegmentPair};
use super::rng::{dropout_key, sub_rng, Draw, Purpose};
use super::DataError;

/// Label value of positions that are not predicted (as Hugging Face's loss ignores).
pub const IGNORE_INDEX: i64 = -100;
/// Seed of the held-out split's pairs and masks: fixed, so every evaluation sees the same data.
pub const HELDOUT_SEED: u64 = 0x00A1_BE27_E7A1;

/// When masks are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskMode {
    /// Fresh pairs and masks every epoch.
    Dynamic,
    /// The original's static masks: `dupe_factor` fixed versions, epoch e reusing version
    /// e mod dupe_factor (pairs, masks and order alike).
    Static {
        /// Number of distinct versions (the original's default is 40).
        dupe_factor: u64,
    },
}

/// How batches are drawn from a prepared split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchConfig {
    /// Seed of the training split's pairs, order and masks (the held-out split uses
    /// [`HELDOUT_SEED`]).
    pub seed: u64,
    /// Probability of a shorter target length (0.1).
    pub short_seq_prob: f64,
    /// Masking rules.
    pub masking: MaskingConfig,
    /// Dynamic or static masks.
    pub mask_mode: MaskMode,
    /// Pad every batch to the data's max_seq_length rather than to its longest sequence.
    pub pad_to_max_length: bool,
    /// Order the training split's epochs so that each run of this many sequences holds pairs of similar length
    /// ([`group_by_length`]): batches of that size pad less. `None`: the plain shuffled order.
    pub length_groups: Option<usize>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            seed: 12345,
            short_seq_prob: 0.1,
            masking: MaskingConfig::default(),
            mask_mode: MaskMode::Dynamic,
            pad_to_max_length: false,
            length_groups: None,
        }
    }
}

/// One `[CLS] A [SEP] B [SEP]` sequence after masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedExample {
    /// Input ids, masked.
    pub input_ids: Vec<u32>,
    /// 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`.
    pub token_type_ids: Vec<u32>,
    /// Predicted positions, ascending.
    pub masked_positions: Vec<usize>,
    /// Original ids at the predicted positions.
    pub masked_ids: Vec<u32>,
    /// 0 in order, 1 swapped.
    pub sentence_order_label: u32,
}

/// Builds and masks the sequence of segments `a` and `b`.
///
/// ```
/// use albert_train::data::{masked_example, sub_rng, MaskingConfig, MaskingVocab, Purpose, SpecialIds, WordStarts};
/// let special = SpecialIds { pad: 0, cls: 2, sep: 3, mask: 4 };
/// let vocab = MaskingVocab { word_starts: WordStarts::from_flags(vec![true; 50]), special };
/// let ex = masked_example(&[10, 11, 12], &[20, 21], 1, &vocab, &MaskingConfig::default(), 20,
///                         &mut sub_rng(0, Purpose::Masking, 0, 0));
/// assert_eq!(ex.token_type_ids, [0, 0, 0, 0, 0, 1, 1, 1]);
/// assert_eq!((ex.input_ids[0], ex.input_ids[4], ex.input_ids[7]), (2, 3, 3));
/// assert_eq!(ex.masked_positions.len(), 1); // max(1, round(8 × 0.15))
/// ```
pub fn masked_example<D: Draw>(
    a: &[u32],
    b: &[u32],
    sentence_order_label: u32,
    vocab: &MaskingVocab,
    masking: &MaskingConfig,
    max_predictions: usize,
    rng: &mut D,
) -> MaskedExample {
    let s = vocab.special;
    let mut tokens = Vec::with_capacity(a.len() + b.len() + 3);
    tokens.push(s.cls);
    tokens.extend_from_slice(a);
    tokens.push(s.sep);
    tokens.extend_from_slice(b);
    tokens.push(s.sep);
    let mut token_type_ids = vec![0; a.len() + 2];
    token_type_ids.resize(tokens.len(), 1);
    let masked = mask_tokens(&tokens, vocab, masking, max_predictions, rng);
    MaskedExample {
        input_ids: masked.input_ids,
        token_type_ids,
        masked_positions: masked.positions,
        masked_ids: masked.labels,
        sentence_order_label,
    }
}

/// A padded batch as plain row-major vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Number of sequences.
    pub batch_size: usize,
    /// Padded sequence length.
    pub seq_len: usize,
    /// Width of the masked-position arrays (max predictions per sequence).
    pub max_predictions: usize,
    /// (batch, seq_len) masked input ids, padded with the pad id.
    pub input_ids: Vec<u32>,
    /// (batch, seq_len) segment ids, 0 on padding.
    pub token_type_ids: Vec<u32>,
    /// (batch, seq_len) 1 on tokens, 0 on padding.
    pub attention_mask: Vec<u32>,
    /// (batch, seq_len) original id where predicted, [`IGNORE_INDEX`] elsewhere.
    pub labels: Vec<i64>,
    /// (batch, max_predictions) predicted positions, padded with 0.
    pub masked_positions: Vec<u32>,
    /// (batch, max_predictions) original ids at those positions, padded with 0.
    pub masked_ids: Vec<u32>,
    /// (batch, max_predictions) 1.0 for real predictions, 0.0 for padding.
    pub masked_weights: Vec<f32>,
    /// (batch) 0 in order, 1 swapped.
    pub sentence_order_label: Vec<u32>,
    /// (batch) each sequence's dropout key ([`super::dropout_key`] of its place in the epoch); empty for a batch
    /// collated by hand, which cannot train with dropout.
    pub dropout_keys: Vec<u64>,
}

/// [`Batch`] as candle tensors (ids u32, labels i64, weights f32).
#[derive(Debug, Clone)]
pub struct BatchTensors {
    /// (batch, seq_len) u32.
    pub input_ids: Tensor,
    /// (batch, seq_len) u32.
    pub token_type_ids: Tensor,
    /// (batch, seq_len) u32.
    pub attention_mask: Tensor,
    /// (batch, seq_len) i64, -100 where not predicted.
    pub labels: Tensor,
    /// (batch, max_predictions) u32.
    pub masked_positions: Tensor,
    /// (batch, max_predictions) u32.
    pub masked_ids: Tensor,
    /// (batch, max_predictions) f32.
    pub masked_weights: Tensor,
    /// (batch,) u32.
    pub sentence_order_label: Tensor,
}

impl Batch {
    /// Pads `examples` to `seq_len` (at least their longest) and `max_predictions` (at least
    /// their most predictions).
    ///
    /// ```
    /// use albert_train::data::{Batch, MaskedExample};
    /// let ex = MaskedExample { input_ids: vec![2, 4, 3, 9, 3], token_type_ids: vec![0, 0, 0, 1, 1],
    ///     masked_positions: vec![1], masked_ids: vec![7], sentence_order_label: 1 };
    /// let b = Batch::collate(&[ex], 6, 2, 0);
    /// assert_eq!(b.input_ids, [2, 4, 3, 9, 3, 0]);
    /// assert_eq!(b.attention_mask, [1, 1, 1, 1, 1, 0]);
    /// assert_eq!(b.labels, [-100, 7, -100, -100, -100, -100]);
    /// assert_eq!((b.masked_positions, b.masked_weights), (vec![1, 0], vec![1.0, 0.0]));
    /// ```
    pub fn collate(
        examples: &[MaskedExample],
        seq_len: usize,
        max_predictions: usize,
        pad_id: u32,
    ) -> Batch {
        let seq_len = examples
            .iter()
            .map(|e| e.input_ids.len())
            .max()
            .unwrap_or(0)
            .max(seq_len);
        let max_predictions = examples
            .iter()
            .map(|e| e.masked_positions.len())
            .max()
            .unwrap_or(0)
            .max(max_predictions);
        let n = examples.len();
        let mut b = Batch {
            batch_size: n,
            seq_len,
            max_predictions,
            input_ids: vec![pad_id; n * seq_len],
            token_type_ids: vec![0; n * seq_len],
            attention_mask: vec![0; n * seq_len],
            labels: vec![IGNORE_INDEX; n * seq_len],
            masked_positions: vec![0; n * max_predictions],
            masked_ids: vec![0; n * max_predictions],
            masked_weights: vec![0.0; n * max_predictions],
            sentence_order_label: examples.iter().map(|e| e.sentence_order_label).collect(),
            dropout_keys: Vec::new(),
        };
        for (r, e) in examples.iter().enumerate() {
            let row = r * seq_len;
            let len = e.input_ids.len();
            b.input_ids[row..row + len].copy_from_slice(&e.input_ids);
            b.token_type_ids[row..row + len].copy_from_slice(&e.token_type_ids);
            b.attention_mask[row..row + len].fill(1);
            for (k, (&p, &id)) in e.masked_positions.iter().zip(&e.masked_ids).enumerate() {
                b.labels[row + p] = id as i64;
                b.masked_positions[r * max_predictions + k] = p as u32;
                b.masked_ids[r * max_predictions + k] = id;
                b.masked_weights[r * max_predictions + k] = 1.0;
            }
        }
        b
    }

    /// The batch as tensors on `device`.
    pub fn to_tensors(&self, device: &Device) -> Result<BatchTensors, DataError> {
        let (n, s, p) = (self.batch_size, self.seq_len, self.max_predictions);
        Ok(BatchTensors {
            input_ids: Tensor::from_slice(&self.input_ids, (n, s), device)?,
            token_type_ids: Tensor::from_slice(&self.token_type_ids, (n, s), device)?,
            attention_mask: Tensor::from_slice(&self.attention_mask, (n, s), device)?,
            labels: Tensor::from_slice(&self.labels, (n, s), device)?,
            masked_positions: Tensor::from_slice(&self.masked_positions, (n, p), device)?,
            masked_ids: Tensor::from_slice(&self.masked_ids, (n, p), device)?,
            masked_weights: Tensor::from_slice(&self.masked_weights, (n, p), device)?,
            sentence_order_label: Tensor::from_slice(&self.sentence_order_label, n, device)?,
        })
    }
}

/// A prepared split with the rules to draw batches from it.
///
/// Batch `i` of epoch `e` depends only on the data, the [`BatchConfig`] and `(e, i)`: to resume,
/// store the epoch and the next batch index.
///
/// ```
/// use albert_train::data::*;
/// # struct Words;
/// # impl PieceVocab for Words {
/// #     fn encode(&self, t: &str) -> Result<Vec<u32>, String> {
/// #         Ok(t.split_whitespace().map(|w| 5 + w.len() as u32).collect())
/// #     }
/// #     fn piece(&self, id: u32) -> Option<String> { Some(format!("▁{id}")) }
/// #     fn vocab_size(&self) -> usize { 64 }
/// #     fn special_ids(&self) -> SpecialIds { SpecialIds { pad: 0, cls: 2, sep: 3, mask: 4 } }
/// # }
/// # let dir = std::env::temp_dir().join(format!("albert-batch-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// let text = "One two three four. Five six seven. Eight nine ten eleven twelve. \
///             Thirteen fourteen. Fifteen sixteen seventeen.\n";
/// std::fs::write(dir.join("corpus.txt"), text)?;
/// let mut prep = PrepareConfig::new(vec![dir.join("corpus.txt")], dir.join("data"), "words");
/// prep.max_seq_length = 16;
/// prep.heldout_fraction = 0.0;
/// prepare_corpus(&prep, &Words)?;
///
/// let data = PretrainData::open(&dir.join("data"), Split::Train, BatchConfig::default())?;
/// let plan = data.epoch(0);
/// let batch = data.batch(&plan, 0, 2)?;
/// let tensors = batch.to_tensors(&candle_core::Device::Cpu)?;
/// assert_eq!(tensors.input_ids.dims(), [batch.batch_size, batch.seq_len]);
/// assert_eq!(batch, data.batch(&data.epoch(0), 0, 2)?); // reproducible
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PretrainData {
    split: PreparedSplit,
    which: Split,
    cfg: BatchConfig,
    pairing: PairingConfig,
    max_predictions: usize,
}

/// The examples of one epoch, in order; position `(epoch, batch index)` determines a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochPlan {
    /// The epoch this plan is for.
    pub epoch: u64,
    seed: u64,
    key_epoch: u64,
    pairs: Vec<SegmentPair>,
}

impl EpochPlan {
    /// Number of examples.
    pub fn num_examples(&self) -> usize {
        self.pairs.len()
    }

    /// Number of batches of `batch_size` (the last one may be smaller).
    pub fn num_batches(&self, batch_size: usize) -> usize {
        self.pairs.len().div_ceil(batch_size.max(1))
    }

    /// The segment pairs, in order.
    pub fn pairs(&self) -> &[SegmentPair] {
        &self.pairs
    }
}

impl PretrainData {
    /// Opens `split` of the prepared directory `dir`; sequences are at most the data's
    /// max_seq_length.
    pub fn open(dir: &Path, split: Split, cfg: BatchConfig) -> Result<Self, DataError> {
        cfg.masking.validate()?;
        if let MaskMode::Static { dupe_factor: 0 } = cfg.mask_mode {
            return Err(DataError::InvalidConfig(
                "dupe_factor must be at least 1".into(),
            ));
        }
        let split_data = PreparedSplit::open(dir, split)?;
        let max_seq_length = split_data.manifest().settings.max_seq_length;
        let pairing = PairingConfig {
            max_seq_length,
            short_seq_prob: cfg.short_seq_prob,
        };
        pairing.validate()?;
        if split_data.documents().is_empty() {
            return Err(DataError::InvalidConfig(format!(
                "{}: the {} split holds no documents",
                dir.display(),
                split.name()
            )));
        }
        let max_predictions = cfg.masking.max_predictions(max_seq_length);
        Ok(PretrainData {
            split: split_data,
            which: split,
            cfg,
            pairing,
            max_predictions,
        })
    }

    /// The underlying split.
    pub fn split(&self) -> &PreparedSplit {
        &self.split
    }

    /// Longest sequence (the manifest's max_seq_length).
    pub fn max_seq_length(&self) -> usize {
        self.pairing.max_seq_length
    }

    /// Width of the masked-position arrays.
    pub fn max_predictions(&self) -> usize {
        self.max_predictions
    }

    /// The examples of `epoch`: every document's segment pairs, shuffled. The held-out split
    /// ignores `epoch` and the configured seed: its plan is always the same.
    pub fn epoch(&self, epoch: u64) -> EpochPlan {
        let (seed, key_epoch) = match (self.which, self.cfg.mask_mode) {
            (Split::HeldOut, _) => (HELDOUT_SEED, 0),
            (Split::Train, MaskMode::Dynamic) => (self.cfg.seed, epoch),
            (Split::Train, MaskMode::Static { dupe_factor }) => {
                (self.cfg.seed, epoch % dupe_factor)
            }
        };
        let docs = self.split.documents();
        let mut pairs: Vec<SegmentPair> = (0..docs.len())
            .into_par_iter()
            .flat_map_iter(|d| {
                let mut rng = sub_rng(seed, Purpose::Pairing, key_epoch, d as u64);
                pairs_from_document(docs, d, &self.pairing, &mut rng)
            })
            .collect();
        let mut rng = sub_rng(seed, Purpose::Shuffle, key_epoch, 0);
        rng.shuffle(&mut pairs);
        if let (Split::Train, Some(batch_size)) = (self.which, self.cfg.length_groups) {
            group_by_length(&mut pairs, |p| p.a.len() + p.b.len(), batch_size, &mut rng);
        }
        EpochPlan {
            epoch,
            seed,
            key_epoch,
            pairs,
        }
    }

    /// Batch `index` of `plan`: examples `index × batch_size ..`, each masked from its own
    /// generator `(seed, epoch, example position)`.
    pub fn batch(
        &self,
        plan: &EpochPlan,
        index: usize,
        batch_size: usize,
    ) -> Result<Batch, DataError> {
        let start = index * batch_size;
        if batch_size == 0 || start >= plan.pairs.len() {
            return Err(DataError::InvalidConfig(format!(
                "batch {index} of size {batch_size} is beyond the epoch's {} examples",
                plan.pairs.len()
            )));
        }
        let end = (start + batch_size).min(plan.pairs.len());
        let vocab = self.split.masking_vocab();
        let examples: Vec<MaskedExample> = (start..end)
            .into_par_iter()
            .map(|k| {
                let pair = plan.pairs[k];
                let mut rng = sub_rng(plan.seed, Purpose::Masking, plan.key_epoch, k as u64);
                let (a, b) = (self.split.tokens(pair.a), self.split.tokens(pair.b));
                masked_example(
                    &a,
                    &b,
                    pair.sentence_order_label,
                    vocab,
                    &self.cfg.masking,
                    self.max_predictions,
                    &mut rng,
                )
            })
            .collect();
        let seq_len = if self.cfg.pad_to_max_length {
            self.max_seq_length()
        } else {
            0
        };
        let mut batch = Batch::collate(&examples, seq_len, self.max_predictions, vocab.special.pad);
        batch.dropout_keys = (start..end).map(|k| dropout_key(plan.seed, plan.key_epoch, k as u64)).collect();
        Ok(batch)
    }
}
