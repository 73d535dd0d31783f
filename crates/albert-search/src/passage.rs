//! Documents read from users' files, and the passages they are cut into.
//!
//! Formats, told by the extension:
//! - `.txt` (and any other extension but the ones below): the whole file is one document, titled by its file stem;
//! - `.md`, `.markdown`: the whole file is one document (markup kept), titled by its first `#` heading;
//! - `.jsonl`: one document per line, `{"id", "title", "text"}` (`id` a string or a number, `title` optional);
//! - `.json`: SQuAD format (`{"data": [{"title", "paragraphs": [{"context"}]}]}`), one document per paragraph, its
//!   id `TITLE#N` (N counting the article's paragraphs from 0).
//!
//! A document is cut into windows of `passage_tokens` tokens of the embedder's tokenizer, consecutive windows
//! sharing `overlap` tokens ([`chunk`]). Each passage keeps its source and its half-open code-point span in the
//! document's text (the file's text, the JSONL line's `text`, the SQuAD paragraph's `context`).

use std::path::{Path, PathBuf};

use albert::tokenizer::{AlbertTokenizer, EncodeOptions};
use serde::{Deserialize, Serialize};

use crate::error::{io, Result, SearchError};

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain text: one document.
    Text,
    /// Markdown: one document, titled by its first heading.
    Markdown,
    /// One `{"id", "title", "text"}` document per line.
    Jsonl,
    /// SQuAD-format JSON: one document per paragraph.
    Squad,
}

impl Format {
    /// The format of `path`, by its extension (plain text when none of the known ones).
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("md" | "markdown") => Format::Markdown,
            Some("jsonl") => Format::Jsonl,
            Some("json") => Format::Squad,
            _ => Format::Text,
        }
    }
}

/// Where a passage comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The file, as the index records it (absolute).
    pub file: PathBuf,
    /// The document's id within the file (the file stem for text and Markdown).
    pub doc_id: String,
    /// The document's title ("" when it has none).
    pub title: String,
}

/// One document of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its source.
    pub source: Source,
    /// Its text, which passage spans index (in code points).
    pub text: String,
}

/// A window of a document, the unit the index stores and search returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passage {
    /// Its id in the index (unique, never reused).
    pub id: u64,
    /// Where it comes from.
    pub source: Source,
    /// Half-open code-point range of the passage in its document's text.
    pub span: (usize, usize),
    /// The passage's text: the document's code points `span.0..span.1`.
    pub text: String,
}

/// How documents are cut into passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSettings {
    /// Tokens per passage (the embedder's tokenizer; special tokens not counted).
    pub passage_tokens: usize,
    /// Tokens shared by consecutive passages of a document; below `passage_tokens`.
    pub overlap: usize,
}

impl Default for ChunkSettings {
    fn default() -> Self {
        Self { passage_tokens: 200, overlap: 50 }
    }
}

impl ChunkSettings {
    /// Refuses settings that would make no progress.
    pub fn check(&self) -> Result<()> {
        if self.passage_tokens == 0 {
            return Err(SearchError::Input("--passage-tokens must be at least 1".into()));
        }
        if self.overlap >= self.passage_tokens {
            return Err(SearchError::Input(format!(
                "--overlap {} must be below --passage-tokens {}",
                self.overlap, self.passage_tokens
            )));
        }
        Ok(())
    }
}

/// Reads the documents of `path` (see the module documentation for the formats); `path` is recorded as given.
pub fn read_documents(path: &Path) -> Result<Vec<Document>> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let text = String::from_utf8(bytes).map_err(|e| SearchError::Document {
        path: path.into(),
        message: format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })?;
    // A byte-order mark is no part of the text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let source = |doc_id: String, title: String| Source { file: path.to_path_buf(), doc_id, title };
    let bad = |message: String| SearchError::Document { path: path.into(), message };
    match Format::of(path) {
        Format::Text => Ok(vec![Document { source: source(stem.clone(), stem), text: text.to_owned() }]),
        Format::Markdown => {
            let title = text
                .lines()
                // "## Title ##": the closing hashes are no part of the title.
                .find_map(|l| l.strip_prefix('#').map(|h| h.trim_start_matches('#').trim().trim_end_matches('#').trim().to_owned()))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| stem.clone());
            Ok(vec![Document { source: source(stem, title), text: text.to_owned() }])
        }
        Format::Jsonl => {
            #[derive(Deserialize)]
            struct Line {
                id: Option<serde_json::Value>,
                #[serde(default)]
                title: Option<String>,
                text: String,
            }
            let mut docs = Vec::new();
            for (n, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let parsed: Line = serde_json::from_str(line)
                    .map_err(|e| bad(format!("line {}: expected {{\"id\", \"title\", \"text\"}}: {e}", n + 1)))?;
                let id = match parsed.id {
                    None => (n + 1).to_string(),
                    Some(serde_json::Value::String(s)) => s,
                    Some(serde_json::Value::Number(x)) => x.to_string(),
                    Some(other) => return Err(bad(format!("line {}: \"id\" must be a string or a number, not {other}", n + 1))),
                };
                docs.push(Document { source: source(id, parsed.title.unwrap_or_default()), text: parsed.text });
            }
            Ok(docs)
        }
        Format::Squad => {
            #[derive(Deserialize)]
            struct Squad {
                data: Vec<Article>,
            }
            #[derive(Deserialize)]
            struct Article {
                #[serde(default)]
                title: String,
                paragraphs: Vec<Paragraph>,
            }
            #[derive(Deserialize)]
            struct Paragraph {
                context: String,
            }
            let squad: Squad = serde_json::from_str(text).map_err(|e| {
                bad(format!("a .json document file must be SQuAD format ({{\"data\": [{{\"title\", \"paragraphs\": [{{\"context\"}}]}}]}}): {e}"))
            })?;
            Ok(squad
                .data
                .into_iter()
                .flat_map(|a| {
                    let title = a.title;
                    a.paragraphs.into_iter().enumerate().map(move |(i, p)| Document {
                        source: Source { file: path.to_path_buf(), doc_id: format!("{title}#{i}"), title: title.clone() },
                        text: p.context,
                    })
                })
                .collect())
        }
    }
}

/// Cuts `doc` into passages of `settings.passage_tokens` tokens of `tokenizer`, consecutive ones sharing
/// `settings.overlap` tokens; the last window ends at the document's last token. Ids are `first_id`, `first_id + 1`,
/// ...; a document without tokens gives none.
pub fn chunk(doc: &Document, tokenizer: &AlbertTokenizer, settings: ChunkSettings, first_id: u64) -> Result<Vec<Passage>> {
    settings.check()?;
    let opts = EncodeOptions { add_special_tokens: false, ..EncodeOptions::default() };
    let encoding = tokenizer.encode(&doc.text, None, &opts).map_err(albert::Error::from)?;
    let offsets = &encoding.offsets;
    // Code point -> byte, to slice the text by spans.
    let bytes: Vec<usize> = doc.text.char_indices().map(|(b, _)| b).chain([doc.text.len()]).collect();
    let step = settings.passage_tokens - settings.overlap;
    let mut passages = Vec::new();
    let mut start = 0;
    while start < offsets.len() {
        let end = (start + settings.passage_tokens).min(offsets.len());
        let span = (offsets[start].0, offsets[end - 1].1);
        passages.push(Passage {
            id: first_id + passages.len() as u64,
            source: doc.source.clone(),
            span,
            text: doc.text[bytes[span.0]..bytes[span.1]].to_owned(),
        });
        if end == offsets.len() {
            break;
        }
        start += step;
    }
    Ok(passages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> AlbertTokenizer {
        let words = ["▁one", "▁two", "▁three", "▁four", "▁five", "▁six", "▁seven", "▁é"];
        AlbertTokenizer::from_vocab(&words.iter().map(|w| (*w, -1.0)).collect::<Vec<_>>()).unwrap()
    }

    fn doc(text: &str) -> Document {
        Document { source: Source { file: "d.txt".into(), doc_id: "d".into(), title: "d".into() }, text: text.into() }
    }

    /// Windows of 3 tokens sharing 1, spans in code points (the `é` before counts one), by hand.
    #[test]
    fn windows_overlap_and_spans_count_code_points() {
        let d = doc("é one two three four five six");
        let got = chunk(&d, &tokenizer(), ChunkSettings { passage_tokens: 3, overlap: 1 }, 10).unwrap();
        let texts: Vec<&str> = got.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["é one two", "two three four", "four five six"]);
        assert_eq!(got.iter().map(|p| p.span).collect::<Vec<_>>(), [(0, 9), (6, 20), (16, 29)]);
        assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), [10, 11, 12]);
        // A short document is one passage; an empty one none.
        assert_eq!(chunk(&doc("one two"), &tokenizer(), ChunkSettings::default(), 0).unwrap().len(), 1);
        assert!(chunk(&doc("  "), &tokenizer(), ChunkSettings::default(), 0).unwrap().is_empty());
        // The last window ends at the last token, not past it.
        let got = chunk(&doc("one two three four"), &tokenizer(), ChunkSettings { passage_tokens: 3, overlap: 1 }, 0).unwrap();
        assert_eq!(got.iter().map(|p| p.text.as_str()).collect::<Vec<_>>(), ["one two three", "three four"]);
    }

    #[test]
    fn settings_that_make_no_progress_are_refused() {
        let err = ChunkSettings { passage_tokens: 5, overlap: 5 }.check().unwrap_err().to_string();
        assert!(err.contains("--overlap 5 must be below --passage-tokens 5"), "{err}");
        assert!(ChunkSettings { passage_tokens: 0, overlap: 0 }.check().is_err());
    }

    #[test]
    fn each_format_is_read_with_its_sources() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let md = read_documents(&write("notes.md", "intro\n## The Title ##\nbody")).unwrap();
        assert_eq!((md[0].source.doc_id.as_str(), md[0].source.title.as_str()), ("notes", "The Title"));
        assert_eq!(md[0].text, "intro\n## The Title ##\nbody");
        let txt = read_documents(&write("a.txt", "\u{feff}plain")).unwrap();
        assert_eq!((txt[0].source.title.as_str(), txt[0].text.as_str()), ("a", "plain"));
        let jl = read_documents(&write("d.jsonl", "{\"id\": 7, \"title\": \"T\", \"text\": \"x\"}\n\n{\"id\": \"b\", \"text\": \"y\"}\n")).unwrap();
        assert_eq!(jl.iter().map(|d| (d.source.doc_id.as_str(), d.source.title.as_str(), d.text.as_str())).collect::<Vec<_>>(), [("7", "T", "x"), ("b", "", "y")]);
        let squad = r#"{"version": "1.1", "data": [{"title": "Art", "paragraphs": [{"context": "p0", "qas": []}, {"context": "p1", "qas": []}]}]}"#;
        let sq = read_documents(&write("s.json", squad)).unwrap();
        assert_eq!(sq.iter().map(|d| (d.source.doc_id.as_str(), d.text.as_str())).collect::<Vec<_>>(), [("Art#0", "p0"), ("Art#1", "p1")]);
        // Bad input names the file and the line.
        let err = read_documents(&write("bad.jsonl", "{\"text\": \"ok\"}\n{\"title\": \"no text\"}\n")).unwrap_err().to_string();
        assert!(err.contains("bad.jsonl") && err.contains("line 2"), "{err}");
        let err = read_documents(&write("other.json", "{\"rows\": []}")).unwrap_err().to_string();
        assert!(err.contains("SQuAD format"), "{err}");
        std::fs::write(dir.path().join("latin1.txt"), b"caf\xe9").unwrap();
        let err = read_documents(&dir.path().join("latin1.txt"));
        assert!(err.unwrap_err().to_string().contains("not UTF-8"));
    }
}
