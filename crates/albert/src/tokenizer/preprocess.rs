//! ALBERT's text preprocessing from the original (slow) tokenizer, with each output character
//! tracking the range of input characters it came from:
//! `" ".join(text.strip().split())`, ``` `` ``` and `''` → `"`, NFKD without combining marks
//! (unless `keep_accents`), and `lower()` (when `do_lower_case`).

use unicode_normalization::char::decompose_compatible;

use super::py_unicode::{in_table, PY_COMBINING, PY_WHITESPACE};

/// A character with the half-open range of input code points it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Aligned {
    /// The character.
    pub ch: char,
    /// First input code point.
    pub start: usize,
    /// One past the last input code point.
    pub end: usize,
}

impl Aligned {
    /// Each character of `text`, standing for its own code point.
    pub fn chars_of(text: &str) -> Vec<Aligned> {
        text.chars().enumerate().map(|(i, ch)| Aligned { ch, start: i, end: i + 1 }).collect()
    }
}

/// Python's `str.isspace()`.
pub fn is_py_whitespace(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, ' ' | '\t'..='\r' | '\x1c'..='\x1f');
    }
    in_table(PY_WHITESPACE, c)
}

/// Lowercases character by character, as the slow tokenizer's pre-pass does (`re.sub` over single
/// characters: no context-dependent final sigma).
pub fn lower_chars(text: &[Aligned]) -> Vec<Aligned> {
    let mut out = Vec::with_capacity(text.len());
    for a in text {
        if a.ch.is_ascii() {
            out.push(Aligned {
                ch: a.ch.to_ascii_lowercase(),
                ..*a
            });
        } else {
            out.extend(a.ch.to_lowercase().map(|ch| Aligned { ch, ..*a }));
        }
    }
    out
}

/// `str.lower()` on the whole text, including the final-sigma rule.
fn lower_str(text: &[Aligned]) -> Vec<Aligned> {
    let mut out = lower_chars(text);
    if text.iter().any(|a| a.ch == 'Σ') {
        // Char-by-char and whole-string lowering differ only in Σ's context-dependent mapping.
        let s: String = text.iter().map(|a| a.ch).collect();
        let whole: Vec<char> = s.to_lowercase().chars().collect();
        if whole.len() == out.len() {
            for (o, c) in out.iter_mut().zip(whole) {
                o.ch = c;
            }
        }
    }
    out
}

/// ALBERT's `preprocess_text`.
pub fn preprocess(text: &[Aligned], do_lower_case: bool, keep_accents: bool) -> Vec<Aligned> {
    // remove_space: " ".join(text.strip().split()); a separator stands for its run's first character.
    let mut out: Vec<Aligned> = Vec::with_capacity(text.len());
    let mut pending_space: Option<Aligned> = None;
    for a in text {
        if is_py_whitespace(a.ch) {
            if !out.is_empty() && pending_space.is_none() {
                pending_space = Some(Aligned { ch: ' ', ..*a });
            }
        } else {
            out.extend(pending_space.take());
            out.push(*a);
        }
    }
    // ``...'' → ": two sequential str.replace calls.
    for quote in ['`', '\''] {
        if !out.iter().any(|a| a.ch == quote) {
            continue;
        }
        let mut merged = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out[i].ch == quote && out.get(i + 1).is_some_and(|b| b.ch == quote) {
                merged.push(Aligned {
                    ch: '"',
                    start: out[i].start,
                    end: out[i + 1].end,
                });
                i += 2;
            } else {
                merged.push(out[i]);
                i += 1;
            }
        }
        out = merged;
    }
    if !keep_accents {
        // NFKD then drop combining marks: canonical reordering only moves marks, which are
        // dropped, so decomposing character by character gives the same string.
        let mut stripped = Vec::with_capacity(out.len());
        for a in &out {
            if a.ch.is_ascii() {
                stripped.push(*a);
                continue;
            }
            decompose_compatible(a.ch, |ch| {
                if !in_table(PY_COMBINING, ch) {
                    stripped.push(Aligned { ch, ..*a });
                }
            });
        }
        out = stripped;
    }
    if do_lower_case {
        out = lower_str(&out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str, lower: bool, keep: bool) -> (String, Vec<(usize, usize)>) {
        let out = preprocess(&Aligned::chars_of(s), lower, keep);
        (
            out.iter().map(|a| a.ch).collect(),
            out.iter().map(|a| (a.start, a.end)).collect(),
        )
    }

    // Expected strings are what Python's ALBERT preprocess_text returns for these inputs.
    #[test]
    fn collapses_space_and_quotes() {
        let (s, r) = run("  a \t\u{3000} ``b''  ", false, true);
        assert_eq!(s, "a \"b\"");
        assert_eq!(r, vec![(2, 3), (3, 4), (7, 9), (9, 10), (10, 12)]);
    }

    #[test]
    fn strips_accents_and_lowercases() {
        assert_eq!(run("Falsé Ǆ ﬁ", true, false).0, "false dz fi");
        assert_eq!(run("Falsé", true, true).0, "falsé");
        assert_eq!(run("ΟΔΟΣ Σ", true, false).0, "οδος σ");
    }
}
