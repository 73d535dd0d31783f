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
/// `~/.cache/huggingface/hub`.
pub fn cache() -> Cache {
    match std::env::var_os("HF_HUB_CACHE") {
        Some(dir) => Cache::new(PathBuf::from(dir)),
        None => Cache::from_env(),
    }
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn looks_like_hub_id(spec: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    !spec.is_empty()
        && parts.len() <= 2
        && parts.iter().all(|p| !p.is_empty() && !p.starts_with('.'))
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
        return Err(Error::Input(format!("{spec}: no such file or directory")));
    }
    let cached = cache().repo(Repo::model(spec.to_string()));
    if let Some(config) = cached.get("config.json") {
        if WEIGHT_FILES.iter().any(|w| cached.get(w).is_some()) {
            return Ok(config.parent().expect("a cached file lies in a snapshot folder").to_path_buf());
        }
    }
    if offline() {
        return Err(Error::Input(format!(
            "`{spec}` is neither a local directory nor in the Hugging Face cache at {} (HF_HUB_OFFLINE is set, so it was not fetched)",
            cache().path().display()
        )));
    }
    fetch(spec)
}

fn fetch(spec: &str) -> Result<PathBuf> {
    let unreachable = |e: hf_hub::api::sync::ApiError| {
        Error::Input(format!(
            "`{spec}` is not a local directory, and fetching it from the Hugging Face hub failed ({e}); \
             offline, pass a checkpoint directory or fill the cache at {}",
            cache().path().display()
        ))
    };
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache()).with_progress(true).build().map_err(unreachable)?;
    let repo = api.model(spec.to_string());
    let config = repo.get("config.json").map_err(unreachable)?;
    let mut weights = None;
    for w in WEIGHT_FILES {
        if let Ok(p) = repo.get(w) {
            weights = Some(p);
            break;
        }
    }
    if weights.is_none() {
        return Err(Error::Input(format!("hub repository `{spec}` has none of {}", WEIGHT_FILES.join(", "))));
    }
    for f in OPTIONAL_FILES {
        let _ = repo.get(f);
    }
    Ok(config.parent().expect("a cached file lies in a snapshot folder").to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_and_paths_are_told_apart() {
        for id in ["albert-base-v2", "textattack/albert-base-v2-SST-2", "org/model.v1"] {
            assert!(looks_like_hub_id(id), "{id}");
        }
        for path in ["./model", "/abs/dir", "a/b/c", "", "../x", "dir with space"] {
            assert!(!looks_like_hub_id(path), "{path}");
        }
    }
}
