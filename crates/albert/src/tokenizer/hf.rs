//! The `tokenizer.json` path: a Hugging Face tokenizer run by the `tokenizers` crate, which is
//! what transformers' (tokenizers-backed) `AlbertTokenizer` runs.

use std::path::Path;

use tokenizers::{Decoder, Tokenizer};

use super::albert_spm::RawToken;
use super::error::{Result, TokenizerError};

/// A `tokenizer.json` tokenizer, with its own truncation and padding turned off (ours apply).
#[derive(Clone, Debug)]
pub struct HfTokenizer {
    pub(crate) inner: Tokenizer,
}

fn backend(e: impl std::fmt::Display) -> TokenizerError {
    TokenizerError::Backend(e.to_string())
}

impl HfTokenizer {
    /// Loads a `tokenizer.json` file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TokenizerError::io(path, e))?;
        Self::from_json(&text).map_err(|e| match e {
            TokenizerError::Backend(m) => TokenizerError::InvalidJson {
                path: path.into(),
                message: m,
            },
            e => e,
        })
    }

    /// Parses `tokenizer.json` content.
    pub fn from_json(json: &str) -> Result<Self> {
        let mut inner: Tokenizer = json.parse().map_err(backend)?;
        inner.with_truncation(None).map_err(backend)?;
        inner.with_padding(None);
        Ok(Self { inner })
    }

    /// The settings its normalizer applies: `do_lower_case` when it lowercases, `keep_accents`
    /// unless it strips accents. Written to `tokenizer_config.json` on save, so transformers (which
    /// obeys that file's `do_lower_case` over tokenizer.json) tokenizes as this file does.
    pub fn settings(&self) -> super::TokenizerConfig {
        fn has(v: &serde_json::Value, kind: &str) -> bool {
            match v {
                serde_json::Value::Object(m) => {
                    m.get("type").is_some_and(|t| t == kind) || m.values().any(|x| has(x, kind))
                }
                serde_json::Value::Array(a) => a.iter().any(|x| has(x, kind)),
                _ => false,
            }
        }
        let n = self
            .inner
            .get_normalizer()
            .and_then(|n| serde_json::to_value(n).ok())
            .unwrap_or_default();
        super::TokenizerConfig {
            do_lower_case: has(&n, "Lowercase"),
            keep_accents: !has(&n, "StripAccents"),
        }
    }

    /// Tokenizes one text without post-processing; offsets are code points.
    pub fn tokenize(&self, text: &str) -> Result<Vec<RawToken>> {
        let e = self
            .inner
            .encode_char_offsets(text, false)
            .map_err(backend)?;
        Ok(e.get_ids()
            .iter()
            .zip(e.get_tokens())
            .zip(e.get_offsets())
            .map(|((&id, t), &offsets)| RawToken {
                id,
                token: t.clone(),
                offsets,
            })
            .collect())
    }

    /// Decodes with the tokenizer's decoder.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        self.inner.decode(ids, skip_special_tokens).map_err(backend)
    }

    /// Runs the decoder on token strings (their concatenation when there is none).
    pub fn tokens_to_string<S: AsRef<str>>(&self, tokens: &[S]) -> Result<String> {
        let tokens: Vec<String> = tokens.iter().map(|t| t.as_ref().to_string()).collect();
        match self.inner.get_decoder() {
            Some(d) => d.decode(tokens).map_err(backend),
            None => Ok(tokens.concat()),
        }
    }
}
