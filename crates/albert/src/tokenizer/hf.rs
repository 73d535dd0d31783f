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

/// Reads every Precompiled normalizer in `normalizer` (nested sequences included) as the library will.
fn check_precompiled(normalizer: &serde_json::Value) -> Result<()> {
    match normalizer {
        serde_json::Value::Object(m) if m.get("type").is_some_and(|t| t == "Precompiled") => {
            // From text, as the library reads it (its charsmap is a borrowed string).
            serde_json::from_str::<tokenizers::normalizers::precompiled::Precompiled>(&normalizer.to_string())
                .map(drop)
                .map_err(|e| backend(format!("Precompiled normalizer: {e}")))
        }
        serde_json::Value::Object(m) => m.values().try_for_each(check_precompiled),
        serde_json::Value::Array(a) => a.iter().try_for_each(check_precompiled),
        _ => Ok(()),
    }
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
        // The tokenizers library panics on some malformed files instead of failing: a syntax error inside the
        // decoder, a Precompiled normalizer it cannot read. Parsing the JSON first, checking those normalizers and
        // building the tokenizer from the parsed value makes both errors.
        let value: serde_json::Value = serde_json::from_str(json).map_err(backend)?;
        if let Some(normalizer) = value.get("normalizer") {
            check_precompiled(normalizer)?;
        }
        let mut inner: Tokenizer = serde_json::from_value(value).map_err(backend)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs found by `fuzz/fuzz_targets/tokenizer_json.rs` on which the tokenizers library panicked.
    #[test]
    fn malformed_files_are_errors_not_panics() {
        for (json, says) in [
            // A syntax error inside the decoder object ("Helper" panic).
            (r#"{"decoder": {"type": "WordPiece" x}}"#, "expected"),
            // A Precompiled normalizer without its charsmap ("Precompiled" panic).
            (r#"{"normalizer": {"type": "Precompiled"}}"#, "Precompiled normalizer"),
            (r#"{"normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled", "precompiled_charsmap": 7}]}}"#, "Precompiled normalizer"),
        ] {
            match HfTokenizer::from_json(json) {
                Err(TokenizerError::Backend(m)) => assert!(m.contains(says), "{json}: {m}"),
                other => panic!("{json}: expected an error, got {other:?}"),
            }
        }
    }

    /// The checks above pass a real file, whose normalizer holds a Precompiled charsmap.
    #[test]
    fn a_file_with_a_precompiled_normalizer_loads() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pipelines/qa/tokenizer.json");
        let tok = HfTokenizer::from_file(Path::new(path)).unwrap();
        assert_eq!(tok.tokenize("Hello").unwrap()[0].token, "▁hello");
    }
}
