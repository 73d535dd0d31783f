//! `manifest.json`, what an index holds and how it was made, and its reading (checks that tell an albert index from
//! any other directory, and a damaged one from a whole one). Apart from the index's engines (tantivy, usearch), so
//! that the fuzz targets of `scripts/fuzz` build it without them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::embedder::EmbedderId;
use crate::error::{io, Result, SearchError};
use crate::passage::{ChunkSettings, Format};

/// What `manifest.json`'s `format` says.
pub const FORMAT: &str = "albert-search-index";
/// The layout version this crate reads and writes.
pub const VERSION: u32 = 1;
/// The manifest's file name in the index directory.
pub(crate) const MANIFEST: &str = "manifest.json";

/// An indexed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// SHA-256 of its bytes when indexed, in hex: `sync` re-indexes it when this changes.
    pub sha256: String,
    /// How it was read.
    pub format: Format,
    /// Documents read from it.
    pub documents: usize,
    /// Passages cut from them.
    pub passages: usize,
}

/// `manifest.json`: what the index holds and how it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`]: tells an albert index from any other directory.
    pub format: String,
    /// The layout version ([`VERSION`]).
    pub version: u32,
    /// The current generation: its files are in `g{generation}/`.
    pub generation: u64,
    /// The model that embedded the passages (queries must use the same).
    pub embedder: EmbedderId,
    /// How documents were cut.
    pub chunking: ChunkSettings,
    /// The paths given to `build` and `add` (absolute): `sync` walks them again for new, changed and gone files.
    pub roots: BTreeSet<PathBuf>,
    /// Every indexed file (absolute path) and what it gave.
    pub files: BTreeMap<PathBuf, FileEntry>,
    /// Passages in the index.
    pub passages: u64,
    /// The id the next passage gets (ids are never reused).
    pub next_id: u64,
    /// SHA-256 of the generation's vector file, in hex.
    pub vectors_sha256: String,
    /// Size in bytes of every file of the generation, by path relative to its directory.
    pub generation_files: BTreeMap<String, u64>,
}

impl Manifest {
    /// Reads and checks `dir/manifest.json`: a directory without one, or whose manifest is someone else's (no
    /// `"format": "albert-search-index"`), is [`SearchError::NotAnIndex`]; bytes that are not JSON, or an albert
    /// manifest with fields missing or mistyped, [`SearchError::Corrupted`]; another layout version
    /// [`SearchError::Version`]. Outside data (`scripts/fuzz`'s `index_manifest` target feeds it anything).
    pub fn read(dir: &Path) -> Result<Manifest> {
        let m = read_any_version(dir)?;
        if m.version != VERSION {
            return Err(SearchError::Version { dir: dir.into(), found: m.version, expected: VERSION });
        }
        Ok(m)
    }

    /// Documents in the indexed files. The counts are read from the manifest, outside data: their sum saturates
    /// rather than overflow.
    pub fn documents(&self) -> usize {
        self.files.values().map(|f| f.documents).fold(0, usize::saturating_add)
    }
}

/// Reads `dir/manifest.json` as an albert manifest, of any version.
fn read_any_version(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let not = |reason: String| SearchError::NotAnIndex { dir: dir.into(), reason };
    if !dir.is_dir() {
        return Err(not(if dir.exists() { "it is a file".into() } else { "it does not exist".into() }));
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not(format!("it has no {MANIFEST}"))),
        Err(e) => return Err(io(path)(e)),
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| SearchError::Corrupted { dir: dir.into(), reason: format!("{} is not valid JSON ({e})", path.display()) })?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(not(format!("its {MANIFEST} is not an albert index manifest (no \"format\": \"{FORMAT}\")")));
    }
    serde_json::from_value(value)
        .map_err(|e| SearchError::Corrupted { dir: dir.into(), reason: format!("{} is damaged ({e})", path.display()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest is outside data: one whose counts overflow, or whose fingerprint is not hex, is described without
    /// a panic; someone else's `manifest.json`, bad JSON and another version are told apart.
    #[test]
    fn any_manifest_is_read_or_refused_without_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let write = |value: &serde_json::Value| std::fs::write(dir.path().join(MANIFEST), value.to_string()).unwrap();
        let entry = |documents: usize| serde_json::json!({"sha256": "", "format": "text", "documents": documents, "passages": 1});
        let mut manifest = serde_json::json!({
            "format": FORMAT, "version": VERSION, "generation": 1,
            "embedder": {"spec": "m", "dim": 4, "fingerprint": "ééééééééééééé"},
            "chunking": {"passage_tokens": 200, "overlap": 50}, "roots": [],
            "files": {"/a.txt": entry(usize::MAX), "/b.txt": entry(1)},
            "passages": 2, "next_id": 2, "vectors_sha256": "", "generation_files": {}
        });
        write(&manifest);
        let m = Manifest::read(dir.path()).unwrap();
        assert_eq!(m.documents(), usize::MAX);
        assert_eq!(m.embedder.to_string(), "m (4 dimensions, sha256 éééééééééééé)");
        manifest["version"] = (VERSION + 1).into();
        write(&manifest);
        assert!(matches!(Manifest::read(dir.path()), Err(SearchError::Version { found, .. }) if found == VERSION + 1));
        manifest["format"] = "npm".into();
        write(&manifest);
        assert!(matches!(Manifest::read(dir.path()), Err(SearchError::NotAnIndex { .. })));
        std::fs::write(dir.path().join(MANIFEST), b"{\"format\": \"albert-search-index\", \"version\": 1}").unwrap();
        assert!(matches!(Manifest::read(dir.path()), Err(SearchError::Corrupted { .. })));
        std::fs::write(dir.path().join(MANIFEST), b"\xff not json").unwrap();
        assert!(matches!(Manifest::read(dir.path()), Err(SearchError::Corrupted { .. })));
    }
}
