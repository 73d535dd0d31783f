//! Reading a prepared split: memory-mapped shards and their document index.

use std::path::Path;

use super::manifest::{Manifest, Split, WORD_STARTS_FILE};
use super::masking::MaskingVocab;
use super::pairing::{Documents, TokenSpan};
use super::shard::TokenShard;
use super::vocab::WordStarts;
use super::DataError;

/// One split of a prepared data directory, ready for random access.
pub struct PreparedSplit {
    manifest: Manifest,
    shards: Vec<TokenShard>,
    documents: Documents,
    vocab: MaskingVocab,
}

impl PreparedSplit {
    /// Opens `split` of the data directory `dir`, checking every file against the manifest.
    pub fn open(dir: &Path, split: Split) -> Result<Self, DataError> {
        let manifest = Manifest::load(dir)?;
        let mut documents = Documents::new();
        let shards = manifest
            .split(split)
            .shards
            .iter()
            .enumerate()
            .map(|(i, info)| {
                TokenShard::open(dir, info, manifest.token_dtype, i as u32, &mut documents)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let path = dir.join(WORD_STARTS_FILE);
        let bytes = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        let word_starts = WordStarts::from_bytes(&bytes)
            .filter(|w| w.len() == manifest.settings.vocab_size)
            .ok_or_else(|| DataError::corrupt(&path, "not one 0/1 byte per vocabulary id"))?;
        let vocab = MaskingVocab {
            word_starts,
            special: manifest.settings.special,
        };
        Ok(PreparedSplit {
            manifest,
            shards,
            documents,
            vocab,
        })
    }

    /// The directory's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The split's documents as sentence spans.
    pub fn documents(&self) -> &Documents {
        &self.documents
    }

    /// Word starts and special ids of the data's vocabulary.
    pub fn masking_vocab(&self) -> &MaskingVocab {
        &self.vocab
    }

    /// How often each vocabulary id occurs in the split's sentences (one count per id of the manifest's vocabulary).
    pub fn token_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.manifest.settings.vocab_size];
        let mut ids = Vec::new();
        for d in 0..self.documents.len() {
            for span in self.documents.document(d) {
                ids.clear();
                self.shards[span.shard as usize].extend(span.start, span.end, &mut ids);
                for &id in &ids {
                    if let Some(c) = counts.get_mut(id as usize) {
                        *c += 1;
                    }
                }
            }
        }
        counts
    }

    /// The token ids of `span`.
    pub fn tokens(&self, span: TokenSpan) -> Vec<u32> {
        let mut out = Vec::with_capacity(span.len());
        self.shards[span.shard as usize].extend(span.start, span.end, &mut out);
        out
    }
}
