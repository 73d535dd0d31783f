//! Checkpoint files (interim reader; replaced by the full safetensors / torch-zip implementation).

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// Reads every tensor of a checkpoint file or directory, converted to `dtype`.
pub fn load_tensors(path: &Path, device: &Device, dtype: DType) -> Result<Vec<(String, Tensor)>> {
    let file = if path.is_dir() { path.join("model.safetensors") } else { path.to_path_buf() };
    let mut out: Vec<(String, Tensor)> = if file.extension().is_some_and(|e| e == "safetensors") {
        candle_core::safetensors::load(&file, device)?.into_iter().collect()
    } else {
        candle_core::pickle::read_all(&file)?.into_iter().collect()
    };
    for (_, t) in out.iter_mut() {
        if t.dtype().is_float() {
            *t = t.to_dtype(dtype)?;
        }
    }
    if out.is_empty() {
        return Err(Error::Input(format!("{}: no tensors", file.display())));
    }
    Ok(out)
}

/// Saves tensors as safetensors, atomically.
pub fn save_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let tmp = path.with_extension("safetensors.tmp");
    candle_core::safetensors::save(&tensors.iter().cloned().collect(), &tmp)?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
