//! The manifest of a prepared data directory: inputs, settings and counts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::shard::{ShardInfo, TokenDtype};
use super::text::{DocBoundary, TextEncoding};
use super::vocab::SpecialIds;
use super::DataError;

/// File name of the manifest inside a prepared data directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// File name of the word-start table (one byte per id).
pub const WORD_STARTS_FILE: &str = "word_starts.bin";
/// Version of the on-disk layout; readers refuse other versions.
pub const FORMAT_VERSION: u32 = 1;

/// One corpus file as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Canonical path.
    pub path: String,
    /// Size in bytes (compressed size for `.gz`).
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    /// Whether the file was not UTF-8 and was read as Latin-1.
    #[serde(default)]
    pub latin1: bool,
}

impl InputFile {
    /// Same path and same bytes.
    pub fn same_file(&self, other: &InputFile) -> bool {
        (&self.path, self.bytes, &self.sha256) == (&other.path, other.bytes, &other.sha256)
    }
}

/// Settings that determine the prepared data; a re-run with equal settings and inputs is a no-op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareSettings {
    /// Longest `[CLS] A [SEP] B [SEP]` sequence the data is meant for.
    pub max_seq_length: usize,
    /// How documents were delimited.
    pub doc_boundary: DocBoundary,
    /// How bytes were decoded.
    pub encoding: TextEncoding,
    /// Fraction of documents held out.
    pub heldout_fraction: f64,
    /// Seed of the held-out document choice.
    pub heldout_seed: u64,
    /// Most tokens per shard.
    pub shard_tokens: u64,
    /// Identity of the tokenizer (as given by the caller, e.g. its file's SHA-256).
    pub tokenizer: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Special ids.
    pub special: SpecialIds,
}

/// Counts and shards of one split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SplitInfo {
    /// Documents.
    pub documents: u64,
    /// Sentences.
    pub sentences: u64,
    /// Tokens.
    pub tokens: u64,
    /// Shard files, in order.
    pub shards: Vec<ShardInfo>,
}

/// Everything a prepared data directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Corpus files, in the order given.
    pub inputs: Vec<InputFile>,
    /// Settings.
    pub settings: PrepareSettings,
    /// Storage width of token ids.
    pub token_dtype: TokenDtype,
    /// Training split.
    pub train: SplitInfo,
    /// Held-out split (whole documents).
    pub heldout: SplitInfo,
}

impl Manifest {
    /// Reads `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| DataError::corrupt(&path, e.to_string()))?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(DataError::corrupt(
                &path,
                format!(
                    "format version {} (this build reads {FORMAT_VERSION})",
                    manifest.format_version
                ),
            ));
        }
        // The shard files lie beside the manifest: a name that is a path could lead anywhere.
        for shard in manifest.train.shards.iter().chain(&manifest.heldout.shards) {
            for name in [&shard.tokens_file, &shard.index_file] {
                if Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) {
                    return Err(DataError::corrupt(
                        &path,
                        format!("shard file `{name}` is not a plain file name beside the manifest"),
                    ));
                }
            }
        }
        Ok(manifest)
    }

    /// Fails with a clear error when the data's sequence length exceeds a model's
    /// `max_position_embeddings`.
    ///
    /// ```
    /// # use albert_train::data::*;
    /// # let m = Manifest { format_version: 1, inputs: vec![], settings: PrepareSettings {
    /// #     max_seq_length: 512, doc_boundary: DocBoundary::File, encoding: TextEncoding::Utf8, heldout_fraction: 0.0, heldout_seed: 0,
    /// #     shard_tokens: 1, tokenizer: String::new(), vocab_size: 10,
    /// #     special: SpecialIds { pad: 0, cls: 2, sep: 3, mask: 4 } },
    /// #     token_dtype: TokenDtype::U16, train: SplitInfo::default(), heldout: SplitInfo::default() };
    /// assert!(m.check_model_positions(512).is_ok());
    /// assert!(matches!(m.check_model_positions(128), Err(DataError::SeqLengthExceedsModel { data: 512, model: 128 })));
    /// ```
    pub fn check_model_positions(&self, max_position_embeddings: usize) -> Result<(), DataError> {
        if self.settings.max_seq_length > max_position_embeddings {
            return Err(DataError::SeqLengthExceedsModel {
                data: self.settings.max_seq_length,
                model: max_position_embeddings,
            });
        }
        Ok(())
    }

    /// The split's counts and shards.
    pub fn split(&self, split: Split) -> &SplitInfo {
        match split {
            Split::Train => &self.train,
            Split::HeldOut => &self.heldout,
        }
    }
}

/// Which part of the prepared data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training documents.
    Train,
    /// Held-out documents for evaluation.
    HeldOut,
}

impl Split {
    /// File-name prefix of the split's shards.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::HeldOut => "heldout",
        }
    }
}
