//! The BM25 store and the vector index on their own, as the index builds, saves, opens and searches them: what
//! `benches/scale.rs` (scripts/bench/search_scale.sh) times at sizes no embedder reaches in a benchmark's time.
//! Built only with the `bench` feature; not a stable API.

use std::path::Path;

use crate::error::Result;
use crate::passage::Passage;

/// The passage store and its BM25 index.
pub struct Bm25(crate::bm25::Bm25);

impl Bm25 {
    /// Writes `passages` into an empty directory in one commit, as an index update does.
    pub fn build(dir: &Path, passages: &[Passage]) -> Result<Self> {
        let store = crate::bm25::Bm25::create(dir)?;
        let mut writer = store.writer()?;
        for p in passages {
            writer.add(p)?;
        }
        writer.commit()?;
        Ok(Self(store))
    }

    /// Opens a store, as [`crate::Index::open`] does.
    pub fn open(dir: &Path) -> Result<Self> {
        crate::bm25::Bm25::open(dir).map(Self)
    }

    /// A BM25 query as a search in `bm25` mode runs it: the best `k` ids, then their passages with snippets.
    /// Gives the ids.
    pub fn query(&self, query: &str, k: usize) -> Result<Vec<u64>> {
        let ids: Vec<u64> = self.0.search(query, k)?.into_iter().map(|(id, _)| id).collect();
        self.0.passages(&ids, query)?;
        Ok(ids)
    }
}

/// The HNSW index of passage vectors.
pub struct Vectors(crate::vectors::Vectors);

impl Vectors {
    /// An index of `vectors` (unit vectors of `dim` values) under `ids`, added as an index update adds them (on the
    /// current rayon pool's threads). Gives too how many vectors a parallel insertion stranded and were re-inserted.
    pub fn build(dim: usize, ids: &[u64], vectors: &[Vec<f32>]) -> Result<(Self, usize)> {
        let mut v = crate::vectors::Vectors::new(dim)?;
        let reinserted = v.add(ids, vectors)?;
        Ok((Self(v), reinserted))
    }

    /// Sets how many candidates a search keeps (HNSW's ef; the index's default is 64), for the trade-off between
    /// recall and latency.
    pub fn set_expansion_search(&self, ef: usize) {
        self.0.set_expansion_search(ef);
    }

    /// Writes the index to `path` (atomically); gives its size in bytes.
    pub fn save(&self, path: &Path) -> Result<u64> {
        Ok(self.0.save(path)?.len() as u64)
    }

    /// Opens a saved index of `count` vectors as [`crate::Index::open`] does: header check, then memory-mapped.
    pub fn open(path: &Path, dim: usize, count: u64) -> Result<Self> {
        crate::vectors::check_header(path, dim, count).map_err(crate::SearchError::Vectors)?;
        crate::vectors::Vectors::view(path, dim).map(Self)
    }

    /// The `k` nearest ids to `query`, nearest first, with their cosine.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(u64, f32)>> {
        self.0.search(query, k)
    }
}
