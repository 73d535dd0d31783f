//! The ALBERT tokenizer.
//!
//! Two paths, each faithful to its own reference:
//!
//! * **`spiece.model`** (SentencePiece): ALBERT's original tokenization, as the original (slow)
//!   tokenizer did it on top of the sentencepiece library. The model's protobuf, precompiled
//!   normalization (a double-array trie), unigram Viterbi and BPE segmentation are implemented
//!   here; nothing calls sentencepiece.
//! * **`tokenizer.json`** (Hugging Face): run by the `tokenizers` crate, as transformers 5's
//!   tokenizers-backed `AlbertTokenizer` does.
//!
//! The two paths disagree on some texts (tabs, digit groups, URLs, user-defined symbols); see
//! `tests/fixtures/tokenizer/README.md` for the documented differences.
//!
//! ```
//! use albert::tokenizer::{AlbertTokenizer, EncodeOptions};
//!
//! // A tiny unigram model built in code; real code loads a file or checkpoint directory
//! // with `AlbertTokenizer::from_path`.
//! let tok = AlbertTokenizer::from_vocab(
//!     &[("▁hello", -1.0), ("▁world", -1.5), ("▁", -2.0), ("h", -3.0), ("e", -3.0), ("l", -3.0),
//!       ("o", -3.0), ("w", -3.0), ("r", -3.0), ("d", -3.0), (",", -3.0), ("9", -3.0)],
//! )?;
//! let enc = tok.encode("Hello  World", None, &EncodeOptions::default())?;
//! assert_eq!(enc.tokens, ["[CLS]", "▁hello", "▁world", "[SEP]"]);
//! assert_eq!(enc.offsets, [(0, 0), (0, 5), (7, 12), (0, 0)]);
//! assert_eq!(tok.decode(&enc.ids, true)?, "hello world");
//! # Ok::<(), albert::tokenizer::TokenizerError>(())
//! ```

mod albert_spm;
mod charsmap;
mod convert;
mod encoding;
mod error;
mod hf;
mod long_text;
mod preprocess;
mod proto;
mod py_unicode;
mod spm;
mod train;
mod trie;

use std::path::Path;

use rayon::prelude::*;

pub use encoding::{EncodeOptions, Encoding, Padding, PairWindows, Truncation, TruncationDirection, TruncationStrategy};
pub use error::{Result, TokenizerError};
pub use proto::{ModelProto, ModelType, Piece, PieceType};
pub use train::{train_unigram, TrainOptions};

use albert_spm::{AlbertSpm, RawToken};
use encoding::{Special, Specials};
use hf::HfTokenizer;
use spm::SentencePiece;

/// The files of a tokenizer in a checkpoint directory.
pub const SPIECE_FILE: &str = "spiece.model";
/// Hugging Face's serialized tokenizer.
pub const TOKENIZER_JSON: &str = "tokenizer.json";
/// transformers' tokenizer settings (`do_lower_case`, `keep_accents`, ...).
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";

/// Which implementation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// ALBERT's original tokenization over a `spiece.model`.
    SentencePiece,
    /// A `tokenizer.json` run by the `tokenizers` crate.
    HuggingFace,
}

/// Settings read from `tokenizer_config.json` (ALBERT's defaults when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenizerConfig {
    /// Lowercase the text (ALBERT default: true).
    pub do_lower_case: bool,
    /// Keep accents instead of NFKD + stripping combining marks (default: false).
    pub keep_accents: bool,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        Self {
            do_lower_case: true,
            keep_accents: false,
        }
    }
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json`; missing keys keep ALBERT's defaults.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::io(path, e))?;
        let bad = |message: String| TokenizerError::InvalidJson {
            path: path.into(),
            message,
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut c = Self::default();
        for (key, slot) in [
            ("do_lower_case", &mut c.do_lower_case),
            ("keep_accents", &mut c.keep_accents),
        ] {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::Bool(b)) => *slot = *b,
                Some(other) => {
                    return Err(bad(format!("{key} must be true or false, not {other}")))
                }
            }
        }
        Ok(c)
    }
}

#[derive(Clone, Debug)]
enum Inner {
    Spm(Box<AlbertSpm>),
    Hf(Box<HfTokenizer>),
}

/// An ALBERT tokenizer over either backend; cheap to share across threads.
#[derive(Clone, Debug)]
pub struct AlbertTokenizer {
    inner: Inner,
    specials: Specials,
    config: TokenizerConfig,
    /// Piece strings by id.
    pieces: Vec<String>,
    /// The `spiece.model` as loaded, written back verbatim by `save`.
    spm_bytes: Option<std::sync::Arc<Vec<u8>>>,
}

impl AlbertTokenizer {
    /// Loads a `spiece.model`, a `tokenizer.json`, or a checkpoint directory holding either
    /// (`tokenizer.json` is preferred when both exist, as transformers does). The
    /// `tokenizer_config.json` beside a `spiece.model` sets `do_lower_case`/`keep_accents`, so a
    /// cased vocabulary named by its file is not lowercased.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            let json = path.join(TOKENIZER_JSON);
            if json.is_file() {
                return Self::from_tokenizer_json(&json);
            }
            return Self::from_dir_with(path, Backend::SentencePiece);
        }
        if !path.is_file() {
            return Err(TokenizerError::NotFound(path.into()));
        }
        if path.extension().is_some_and(|e| e == "json") {
            Self::from_tokenizer_json(path)
        } else {
            Self::from_spm_file(path, Self::config_beside(path)?)
        }
    }

    /// The settings of the `tokenizer_config.json` in `path`'s folder, ALBERT's defaults without one.
    fn config_beside(path: &Path) -> Result<TokenizerConfig> {
        match path.parent().map(|d| d.join(TOKENIZER_CONFIG)) {
            Some(cfg) if cfg.is_file() => TokenizerConfig::from_file(&cfg),
            _ => Ok(TokenizerConfig::default()),
        }
    }

    /// Loads a checkpoint directory with the chosen backend.
    pub fn from_dir_with(dir: &Path, backend: Backend) -> Result<Self> {
        match backend {
            Backend::HuggingFace => Self::from_tokenizer_json(&dir.join(TOKENIZER_JSON)),
            Backend::SentencePiece => {
                let model = dir.join(SPIECE_FILE);
                if !model.is_file() {
                    return Err(TokenizerError::NotFound(dir.into()));
                }
                Self::from_spm_file(&model, Self::config_beside(&model)?)
            }
        }
    }

    /// Loads a `spiece.model` with explicit settings.
    pub fn from_spm_file(path: &Path, config: TokenizerConfig) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| TokenizerError::io(path, e))?;
        Self::from_spm_bytes(&bytes, config).map_err(|e| match e {
            TokenizerError::InvalidModel(m) => {
                TokenizerError::InvalidModel(format!("{}: {m}", path.display()))
            }
            e => e,
        })
    }

    /// Loads a serialized SentencePiece `ModelProto`.
    pub fn from_spm_bytes(bytes: &[u8], config: TokenizerConfig) -> Result<Self> {
        let mut tok = Self::from_model_proto(ModelProto::parse(bytes)?, config)?;
        tok.spm_bytes = Some(std::sync::Arc::new(bytes.to_vec()));
        Ok(tok)
    }

    /// Wraps a SentencePiece model.
    pub fn from_model_proto(proto: ModelProto, config: TokenizerConfig) -> Result<Self> {
        let sp = SentencePiece::new(proto)?;
        let pieces: Vec<String> = sp.proto.pieces.iter().map(|p| p.piece.clone()).collect();
        let specials = specials(|t| {
            sp.proto
                .pieces
                .iter()
                .position(|p| p.piece == t && p.kind != PieceType::Normal)
                .map(|i| i as u32)
        });
        let inner = Inner::Spm(Box::new(AlbertSpm::new(
            sp,
            config.do_lower_case,
            config.keep_accents,
        )));
        Ok(Self {
            inner,
            specials,
            config,
            pieces,
            spm_bytes: None,
        })
    }

    /// A unigram model from `(piece, log-probability)` pairs, after ALBERT's five special tokens
    /// (`<pad>` 0, `<unk>` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4), with identity normalization.
    pub fn from_vocab(vocab: &[(&str, f32)]) -> Result<Self> {
        let owned: Vec<(String, f32)> = vocab.iter().map(|&(p, s)| (p.to_string(), s)).collect();
        Self::from_model_proto(
            train::albert_model_proto(&owned, Vec::new()),
            TokenizerConfig::default(),
        )
    }

    /// Loads a `tokenizer.json`.
    pub fn from_tokenizer_json(path: &Path) -> Result<Self> {
        let hf = HfTokenizer::from_file(path)?;
        let n = hf.inner.get_vocab_size(true);
        let pieces = (0..n as u32)
            .map(|i| hf.inner.id_to_token(i).unwrap_or_default())
            .collect();
        let specials = specials(|t| hf.inner.token_to_id(t));
        let config = hf.settings();
        Ok(Self {
            inner: Inner::Hf(Box::new(hf)),
            specials,
            config,
            pieces,
            spm_bytes: None,
        })
    }

    /// Which implementation runs.
    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Spm(_) => Backend::SentencePiece,
            Inner::Hf(_) => Backend::HuggingFace,
        }
    }

    /// The settings it runs with (whether it lowercases, keeps accents).
    pub fn config(&self) -> TokenizerConfig {
        self.config
    }

    /// The number of ids.
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The id of a token (piece string), if in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        match &self.inner {
            Inner::Spm(a) => {
                let id = a.sp.piece_to_id(token);
                (id != a.sp.unk_id() || token == self.pieces[id as usize]).then_some(id)
            }
            Inner::Hf(h) => h.inner.token_to_id(token),
        }
    }

    /// The token (piece string) of an id. Pieces starting with `▁` begin a word.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// Whether the piece of `id` starts a word (begins with `▁`), as whole-word masking needs.
    pub fn is_word_start(&self, id: u32) -> bool {
        self.id_to_token(id)
            .is_some_and(|p| p.starts_with('\u{2581}'))
    }

    /// Tokenizes one text into tokens with offsets, without special tokens or truncation.
    /// Token strings are the vocabulary's (`<unk>` rather than the unknown text), as
    /// transformers' `convert_ids_to_tokens` gives them. A long text goes piece by piece (see
    /// [`long_text`]).
    fn tokenize(&self, text: &str) -> Result<Vec<RawToken>> {
        self.tokenize_long(text, long_text::CHUNK_BYTES, usize::MAX)
    }

    /// [`AlbertTokenizer::tokenize`] in one go.
    fn tokenize_piece(&self, text: &str) -> Result<Vec<RawToken>> {
        let mut tokens = match &self.inner {
            Inner::Spm(a) => a.tokenize(text),
            Inner::Hf(h) => h.tokenize(text)?,
        };
        for t in &mut tokens {
            if let Some(p) = self.pieces.get(t.id as usize) {
                if *p != t.token {
                    t.token.clone_from(p);
                }
            }
        }
        Ok(tokens)
    }

    /// Encodes a text or a pair into model inputs.
    ///
    /// With truncation, windows of the truncated sequence overlap by `stride` tokens and come back
    /// in `overflowing`, as transformers' `return_overflowing_tokens` gives them (question
    /// answering uses `OnlySecond`):
    ///
    /// ```
    /// use albert::tokenizer::{AlbertTokenizer, EncodeOptions, Truncation, TruncationDirection, TruncationStrategy};
    ///
    /// let tok = AlbertTokenizer::from_vocab(&[("▁q", -1.0), ("▁a", -1.0), ("▁b", -1.0), ("▁c", -1.0)])?;
    /// let opts = EncodeOptions {
    ///     truncation: Some(Truncation {
    ///         max_length: 6,
    ///         stride: 1,
    ///         strategy: TruncationStrategy::OnlySecond,
    ///         direction: TruncationDirection::Right,
    ///     }),
    ///     ..Default::default()
    /// };
    /// let enc = tok.encode("q", Some("a b c a"), &opts)?;
    /// assert_eq!(enc.tokens, ["[CLS]", "▁q", "[SEP]", "▁a", "▁b", "[SEP]"]);
    /// assert_eq!(enc.type_ids, [0, 0, 0, 1, 1, 1]);
    /// assert_eq!(enc.offsets[4], (2, 3)); // code points in the second text
    /// let windows: Vec<_> = enc.overflowing.iter().map(|w| w.tokens[3..5].to_vec()).collect();
    /// assert_eq!(windows, [["▁b", "▁c"], ["▁c", "▁a"]]);
    /// # Ok::<(), albert::tokenizer::TokenizerError>(())
    /// ```
    pub fn encode(&self, text: &str, pair: Option<&str>, opts: &EncodeOptions) -> Result<Encoding> {
        let a = self.tokenize(text)?;
        let b = pair.map(|p| self.tokenize(p)).transpose()?;
        encoding::assemble(a, b, opts, &self.specials)
    }

    /// Encodes many inputs in parallel; `Padding::Longest` pads to the batch's longest.
    pub fn encode_batch<S: AsRef<str> + Sync>(
        &self,
        inputs: &[(S, Option<S>)],
        opts: &EncodeOptions,
    ) -> Result<Vec<Encoding>> {
        let single = EncodeOptions {
            padding: Padding::None,
            pad_to_multiple_of: None,
            ..*opts
        };
        let mut out = inputs
            .par_iter()
            .map(|(a, b)| self.encode(a.as_ref(), b.as_ref().map(AsRef::as_ref), &single))
            .collect::<Result<Vec<_>>>()?;
        encoding::pad_batch(&mut out, opts, &self.specials)?;
        Ok(out)
    }

    /// Turns ids back into text. On the `spiece.model` path this is the original tokenizer's
    /// `convert_tokens_to_string` (special tokens kept verbatim unless skipped, no clean-up of
    /// spaces); on the `tokenizer.json` path it is the tokenizer's decoder.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.pieces.len()) {
            return Err(TokenizerError::IdOutOfRange {
                id,
                vocab_size: self.pieces.len(),
            });
        }
        let a = match &self.inner {
            Inner::Hf(h) => return h.decode(ids, skip_special_tokens),
            Inner::Spm(a) => a,
        };
        let special = |id: u32| a.specials.iter().any(|s| s.id == id);
        let (mut out, mut run, mut prev_special) = (String::new(), Vec::new(), false);
        for &id in ids {
            let tok = &self.pieces[id as usize];
            if special(id) {
                if skip_special_tokens {
                    continue;
                }
                if !prev_special {
                    out.push(' ');
                }
                out.push_str(&a.sp.decode_pieces(&run));
                out.push_str(tok);
                run.clear();
                prev_special = true;
            } else {
                run.push(tok.as_str());
                prev_special = false;
            }
        }
        out.push_str(&a.sp.decode_pieces(&run));
        Ok(out.trim().to_string())
    }

    /// Joins token strings into text as transformers' `convert_tokens_to_string` does: the
    /// `tokenizer.json` decoder, or SentencePiece's piece decoding on the `spiece.model` path.
    /// Tokens need not be in the vocabulary (pipelines put the original text in place of `<unk>`).
    pub fn tokens_to_string<S: AsRef<str>>(&self, tokens: &[S]) -> Result<String> {
        match &self.inner {
            Inner::Spm(a) => Ok(a.sp.decode_pieces(tokens)),
            Inner::Hf(h) => h.tokens_to_string(tokens),
        }
    }

    /// Writes `spiece.model` (SentencePiece backend only), `tokenizer.json` and
    /// `tokenizer_config.json` into `dir`, each atomically. The tokenizer.json is what
    /// transformers' `AlbertTokenizer` builds from the same spiece.model.
    ///
    /// ```
    /// use albert::tokenizer::{AlbertTokenizer, Backend, EncodeOptions};
    ///
    /// let tok = AlbertTokenizer::from_vocab(&[("▁hello", -1.0), ("▁world", -1.5)])?;
    /// let dir = std::env::temp_dir().join(format!("albert-doc-save-{}", std::process::id()));
    /// tok.save(&dir)?;
    /// let hf = AlbertTokenizer::from_path(&dir)?; // tokenizer.json wins in a directory
    /// assert_eq!(hf.backend(), Backend::HuggingFace);
    /// let spm = AlbertTokenizer::from_dir_with(&dir, Backend::SentencePiece)?;
    /// let opts = EncodeOptions::default();
    /// assert_eq!(hf.encode("Hello world", None, &opts)?.ids, spm.encode("Hello world", None, &opts)?.ids);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), albert::tokenizer::TokenizerError>(())
    /// ```
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TokenizerError::io(dir, e))?;
        let cfg = convert::tokenizer_config(self.config.do_lower_case, self.config.keep_accents);
        match &self.inner {
            Inner::Spm(a) => {
                let bytes = self
                    .spm_bytes
                    .as_ref()
                    .map_or_else(|| a.sp.proto.to_bytes(), |b| b.to_vec());
                write_atomic(&dir.join(SPIECE_FILE), &bytes)?;
                let json = convert::tokenizer_json(
                    &a.sp.proto,
                    self.config.do_lower_case,
                    self.config.keep_accents,
                );
                write_atomic(&dir.join(TOKENIZER_JSON), &to_json_bytes(&json))?;
            }
            Inner::Hf(h) => {
                let json = h
                    .inner
                    .to_string(true)
                    .map_err(|e| TokenizerError::Backend(e.to_string()))?;
                write_atomic(&dir.join(TOKENIZER_JSON), json.as_bytes())?;
            }
        }
        write_atomic(&dir.join(TOKENIZER_CONFIG), &to_json_bytes(&cfg))
    }
}

fn specials(lookup: impl Fn(&str) -> Option<u32>) -> Specials {
    let get = |t: &str| {
        lookup(t).map(|id| Special {
            id,
            token: t.to_string(),
        })
    };
    Specials {
        cls: get("[CLS]"),
        sep: get("[SEP]"),
        pad: get("<pad>"),
    }
}

fn to_json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).expect("JSON values serialize");
    s.push('\n');
    s.into_bytes()
}

/// [`crate::fsio::write_atomic`] with the path in the error.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsio::write_atomic(path, bytes).map_err(|e| TokenizerError::io(path, e))
}
