//! Helpers shared by the fuzz targets.
//!
//! Most readers of outside data take a path (they read, memory-map or list files), so a target writes its input
//! to a scratch file and calls the same function the CLI calls. The scratch directory is per process, under
//! `$TMPDIR`; libFuzzer exits without running destructors, so the scripts in `scripts/fuzz/` point `TMPDIR` at a
//! directory of their own (on tmpfs when there is one) and remove it afterwards.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A per-process scratch directory under the system temp dir.
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("albert-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Writes `bytes` to `name` in the scratch directory and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, bytes).expect("write a fuzz input to the scratch directory");
    path
}

/// Splits a target's input into `N` parts at [`SEPARATOR`] (missing parts are empty), for targets whose parser
/// reads several files.
pub fn split_parts<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut parts = [&data[..0]; N];
    let mut rest = data;
    for (i, part) in parts.iter_mut().enumerate() {
        if i + 1 == N {
            *part = rest;
            break;
        }
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(at) => {
                *part = &rest[..at];
                rest = &rest[at + SEPARATOR.len()..];
            }
            None => {
                *part = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    parts
}

/// Separates the files packed into one input (see [`split_parts`]).
pub const SEPARATOR: &[u8] = b"\n--albert-fuzz-file--\n";

/// Texts run through a tokenizer that loaded: ASCII, accents and combining marks, CJK, whitespace runs, control
/// and private-use characters, an emoji, a long word.
pub const SAMPLE_TEXTS: [&str; 6] = [
    "Hello, World! This is a test: 92000 falsé.",
    "  tabs\tand\nnewlines\r\n  and  spaces  ",
    "Ça coûte 5€ — naïve café; ｆｕｌｌｗｉｄｔｈ ①②",
    "日本語のテキストと한국어 ÅΩ ﬁ \u{0301}\u{200b}\u{e000}\u{1}",
    "🙂 <unk> [MASK] [CLS] ▁▁ \u{2047}",
    "supercalifragilisticexpialidocious-antidisestablishmentarianism",
];

/// Uses a tokenizer that loaded from fuzzed bytes the way the pipelines do: encodes every sample text (alone, and
/// as a pair truncated to 16 tokens from the right and from the left), decodes the ids back, ids past the vocabulary included.
pub fn exercise_tokenizer(tok: &albert::tokenizer::AlbertTokenizer) {
    use albert::tokenizer::{EncodeOptions, Truncation, TruncationDirection};
    let pair = |direction| EncodeOptions {
        truncation: Some(Truncation { max_length: 16, stride: 0, strategy: Default::default(), direction }),
        ..Default::default()
    };
    let (right, left) = (pair(TruncationDirection::Right), pair(TruncationDirection::Left));
    for text in SAMPLE_TEXTS {
        for (second, opts) in [(None, &EncodeOptions::default()), (Some(SAMPLE_TEXTS[0]), &right), (Some(SAMPLE_TEXTS[0]), &left)] {
            if let Ok(enc) = tok.encode(text, second, opts) {
                let _ = tok.decode(&enc.ids, true);
                let _ = tok.decode(&enc.ids, false);
                let _ = tok.tokens_to_string(&enc.tokens);
            }
        }
    }
    let n = tok.vocab_size() as u32;
    let _ = tok.decode(&[0, n.saturating_sub(1), n, n + 1, u32::MAX], false);
}
