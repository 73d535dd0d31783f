//! Raw text to documents of sentences: decompression, paragraph joining, document boundaries,
//! sentence splitting.

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DataError;

/// Where one document ends and the next begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocBoundary {
    /// Every blank line ends a document (BERT's input format: blank lines between documents).
    BlankLine,
    /// Each file is one document; blank lines separate paragraphs (Gutenberg books).
    File,
    /// A top-level WikiText heading (`= Title =` between blank lines) starts a document;
    /// subheadings (`= = Section = =`) only end a paragraph. Heading lines are not part of the text.
    WikitextHeading,
}

impl FromStr for DocBoundary {
    type Err = DataError;

    /// Parses the CLI spelling: `blank-line`, `file` or `wikitext-heading`.
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "blank-line" => Ok(DocBoundary::BlankLine),
            "file" => Ok(DocBoundary::File),
            "wikitext-heading" => Ok(DocBoundary::WikitextHeading),
            other => Err(DataError::InvalidConfig(format!(
                "unknown document boundary {other:?}; expected blank-line, file or wikitext-heading"
            ))),
        }
    }
}

/// A document: its sentences, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextDocument {
    /// Sentences, trimmed and non-empty.
    pub sentences: Vec<String>,
}

/// How corpus bytes are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextEncoding {
    /// UTF-8 only: anything else is an error naming the file and the offset.
    Utf8,
    /// UTF-8, or Latin-1 (ISO 8859-1) for a file that is not valid UTF-8, as two Gutenberg books
    /// of the shared corpus are; the manifest records which files were read so.
    Utf8OrLatin1,
}

/// A decoded corpus file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedText {
    /// The text, without a leading byte-order mark.
    pub text: String,
    /// Whether the file was not UTF-8 and was read as Latin-1.
    pub latin1: bool,
}

/// Reads a text file, decompressing gzip (recognised by its magic bytes) and dropping a
/// leading byte-order mark.
///
/// ```
/// use albert_train::data::{read_text, TextEncoding};
/// let path = std::env::temp_dir().join(format!("albert-read-text-{}.txt", std::process::id()));
/// std::fs::write(&path, b"caf\xe9")?;
/// assert!(read_text(&path, TextEncoding::Utf8).is_err());
/// let decoded = read_text(&path, TextEncoding::Utf8OrLatin1)?;
/// assert_eq!((decoded.text.as_str(), decoded.latin1), ("café", true));
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_text(path: &Path, encoding: TextEncoding) -> Result<DecodedText, DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::io(path, e))?;
        out
    } else {
        raw
    };
    let (text, latin1) = match String::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(e) if encoding == TextEncoding::Utf8OrLatin1 => {
            (e.into_bytes().iter().map(|&b| b as char).collect(), true)
        }
        Err(e) => {
            return Err(DataError::NotUtf8 {
                path: path.to_owned(),
                offset: e.utf8_error().valid_up_to(),
            })
        }
    };
    let text = text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text);
    Ok(DecodedText { text, latin1 })
}

/// Heading level of a WikiText heading line (`= T =` is 1, `= = T = =` is 2), if it is one.
fn wikitext_heading_level(line: &str) -> Option<usize> {
    let t = line.trim();
    if t.len() < 3 || !t.starts_with("= ") || !t.ends_with(" =") {
        return None;
    }
    let level = t.split(' ').take_while(|w| *w == "=").count();
    let closing = t.rsplit(' ').take_while(|w| *w == "=").count();
    (level == closing && level * 2 < t.split(' ').count()).then_some(level)
}

/// Splits a file's text into documents of sentences.
///
/// Hard-wrapped lines are joined into paragraphs (blank lines separate paragraphs), paragraphs
/// are split into sentences, and documents end as `boundary` says. Documents without text are
/// dropped.
///
/// ```
/// use albert_train::data::{split_documents, DocBoundary};
/// let text = " = Title =\n\n First line , wrapped\n here . Second one .\n\n = = Sub = =\n\n More .\n\n = Next =\n\n Text .\n";
/// let docs = split_documents(text, DocBoundary::WikitextHeading);
/// assert_eq!(docs.len(), 2);
/// assert_eq!(docs[0].sentences, ["First line , wrapped here .", "Second one .", "More ."]);
/// assert_eq!(docs[1].sentences, ["Text ."]);
/// ```
pub fn split_documents(text: &str, boundary: DocBoundary) -> Vec<TextDocument> {
    let mut docs = vec![TextDocument::default()];
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, doc: &mut TextDocument| {
        doc.sentences
            .extend(split_sentences(paragraph).into_iter().map(str::to_owned));
        paragraph.clear();
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let blank = |i: Option<usize>| i.and_then(|i| lines.get(i)).is_none_or(|l| l.is_empty());
    for (i, &trimmed) in lines.iter().enumerate() {
        // WikiText headings stand between blank lines; `= … =` inside a paragraph is a formula.
        let heading = match boundary {
            DocBoundary::WikitextHeading if blank(i.checked_sub(1)) && blank(Some(i + 1)) => {
                wikitext_heading_level(trimmed)
            }
            _ => None,
        };
        if trimmed.is_empty() || heading.is_some() {
            flush(&mut paragraph, docs.last_mut().expect("never empty"));
            let new_doc = match boundary {
                DocBoundary::BlankLine => trimmed.is_empty(),
                DocBoundary::File => false,
                DocBoundary::WikitextHeading => heading == Some(1),
            };
            if new_doc && !docs.last().expect("never empty").sentences.is_empty() {
                docs.push(TextDocument::default());
            }
            continue;
        }
        if !paragraph.is_empty() {
            paragraph.push(' ');
        }
        paragraph.push_str(trimmed);
    }
    flush(&mut paragraph, docs.last_mut().expect("never empty"));
    docs.retain(|d| !d.sentences.is_empty());
    docs
}

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "rev", "hon", "capt", "col", "gen", "lt",
    "sgt", "mt", "no", "vs", "etc", "e.g", "i.e", "viz", "cf", "vol", "fig",
];

/// Splits a paragraph into sentences at `.`, `!` or `?` (plus closing quotes or brackets)
/// followed by whitespace and a capital, digit, or opening quote or bracket, except after
/// common abbreviations and single-letter initials.
///
/// ```
/// use albert_train::data::split_sentences;
/// assert_eq!(
///     split_sentences("Mr. Brown came. \"Who?\" she asked. He left at 3 p.m. yesterday."),
///     ["Mr. Brown came.", "\"Who?\" she asked.", "He left at 3 p.m. yesterday."]
/// );
/// ```
pub fn split_sentences(paragraph: &str) -> Vec<&str> {
    const CLOSERS: &[char] = &['"', '\'', ')', ']', '”', '’', '»'];
    const OPENERS: &[char] = &['"', '\'', '(', '[', '“', '‘', '«'];
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (pos, c) = chars[k];
        k += 1;
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut end = k;
        while end < chars.len() && CLOSERS.contains(&chars[end].1) {
            end += 1;
        }
        let mut next = end;
        while next < chars.len() && chars[next].1.is_whitespace() {
            next += 1;
        }
        if next == end || next == chars.len() {
            continue;
        }
        let follower = chars[next].1;
        if !(follower.is_uppercase() || follower.is_ascii_digit() || OPENERS.contains(&follower)) {
            continue;
        }
        if c == '.' {
            let word = paragraph[start..pos]
                .rsplit(char::is_whitespace)
                .next()
                .unwrap_or("");
            let word = word.trim_start_matches(OPENERS);
            let lower = word.to_lowercase();
            let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
            if initial || ABBREVIATIONS.contains(&lower.as_str()) {
                continue;
            }
        }
        let byte_end = chars.get(end).map_or(paragraph.len(), |&(b, _)| b);
        push_trimmed(&mut out, &paragraph[start..byte_end]);
        start = chars[next].0;
        k = next;
    }
    push_trimmed(&mut out, &paragraph[start..]);
    out
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}
