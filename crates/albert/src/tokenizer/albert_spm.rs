//! ALBERT's original tokenization on top of a SentencePiece model, as transformers' slow
//! `AlbertTokenizer` did it: special tokens written in the text are split out first (`[MASK]`
//! strips the whitespace on its left), the rest is lowercased character by character, then each
//! piece of text goes through `preprocess_text`, SentencePiece, and the digit-comma re-split
//! (`"9,"` → `"9"`, `","`).

use super::preprocess::{is_py_whitespace, lower_chars, preprocess, Aligned};
use super::proto::PieceType;
use super::py_unicode::{in_table, PY_DIGIT};
use super::spm::SentencePiece;

/// A token before post-processing: id, string and code-point offsets into its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawToken {
    /// Vocabulary id.
    pub id: u32,
    /// The token string (the vocabulary's; `<unk>` for unknown text).
    pub token: String,
    /// Half-open code-point range in the input text.
    pub offsets: (usize, usize),
}

/// A special token recognized in text.
#[derive(Clone, Debug)]
pub struct SpecialToken {
    /// Its text.
    pub content: String,
    /// Its id.
    pub id: u32,
    /// Whether it swallows the whitespace on its left (HF `AddedToken.lstrip`).
    pub lstrip: bool,
    /// `content` as characters (never empty: SentencePiece pieces are not).
    chars: Vec<char>,
}

/// ALBERT's slow-tokenizer pipeline over a SentencePiece model.
#[derive(Clone, Debug)]
pub struct AlbertSpm {
    /// The SentencePiece model.
    pub sp: SentencePiece,
    /// Lowercase the text.
    pub do_lower_case: bool,
    /// Keep accents (skip NFKD and accent stripping).
    pub keep_accents: bool,
    /// Special tokens recognized in text: the model's control and unknown pieces.
    pub specials: Vec<SpecialToken>,
}

impl AlbertSpm {
    /// Wraps a model; its CONTROL and UNKNOWN pieces become the special tokens (`[MASK]` with lstrip).
    pub fn new(sp: SentencePiece, do_lower_case: bool, keep_accents: bool) -> Self {
        let specials = sp
            .proto
            .pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.kind, PieceType::Control | PieceType::Unknown))
            .map(|(i, p)| SpecialToken {
                content: p.piece.clone(),
                id: i as u32,
                lstrip: p.piece == "[MASK]",
                chars: p.piece.chars().collect(),
            })
            .collect();
        Self {
            sp,
            do_lower_case,
            keep_accents,
            specials,
        }
    }

    /// The special token starting at `text[i..]`, if any (the first listed wins, as in the
    /// reference's regex alternation; ALBERT's special tokens never overlap).
    fn special_at(&self, text: &[Aligned], i: usize) -> Option<&SpecialToken> {
        let first = text[i].ch;
        self.specials.iter().find(|s| {
            s.chars[0] == first
                && i + s.chars.len() <= text.len()
                && s.chars.iter().zip(&text[i..]).all(|(&c, a)| c == a.ch)
        })
    }

    /// Tokenizes `text` without adding [CLS]/[SEP].
    pub fn tokenize(&self, text: &str) -> Vec<RawToken> {
        let mut chars = Aligned::chars_of(text);
        if self.do_lower_case {
            chars = self.lower_outside_specials(&chars);
        }
        // Split into text segments and special tokens, tokenizing the segments as they end.
        let mut out = Vec::new();
        let mut seg: Vec<Aligned> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let Some(s) = self.special_at(&chars, i) else {
                seg.push(chars[i]);
                i += 1;
                continue;
            };
            if s.lstrip {
                while seg.last().is_some_and(|a| is_py_whitespace(a.ch)) {
                    seg.pop();
                }
            }
            if !seg.is_empty() {
                self.tokenize_segment(&seg, &mut out);
                seg.clear();
            }
            let n = s.chars.len();
            let offsets = (chars[i].start, chars[i + n - 1].end);
            out.push(RawToken {
                id: s.id,
                token: s.content.clone(),
                offsets,
            });
            i += n;
        }
        if !seg.is_empty() {
            self.tokenize_segment(&seg, &mut out);
        }
        out
    }

    /// The reference's pre-pass: `re.sub("(special|...)|(.+?)", ...)` lowercases every character
    /// outside special tokens (newlines are left alone, which lowercasing would not change).
    fn lower_outside_specials(&self, chars: &[Aligned]) -> Vec<Aligned> {
        let mut out = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            if let Some(s) = self.special_at(chars, i) {
                let n = s.chars.len();
                out.extend_from_slice(&chars[i..i + n]);
                i += n;
            } else {
                out.extend(lower_chars(&chars[i..i + 1]));
                i += 1;
            }
        }
        out
    }

    /// `_tokenize`: preprocess, SentencePiece, digit-comma re-split.
    fn tokenize_segment(&self, seg: &[Aligned], out: &mut Vec<RawToken>) {
        let p = preprocess(seg, self.do_lower_case, self.keep_accents);
        let text: String = p.iter().map(|a| a.ch).collect();
        // Byte offset in `text` -> index into `p`.
        let mut char_at = vec![0usize; text.len() + 1];
        for (k, (b, ch)) in text.char_indices().enumerate() {
            char_at[b..b + ch.len_utf8()].fill(k);
        }
        char_at[text.len()] = p.len();
        let span = |a: usize, b: usize| -> (usize, usize) {
            if a < b {
                (p[char_at[a]].start, p[char_at[b - 1]].end)
            } else {
                let at = p
                    .get(char_at[a])
                    .map_or_else(|| p.last().map_or(0, |x| x.end), |x| x.start);
                (at, at)
            }
        };
        for piece in self.sp.encode(&text) {
            let s = self.sp.piece_text(&piece);
            let mut rev = s.chars().rev();
            if rev.next() == Some(',') && rev.next().is_some_and(|c| in_table(PY_DIGIT, c)) {
                self.split_digit_comma(s, piece.source, &text, &span, out);
            } else {
                out.push(RawToken {
                    id: piece.id,
                    token: self.sp.proto.pieces[piece.id as usize].piece.clone(),
                    offsets: span(piece.source.0, piece.source.1),
                });
            }
        }
    }

    /// The original tokenizer's rule for pieces like `▁9,`: re-encode the part before the comma
    /// without `▁`, keep the word-start marker only if the piece had one, then append `,`.
    fn split_digit_comma(
        &self,
        piece: &str,
        source: (usize, usize),
        text: &str,
        span: &dyn Fn(usize, usize) -> (usize, usize),
        out: &mut Vec<RawToken>,
    ) {
        let body = &piece[..piece.len() - 1];
        let stripped = body.replace('\u{2581}', "");
        let mut cur: Vec<(String, (usize, usize))> = self
            .sp
            .encode(&stripped)
            .into_iter()
            .map(|p| (self.sp.piece_text(&p).to_string(), p.source))
            .collect();
        if !piece.starts_with('\u{2581}')
            && cur.first().is_some_and(|(p, _)| p.starts_with('\u{2581}'))
        {
            if cur[0].0.chars().count() == 1 {
                cur.remove(0);
            } else {
                cur[0].0.remove(0);
            }
        }
        // Sub-piece sources are byte ranges of `stripped`; they map onto the piece's source text
        // exactly when normalization left the piece unchanged (digits and ASCII always are).
        let src = &text[source.0..source.1];
        let exact = src.strip_suffix(',').is_some_and(|s| s == stripped);
        for (p, (a, b)) in cur {
            let offsets = if exact {
                span(source.0 + a, source.0 + b)
            } else {
                span(source.0, source.1)
            };
            let id = self.sp.piece_to_id(&p);
            out.push(RawToken {
                id,
                token: self.sp.proto.pieces[id as usize].piece.clone(),
                offsets,
            });
        }
        let comma = if exact {
            span(source.1 - 1, source.1)
        } else {
            span(source.0, source.1)
        };
        let id = self.sp.piece_to_id(",");
        out.push(RawToken {
            id,
            token: self.sp.proto.pieces[id as usize].piece.clone(),
            offsets: comma,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::tokenizer::{AlbertTokenizer, EncodeOptions};

    // Hand-derived: with "▁9," in the vocabulary SentencePiece picks it, and the digit-comma rule
    // re-encodes "9" (which the re-encoding prefixes with "▁", kept because the piece had it) and
    // appends ",". Inside a word ("a9,") the re-encoded "▁9" loses its "▁".
    #[test]
    fn digit_comma_rule() {
        let vocab = [
            ("▁9,", -1.0),
            ("▁9", -2.0),
            ("9", -3.0),
            (",", -3.0),
            ("▁a", -1.0),
            ("a", -2.0),
            ("▁", -5.0),
        ];
        let tok = AlbertTokenizer::from_vocab(&vocab).unwrap();
        let opts = EncodeOptions {
            add_special_tokens: false,
            ..Default::default()
        };
        let e = tok.encode("9,", None, &opts).unwrap();
        assert_eq!(e.tokens, ["▁9", ","]);
        assert_eq!(e.offsets, [(0, 1), (1, 2)]);
        let e = tok.encode("A [MASK]  9,", None, &opts).unwrap();
        assert_eq!(e.tokens, ["▁a", "[MASK]", "▁9", ","]);
        assert_eq!(e.offsets, [(0, 1), (2, 8), (10, 11), (11, 12)]);
    }
}
