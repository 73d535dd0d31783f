//! Long texts tokenized a piece at a time. Both backends build several per-byte structures for the text they are
//! given (aligned characters, normalization maps, the Viterbi lattice; the `tokenizers` crate keeps alignments for
//! every normalizer step), which took 750 MB for a 5 MB line. A text longer than [`CHUNK_BYTES`] is cut where a
//! word starts after ASCII whitespace and the pieces are tokenized one after the other, so that those structures
//! stay the size of a piece; the tokens are the whole text's, since neither backend lets a token or a
//! normalization span whitespace (checked per tokenizer: [`AlbertTokenizer::cuts_at_whitespace`]).

use super::albert_spm::RawToken;
use super::encoding::assemble;
use super::error::Result;
use super::{AlbertTokenizer, EncodeOptions, Encoding, Inner, TruncationDirection, TruncationStrategy};

/// Texts longer than this are tokenized in pieces of about this many bytes.
pub(crate) const CHUNK_BYTES: usize = 1 << 16;

/// Pieces of `text` of at least `size` bytes (the last may be shorter), each but the first starting at a
/// non-whitespace character right after ASCII whitespace; each comes with the code points before it.
fn pieces(text: &str, size: usize) -> impl Iterator<Item = (&str, usize)> {
    let (mut rest, mut before) = (text, 0);
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let bytes = rest.as_bytes();
        // After an ASCII byte, `i` is a character boundary.
        let cut = (size.max(1)..bytes.len())
            .find(|&i| bytes[i - 1].is_ascii_whitespace() && !bytes[i].is_ascii_whitespace())
            .unwrap_or(bytes.len());
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        let at = before;
        before += piece.chars().count();
        Some((piece, at))
    })
}

impl AlbertTokenizer {
    /// Whether tokenizing a text piece by piece at whitespace gives the whole text's tokens: no SentencePiece
    /// piece holds `▁` past its start (so none spans a word boundary); for `tokenizer.json`, words are split at
    /// whitespace before anything else, every word gets its own `▁` (Metaspace `always`), and no normalizer
    /// pattern could match across a space.
    fn cuts_at_whitespace(&self) -> bool {
        match &self.inner {
            Inner::Spm(a) => !a.sp.proto.pieces.iter().any(|p| p.piece.chars().skip(1).any(|c| c == '\u{2581}')),
            Inner::Hf(h) => {
                let json = |v: Option<serde_json::Value>| v.unwrap_or_default();
                let pre = json(h.inner.get_pre_tokenizer().and_then(|p| serde_json::to_value(p).ok()));
                let norm = json(h.inner.get_normalizer().and_then(|n| serde_json::to_value(n).ok()));
                let steps = match pre.get("pretokenizers") {
                    Some(serde_json::Value::Array(steps)) => steps.clone(),
                    _ => vec![pre],
                };
                let splits_first = steps.first().is_some_and(|s| s["type"] == "WhitespaceSplit");
                let metaspace_always = steps.iter().all(|s| s["type"] != "Metaspace" || s["prepend_scheme"] == "always");
                splits_first && metaspace_always && !replaces_across_space(&norm)
            }
        }
    }

    /// Tokenizes `text` (see [`AlbertTokenizer::tokenize`]), piece by piece when it is longer than `size` bytes
    /// and the tokenizer allows it, stopping after the piece that brings the tokens to `limit` or more.
    pub(crate) fn tokenize_long(&self, text: &str, size: usize, limit: usize) -> Result<Vec<RawToken>> {
        if text.len() <= size || !self.cuts_at_whitespace() {
            return self.tokenize_piece(text);
        }
        let mut tokens = Vec::new();
        for (piece, before) in pieces(text, size) {
            if tokens.len() >= limit {
                break;
            }
            tokens.extend(self.tokenize_piece(piece)?.into_iter().map(|mut t| {
                t.offsets = (t.offsets.0 + before, t.offsets.1 + before);
                t
            }));
        }
        Ok(tokens)
    }

    /// Encodes one text as [`AlbertTokenizer::encode`] does with [`TruncationStrategy::LongestFirst`] truncation
    /// to `max_length` tokens (special tokens included), without the overflowing windows, and says whether
    /// tokens were dropped. A long text is tokenized only as far as the kept tokens reach: a 5 MB line costs
    /// what its first piece does.
    pub fn encode_truncated(&self, text: &str, max_length: usize) -> Result<(Encoding, bool)> {
        self.encode_truncated_from(text, max_length, TruncationDirection::Right)
    }

    /// [`AlbertTokenizer::encode_truncated`] cutting from `direction`'s end: from the left, the whole text is
    /// tokenized (its end is what is kept).
    pub fn encode_truncated_from(&self, text: &str, max_length: usize, direction: TruncationDirection) -> Result<(Encoding, bool)> {
        // One token past the kept ones tells that the text was cut.
        let limit = match direction {
            TruncationDirection::Right => max_length.saturating_sub(2) + 1,
            TruncationDirection::Left => usize::MAX,
        };
        let tokens = self.tokenize_long(text, CHUNK_BYTES, limit)?;
        let opts = EncodeOptions::truncating_from(max_length, TruncationStrategy::LongestFirst, direction);
        let mut encoding = assemble(tokens, None, &opts, &self.specials)?;
        let truncated = !std::mem::take(&mut encoding.overflowing).is_empty();
        Ok((encoding, truncated))
    }
}

/// Whether a normalizer holds a pattern that could match whitespace (a regex, or a string with whitespace).
fn replaces_across_space(normalizer: &serde_json::Value) -> bool {
    match normalizer {
        serde_json::Value::Object(m) => {
            let pattern = m.get("pattern");
            pattern.is_some_and(|p| p.get("Regex").is_some() || p["String"].as_str().is_some_and(|s| s.chars().any(char::is_whitespace)))
                || m.values().any(replaces_across_space)
        }
        serde_json::Value::Array(a) => a.iter().any(replaces_across_space),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn pieces_start_at_words_and_count_code_points() {
        let got: Vec<(&str, usize)> = pieces("ab cd  éf\tgh", 3).collect();
        assert_eq!(got, [("ab ", 0), ("cd  ", 3), ("éf\t", 7), ("gh", 10)]);
        assert_eq!(pieces("abcdef", 2).collect::<Vec<_>>(), [("abcdef", 0)]);
        assert_eq!(pieces("", 2).count(), 0);
    }

    /// Hard cases at every cut: accents, final sigma, quotes the normalizers merge, digit-comma pieces, [MASK]
    /// (which strips the space on its left), unknown characters, tabs, newlines and non-ASCII spaces, repeated
    /// spaces; tokenized whole and in pieces of 7 to 64 bytes by the pipeline fixtures' tokenizer.json, ALBERT's
    /// spiece.model (../shared/data, required under CI as by the parity tests) and a small vocabulary.
    #[test]
    fn pieces_give_the_whole_texts_tokens() {
        let text = "Falsé ΟΔΟΣ Σ ``quoted'' text, 9,000 cafés; [MASK] and  [MASK]\tnext\nline \u{3000}wide ☃ 𝔘 \
                    naïve CAFÉ   ok.  I was born in 92000, and this is falsé. "
            .repeat(20);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut tokenizers = vec![
            AlbertTokenizer::from_path(root.join("tests/fixtures/pipelines/pretraining")).unwrap(),
            AlbertTokenizer::from_vocab(&[("▁9,", -1.0), ("▁9", -2.0), ("9", -3.0), (",", -3.0), ("▁a", -1.0), ("▁", -5.0)]).unwrap(),
        ];
        if let Some(spiece) = albert_testkit::shared_data("spm/spiece.model") {
            tokenizers.push(AlbertTokenizer::from_path(&spiece).unwrap());
        }
        for tok in &tokenizers {
            assert!(tok.cuts_at_whitespace(), "{:?}", tok.backend());
            let whole = tok.tokenize_long(&text, usize::MAX, usize::MAX).unwrap();
            for size in [7, 13, 64] {
                assert_eq!(tok.tokenize_long(&text, size, usize::MAX).unwrap(), whole, "{:?} in pieces of {size}", tok.backend());
            }
        }
    }

    /// A long text truncated by [`AlbertTokenizer::encode_truncated`] (tokenizing only its first piece) is
    /// encoded as `encode` with truncation encodes it (tokenizing all of it).
    #[test]
    fn truncating_a_long_text_reads_only_what_it_keeps() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let tok = AlbertTokenizer::from_path(root.join("tests/fixtures/pipelines/pretraining")).unwrap();
        let text = "The café opened in 1901 with 9,000 books. ".repeat(CHUNK_BYTES / 20);
        for max_length in [3, 16, 512] {
            let opts = EncodeOptions::truncating(max_length, TruncationStrategy::LongestFirst);
            let mut want = tok.encode(&text, None, &opts).unwrap();
            assert!(!std::mem::take(&mut want.overflowing).is_empty());
            assert_eq!(tok.encode_truncated(&text, max_length).unwrap(), (want, true));
        }
        let short = tok.encode("A short text.", None, &EncodeOptions::default()).unwrap();
        assert_eq!(tok.encode_truncated("A short text.", 512).unwrap(), (short, false));
    }
}
