//! Search a user's documents: passages cut by the embedder's tokenizer, a BM25 index (tantivy) and a vector index
//! (usearch's HNSW) on disk, hybrid search by reciprocal rank fusion, reranking by a sequence-pair classifier.
//! What `albert index`, `albert search` and `albert ask` run ([`ask`]: questions answered from an index).
//!
//! ```text
//! files -> documents -> passages (200 tokens, 50 shared) -> { BM25 store, vectors } -> candidates -> rerank -> hits
//! ```
//!
//! ```no_run
//! use albert_search::{ChunkSettings, Embedder, Index, SearchMode, SearchOptions};
//!
//! let embedder = Embedder::load("models/albert-small")?;
//! let (index, report) = Index::build("my-index".as_ref(), &["notes/".into()], &embedder, ChunkSettings::default(), &mut ())?;
//! println!("{} passages from {} files", report.passages_added, report.added.len());
//! let opts = SearchOptions { mode: SearchMode::Hybrid, k: 5, ..SearchOptions::default() };
//! for hit in index.search("where is the config read?", &opts, Some(&embedder), None)? {
//!     println!("{} {:.3} {} {:?}", hit.rank, hit.score, hit.passage.source.file.display(), hit.passage.span);
//! }
//! # Ok::<(), albert_search::SearchError>(())
//! ```

pub mod ask;
#[cfg(feature = "bench")]
pub mod bench;
mod bm25;
pub mod embedder;
pub mod error;
pub mod index;
pub mod passage;
pub mod rerank;
pub mod search;
mod vectors;

pub use embedder::{Embedder, EmbedderId};
pub use error::{Result, SearchError};
pub use index::{FileEntry, Index, IndexInfo, Manifest, Progress, Skipped, UpdateReport};
pub use passage::{ChunkSettings, Document, Format, Passage, Source};
pub use rerank::Reranker;
pub use search::{reciprocal_rank_fusion, Hit, Scores, SearchMode, SearchOptions, RRF_K};
