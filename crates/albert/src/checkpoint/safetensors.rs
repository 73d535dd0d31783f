//! Safetensors files: memory-mapped reading and atomic writing.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use candle_core::{DType, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{io_error, CheckpointError, Source};

/// The candle dtype a safetensors dtype is loaded as; `None` for types candle cannot hold.
fn candle_dtype(dtype: Dtype) -> Option<DType> {
    Some(match dtype {
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::U32 => DType::U32,
        // bool is one byte, 0 or 1.
        Dtype::U8 | Dtype::BOOL => DType::U8,
        _ => return None,
    })
}

/// Reads all tensors of the safetensors file `path` whose bytes are `source`, in file (data offset)
/// order, as stored.
pub(super) fn parse(path: &Path, source: &Source) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let mmap = source.bytes;
    let corrupt = |e: safetensors::SafeTensorError| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    // `read_metadata` validates the header: offsets contiguous, sizes matching shapes and dtypes,
    // data ending exactly at the end of the file.
    let (header_len, metadata) = SafeTensors::read_metadata(mmap).map_err(corrupt)?;
    let data = mmap.get(8 + header_len..).unwrap_or_default();
    metadata
        .offset_keys()
        .into_iter()
        .map(|name| {
            let failed = |reason: String| CheckpointError::BadTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                reason,
            };
            let info = metadata
                .info(&name)
                .ok_or_else(|| failed("missing from the header".into()))?;
            let (start, end) = info.data_offsets;
            let bytes = data
                .get(start..end)
                .ok_or_else(|| failed("data out of bounds".into()))?;
            let Some(dtype) = candle_dtype(info.dtype) else {
                return Err(CheckpointError::UnsupportedDtype {
                    path: path.to_path_buf(),
                    dtype: info.dtype.to_string(),
                    name,
                });
            };
            match source.tensor(bytes, dtype, &info.shape) {
                Ok(t) => Ok((name, t)),
                Err(source) => Err(CheckpointError::Tensor {
                    path: path.to_path_buf(),
                    name,
                    source: Box::new(source),
                }),
            }
        })
        .collect()
}

/// Writes `tensors` to a safetensors file atomically (see [`crate::fsio`]), with the metadata
/// `{"format": "pt"}` that transformers expects. Names must be unique. Tensors are copied to the
/// CPU; every candle dtype except the microscaling formats (F6E2M3, F6E3M2, F4, F8E8M0) can be
/// written.
///
/// ```
/// use albert::checkpoint::save_safetensors;
/// use candle_core::{Device, Tensor};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("model.safetensors");
/// save_safetensors(&path, &[("bias".to_string(), Tensor::new(&[1f32, 2.], &Device::Cpu)?)])?;
/// let bytes = std::fs::read(&path)?;
/// let header_len = u64::from_le_bytes(bytes[..8].try_into()?) as usize;
/// let header = std::str::from_utf8(&bytes[8..8 + header_len])?;
/// assert!(header.contains(r#""__metadata__":{"format":"pt"}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), CheckpointError> {
    let mut names = HashSet::new();
    let mut data = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let failed = |source: candle_core::Error| CheckpointError::Tensor {
            path: path.to_path_buf(),
            name: name.clone(),
            source: Box::new(source),
        };
        if !names.insert(name) {
            return Err(CheckpointError::DuplicateTensor {
                name: name.clone(),
                first: path.to_path_buf(),
                second: path.to_path_buf(),
            });
        }
        let mut bytes = Vec::with_capacity(t.elem_count() * t.dtype().size_in_bytes());
        t.write_bytes(&mut bytes).map_err(failed)?;
        data.push((name, Dtype::from(t.dtype()), t.dims().to_vec(), bytes));
    }
    let bad = |e: safetensors::SafeTensorError| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: format!("cannot serialize: {e}"),
    };
    let views = data
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            Ok((
                name.as_str(),
                TensorView::new(*dtype, shape.clone(), bytes).map_err(bad)?,
            ))
        })
        .collect::<Result<Vec<_>, CheckpointError>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(bad)?;
    crate::fsio::write_atomic(path, &bytes).map_err(io_error(path))
}
