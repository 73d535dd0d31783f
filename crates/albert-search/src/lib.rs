//! Search a user's documents: passages cut by the embedder's tokenizer, a BM25 index (tantivy) and a vector index
//! (usearch's HNSW) on disk, hybrid search by reciprocal rank fusion, reranking by a sequence-pair classifier.
//! What `albert index`, `albert search` and `albert ask` run ([`ask`]: questions answered from an index).
//!
//! ```text
//! files -> documents -> passages (200 tokens, 50 shared) -> { BM25 store, vectors } -> candidates -> rerank -> hits
//! ```
//!
//! ```no_run
//! # #[cfg(feature = "engine")]
//! # fn main() -> albert_search::Result<()> {
//! use albert_search::{ChunkSettings, Embedder, Index, SearchMode, SearchOptions};
//!
//! let embedder = Embedder::load("models/albert-small")?;
//! let (index, report) = Index::build("my-index".as_ref(), &["notes/".into()], &embedder, ChunkSettings::default(), &mut ())?;
//! println!("{} passages from {} files", report.passages_added, report.added.len());
//! let opts = SearchOptions { mode: SearchMode::Hybrid, k: 5, ..SearchOptions::default() };
//! for hit in index.search("where is the config read?", &opts, Some(&embedder), None)? {
//!     println!("{} {:.3} {} {:?}", hit.rank, hit.score, hit.passage.source.file.display(), hit.passage.span);
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "engine"))]
//! # fn main() {}
//! ```

//!
//! Feature `engine` (default): the index itself, search, reranking and [`ask`]. Without it the crate is the document
//! readers ([`passage`]) and the manifest ([`manifest`]), the parsers of outside data, which the fuzz targets of
//! `scripts/fuzz` build under a sanitizer without tantivy and usearch's C++.

#[cfg(feature = "engine")]
pub mod ask;
#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "engine")]
mod bm25;
pub mod embedder;
pub mod error;
#[cfg(feature = "engine")]
pub mod index;
pub mod manifest;
pub mod passage;
#[cfg(feature = "engine")]
pub mod rerank;
#[cfg(feature = "engine")]
pub mod search;
#[cfg(feature = "engine")]
mod vectors;

pub use embedder::{Embedder, EmbedderId};
pub use error::{Result, SearchError};
#[cfg(feature = "engine")]
pub use index::{Index, IndexInfo, Progress, Skipped, UpdateReport};
pub use manifest::{FileEntry, Manifest};
pub use passage::{ChunkSettings, Document, Format, Passage, Source};
#[cfg(feature = "engine")]
pub use rerank::Reranker;
#[cfg(feature = "engine")]
pub use search::{reciprocal_rank_fusion, Hit, Scores, SearchMode, SearchOptions, RRF_K};
