//! Model names to checkpoint directories: a local directory as it is, otherwise a Hugging Face hub id
//! (`albert-base-v2`, `textattack/albert-base-v2-SST-2`) looked up in the hub cache and fetched into it when missing.

use std::path::{Path, PathBuf};

use hf_hub::{Cache, Repo};

use crate::error::{Error, Result};

/// Files a checkpoint may hold besides config.json; each is fetched if the hub has it.
const OPTIONAL_FILES: [&str; 4] = ["spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

/// Weight files in order of preference; the first the hub has is fetched.
const WEIGHT_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];

/// The hub cache as Python's `huggingface_hub` finds it: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`; an error when none of the three can be known (no `HOME`).
pub fn cache() -> Result<Cache> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/huggingface/hub")))
        .ok_or_else(|| Error::Input("no Hugging Face cache: set HF_HUB_CACHE, HF_HOME or HOME".into()))?;
    Ok(Cache::new(dir))
}

/// At most this many characters of a model name are repeated in an error.
const ECHO_CHARS: usize = 120;

/// `spec` as an error message repeats it: whole when short, else its start and its length.
pub fn echo(spec: &str) -> String {
    let n = spec.chars().count();
    if n <= ECHO_CHARS {
        return spec.to_string();
    }
    let head: String = spec.chars().take(ECHO_CHARS).collect();
    format!("{head}... ({n} characters)")
}

/// The snapshot folder of a cached repository, if its `refs/main` names one that holds `config.json` and a weight
/// file. The ref is read from a file anyone may have written: it must name a folder directly under `snapshots/`,
/// and the snapshot and its files must resolve to places inside the cache (the cache's own links point from
/// `snapshots/` into `blobs/`), else the cache is refused as corrupt rather than followed elsewhere.
fn cached_snapshot(cache: &Cache, spec: &str) -> Result<Option<PathBuf>> {
    let repo_dir = cache.path().join(Repo::model(spec.to_string()).folder_name());
    let Ok(reference) = std::fs::read_to_string(repo_dir.join("refs").join("main")) else { return Ok(None) };
    let reference = reference.trim();
    let corrupt = |why: String| {
        Error::Input(format!("the Hugging Face cache entry {} is corrupt: {why}", repo_dir.display()))
    };
    let plain = Path::new(reference).components().collect::<Vec<_>>();
    if !matches!(plain.as_slice(), [std::path::Component::Normal(_)]) {
        return Err(corrupt(format!("refs/main names `{}`, not a snapshot", echo(reference))));
    }
    let snapshot = repo_dir.join("snapshots").join(reference);
    let present = |f: &str| snapshot.join(f).exists();
    if !present("config.json") || !WEIGHT_FILES.iter().any(|w| present(w)) {
        return Ok(None);
    }
    let root = cache.path().canonicalize().map_err(|e| Error::io(cache.path(), e))?;
    let inside = |p: &Path| p.canonicalize().is_ok_and(|c| c.starts_with(&root));
    let mut files = std::iter::once("config.json").chain(WEIGHT_FILES).chain(OPTIONAL_FILES).map(|f| snapshot.join(f));
    if !inside(&snapshot) || files.any(|f| f.exists() && !inside(&f)) {
        return Err(corrupt(format!("snapshot `{reference}` leads outside the cache at {}", root.display())));
    }
    Ok(Some(snapshot))
}
fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn looks_like_hub_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    !spec.is_empty()
        && parts.len() <= 2
        // The hub caps a name (and an owner) at 96 characters.
        && parts.iter().all(|p| !p.is_empty() && p.len() <= 96 && !p.starts_with('.'))
        && spec.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// Resolves `spec` to a checkpoint directory: an existing local path as it is; otherwise a hub id, taken from the
/// hub cache, or fetched into it (unless `HF_HUB_OFFLINE` is set). Errors say which of the two failed and why.
///
/// ```no_run
/// let dir = albert::hub::resolve_model("albert-base-v2")?; // e.g. ~/.cache/huggingface/hub/models--albert-base-v2/snapshots/<rev>
/// let model = albert::Pretrained::load(&dir, &albert::LoadOptions::default())?;
/// # Ok::<(), albert::Error>(())
/// ```
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    let path = Path::new(spec);
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    if !looks_like_hub_id(spec) {
        return Err(Error::Input(format!("{}: no such file or directory", echo(spec))));
    }
    let cache = cache()?;
    if let Some(snapshot) = cached_snapshot(&cache, spec)? {
        return Ok(snapshot);
    }
    if offline() {
        return Err(Error::Input(format!(
            "`{}` is neither a local directory nor in the Hugging Face cache at {} (HF_HUB_OFFLINE is set, so it was not fetched)",
            echo(spec),
            cache.path().display()
        )));
    }
    fetch(cache, spec)
}

fn fetch(cache: Cache, spec: &str) -> Result<PathBuf> {
    let cache_dir = cache.path().clone();
    let unreachable = |e: hf_hub::api::sync::ApiError| {
        Error::Input(format!(
            "`{}` is not a local directory, and fetching it from the Hugging Face hub failed ({e}); \
             offline, pass a checkpoint directory or fill the cache at {}",
            echo(spec),
            cache_dir.display()
        ))
    };
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone()).with_progress(true).build().map_err(unreachable)?;
    let repo = api.model(spec.to_string());
    repo.get("config.json").map_err(unreachable)?;
    if !WEIGHT_FILES.iter().any(|w| repo.get(w).is_ok()) {
        return Err(Error::Input(format!("hub repository `{spec}` has none of {}", WEIGHT_FILES.join(", "))));
    }
    for f in OPTIONAL_FILES {
        let _ = repo.get(f);
    }
    // What was fetched is read back through the same checks as a cached entry.
    cached_snapshot(&cache, spec)?
        .ok_or_else(|| Error::Input(format!("`{spec}` was fetched but is not in the cache at {}", cache_dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache entry laid out as huggingface_hub writes it: refs/main names a snapshot whose files link into blobs/.
    fn cached_repo(cache: &Path, id: &str, reference: &str) -> PathBuf {
        let repo = cache.join(format!("models--{}", id.replace('/', "--")));
        let snapshot = repo.join("snapshots").join("abc123");
        std::fs::create_dir_all(&snapshot).unwrap();
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), reference).unwrap();
        for (file, blob) in [("config.json", "c0nf"), ("model.safetensors", "we1ght")] {
            std::fs::write(repo.join("blobs").join(blob), "{}").unwrap();
            std::os::unix::fs::symlink(format!("../../blobs/{blob}"), snapshot.join(file)).unwrap();
        }
        snapshot
    }

    #[test]
    fn a_cached_snapshot_is_found() {
        let cache = tempfile::tempdir().unwrap();
        let snapshot = cached_repo(cache.path(), "org/model", "abc123\n");
        let found = cached_snapshot(&Cache::new(cache.path().to_path_buf()), "org/model").unwrap();
        assert_eq!(found, Some(snapshot));
    }

    /// A `refs/main` that climbs out of the cache, or a snapshot linked elsewhere, is refused, never followed.
    #[test]
    fn a_cache_pointer_cannot_lead_outside_the_cache() {
        let root = tempfile::tempdir().unwrap();
        let cache = root.path().join("hub");
        // A complete checkpoint outside the cache, the target of the attack.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("config.json"), "{}").unwrap();
        std::fs::write(elsewhere.join("model.safetensors"), "{}").unwrap();

        cached_repo(&cache, "org/model", "../../../elsewhere");
        let err = cached_snapshot(&Cache::new(cache.clone()), "org/model").unwrap_err().to_string();
        assert!(err.contains("refs/main names `../../../elsewhere`, not a snapshot"), "{err}");

        let snapshots = cached_repo(&cache, "org/linked", "evil").parent().unwrap().to_path_buf();
        std::os::unix::fs::symlink(&elsewhere, snapshots.join("evil")).unwrap();
        let err = cached_snapshot(&Cache::new(cache.clone()), "org/linked").unwrap_err().to_string();
        assert!(err.contains("snapshot `evil` leads outside the cache"), "{err}");

        let snapshot = cached_repo(&cache, "org/file", "abc123");
        std::fs::remove_file(snapshot.join("config.json")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("config.json"), snapshot.join("config.json")).unwrap();
        let err = cached_snapshot(&Cache::new(cache), "org/file").unwrap_err().to_string();
        assert!(err.contains("leads outside the cache"), "{err}");
    }

    #[test]
    fn long_names_are_echoed_short() {
        assert_eq!(echo("albert-base-v2"), "albert-base-v2");
        let long = "x".repeat(100_000);
        let shown = echo(&long);
        assert!(shown.ends_with("... (100000 characters)") && shown.len() < 200, "{shown}");
        let err = resolve_model(&long).unwrap_err().to_string();
        assert!(err.len() < 300, "{} characters", err.len());
    }

    #[test]
    fn hub_ids_and_paths_are_told_apart() {
        for id in ["albert-base-v2", "textattack/albert-base-v2-SST-2", "org/model.v1"] {
            assert!(looks_like_hub_id(id), "{id}");
        }
        let too_long = "m".repeat(97);
        for path in ["./model", "/abs/dir", "a/b/c", "", "../x", "dir with space", too_long.as_str()] {
            assert!(!looks_like_hub_id(path), "{path}");
        }
    }
}
