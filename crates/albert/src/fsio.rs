//! The one way this project writes a file: atomically and durably.
//!
//! Data goes to a temporary sibling (`.NAME.PID-N.tmp`, created as a plain new file so it gets the umask's mode,
//! as `File::create` would), which is flushed to disk and renamed over the target; the directory is then synced so
//! the rename itself survives a power loss. Readers see the old file or the complete new one, never a part; a
//! writer dropped before [`AtomicFile::commit`] (an error, a panic) removes its temporary file.
//!
//! Output directories and files are claimed before anything is written ([`claim_dir`], [`claim_file`]), so that a
//! command never replaces a file it did not write: a directory records the names its writers own in
//! [`OUTPUTS_FILE`], which re-running or resuming into it relies on.
//!
//! Testing seam: `ALBERT_FAULT_ENOSPC_AFTER=N` (read once per process) makes every write through this module fail
//! with ENOSPC ("No space left on device") once N bytes in all have been written through it, as a full disk would.
//! Tests use it to check that a full disk during a checkpoint leaves the previous checkpoint intact.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable of the full-disk testing seam (see the module documentation).
pub const FAULT_ENOSPC_AFTER: &str = "ALBERT_FAULT_ENOSPC_AFTER";

/// ENOSPC on Linux, macOS and the BSDs.
const ENOSPC: i32 = 28;

/// Writes `bytes` to `path` atomically and durably (see the module documentation).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.json");
/// albert::fsio::write_atomic(&path, b"{\"hidden_size\": 768}\n")?;
/// assert_eq!(std::fs::read(&path)?, b"{\"hidden_size\": 768}\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// A file being written that appears under its name, complete, only on [`AtomicFile::commit`]; dropped
/// uncommitted, its temporary file is removed.
///
/// ```
/// use std::io::Write;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("shard.tokens");
/// let mut file = albert::fsio::AtomicFile::create(&path)?;
/// file.write_all(b"first ")?;
/// assert!(!path.exists()); // nothing under the name until the commit
/// file.write_all(b"second")?;
/// file.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"first second");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<Budgeted>>,
}

impl AtomicFile {
    /// Starts writing `target`: creates its temporary sibling.
    pub fn create(target: &Path) -> io::Result<Self> {
        let temp = temp_path(target);
        let file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        Ok(AtomicFile {
            target: target.to_owned(),
            temp,
            writer: Some(BufWriter::new(Budgeted(file))),
        })
    }

    /// Flushes the data to disk, renames the temporary file over the target and syncs the directory.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("committed once");
        // On failure the temporary file still has to go, as on drop.
        let done = writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|Budgeted(file)| file.sync_all())
            .and_then(|()| std::fs::rename(&self.temp, &self.target));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&self.temp);
            return Err(e);
        }
        sync_dir(parent(&self.target))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.as_mut().expect("not committed").write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.as_mut().expect("not committed").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Makes the entries of `dir` (files created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A hidden sibling of `path`, unique within this process and across processes.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    parent(path).join(name)
}

/// A file whose writes draw on the process-wide budget of the full-disk seam.
#[derive(Debug)]
struct Budgeted(File);

/// Bytes that may still be written before the seam reports ENOSPC; `None` when the seam is off.
fn budget() -> Option<&'static AtomicU64> {
    static BUDGET: OnceLock<Option<AtomicU64>> = OnceLock::new();
    BUDGET
        .get_or_init(|| {
            let n = std::env::var(FAULT_ENOSPC_AFTER).ok()?;
            let n = n.trim().parse().unwrap_or_else(|_| {
                panic!("{FAULT_ENOSPC_AFTER} must be a number of bytes, got {n:?}")
            });
            Some(AtomicU64::new(n))
        })
        .as_ref()
}

impl Write for Budgeted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(left) = budget() else {
            return self.0.write(buf);
        };
        let allowed = left.load(Ordering::Relaxed).min(buf.len() as u64) as usize;
        if allowed == 0 && !buf.is_empty() {
            return Err(io::Error::from_raw_os_error(ENOSPC));
        }
        let n = self.0.write(&buf[..allowed])?;
        left.fetch_sub(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The record of an output directory's entries that this toolkit's commands wrote (JSON: name or `prefix*` to the
/// command that claimed it).
pub const OUTPUTS_FILE: &str = ".albert-outputs.json";

/// Why an output cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing would replace files the toolkit did not write there.
    #[error(
        "{} already holds {} not written by albert ({}); pass --overwrite to replace {}, or choose another output",
        dir.display(),
        if names.len() == 1 { "a file" } else { "files" },
        names.join(", "),
        if names.len() == 1 { "it" } else { "them" }
    )]
    NotOurs {
        /// The directory (for a single output file, the file itself).
        dir: PathBuf,
        /// The entries in the way.
        names: Vec<String>,
    },
    /// Reading the directory or writing its record failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Prepares `dir` (created if missing) for `command`, which writes the entries `names` into it: exact names, or
/// `prefix*` for a family of files. An existing entry that one of `names` matches must be listed in the directory's
/// [`OUTPUTS_FILE`] (written by this toolkit), else the claim is refused, naming the entries, unless `overwrite`.
/// Then the temporary files that killed writers left for these names are removed, and `names` are added to the
/// record, which is written before anything else.
///
/// ```
/// use albert::fsio::{claim_dir, OutputError};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("config.json"), "my notes")?;
/// let refused = claim_dir(dir.path(), "export", &["config.json", "model.safetensors"], false);
/// assert!(matches!(refused, Err(OutputError::NotOurs { names, .. }) if names == ["config.json"]));
/// claim_dir(dir.path(), "export", &["config.json", "model.safetensors"], true)?; // --overwrite
/// claim_dir(dir.path(), "export", &["config.json", "model.safetensors"], false)?; // now ours: re-running works
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn claim_dir(dir: &Path, command: &str, names: &[&str], overwrite: bool) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut record = read_record(dir);
    if !overwrite {
        let mut in_the_way = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let name = entry.map_err(io(dir))?.file_name().to_string_lossy().into_owned();
            if names.iter().any(|p| matches(p, &name)) && !record.keys().any(|p| matches(p, &name)) {
                in_the_way.push(name);
            }
        }
        if !in_the_way.is_empty() {
            in_the_way.sort();
            return Err(OutputError::NotOurs { dir: dir.to_owned(), names: in_the_way });
        }
    }
    // A process killed while writing leaves its temporary file behind: remove those of dead processes.
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(target) = abandoned_temporary(&name) {
            if target == OUTPUTS_FILE || names.iter().any(|p| matches(p, target)) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let before = record.len();
    for name in names {
        record.entry((*name).to_owned()).or_insert_with(|| command.to_owned());
    }
    if record.len() != before || overwrite {
        let path = dir.join(OUTPUTS_FILE);
        let json = serde_json::to_vec_pretty(&record).expect("a map of strings serializes");
        write_atomic(&path, &json).map_err(io(&path))?;
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io { path: path.to_owned(), source }
}

/// Checks that a single output file may be written: it does not exist, the record of its directory lists it (see
/// [`claim_dir`]), or `overwrite`.
pub fn claim_file(path: &Path, overwrite: bool) -> Result<(), OutputError> {
    let exists = path.symlink_metadata().is_ok();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !exists || overwrite || read_record(parent(path)).keys().any(|p| matches(p, &name)) {
        return Ok(());
    }
    Err(OutputError::NotOurs { dir: path.to_owned(), names: vec![name] })
}

/// The directory's record; an unreadable one counts as empty, so that nothing in the directory is taken as ours.
fn read_record(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read(dir.join(OUTPUTS_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The target of `name` when it is a temporary file of [`AtomicFile`] (`.NAME.PID-N.tmp`) whose process is gone.
fn abandoned_temporary(name: &str) -> Option<&str> {
    let (target, id) = name.strip_prefix('.')?.strip_suffix(".tmp")?.rsplit_once('.')?;
    let pid: u32 = id.split_once('-')?.0.parse().ok()?;
    (!process_alive(pid)).then_some(target)
}

/// Whether process `pid` runs; where that cannot be told, assumed so (its files are kept).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Whether `name` is `pattern`, or starts with the prefix of a `prefix*` pattern.
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn write_atomic_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["config.json"]);
    }

    #[test]
    fn write_atomic_into_a_missing_directory_fails_with_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("missing/config.json"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_dropped_writer_removes_its_temporary_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard.tokens");
        write_atomic(&path, b"old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(&[7; 100_000]).unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["shard.tokens"]);
    }

    /// Defect 5 of issue 22: results were created 0600 (the temporary file's mode) whatever the umask. (The CLI
    /// tests check 0644 under an explicit umask 022.)
    #[cfg(unix)]
    #[test]
    fn results_get_the_mode_a_plain_create_gets() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let plain = dir.path().join("plain");
        File::create(&plain).unwrap();
        let ours = dir.path().join("ours");
        write_atomic(&ours, b"x").unwrap();
        assert_eq!(mode(&ours), mode(&plain));
    }

    #[test]
    fn claim_dir_refuses_only_entries_it_would_write_and_did_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        std::fs::write(dir.path().join("train.00000.tokens"), "mine").unwrap();
        let names = ["manifest.json", "train.*"];
        match claim_dir(dir.path(), "pretrain prepare", &names, false) {
            Err(OutputError::NotOurs { names, .. }) => assert_eq!(names, ["train.00000.tokens"]),
            other => panic!("{other:?}"),
        }
        // Nothing was written by the refused claim.
        assert!(!dir.path().join(OUTPUTS_FILE).exists());
        std::fs::remove_file(dir.path().join("train.00000.tokens")).unwrap();
        claim_dir(dir.path(), "pretrain prepare", &names, false).unwrap();
        std::fs::write(dir.path().join("train.00001.tokens"), "ours").unwrap();
        claim_dir(dir.path(), "pretrain prepare", &names, false).unwrap();
        // Another command's entries join the record; the first keeps its own.
        claim_dir(dir.path(), "pretrain run", &["config.json"], false).unwrap();
        let record = read_record(dir.path());
        assert_eq!(record["train.*"], "pretrain prepare");
        assert_eq!(record["config.json"], "pretrain run");
    }

    #[test]
    fn claim_file_refuses_an_existing_file_unless_recorded_or_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        claim_file(&path, false).unwrap();
        std::fs::write(&path, "mine").unwrap();
        assert!(matches!(claim_file(&path, false), Err(OutputError::NotOurs { .. })));
        claim_file(&path, true).unwrap();
        claim_dir(dir.path(), "pretrain run", &["curves.png"], true).unwrap();
        claim_file(&path, false).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn claim_dir_removes_what_killed_writers_left() {
        let dir = tempfile::tempdir().unwrap();
        // Above Linux's largest process id: no such process runs.
        let dead = ".model.safetensors.999999999-0.tmp";
        let alive = format!(".model.safetensors.{}-0.tmp", std::process::id());
        let foreign = ".notes.999999999-0.tmp";
        for name in [dead, alive.as_str(), foreign] {
            std::fs::write(dir.path().join(name), "partial").unwrap();
        }
        claim_dir(dir.path(), "export", &["model.safetensors"], false).unwrap();
        assert_eq!(names(dir.path()), [OUTPUTS_FILE, alive.as_str(), foreign]);
    }
}
