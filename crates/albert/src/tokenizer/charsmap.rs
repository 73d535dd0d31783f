//! SentencePiece's precompiled normalization (`normalizer_spec.precompiled_charsmap`).
//!
//! The blob is `u32 trie_size (LE) | trie_size bytes of Darts-clone double-array units | normalized
//! strings`, each NUL-terminated. The trie maps UTF-8 byte prefixes to offsets of their replacement
//! strings; normalization takes the longest matching prefix (sentencepiece's `NormalizePrefix`).

use super::error::{Result, TokenizerError};

/// A decoded charsmap: the double array and the replacement strings it points into.
#[derive(Clone, Debug)]
pub struct Charsmap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

// Darts-clone unit layout.
fn has_leaf(unit: u32) -> bool {
    (unit >> 8) & 1 == 1
}
fn value(unit: u32) -> u32 {
    unit & ((1 << 31) - 1)
}
fn label(unit: u32) -> u32 {
    unit & ((1 << 31) | 0xff)
}
fn offset(unit: u32) -> u32 {
    (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

impl Charsmap {
    /// Decodes the blob; `None` for an empty blob (identity normalization).
    pub fn parse(blob: &[u8]) -> Result<Option<Self>> {
        if blob.is_empty() {
            return Ok(None);
        }
        let bad = |m: &str| TokenizerError::InvalidModel(format!("precompiled_charsmap: {m}"));
        let size = blob
            .get(..4)
            .ok_or_else(|| bad("shorter than its header"))?;
        let size = u32::from_le_bytes(size.try_into().expect("4 bytes")) as usize;
        if !size.is_multiple_of(4) || 4 + size > blob.len() {
            return Err(bad("trie size does not fit the blob"));
        }
        let units = blob[4..4 + size]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
            .collect();
        Ok(Some(Self {
            units,
            normalized: blob[4 + size..].to_vec(),
        }))
    }

    /// The longest rule matching a prefix of `input`: `(matched byte length, replacement)`.
    pub fn longest_prefix(&self, input: &[u8]) -> Option<(usize, &str)> {
        let mut node = offset(*self.units.first()?) as usize;
        let mut best = None;
        for (i, &b) in input.iter().enumerate() {
            node ^= b as usize;
            let unit = *self.units.get(node)?;
            if label(unit) != b as u32 {
                break;
            }
            node ^= offset(unit) as usize;
            // A rule ends where a character does: a malformed trie matching part of a UTF-8 sequence would
            // cut the text inside a character.
            let at_char_end = input.get(i + 1).is_none_or(|&next| next & 0xC0 != 0x80);
            if has_leaf(unit) && at_char_end {
                let v = value(*self.units.get(node)?) as usize;
                best = Some((i + 1, v));
            }
        }
        let (len, at) = best?;
        let tail = self.normalized.get(at..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        // The replacement strings come from the model file; a malformed one is treated as no rule.
        std::str::from_utf8(&tail[..end]).ok().map(|s| (len, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob whose Darts-clone trie maps the byte `a` and the lone byte 0xCF (the first of the two bytes of `ω`)
    /// to `X`: root unit 0 (offset 0); the unit of a byte `b` sits at `b`, holds its label, the leaf flag and the
    /// offset of its value unit; the value unit (0) points at the first normalized string.
    fn blob() -> Vec<u8> {
        let mut units = vec![0u32; 208];
        units[usize::from(b'a')] = 2 << 10 | 1 << 8 | u32::from(b'a'); // value unit at 0x61 ^ 2
        units[0xCF] = 1 << 10 | 1 << 8 | 0xCF; // value unit at 0xCF ^ 1
        let mut blob = ((units.len() * 4) as u32).to_le_bytes().to_vec();
        blob.extend(units.iter().flat_map(|u| u.to_le_bytes()));
        blob.extend(b"X\0");
        blob
    }

    #[test]
    fn a_rule_ending_inside_a_character_is_not_applied() {
        let map = Charsmap::parse(&blob()).unwrap().unwrap();
        assert_eq!(map.longest_prefix(b"ab"), Some((1, "X")));
        // Found by fuzz/fuzz_targets/spiece_model.rs: the match of one byte of `ω` made normalization slice the
        // text inside the character and panic.
        assert_eq!(map.longest_prefix("ωa".as_bytes()), None);
    }
}
