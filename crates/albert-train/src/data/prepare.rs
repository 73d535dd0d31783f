//! Corpus preparation: text files to tokenized, sharded, memory-mappable training and held-out
//! splits with a manifest.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::manifest::{
    InputFile, Manifest, PrepareSettings, Split, SplitInfo, FORMAT_VERSION, MANIFEST_FILE,
    WORD_STARTS_FILE,
};
use super::rng::{sub_rng, Draw, Purpose};
use super::shard::{ShardWriter, TokenDtype};
use super::text::{read_text, split_documents, DocBoundary, TextEncoding};
use super::vocab::{PieceVocab, WordStarts};
use super::DataError;
use albert::fsio::write_atomic;

/// What to prepare and how.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareConfig {
    /// Corpus files (UTF-8 text, optionally gzip-compressed).
    pub inputs: Vec<PathBuf>,
    /// Output directory (created if missing).
    pub out_dir: PathBuf,
    /// Longest sequence the data is meant for (512); recorded for the model-size check.
    pub max_seq_length: usize,
    /// How documents are delimited.
    pub doc_boundary: DocBoundary,
    /// How bytes are decoded (UTF-8, falling back to Latin-1 per file).
    pub encoding: TextEncoding,
    /// Fraction of documents held out (0.05); at least one document when positive and there
    /// are two or more, never all of them.
    pub heldout_fraction: f64,
    /// Seed of the held-out choice (fixed default, so re-runs choose the same documents).
    pub heldout_seed: u64,
    /// Most tokens per shard (64 Mi).
    pub shard_tokens: u64,
    /// Identity of the tokenizer recorded in the manifest (e.g. the SHA-256 of its file), so a
    /// different tokenizer forces a rebuild.
    pub tokenizer_id: String,
}

impl PrepareConfig {
    /// Defaults for the given inputs, output directory and tokenizer identity.
    pub fn new(inputs: Vec<PathBuf>, out_dir: PathBuf, tokenizer_id: impl Into<String>) -> Self {
        PrepareConfig {
            inputs,
            out_dir,
            max_seq_length: 512,
            doc_boundary: DocBoundary::BlankLine,
            encoding: TextEncoding::Utf8OrLatin1,
            heldout_fraction: 0.05,
            heldout_seed: 20_240_601,
            shard_tokens: 64 << 20,
            tokenizer_id: tokenizer_id.into(),
        }
    }

    fn validate(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::InvalidConfig(m));
        if self.inputs.is_empty() {
            return bad("no corpus files given".into());
        }
        if self.max_seq_length < 5 {
            return bad(format!(
                "max_seq_length must be at least 5, got {}",
                self.max_seq_length
            ));
        }
        if !(0.0..1.0).contains(&self.heldout_fraction) {
            return bad(format!(
                "held-out fraction must lie in [0, 1), got {}",
                self.heldout_fraction
            ));
        }
        if self.shard_tokens == 0 {
            return bad("shard_tokens must be positive".into());
        }
        Ok(())
    }
}

/// The result of [`prepare_corpus`].
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOutcome {
    /// The manifest now in the output directory.
    pub manifest: Manifest,
    /// True when the directory already held this exact preparation and nothing was written.
    pub reused: bool,
}

/// Tokenizes corpus files into `cfg.out_dir`: shards for the training and held-out splits,
/// the word-start table and `manifest.json`, each written atomically (manifest last).
///
/// Documents are delimited as `cfg.doc_boundary` says and tokenized in parallel, sentence by
/// sentence. The held-out split is a deterministic, seeded choice of whole documents. When the
/// directory's manifest already records the same inputs (by SHA-256) and settings, and its files
/// are intact, nothing is done.
///
/// ```
/// use albert_train::data::{prepare_corpus, DocBoundary, PieceVocab, PrepareConfig, SpecialIds};
/// /// One id per whitespace-separated word: ids 5.. index a fixed word list.
/// struct Words(Vec<&'static str>);
/// impl PieceVocab for Words {
///     fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
///         text.split_whitespace()
///             .map(|w| self.0.iter().position(|v| *v == w).map(|i| i as u32 + 5).ok_or(format!("unknown {w}")))
///             .collect()
///     }
///     fn piece(&self, id: u32) -> Option<String> {
///         self.0.get((id as usize).checked_sub(5)?).map(|w| format!("▁{w}"))
///     }
///     fn vocab_size(&self) -> usize { self.0.len() + 5 }
///     fn special_ids(&self) -> SpecialIds { SpecialIds { pad: 0, cls: 2, sep: 3, mask: 4 } }
/// }
/// let dir = std::env::temp_dir().join(format!("albert-prepare-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("c.txt"), "A b. B a.\n\nB b.\n").unwrap();
/// let vocab = Words(vec!["A", "b.", "B", "a."]);
/// let mut cfg = PrepareConfig::new(vec![dir.join("c.txt")], dir.join("out"), "words-v1");
/// cfg.heldout_fraction = 0.0;
/// let first = prepare_corpus(&cfg, &vocab).unwrap();
/// assert_eq!((first.manifest.train.documents, first.manifest.train.sentences), (2, 3));
/// assert!(prepare_corpus(&cfg, &vocab).unwrap().reused);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn prepare_corpus(
    cfg: &PrepareConfig,
    vocab: &dyn PieceVocab,
) -> Result<PrepareOutcome, DataError> {
    cfg.validate()?;
    let special = vocab.special_ids();
    let vocab_size = vocab.vocab_size();
    if let Some(id) = [special.pad, special.cls, special.sep, special.mask]
        .into_iter()
        .find(|&i| i as usize >= vocab_size)
    {
        return Err(DataError::InvalidConfig(format!(
            "special id {id} is outside the vocabulary of {vocab_size}"
        )));
    }
    let mut inputs = cfg
        .inputs
        .iter()
        .map(|p| describe_input(p))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = PrepareSettings {
        max_seq_length: cfg.max_seq_length,
        doc_boundary: cfg.doc_boundary,
        encoding: cfg.encoding,
        heldout_fraction: cfg.heldout_fraction,
        heldout_seed: cfg.heldout_seed,
        shard_tokens: cfg.shard_tokens,
        tokenizer: cfg.tokenizer_id.clone(),
        vocab_size,
        special,
    };
    let dir = &cfg.out_dir;
    let previous = Manifest::load(dir).ok();
    if let Some(m) = &previous {
        let same_inputs = m.inputs.len() == inputs.len()
            && m.inputs.iter().zip(&inputs).all(|(a, b)| a.same_file(b));
        if same_inputs && m.settings == settings && files_intact(dir, m) {
            return Ok(PrepareOutcome {
                manifest: m.clone(),
                reused: true,
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;

    // Pass 1: count documents, so the held-out choice is made over the whole corpus.
    let read = |p: &PathBuf| read_text(p, cfg.encoding);
    let doc_counts = cfg
        .inputs
        .par_iter()
        .map(|p| read(p).map(|t| (split_documents(&t.text, cfg.doc_boundary).len(), t.latin1)))
        .collect::<Result<Vec<(usize, bool)>, DataError>>()?;
    for (input, &(_, latin1)) in inputs.iter_mut().zip(&doc_counts) {
        input.latin1 = latin1;
    }
    let total_docs: usize = doc_counts.iter().map(|(n, _)| n).sum();
    let heldout = choose_heldout(total_docs, cfg.heldout_fraction, cfg.heldout_seed);

    // Pass 2: tokenize file by file, documents in parallel, and route whole documents.
    let dtype = TokenDtype::for_vocab(vocab_size);
    let mut train = ShardWriter::new(dir, Split::Train.name(), dtype, cfg.shard_tokens);
    let mut held = ShardWriter::new(dir, Split::HeldOut.name(), dtype, cfg.shard_tokens);
    let mut doc_index = 0;
    for path in &cfg.inputs {
        let docs = split_documents(&read(path)?.text, cfg.doc_boundary);
        let tokenized = docs
            .par_iter()
            .map(|doc| {
                doc.sentences
                    .iter()
                    .map(|s| {
                        let ids = vocab.encode(s).map_err(|message| DataError::Tokenize {
                            path: path.clone(),
                            message,
                        })?;
                        match ids.iter().find(|&&id| id as usize >= vocab_size) {
                            Some(id) => Err(DataError::Tokenize {
                                path: path.clone(),
                                message: format!(
                                    "id {id} is outside the vocabulary of {vocab_size}"
                                ),
                            }),
                            None => Ok(ids),
                        }
                    })
                    .filter(|r| r.as_ref().map_or(true, |ids| !ids.is_empty()))
                    .collect::<Result<Vec<Vec<u32>>, DataError>>()
            })
            .collect::<Result<Vec<_>, DataError>>()?;
        for sentences in tokenized {
            let writer = if heldout.contains(&doc_index) {
                &mut held
            } else {
                &mut train
            };
            writer.push_document(&sentences)?;
            doc_index += 1;
        }
    }

    let word_starts_path = dir.join(WORD_STARTS_FILE);
    write_atomic(&word_starts_path, &WordStarts::from_vocab(vocab).to_bytes())
        .map_err(|e| DataError::io(&word_starts_path, e))?;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        inputs,
        settings,
        token_dtype: dtype,
        train: split_info(train.finish()?),
        heldout: split_info(held.finish()?),
    };
    let manifest_path = dir.join(MANIFEST_FILE);
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    write_atomic(&manifest_path, json.as_bytes()).map_err(|e| DataError::io(&manifest_path, e))?;
    if let Some(old) = previous {
        remove_stale(dir, &old, &manifest);
    }
    Ok(PrepareOutcome {
        manifest,
        reused: false,
    })
}

/// Path, size and SHA-256 of a corpus file.
fn describe_input(path: &Path) -> Result<InputFile, DataError> {
    let canonical = path.canonicalize().map_err(|e| DataError::io(path, e))?;
    let mut file = std::fs::File::open(&canonical).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(InputFile {
        path: canonical.to_string_lossy().into_owned(),
        bytes,
        sha256,
        latin1: false,
    })
}

/// Indices of the held-out documents: round(fraction × n) of a seeded shuffle, at least one when
/// the fraction is positive and n ≥ 2, and never all.
fn choose_heldout(n: usize, fraction: f64, seed: u64) -> BTreeSet<usize> {
    if fraction <= 0.0 || n < 2 {
        return BTreeSet::new();
    }
    let k = ((n as f64 * fraction).round() as usize).clamp(1, n - 1);
    let mut order: Vec<usize> = (0..n).collect();
    sub_rng(seed, Purpose::HeldOut, 0, 0).shuffle(&mut order);
    order.into_iter().take(k).collect()
}

fn split_info(shards: Vec<super::shard::ShardInfo>) -> SplitInfo {
    SplitInfo {
        documents: shards.iter().map(|s| s.documents).sum(),
        sentences: shards.iter().map(|s| s.sentences).sum(),
        tokens: shards.iter().map(|s| s.tokens).sum(),
        shards,
    }
}

/// All files of the manifest exist with the sizes it implies.
fn files_intact(dir: &Path, m: &Manifest) -> bool {
    let size = |name: &str| std::fs::metadata(dir.join(name)).map(|md| md.len()).ok();
    let shards_ok = [&m.train, &m.heldout]
        .iter()
        .flat_map(|s| &s.shards)
        .all(|s| {
            size(&s.tokens_file) == Some(s.tokens * m.token_dtype.width() as u64)
                && size(&s.index_file) == Some(8 * (4 + s.documents + 1 + s.sentences + 1))
        });
    shards_ok && size(WORD_STARTS_FILE) == Some(m.settings.vocab_size as u64)
}

/// Removes shard files an earlier preparation wrote that the new manifest no longer lists.
fn remove_stale(dir: &Path, old: &Manifest, new: &Manifest) {
    let names = |m: &Manifest| -> BTreeSet<String> {
        [&m.train, &m.heldout]
            .iter()
            .flat_map(|s| &s.shards)
            .flat_map(|s| [s.tokens_file.clone(), s.index_file.clone()])
            .collect()
    };
    // Only plain file names of our own pattern: a tampered manifest must not delete elsewhere.
    let ours = |n: &str| {
        (n.starts_with("train.") || n.starts_with("heldout."))
            && !n.contains(['/', '\\'])
            && !n.contains("..")
    };
    for stale in names(old).difference(&names(new)).filter(|n| ours(n)) {
        let _ = std::fs::remove_file(dir.join(stale));
    }
}
