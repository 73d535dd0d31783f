//! The index on disk, and its updates.
//!
//! ```text
//! INDEX/
//!   manifest.json     format and version, embedder, chunking, indexed files and their hashes, the generation,
//!                     the size of every file of the generation, the vector file's SHA-256
//!   .lock             held (an OS file lock) by the process updating the index
//!   g7/bm25/          the passage store and its BM25 index (tantivy)
//!   g7/vectors.usearch
//! ```
//!
//! Every update (build, add, remove, sync) writes a new generation `g{N+1}` beside the current one (the tantivy
//! directory starts as hard links to the current one's immutable files; tantivy writes new files and replaces
//! `meta.json` by rename, so the current generation is never touched), then switches to it by writing
//! `manifest.json` atomically (`albert::fsio`), then deletes the old generation. A crash or an error at any point
//! leaves the previous index whole; a stale generation directory is deleted by the next update.
//!
//! Opening is cheap, since every `albert search` and `ask` opens the index: it checks the manifest (format,
//! version), that every file of the generation has the size the manifest recorded, the vector file's header (usearch's
//! magic, vector width and count), and that both indexes hold the manifest's passage count; the vectors are then
//! memory-mapped, not read. A truncated, foreign or damaged index is reported as [`SearchError::Corrupted`], a
//! directory that is not an index as [`SearchError::NotAnIndex`]. Damage that keeps sizes and headers (a flipped
//! byte) is found by [`Index::verify`], which reads everything: the vector file's SHA-256 against the manifest and
//! tantivy's checksum of each of its files. `albert index info --verify` runs it, and so does every update before it
//! copies the index, so damage is never carried into a new generation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bm25::Bm25;
use crate::embedder::{Embedder, EmbedderId};
use crate::error::{io, Result, SearchError};
use crate::manifest::{FileEntry, Manifest, FORMAT, MANIFEST, VERSION};
use crate::passage::{chunk, read_documents, ChunkSettings, Format, Passage};
use crate::vectors::{self, Vectors};

const LOCK: &str = ".lock";
const BM25_DIR: &str = "bm25";
const VECTORS: &str = "vectors.usearch";
/// Extensions taken when a folder is walked (a file named explicitly is read whatever its extension).
const DOC_EXTENSIONS: [&str; 6] = ["txt", "text", "md", "markdown", "jsonl", "json"];
/// Passages embedded per progress step.
const EMBED_CHUNK: usize = 64;

/// A file (or folder) found under a folder given to an update and left out of the index, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The file or folder (absolute).
    pub path: PathBuf,
    /// Why: the I/O error (permission denied, a dangling link), or what makes it no document of its format (not
    /// UTF-8, a `.json` that is not SQuAD, a bad JSONL line).
    pub reason: String,
}

impl Skipped {
    /// The entry of a file that could not be read (an I/O error) or not as a document of its format; any other
    /// error is given back, to fail the update.
    fn from_error(e: SearchError) -> Result<Self> {
        match e {
            SearchError::Document { path, message } => Ok(Skipped { path, reason: message }),
            SearchError::Io { path, source } => Ok(Skipped { path, reason: source.to_string() }),
            other => Err(other),
        }
    }
}

/// What an update did, file by file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateReport {
    /// Files indexed for the first time.
    pub added: Vec<PathBuf>,
    /// Files re-indexed because their content changed.
    pub updated: Vec<PathBuf>,
    /// Files taken out of the index.
    pub removed: Vec<PathBuf>,
    /// Files found unchanged (same SHA-256), left as they were.
    pub unchanged: usize,
    /// Passages added.
    pub passages_added: u64,
    /// Passages removed.
    pub passages_removed: u64,
    /// Files and folders under the folders given that could not be read, or not as documents, and were left out
    /// (a folder of documents is indexed whatever one bad file in it). A file already indexed that is skipped by
    /// `sync` is also among `removed`: its passages no longer say what the file does.
    pub skipped: Vec<Skipped>,
}

/// Where long work reports its progress (the CLI draws bars); `()` ignores it.
pub trait Progress {
    /// A stage of `total` steps begins ("reading" files, "embedding" passages).
    fn stage(&mut self, _name: &str, _total: u64) {}
    /// `n` more steps of the stage are done.
    fn advance(&mut self, _n: u64) {}
}

impl Progress for () {}

/// Summary of an index, as `albert index info` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct IndexInfo {
    /// The index directory.
    pub dir: PathBuf,
    /// The layout version.
    pub version: u32,
    /// The current generation.
    pub generation: u64,
    /// The embedder.
    pub embedder: EmbedderId,
    /// How documents were cut.
    pub chunking: ChunkSettings,
    /// Indexed files.
    pub files: usize,
    /// Documents in them.
    pub documents: usize,
    /// Passages.
    pub passages: u64,
    /// Bytes on disk (the current generation and the manifest).
    pub bytes: u64,
    /// The paths `sync` walks.
    pub roots: Vec<PathBuf>,
}

/// An open index.
pub struct Index {
    dir: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) bm25: Bm25,
    pub(crate) vectors: Vectors,
}

/// The lock an updating process holds; released when dropped (or when the process dies).
struct Lock {
    _file: std::fs::File,
}

impl Index {
    /// Opens the index in `dir`, checking it (see the module documentation).
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = Manifest::read(dir)?;
        let generation = generation_dir(dir, manifest.generation);
        let corrupted = |reason: String| SearchError::Corrupted { dir: dir.into(), reason };
        for (name, size) in &manifest.generation_files {
            let path = generation.join(name);
            match std::fs::metadata(&path) {
                Ok(m) if m.len() == *size => {}
                Ok(m) => return Err(corrupted(format!("{} has {} bytes, the manifest recorded {size}", path.display(), m.len()))),
                Err(e) => return Err(corrupted(format!("{}: {e}", path.display()))),
            }
        }
        let vectors_path = generation.join(VECTORS);
        let named = |e: String| corrupted(format!("{}: {e}", vectors_path.display()));
        vectors::check_header(&vectors_path, manifest.embedder.dim, manifest.passages).map_err(named)?;
        let vectors = Vectors::view(&vectors_path, manifest.embedder.dim).map_err(|e| named(e.to_string()))?;
        let bm25 = Bm25::open(&generation.join(BM25_DIR)).map_err(|e| match e {
            SearchError::Tantivy(t) => corrupted(format!("{}: {t}", generation.join(BM25_DIR).display())),
            other => other,
        })?;
        let counts = (bm25.len(), vectors.len() as u64);
        if counts != (manifest.passages, manifest.passages) {
            return Err(corrupted(format!(
                "the manifest lists {} passages, the passage store holds {} and the vector index {}",
                manifest.passages, counts.0, counts.1
            )));
        }
        Ok(Self { dir: dir.into(), manifest, bm25, vectors })
    }

    /// Builds an index of `docs` (files, or folders walked for `.txt`, `.md`, `.jsonl` and `.json` files) in `dir`,
    /// with `embedder` and `chunking`. `dir` must be absent, empty, or an albert index (replaced, atomically, only
    /// once the new one is complete); a directory holding anything else is refused.
    ///
    /// A file found in a folder that cannot be read, or is not a document of its format (not UTF-8, a `.json` that is
    /// not SQuAD, a bad JSONL line), is left out and named in [`UpdateReport::skipped`], and so is a subfolder that
    /// cannot be listed; a file named in `docs` is read or the update fails (naming it, nothing changed): whoever
    /// names a file wants it indexed. The same holds for [`Index::add`] and [`Index::sync`] (which walks the paths
    /// given to `build` and `add` again: a file named there stays named).
    pub fn build(
        dir: &Path,
        docs: &[PathBuf],
        embedder: &Embedder,
        chunking: ChunkSettings,
        progress: &mut dyn Progress,
    ) -> Result<(Self, UpdateReport)> {
        chunking.check()?;
        let generation = match Manifest::read(dir) {
            Ok(m) => m.generation,
            Err(SearchError::NotAnIndex { .. }) if is_empty_or_absent(dir)? => 0,
            // An index of ours (it has the lock file) that is damaged or old is replaced: rebuilding is what their
            // errors advise.
            Err(SearchError::Corrupted { .. } | SearchError::Version { .. }) if dir.join(LOCK).is_file() => highest_generation(dir),
            Err(e @ (SearchError::NotAnIndex { .. } | SearchError::Corrupted { .. })) => {
                return Err(SearchError::Input(format!("{e}; refusing to write an index into a directory that holds other files")))
            }
            Err(e) => return Err(e),
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = lock(dir)?;
        let manifest = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generation,
            embedder: embedder.id().clone(),
            chunking,
            roots: BTreeSet::new(),
            files: BTreeMap::new(),
            passages: 0,
            next_id: 0,
            vectors_sha256: String::new(),
            generation_files: BTreeMap::new(),
        };
        let plan = Plan::adding(&manifest, docs, dir)?;
        let (index, report) = apply(dir, manifest, None, plan, Some(embedder), progress)?;
        drop(lock);
        Ok((index, report))
    }

    /// Adds `docs` (files or folders, as [`Index::build`] reads them): new files are indexed, changed ones
    /// re-indexed, unchanged ones left.
    pub fn add(&mut self, docs: &[PathBuf], embedder: &Embedder, progress: &mut dyn Progress) -> Result<UpdateReport> {
        self.check_embedder(embedder)?;
        let plan = Plan::adding(&self.manifest, docs, &self.dir)?;
        self.update(plan, Some(embedder), progress)
    }

    /// Takes out of the index the files `paths` name (a folder: every indexed file under it), and stops `sync` from
    /// walking them. A path that names no indexed file is an error, and nothing is removed.
    pub fn remove(&mut self, paths: &[PathBuf]) -> Result<UpdateReport> {
        let mut plan = Plan { roots: self.manifest.roots.clone(), ..Plan::default() };
        for path in paths {
            let abs = absolute(path)?;
            let under: Vec<&PathBuf> = self.manifest.files.keys().filter(|f| f.starts_with(&abs)).collect();
            if under.is_empty() {
                return Err(SearchError::Input(format!("{} is not in the index (see `albert index info`)", path.display())));
            }
            plan.remove.extend(under.into_iter().cloned());
            plan.roots.retain(|r| !r.starts_with(&abs));
        }
        self.update(plan, None, &mut ())
    }

    /// Brings the index up to date with its files: walks the paths it was built from again, indexes new files,
    /// re-indexes those whose content changed (by SHA-256), and takes out those that are gone.
    pub fn sync(&mut self, embedder: &Embedder, progress: &mut dyn Progress) -> Result<UpdateReport> {
        self.check_embedder(embedder)?;
        let roots: Vec<PathBuf> = self.manifest.roots.iter().filter(|r| r.exists()).cloned().collect();
        let mut plan = Plan::adding(&self.manifest, &roots, &self.dir)?;
        plan.roots = self.manifest.roots.clone();
        let seen: BTreeSet<&PathBuf> = plan.add.iter().map(|f| &f.path).chain(&plan.unchanged).collect();
        let gone: Vec<PathBuf> = self.manifest.files.keys().filter(|f| !seen.contains(f)).cloned().collect();
        plan.remove.extend(gone);
        self.update(plan, Some(embedder), progress)
    }

    /// Reads the whole index and checks it against its checksums: the vector file against the SHA-256 the manifest
    /// recorded, tantivy's files against the checksums in their footers. [`Index::open`] checks only sizes, headers
    /// and counts; this finds damage that keeps them (a flipped byte).
    pub fn verify(&self) -> Result<()> {
        self.verified_vector_bytes()?;
        self.verify_bm25()
    }

    /// Checks tantivy's files against their checksums.
    fn verify_bm25(&self) -> Result<()> {
        let generation = generation_dir(&self.dir, self.manifest.generation);
        let damaged = self.bm25.damaged_files().map_err(|e| self.corrupted(format!("{}: {e}", generation.join(BM25_DIR).display())))?;
        if !damaged.is_empty() {
            let names: Vec<String> = damaged.iter().map(|f| generation.join(BM25_DIR).join(f).display().to_string()).collect();
            return Err(self.corrupted(format!("{} fail(s) tantivy's checksum", names.join(", "))));
        }
        Ok(())
    }

    /// The current generation's vector file, checked against the manifest's SHA-256.
    fn verified_vector_bytes(&self) -> Result<Vec<u8>> {
        let path = generation_dir(&self.dir, self.manifest.generation).join(VECTORS);
        let bytes = std::fs::read(&path).map_err(|e| self.corrupted(format!("{}: {e}", path.display())))?;
        if sha256_hex(&bytes) != self.manifest.vectors_sha256 {
            return Err(self.corrupted(format!("{} does not match the SHA-256 the manifest recorded", path.display())));
        }
        Ok(bytes)
    }

    fn corrupted(&self, reason: String) -> SearchError {
        SearchError::Corrupted { dir: self.dir.clone(), reason }
    }

    /// The index's summary.
    pub fn info(&self) -> Result<IndexInfo> {
        let m = &self.manifest;
        let manifest_bytes = std::fs::metadata(self.dir.join(MANIFEST)).map_err(io(self.dir.join(MANIFEST)))?.len();
        Ok(IndexInfo {
            dir: self.dir.clone(),
            version: m.version,
            generation: m.generation,
            embedder: m.embedder.clone(),
            chunking: m.chunking,
            files: m.files.len(),
            documents: m.documents(),
            passages: m.passages,
            bytes: m.generation_files.values().sum::<u64>() + manifest_bytes,
            roots: m.roots.iter().cloned().collect(),
        })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the embedder the index was built with (as its manifest names it).
    pub fn load_embedder(&self) -> Result<Embedder> {
        let embedder = Embedder::load(&self.manifest.embedder.spec)?;
        self.check_embedder(&embedder)?;
        Ok(embedder)
    }

    /// Refuses an embedder other than the index's: its vectors would not compare.
    pub fn check_embedder(&self, embedder: &Embedder) -> Result<()> {
        let (want, got) = (&self.manifest.embedder, embedder.id());
        if want.fingerprint != got.fingerprint || want.dim != got.dim {
            return Err(SearchError::EmbedderMismatch { expected: want.to_string(), found: got.to_string() });
        }
        Ok(())
    }

    fn update(&mut self, plan: Plan, embedder: Option<&Embedder>, progress: &mut dyn Progress) -> Result<UpdateReport> {
        let lock = lock(&self.dir)?;
        // Another process may have updated the index since it was opened: start from what is on disk now.
        if Manifest::read(&self.dir)?.generation != self.manifest.generation {
            return Err(SearchError::Busy { dir: self.dir.clone() });
        }
        let manifest = self.manifest.clone();
        let (next, report) = apply(&self.dir, manifest, Some(&*self), plan, embedder, progress)?;
        *self = next;
        drop(lock);
        Ok(report)
    }
}

/// A file an update reads and indexes.
struct ToRead {
    /// The file (absolute).
    path: PathBuf,
    /// SHA-256 of its bytes, in hex.
    sha256: String,
    /// Whether the user named it (rather than a folder holding it): a file named that cannot be read as a document
    /// fails the update; one found in a folder is skipped.
    named: bool,
}

/// The changes of one update.
#[derive(Default)]
struct Plan {
    /// Files to read and index (already indexed ones are removed first).
    add: Vec<ToRead>,
    /// Indexed files to take out.
    remove: BTreeSet<PathBuf>,
    /// Files found unchanged.
    unchanged: Vec<PathBuf>,
    /// The roots after the update.
    roots: BTreeSet<PathBuf>,
    /// Entries of the folders walked that could not be read.
    skipped: Vec<Skipped>,
}

impl Plan {
    /// Files of `docs` new to `manifest` or changed since it indexed them; folders are walked, `index_dir` skipped.
    fn adding(manifest: &Manifest, docs: &[PathBuf], index_dir: &Path) -> Result<Self> {
        let mut plan = Plan { roots: manifest.roots.clone(), ..Plan::default() };
        let skip = absolute(index_dir)?;
        let (mut found, mut named) = (BTreeSet::new(), BTreeSet::new());
        for doc in docs {
            let abs = absolute(doc)?;
            let meta = std::fs::metadata(&abs).map_err(io(doc))?;
            if meta.is_dir() {
                walk(&abs, &skip, &mut found, &mut plan.skipped)?;
            } else {
                named.insert(abs.clone());
            }
            plan.roots.insert(abs);
        }
        found.extend(named.iter().cloned());
        for path in found {
            let named = named.contains(&path);
            let sha256 = match std::fs::read(&path) {
                Ok(bytes) => sha256_hex(&bytes),
                Err(e) if !named => {
                    plan.skipped.push(Skipped { path, reason: e.to_string() });
                    continue;
                }
                Err(e) => return Err(io(path)(e)),
            };
            match manifest.files.get(&path) {
                Some(entry) if entry.sha256 == sha256 => plan.unchanged.push(path),
                Some(_) => {
                    plan.remove.insert(path.clone());
                    plan.add.push(ToRead { path, sha256, named });
                }
                None => plan.add.push(ToRead { path, sha256, named }),
            }
        }
        Ok(plan)
    }
}

/// Writes the next generation: `base`'s (or, without one, an empty index) with `plan` applied; then switches the
/// manifest to it and deletes the other generations. On error the new generation's directory is deleted.
fn apply(
    dir: &Path,
    mut manifest: Manifest,
    base: Option<&Index>,
    plan: Plan,
    embedder: Option<&Embedder>,
    progress: &mut dyn Progress,
) -> Result<(Index, UpdateReport)> {
    manifest.generation += 1;
    let next = generation_dir(dir, manifest.generation);
    if next.exists() {
        // Left by a crashed update (we hold the lock, so no one is writing it).
        std::fs::remove_dir_all(&next).map_err(io(&next))?;
    }
    let written = write_generation(&next, &mut manifest, base, plan, embedder, progress);
    let (bm25, vectors, report) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&next);
            return Err(e);
        }
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| SearchError::Input(format!("serializing the manifest: {e}")))?;
    if let Err(e) = albert::fsio::write_atomic(&dir.join(MANIFEST), &json) {
        let _ = std::fs::remove_dir_all(&next);
        return Err(io(dir.join(MANIFEST))(e));
    }
    // The new generation is live; the old one (and any stale one) can go. Failing to delete is harmless.
    remove_other_generations(dir, manifest.generation);
    Ok((Index { dir: dir.into(), manifest, bm25, vectors }, report))
}

fn write_generation(
    next: &Path,
    manifest: &mut Manifest,
    base: Option<&Index>,
    plan: Plan,
    embedder: Option<&Embedder>,
    progress: &mut dyn Progress,
) -> Result<(Bm25, Vectors, UpdateReport)> {
    let bm25_dir = next.join(BM25_DIR);
    std::fs::create_dir_all(&bm25_dir).map_err(io(&bm25_dir))?;
    let (bm25, mut vectors) = match base {
        Some(b) => {
            // The base is opened cheaply (memory-mapped, not hashed): check every byte before building on it.
            let bytes = b.verified_vector_bytes()?;
            b.verify_bm25()?;
            link_dir(&generation_dir(&b.dir, b.manifest.generation).join(BM25_DIR), &bm25_dir)?;
            (Bm25::open(&bm25_dir)?, Vectors::from_bytes(manifest.embedder.dim, &bytes)?)
        }
        None => (Bm25::create(&bm25_dir)?, Vectors::new(manifest.embedder.dim)?),
    };
    let mut report = UpdateReport { unchanged: plan.unchanged.len(), skipped: plan.skipped, ..UpdateReport::default() };
    let mut writer = bm25.writer()?;
    for file in &plan.remove {
        let key = file.to_string_lossy();
        let ids = bm25.ids_of_file(&key)?;
        vectors.remove(&ids)?;
        writer.remove_file(&key);
        report.passages_removed += ids.len() as u64;
        manifest.passages -= ids.len() as u64;
        manifest.files.remove(file);
    }
    if !plan.add.is_empty() {
        let embedder = embedder.ok_or_else(|| SearchError::Input("adding documents needs the embedder".into()))?;
        progress.stage("reading", plan.add.len() as u64);
        let mut passages: Vec<Passage> = Vec::new();
        for ToRead { path: file, sha256: sha, named } in &plan.add {
            let docs = match read_documents(file) {
                Ok(docs) => docs,
                Err(e) if !named => {
                    report.skipped.push(Skipped::from_error(e)?);
                    progress.advance(1);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let before = passages.len();
            for doc in &docs {
                let cut = chunk(doc, embedder.tokenizer(), manifest.chunking, manifest.next_id)?;
                manifest.next_id += cut.len() as u64;
                passages.extend(cut);
            }
            let entry =
                FileEntry { sha256: sha.clone(), format: Format::of(file), documents: docs.len(), passages: passages.len() - before };
            manifest.files.insert(file.clone(), entry);
            if plan.remove.contains(file) {
                report.updated.push(file.clone());
            } else {
                report.added.push(file.clone());
            }
            progress.advance(1);
        }
        progress.stage("embedding", passages.len() as u64);
        for batch in passages.chunks(EMBED_CHUNK) {
            let texts: Vec<&str> = batch.iter().map(|p| p.text.as_str()).collect();
            let embedded = embedder.embed(&texts)?;
            let ids: Vec<u64> = batch.iter().map(|p| p.id).collect();
            vectors.add(&ids, &embedded)?;
            for p in batch {
                writer.add(p)?;
            }
            progress.advance(batch.len() as u64);
        }
        report.passages_added = passages.len() as u64;
        manifest.passages += passages.len() as u64;
    }
    // Files taken out and not read back (a re-indexed file that was skipped is gone from the index).
    report.removed = plan.remove.iter().filter(|p| !report.updated.contains(p)).cloned().collect();
    writer.commit()?;
    let bytes = vectors.save(&next.join(VECTORS))?;
    manifest.vectors_sha256 = sha256_hex(&bytes);
    manifest.roots = plan.roots;
    manifest.generation_files = sizes(next)?;
    albert::fsio::sync_dir(next).map_err(io(next))?;
    Ok((bm25, vectors, report))
}

fn is_empty_or_absent(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io(dir)(e)),
    }
}

fn generation_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("g{generation}"))
}

/// Takes the index's update lock, or says that another process holds it.
fn lock(dir: &Path) -> Result<Lock> {
    let path = dir.join(LOCK);
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(SearchError::Busy { dir: dir.into() }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(path)(e)),
    }
}

/// The highest generation whose directory `dir` holds (0 when none).
fn highest_generation(dir: &Path) -> u64 {
    generations(dir).into_iter().max().unwrap_or(0)
}

/// The generations whose directories `dir` holds.
fn generations(dir: &Path) -> Vec<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_prefix('g')).and_then(|g| g.parse().ok()))
        .collect()
}

/// Deletes every generation directory of `dir` but `keep`'s.
fn remove_other_generations(dir: &Path, keep: u64) {
    for g in generations(dir).into_iter().filter(|&g| g != keep) {
        let _ = std::fs::remove_dir_all(generation_dir(dir, g));
    }
}

/// Hard-links (copies, where linking fails) every file of `from` into `to`, but tantivy's lock files.
fn link_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".lock") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(io(&src))?;
        }
    }
    Ok(())
}

/// Sizes of the files under `dir`, by relative path (`/`-separated).
fn sizes(dir: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                stack.push(path);
            } else if !name.ends_with(".lock") {
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.insert(rel, entry.metadata().map_err(io(&path))?.len());
            }
        }
    }
    Ok(out)
}

/// Files under `dir` with a document extension, hidden entries and `skip` (the index itself) left out. A folder
/// below `dir` that cannot be listed is named in `skipped` and the walk goes on; `dir` itself must be listed (its
/// error is the only one returned).
fn walk(dir: &Path, skip: &Path, out: &mut BTreeSet<PathBuf>, skipped: &mut Vec<Skipped>) -> Result<()> {
    if dir == skip {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                skipped.push(Skipped { path: dir.to_path_buf(), reason: format!("listing it failed part way: {e}") });
                continue;
            }
        };
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if let Err(e) = walk(&path, skip, out, skipped) {
                skipped.push(Skipped::from_error(e)?);
            }
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| DOC_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())) {
            out.insert(path);
        }
    }
    Ok(())
}

/// `path` made absolute and cleaned of `.` and `..` (it need not exist).
fn absolute(path: &Path) -> Result<PathBuf> {
    path.canonicalize().or_else(|_| std::path::absolute(path)).map_err(io(path))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
