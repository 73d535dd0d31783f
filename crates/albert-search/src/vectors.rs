//! The approximate-nearest-neighbour index of passage vectors: usearch's HNSW over unit vectors by inner product
//! (so 1 - distance is the cosine), keyed by passage id. Chosen over hnsw_rs and instant-distance for its recall
//! and latency at equal settings and because it removes vectors in place (docs/search/README.md).
//!
//! The file is usearch's own serialization, written through `albert::fsio`; the manifest records its size and
//! SHA-256. A search opens it in place (memory-mapped: a query reads the pages it visits, not the whole file) after
//! [`check_header`] has matched its layout against the manifest, so a truncated or foreign file is an error before
//! usearch (C++) parses it; the full hash, which reads every byte, is checked before an update copies the index
//! and by `albert index info --verify`.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use rayon::prelude::*;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use crate::error::{io, Result, SearchError};

/// Graph degree (HNSW's M).
const CONNECTIVITY: usize = 16;
/// Candidates kept while inserting (HNSW's ef_construction).
const EXPANSION_ADD: usize = 128;
/// Candidates kept while searching (HNSW's ef); a search for more than this many keeps as many as it asks.
const EXPANSION_SEARCH: usize = 64;

/// How deep a new vector is looked for among its own nearest after a parallel insertion ([`Vectors::add`]).
const STRANDED_CHECK_DEPTH: usize = 10;

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

    /// Opens the index file at `path` in place, read-only (memory-mapped), after [`check_header`].
    pub(crate) fn view(path: &Path, dim: usize) -> Result<Self> {
        let name = path.to_str().ok_or_else(|| SearchError::Vectors(format!("{} is not a UTF-8 path", path.display())))?;
        let v = Self::new(dim)?;
        v.index.view(name).map_err(failed("opening the index"))?;
        Ok(v)
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

    /// Adds `vectors` under `ids`, inserting on the threads of the current rayon pool (the user's thread count,
    /// `RAYON_NUM_THREADS`): one insertion at a time took 58 s for 100k vectors, most of an index build's time at
    /// scale. usearch allows concurrent `add` once the capacity and one scratch context per inserting thread are
    /// reserved; reserving is not itself concurrent, so it happens here, before the parallel loop.
    ///
    /// Concurrent insertion in usearch 2.26 can strand a vector: stored, but linked so that no search reaches it
    /// (unum-cloud/USearch#735, open: a node found through its upper-level links before its level-0 links exist;
    /// measured, 15 to 31 of 3,000 random vectors on 8 threads, 9 to 23 of 20,000 clustered ones on 2). So after a
    /// parallel insertion every new vector is searched for; one missing from its own 10 nearest is removed and
    /// inserted again, alone, which links it as a serial insertion would. Gives how many were re-inserted.
    pub(crate) fn add(&mut self, ids: &[u64], vectors: &[Vec<f32>]) -> Result<usize> {
        if ids.len() != vectors.len() {
            return Err(SearchError::Vectors(format!("{} ids for {} vectors", ids.len(), vectors.len())));
        }
        let needed = self.index.size() + ids.len();
        let capacity = self.index.capacity();
        // Doubling keeps the number of reallocations logarithmic. usearch never lowers a thread count it reserved
        // (searches keep theirs); a pool wider than the cores (the default count) would otherwise run out of
        // contexts, and `add` fails rather than waits.
        let capacity = if needed > capacity { needed.max(2 * capacity) } else { capacity };
        let threads = rayon::current_num_threads();
        self.index.reserve_capacity_and_threads(capacity, threads).map_err(failed("growing the index"))?;
        let index = &self.index;
        ids.par_iter().zip(vectors).try_for_each(|(id, v)| index.add(*id, v).map_err(failed("adding a vector")))?;
        if threads == 1 {
            return Ok(0);
        }
        // Ten, not one: a passage with duplicates (the same text twice) may come second to one of them.
        let stranded: Vec<usize> = (0..ids.len())
            .into_par_iter()
            .filter_map(|i| match index.search(&vectors[i], STRANDED_CHECK_DEPTH) {
                Ok(m) if m.keys.contains(&ids[i]) => None,
                Ok(_) => Some(Ok(i)),
                Err(e) => Some(Err(failed("searching for a new vector")(e))),
            })
            .collect::<Result<_>>()?;
        for &i in &stranded {
            index.remove(ids[i]).map_err(failed("removing a stranded vector"))?;
            index.add(ids[i], &vectors[i]).map_err(failed("re-inserting a stranded vector"))?;
        }
        Ok(stranded.len())
    }

    /// Removes the vectors of `ids`.
    pub(crate) fn remove(&mut self, ids: &[u64]) -> Result<()> {
        for id in ids {
            self.index.remove(*id).map_err(failed("removing a vector"))?;
        }
        Ok(())
    }

    /// Sets how many candidates a search keeps (HNSW's ef), for the scale benchmark's trade-off of recall against
    /// latency; the index itself always searches with [`EXPANSION_SEARCH`].
    #[cfg(feature = "bench")]
    pub(crate) fn set_expansion_search(&self, ef: usize) {
        self.index.change_expansion_search(ef);
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

/// usearch's dense-index header (`index_dense_head_t`, 64 bytes), after the vector matrix: the magic, then the
/// version, metric, scalar and key kinds, and the counts.
const HEAD_BYTES: u64 = 64;
const MAGIC: &[u8; 7] = b"usearch";
/// usearch's codes (`metric_kind_t::ip_k`, `scalar_kind_t::f32_k`) for what [`Vectors::new`] makes.
const METRIC_IP: u8 = b'i';
const SCALAR_F32: u8 = 11;

/// Checks, reading 72 bytes, that the file at `path` is a usearch index as [`Vectors::save`] writes it: its matrix
/// of `count` rows or more (removed vectors keep their rows) of `dim` f32s fits the file, its header has usearch's
/// magic and major version 2, inner product over f32, `count` vectors of `dim` dimensions. What is wrong is
/// returned in words.
pub(crate) fn check_header(path: &Path, dim: usize, count: u64) -> std::result::Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    let short = || format!("{len} bytes is too short for a usearch index");
    let mut matrix = [0u8; 8];
    file.read_exact(&mut matrix).map_err(|_| short())?;
    let rows = u64::from(u32::from_le_bytes(matrix[..4].try_into().expect("4 bytes")));
    let cols = u64::from(u32::from_le_bytes(matrix[4..].try_into().expect("4 bytes")));
    if cols != 4 * dim as u64 {
        return Err(format!("its vectors have {cols} bytes, not {} ({dim} f32s)", 4 * dim));
    }
    let head_at = rows.checked_mul(cols).and_then(|m| m.checked_add(8)).filter(|&at| at + HEAD_BYTES <= len).ok_or_else(short)?;
    let mut head = [0u8; HEAD_BYTES as usize];
    file.seek(SeekFrom::Start(head_at)).and_then(|_| file.read_exact(&mut head)).map_err(|e| e.to_string())?;
    let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
    if &head[..7] != MAGIC {
        return Err("it is not a usearch index (no \"usearch\" header)".into());
    }
    let major = u16::from_le_bytes([head[7], head[8]]);
    let (metric, scalar, present, deleted, dims) = (head[13], head[14], u64_at(17), u64_at(25), u64_at(33));
    if major != 2 || metric != METRIC_IP || scalar != SCALAR_F32 {
        return Err(format!("it is a usearch {major}.x index of metric {metric} over scalars {scalar}, not 2.x, inner product, f32"));
    }
    if dims != dim as u64 || present != count || present.checked_add(deleted) != Some(rows) {
        return Err(format!(
            "its header lists {present} vectors (and {deleted} removed) of {dims} dimensions in {rows} rows; the manifest, {count} of {dim}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use albert::rng::AlbertRng;

    const DIM: usize = 16;

    /// `n` unit vectors of `DIM` values: points of the cube [-1, 1]^DIM, normalized (no two are near each other).
    fn unit_vectors(n: usize) -> Vec<Vec<f32>> {
        let mut rng = AlbertRng::new(3);
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..DIM).map(|_| (2.0 * rng.uniform() - 1.0) as f32).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    /// Insertion on 8 threads (more than this machine's cores, usearch's default count of insertion contexts), in two
    /// batches so that the second grows the index: every key holds its own vector bit for bit, and each vector's
    /// nearest neighbour by inner product is itself, at cosine 1.
    #[test]
    fn parallel_insertion_keeps_each_key_on_its_vector() {
        let vectors = unit_vectors(3000);
        let ids: Vec<u64> = (0..vectors.len() as u64).map(|i| 1000 + 7 * i).collect();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(8).build().unwrap();
        let mut index = Vectors::new(DIM).unwrap();
        pool.install(|| {
            index.add(&ids[..1000], &vectors[..1000]).unwrap();
            index.add(&ids[1000..], &vectors[1000..]).unwrap();
        });
        assert_eq!(index.len(), vectors.len());
        let mut stored = vec![0f32; DIM];
        for (&id, v) in ids.iter().zip(&vectors) {
            assert_eq!(index.index.get(id, &mut stored).unwrap(), 1, "key {id}");
            assert_eq!(&stored, v, "key {id}");
            let nearest = index.search(v, 1).unwrap();
            assert_eq!(nearest[0].0, id);
            assert!((nearest[0].1 - 1.0).abs() < 1e-5, "cosine {}", nearest[0].1);
        }
    }

    #[test]
    fn ids_and_vectors_of_different_counts_are_an_error() {
        let mut index = Vectors::new(DIM).unwrap();
        let err = index.add(&[1, 2], &unit_vectors(1)).unwrap_err();
        assert!(err.to_string().contains("2 ids for 1 vectors"), "{err}");
        assert_eq!(index.len(), 0);
    }
}
