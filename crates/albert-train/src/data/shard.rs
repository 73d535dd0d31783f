//! Token shards on disk: a raw little-endian token file (u16 or u32 per token) memory-mapped for
//! reading, and an index file with document and sentence boundaries.
//!
//! Index layout (all little-endian u64): the magic `ALBIDX01`, then the counts of documents,
//! sentences and tokens, then `documents + 1` sentence offsets (where each document starts), then
//! `sentences + 1` token offsets (where each sentence starts).

use std::io::Write;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use super::pairing::{Documents, TokenSpan};
use super::DataError;
use albert::fsio::{write_atomic, AtomicFile};

const INDEX_MAGIC: &[u8; 8] = b"ALBIDX01";

/// Storage width of a token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenDtype {
    /// Two bytes; vocabularies of at most 65,536 ids.
    U16,
    /// Four bytes.
    U32,
}

impl TokenDtype {
    /// The narrowest width that holds every id of a vocabulary of `vocab_size` ids.
    pub fn for_vocab(vocab_size: usize) -> Self {
        if vocab_size <= 1 << 16 {
            TokenDtype::U16
        } else {
            TokenDtype::U32
        }
    }

    /// Bytes per token.
    pub fn width(self) -> usize {
        match self {
            TokenDtype::U16 => 2,
            TokenDtype::U32 => 4,
        }
    }
}

/// One shard's files and counts, as the manifest lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Token file name (relative to the data directory).
    pub tokens_file: String,
    /// Index file name.
    pub index_file: String,
    /// Documents in the shard.
    pub documents: u64,
    /// Sentences in the shard.
    pub sentences: u64,
    /// Tokens in the shard.
    pub tokens: u64,
}

/// Writes one split's documents into shards of at most `max_tokens` tokens (a document larger
/// than that gets a shard of its own).
pub(crate) struct ShardWriter {
    dir: PathBuf,
    split: String,
    dtype: TokenDtype,
    max_tokens: u64,
    done: Vec<ShardInfo>,
    open: Option<OpenShard>,
}

struct OpenShard {
    info: ShardInfo,
    tokens: AtomicFile,
    doc_offsets: Vec<u64>,
    sentence_offsets: Vec<u64>,
}

impl ShardWriter {
    pub(crate) fn new(dir: &Path, split: &str, dtype: TokenDtype, max_tokens: u64) -> Self {
        ShardWriter {
            dir: dir.to_owned(),
            split: split.to_owned(),
            dtype,
            max_tokens,
            done: Vec::new(),
            open: None,
        }
    }

    /// Appends a document of non-empty sentences.
    pub(crate) fn push_document(&mut self, sentences: &[Vec<u32>]) -> Result<(), DataError> {
        let len: u64 = sentences.iter().map(|s| s.len() as u64).sum();
        if len == 0 {
            return Ok(());
        }
        if self
            .open
            .as_ref()
            .is_some_and(|s| s.info.tokens > 0 && s.info.tokens + len > self.max_tokens)
        {
            self.close()?;
        }
        if self.open.is_none() {
            let index = self.done.len();
            let info = ShardInfo {
                tokens_file: format!("{}.{index:05}.tokens", self.split),
                index_file: format!("{}.{index:05}.index", self.split),
                documents: 0,
                sentences: 0,
                tokens: 0,
            };
            let path = self.dir.join(&info.tokens_file);
            let tokens = AtomicFile::create(&path).map_err(|e| DataError::io(&path, e))?;
            self.open = Some(OpenShard {
                info,
                tokens,
                doc_offsets: vec![0],
                sentence_offsets: vec![0],
            });
        }
        let shard = self.open.as_mut().expect("opened above");
        let path = self.dir.join(&shard.info.tokens_file);
        let mut bytes = Vec::with_capacity(len as usize * self.dtype.width());
        for sentence in sentences.iter().filter(|s| !s.is_empty()) {
            for &id in sentence {
                match self.dtype {
                    TokenDtype::U16 => bytes.extend_from_slice(&(id as u16).to_le_bytes()),
                    TokenDtype::U32 => bytes.extend_from_slice(&id.to_le_bytes()),
                }
            }
            shard.info.tokens += sentence.len() as u64;
            shard.info.sentences += 1;
            shard.sentence_offsets.push(shard.info.tokens);
        }
        shard
            .tokens
            .write_all(&bytes)
            .map_err(|e| DataError::io(&path, e))?;
        shard.info.documents += 1;
        shard.doc_offsets.push(shard.info.sentences);
        Ok(())
    }

    fn close(&mut self) -> Result<(), DataError> {
        let Some(shard) = self.open.take() else {
            return Ok(());
        };
        let tokens_path = self.dir.join(&shard.info.tokens_file);
        shard
            .tokens
            .commit()
            .map_err(|e| DataError::io(&tokens_path, e))?;
        let mut index =
            Vec::with_capacity(8 * (6 + shard.doc_offsets.len() + shard.sentence_offsets.len()));
        index.extend_from_slice(INDEX_MAGIC);
        let counts = [
            shard.info.documents,
            shard.info.sentences,
            shard.info.tokens,
        ];
        for v in counts
            .iter()
            .chain(&shard.doc_offsets)
            .chain(&shard.sentence_offsets)
        {
            index.extend_from_slice(&v.to_le_bytes());
        }
        let index_path = self.dir.join(&shard.info.index_file);
        write_atomic(&index_path, &index).map_err(|e| DataError::io(&index_path, e))?;
        self.done.push(shard.info);
        Ok(())
    }

    /// Closes the last shard and lists all shards written.
    pub(crate) fn finish(mut self) -> Result<Vec<ShardInfo>, DataError> {
        self.close()?;
        Ok(std::mem::take(&mut self.done))
    }
}

/// A memory-mapped token file.
pub(crate) struct TokenShard {
    map: Mmap,
    dtype: TokenDtype,
}

impl TokenShard {
    /// Maps `dir/info.tokens_file` and appends its documents to `docs` as shard `shard`.
    pub(crate) fn open(
        dir: &Path,
        info: &ShardInfo,
        dtype: TokenDtype,
        shard: u32,
        docs: &mut Documents,
    ) -> Result<Self, DataError> {
        let path = dir.join(&info.tokens_file);
        let file = std::fs::File::open(&path).map_err(|e| DataError::io(&path, e))?;
        // SAFETY: prepared files are only ever replaced by rename, never modified in place.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| DataError::io(&path, e))?;
        if map.len() as u64 != info.tokens * dtype.width() as u64 {
            return Err(DataError::corrupt(
                &path,
                format!(
                    "{} bytes, expected {} tokens of {} bytes",
                    map.len(),
                    info.tokens,
                    dtype.width()
                ),
            ));
        }
        read_index(&dir.join(&info.index_file), info, shard, docs)?;
        Ok(TokenShard { map, dtype })
    }

    /// Appends the tokens of `start..end` to `out`.
    pub(crate) fn extend(&self, start: u64, end: u64, out: &mut Vec<u32>) {
        let w = self.dtype.width();
        let bytes = &self.map[start as usize * w..end as usize * w];
        match self.dtype {
            TokenDtype::U16 => out.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]) as u32),
            ),
            TokenDtype::U32 => out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
        }
    }
}

fn read_index(
    path: &Path,
    info: &ShardInfo,
    shard: u32,
    docs: &mut Documents,
) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let bad = |m: String| DataError::corrupt(path, m);
    if bytes.len() < 32 || &bytes[..8] != INDEX_MAGIC || bytes.len() % 8 != 0 {
        return Err(bad("not a token index (bad magic or length)".into()));
    }
    let words: Vec<u64> = bytes[8..]
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let (n_docs, n_sent, n_tok) = (words[0], words[1], words[2]);
    if (n_docs, n_sent, n_tok) != (info.documents, info.sentences, info.tokens) {
        return Err(bad(format!(
            "counts {n_docs}/{n_sent}/{n_tok} differ from the manifest's {}/{}/{}",
            info.documents, info.sentences, info.tokens
        )));
    }
    if words.len() as u64 != 3 + n_docs + 1 + n_sent + 1 {
        return Err(bad("index length does not match its counts".into()));
    }
    let doc_offsets = &words[3..3 + n_docs as usize + 1];
    let sent_offsets = &words[3 + n_docs as usize + 1..];
    let monotone = |v: &[u64], last: u64| {
        v[0] == 0 && v.windows(2).all(|w| w[0] < w[1]) && v[v.len() - 1] == last
    };
    if !monotone(doc_offsets, n_sent) || !monotone(sent_offsets, n_tok) {
        return Err(bad(
            "offsets are not strictly increasing or do not cover the shard".into(),
        ));
    }
    for d in doc_offsets.windows(2) {
        docs.push_document((d[0]..d[1]).map(|s| TokenSpan {
            shard,
            start: sent_offsets[s as usize],
            end: sent_offsets[s as usize + 1],
        }));
    }
    Ok(())
}
