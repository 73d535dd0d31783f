//! Pretraining data: corpus preparation into token shards, segment pairs for sentence-order
//! prediction, n-gram whole-word masking and batches, following google-research/albert's
//! `create_pretraining_data.py` with masks drawn dynamically.
//!
//! Typical use: [`prepare_corpus`] once, then [`PretrainData::open`] per split and
//! [`PretrainData::epoch`] / [`PretrainData::batch`] in the training loop. Every random choice
//! comes from [`sub_rng`]`(seed, purpose, epoch, index)`, so `(epoch, batch index)` is all a
//! checkpoint needs to resume exactly.
//!
//! Where this differs from the original script, on purpose:
//! - masks are drawn when a batch is built ([`MaskMode::Dynamic`]); segment pairs too, so each
//!   epoch re-cuts documents with fresh target lengths, as the original's `dupe_factor` copies
//!   did ([`MaskMode::Static`] reproduces fixed copies);
//! - every draw, including the n-gram length the original took from NumPy's global generator,
//!   comes from the seeded generator;
//! - words and n-grams never straddle `[SEP]`, and n is drawn among the lengths that fit before
//!   the segment ends (see [`mask_tokens`]);
//! - input is running text: hard-wrapped lines are joined into paragraphs and split into
//!   sentences ([`split_sentences`]) instead of one sentence per line.

mod batch;
mod corpus;
mod error;
mod length_groups;
mod manifest;
mod masking;
mod pairing;
mod prepare;
mod rng;
mod shard;
mod text;
mod tokenizer_vocab;
mod vocab;

pub use batch::{
    masked_example, Batch, BatchConfig, BatchTensors, EpochPlan, MaskMode, MaskedExample,
    PretrainData, HELDOUT_SEED, IGNORE_INDEX,
};
pub use corpus::PreparedSplit;
pub use error::DataError;
pub use length_groups::{group_by_length, GROUP_BATCHES};
pub use manifest::{
    InputFile, Manifest, PrepareSettings, Split, SplitInfo, FORMAT_VERSION, MANIFEST_FILE,
    WORD_STARTS_FILE,
};
pub use masking::{mask_tokens, MaskedLm, MaskingConfig, MaskingVocab};
pub use pairing::{
    pairs_from_document, truncate_seq_pair, Documents, PairingConfig, SegmentPair, TokenSpan,
};
pub use prepare::{prepare_corpus, PrepareConfig, PrepareOutcome};
pub use rng::{dropout_key, sub_rng, Draw, Purpose};
pub use shard::{ShardInfo, TokenDtype};
pub use text::{
    read_text, split_documents, split_sentences, DecodedText, DocBoundary, TextDocument,
    TextEncoding,
};
pub use tokenizer_vocab::TokenizerVocab;
pub use vocab::{is_start_piece, PieceVocab, SpecialIds, WordStarts};
