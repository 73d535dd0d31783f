//! The approximate-nearest-neighbour index of passage vectors: usearch's HNSW over unit vectors by inner product
//! (so 1 - distance is the cosine), keyed by passage id. Chosen over hnsw_rs and instant-distance for its recall
//! and latency at equal settings and because it removes vectors in place (docs/search/README.md).
//!
//! The file is usearch's own serialization, written through `albert::fsio`; the manifest records its SHA-256,
//! checked before usearch (C++) parses it, so that a damaged file is an error rather than undefined behaviour.

use std::path::Path;

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::error::{io, Result, SearchError};

/// Graph degree (HNSW's M).
const CONNECTIVITY: usize = 16;
/// Candidates kept while inserting (HNSW's ef_construction).
const EXPANSION_ADD: usize = 128;
/// Candidates kept while searching (HNSW's ef); a search for more than this many keeps as many as it asks.
const EXPANSION_SEARCH: usize = 64;

/// Passage vectors.
pub(crate) struct Vectors {
    index: Index,
}

/// usearch's C++ exceptions (cxx's `Exception`) as errors of this crate, naming what was being done.
fn failed<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> SearchError + '_ {
    move |e| SearchError::Vectors(format!("{what}: {e}"))
}

impl Vectors {
    /// An empty index of `dim`-dimensional vectors.
    pub(crate) fn new(dim: usize) -> Result<Self> {
        let opts = IndexOptions {
            dimensions: dim,
            metric: MetricKind::IP,
            quantization: ScalarKind::F32,
            connectivity: CONNECTIVITY,
            expansion_add: EXPANSION_ADD,
            expansion_search: EXPANSION_SEARCH,
            multi: false,
        };
        Ok(Self { index: Index::new(&opts).map_err(failed("creating the index"))? })
    }

    /// Reads the index serialized in `bytes` (already checked against the manifest's hash).
    pub(crate) fn from_bytes(dim: usize, bytes: &[u8]) -> Result<Self> {
        let v = Self::new(dim)?;
        v.index.load_from_buffer(bytes).map_err(failed("reading the index"))?;
        if v.index.dimensions() != dim {
            return Err(SearchError::Vectors(format!("the index holds {}-dimensional vectors, not {dim}", v.index.dimensions())));
        }
        Ok(v)
    }

    /// The serialized index.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; self.index.serialized_length()];
        self.index.save_to_buffer(&mut buf).map_err(failed("serializing the index"))?;
        Ok(buf)
    }

    /// Writes the serialized index to `path` atomically; gives its bytes' SHA-256 for the manifest.
    pub(crate) fn save(&self, path: &Path) -> Result<Vec<u8>> {
        let bytes = self.to_bytes()?;
        albert::fsio::write_atomic(path, &bytes).map_err(io(path))?;
        Ok(bytes)
    }

    /// Number of vectors.
    pub(crate) fn len(&self) -> usize {
        self.index.size()
    }

    /// Adds `vectors` under `ids`.
    pub(crate) fn add(&mut self, ids: &[u64], vectors: &[Vec<f32>]) -> Result<()> {
        let needed = self.index.size() + ids.len();
        if needed > self.index.capacity() {
            // Doubling keeps the number of reallocations logarithmic.
            self.index.reserve(needed.max(2 * self.index.capacity())).map_err(failed("growing the index"))?;
        }
        for (id, v) in ids.iter().zip(vectors) {
            self.index.add(*id, v).map_err(failed("adding a vector"))?;
        }
        Ok(())
    }

    /// Removes the vectors of `ids`.
    pub(crate) fn remove(&mut self, ids: &[u64]) -> Result<()> {
        for id in ids {
            self.index.remove(*id).map_err(failed("removing a vector"))?;
        }
        Ok(())
    }

    /// The `k` nearest passages to the unit vector `query`, nearest first, with their cosine.
    pub(crate) fn search(&self, query: &[f32], k: usize) -> Result<Vec<(u64, f32)>> {
        if self.index.size() == 0 {
            return Ok(Vec::new());
        }
        let m = self.index.search(query, k).map_err(failed("searching"))?;
        Ok(m.keys.into_iter().zip(m.distances).map(|(id, d)| (id, 1.0 - d)).collect())
    }
}
