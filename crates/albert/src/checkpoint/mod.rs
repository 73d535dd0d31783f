//! Checkpoint file I/O: reads the tensors of a Hugging Face checkpoint (safetensors, sharded
//! safetensors, `pytorch_model.bin` in torch's zip or legacy format, sharded `.bin`) and writes
//! safetensors atomically. Format level only: mapping tensor names onto the model is not done here.
//!
//! ```
//! use albert::checkpoint::{load_tensors, save_safetensors};
//! use candle_core::{DType, Device, Tensor};
//!
//! let dir = tempfile::tempdir()?;
//! let weight = Tensor::arange(0f32, 6., &Device::Cpu)?.reshape((2, 3))?;
//! let ids = Tensor::arange(0i64, 4, &Device::Cpu)?;
//! save_safetensors(
//!     &dir.path().join("model.safetensors"),
//!     &[("weight".to_string(), weight.to_dtype(DType::F16)?), ("position_ids".to_string(), ids)],
//! )?;
//!
//! // A directory is searched for model.safetensors, then the other layouts.
//! let tensors = load_tensors(dir.path(), &Device::Cpu, DType::F32)?;
//! let (name, weight) = &tensors.iter().find(|(n, _)| n == "weight").unwrap();
//! assert_eq!(name, "weight");
//! assert_eq!(weight.dtype(), DType::F32); // floats are converted to the requested dtype
//! assert_eq!(weight.to_vec2::<f32>()?, [[0., 1., 2.], [3., 4., 5.]]);
//! let (_, ids) = &tensors.iter().find(|(n, _)| n == "position_ids").unwrap();
//! assert_eq!(ids.to_vec1::<i64>()?, [0, 1, 2, 3]); // integers keep their type
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod pickle;
mod pytorch;
mod safetensors;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

pub use self::safetensors::save_safetensors;

/// Files looked for in a checkpoint directory, in order of preference.
pub const CHECKPOINT_FILES: [&str; 4] = [
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
];

/// Why a checkpoint could not be read or written. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A checkpoint directory holds none of [`CHECKPOINT_FILES`].
    #[error("no checkpoint found in {}: looked for {}", dir.display(), looked_for.join(", "))]
    NotFound {
        dir: PathBuf,
        looked_for: Vec<String>,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file whose name does not say which format it is.
    #[error("{}: unknown checkpoint format; expected *.safetensors, *.bin, *.pt, *.pth or *.index.json", path.display())]
    UnknownFormat { path: PathBuf },
    /// Malformed or truncated content.
    #[error("{}: corrupt or truncated checkpoint: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// Well-formed content this reader does not support (e.g. a big-endian torch file).
    #[error("{}: unsupported checkpoint: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// A pickle asks for a global outside the tensor-only allow-list; nothing was executed.
    #[error("{}: pickle references `{global}`, which is outside the allow-list of this tensor-only reader (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter, float/int/bool storages); nothing was executed", path.display())]
    ForbiddenGlobal { path: PathBuf, global: String },
    /// One tensor is malformed (bad strides, storage too short, not a tensor...).
    #[error("{}: tensor '{name}': {reason}", path.display())]
    BadTensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    /// A tensor with an element type candle cannot hold.
    #[error("{}: tensor '{name}' has unsupported dtype {dtype}", path.display())]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    /// A shard named by an index file does not exist.
    #[error("{}: shard '{shard}' is missing", index.display())]
    MissingShard { index: PathBuf, shard: String },
    /// An index file that is malformed or disagrees with its shards.
    #[error("{}: bad shard index: {reason}", index.display())]
    BadIndex { index: PathBuf, reason: String },
    /// The same tensor name twice (in two shards, or twice in one file).
    #[error("tensor '{name}' appears in both {} and {}", first.display(), second.display())]
    DuplicateTensor {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// The dtype requested for the weights is not a floating-point type.
    #[error("weights can only be converted to a floating-point dtype, not {0:?}")]
    NonFloatTarget(DType),
    /// A tensor operation (conversion, device transfer, serialization) failed.
    #[error("{}: tensor '{name}': {source}", path.display())]
    Tensor {
        path: PathBuf,
        name: String,
        source: Box<candle_core::Error>,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads every tensor of a checkpoint, in file order (shard by shard for sharded checkpoints).
///
/// `path` is a checkpoint file (`*.safetensors`, `*.bin` / `*.pt` / `*.pth`, or a shard index
/// `*.index.json`) or a directory, in which the first of [`CHECKPOINT_FILES`] present is read.
/// Floating-point tensors (f16, bf16, f32, f64) are converted to `dtype`, which must itself be a
/// floating-point type; integer tensors (such as a `position_ids` buffer) keep their type (bool
/// becomes u8). Tensors end up on `device`.
///
/// Files are memory-mapped; modifying one while it is being loaded is undefined behaviour. Each
/// tensor is copied out of the map a block at a time and the block's pages handed back, so the
/// file's pages do not stay resident beside the copies. PyTorch files are read without executing
/// any pickled code.
pub fn load_tensors(
    path: &Path,
    device: &Device,
    dtype: DType,
) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    if !dtype.is_float() {
        return Err(CheckpointError::NonFloatTarget(dtype));
    }
    let path = if path.is_dir() {
        find_checkpoint(path)?
    } else {
        path.to_path_buf()
    };
    let convert = |file: &Path, name: &str, t: Tensor| {
        let t = if t.dtype().is_float() {
            t.to_dtype(dtype)
        } else {
            Ok(t)
        };
        t.and_then(|t| t.to_device(device))
            .map_err(|source| CheckpointError::Tensor {
                path: file.to_path_buf(),
                name: name.to_string(),
                source: Box::new(source),
            })
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let files = if file_name.ends_with(".index.json") {
        read_sharded(&path)?
    } else {
        vec![(path.clone(), read_file(&path)?)]
    };
    let mut out = Vec::new();
    for (file, tensors) in files {
        for (name, t) in tensors {
            let t = convert(&file, &name, t)?;
            out.push((name, t));
        }
    }
    Ok(out)
}

fn find_checkpoint(dir: &Path) -> Result<PathBuf, CheckpointError> {
    CHECKPOINT_FILES
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| CheckpointError::NotFound {
            dir: dir.to_path_buf(),
            looked_for: CHECKPOINT_FILES.iter().map(|f| f.to_string()).collect(),
        })
}

/// Reads one (non-index) checkpoint file as stored: CPU tensors in their own dtype.
fn read_file(path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let file = std::fs::File::open(path).map_err(io_error(path))?;
    let parse = parser(path)?;
    // SAFETY: the map is read-only and dropped before returning; the file must not be modified
    // meanwhile (documented on `load_tensors`).
    let data = unsafe { memmap2::Mmap::map(&file) }.map_err(io_error(path))?;
    parse(path, &Source::mapped(&data))
}

type Parser = fn(&Path, &Source) -> Result<Vec<(String, Tensor)>, CheckpointError>;

/// Bytes copied out of a map per block before the block's pages are handed back (see [`Source`]).
const RELEASE_BLOCK: usize = 8 << 20;

/// The bytes of a checkpoint file, memory-mapped (or, in tests, in memory).
///
/// A map's pages, once read, stay resident until the map is dropped: copying every tensor out of
/// it held the whole file (resident file pages) beside the copies, twice the weights at the peak.
/// [`Source::tensor`] therefore copies a tensor a block at a time and hands each block's pages
/// back to the kernel (`MADV_DONTNEED`), so that at most one block of the file is resident.
pub(super) struct Source<'a> {
    /// The whole file.
    pub(super) bytes: &'a [u8],
    map: Option<&'a memmap2::Mmap>,
}

impl<'a> Source<'a> {
    fn mapped(map: &'a memmap2::Mmap) -> Self {
        Self { bytes: map, map: Some(map) }
    }

    /// Bytes that are not a map (nothing to hand back).
    #[cfg(test)]
    pub(super) fn in_memory(bytes: &'a [u8]) -> Self {
        Self { bytes, map: None }
    }

    /// Drops this process's pages of `part` where it lies in the map; a no-op for any other slice.
    pub(super) fn release(&self, part: &[u8]) {
        let Some(map) = self.map else { return };
        let Some(offset) = (part.as_ptr() as usize).checked_sub(map.as_ptr() as usize) else {
            return;
        };
        if offset.saturating_add(part.len()) > map.len() || part.is_empty() {
            return;
        }
        // SAFETY: the map is read-only and never written; MADV_DONTNEED only unmaps its pages
        // from this process, and a later read faults them in again from the file (the page
        // cache), with the same bytes. A failure only leaves the pages resident: ignored.
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, part.len())
        };
    }

    /// A CPU tensor of `dtype` and `shape` holding a copy of `part` (as
    /// `Tensor::from_raw_buffer`, whose error a size mismatch gets), copied a block at a time
    /// with each block's pages released once copied.
    pub(super) fn tensor(&self, part: &[u8], dtype: DType, shape: &[usize]) -> candle_core::Result<Tensor> {
        let elems = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if elems.and_then(|n| n.checked_mul(dtype.size_in_bytes())) != Some(part.len()) {
            return Tensor::from_raw_buffer(part, dtype, shape, &Device::Cpu);
        }
        match dtype {
            DType::U8 => self.copy_blocks::<u8>(part, shape),
            DType::U32 => self.copy_blocks::<u32>(part, shape),
            DType::I16 => self.copy_blocks::<i16>(part, shape),
            DType::I32 => self.copy_blocks::<i32>(part, shape),
            DType::I64 => self.copy_blocks::<i64>(part, shape),
            DType::BF16 => self.copy_blocks::<half::bf16>(part, shape),
            DType::F16 => self.copy_blocks::<half::f16>(part, shape),
            DType::F32 => self.copy_blocks::<f32>(part, shape),
            DType::F64 => self.copy_blocks::<f64>(part, shape),
            _ => Tensor::from_raw_buffer(part, dtype, shape, &Device::Cpu),
        }
    }

    /// `part` (exactly `shape`'s elements of `T`) as a tensor, block by block.
    fn copy_blocks<T: candle_core::WithDType + bytemuck::Pod>(&self, part: &[u8], shape: &[usize]) -> candle_core::Result<Tensor> {
        // Zeroed allocations of this size are fresh pages the copy touches first: no extra pass.
        let mut values = vec![T::zeroed(); part.len() / std::mem::size_of::<T>()];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        for (dst, block) in bytes.chunks_mut(RELEASE_BLOCK).zip(part.chunks(RELEASE_BLOCK)) {
            dst.copy_from_slice(block);
            self.release(block);
        }
        Tensor::from_vec(values, shape, &Device::Cpu)
    }
}

/// The parser for a checkpoint file, chosen by its extension.
fn parser(path: &Path) -> Result<Parser, CheckpointError> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "safetensors" => Ok(safetensors::parse),
        "bin" | "pt" | "pth" => Ok(pytorch::parse),
        _ => Err(CheckpointError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// The part of a `*.index.json` we use (`metadata.total_size` is informative only).
#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

/// Reads the shards named by an index, each once, checking that index and shards agree.
/// The tensors of one shard, with its path.
type Shard = (PathBuf, Vec<(String, Tensor)>);

fn read_sharded(index: &Path) -> Result<Vec<Shard>, CheckpointError> {
    let bad = |reason: String| CheckpointError::BadIndex {
        index: index.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(index).map_err(io_error(index))?;
    let parsed: ShardIndex = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let shards: BTreeSet<&String> = parsed.weight_map.values().collect();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut out = Vec::new();
    for shard in shards {
        // Shards live beside the index: a bare file name, never a path.
        if Path::new(shard).file_name() != Some(std::ffi::OsStr::new(shard))
            || shard.ends_with(".index.json")
        {
            return Err(bad(format!(
                "shard name '{shard}' is not a plain checkpoint file name"
            )));
        }
        let path = dir.join(shard);
        if !path.is_file() {
            return Err(CheckpointError::MissingShard {
                index: index.to_path_buf(),
                shard: shard.clone(),
            });
        }
        let tensors = read_file(&path)?;
        for (name, _) in &tensors {
            if let Some(first) = seen.insert(name.clone(), path.clone()) {
                return Err(CheckpointError::DuplicateTensor {
                    name: name.clone(),
                    first,
                    second: path,
                });
            }
            match parsed.weight_map.get(name) {
                Some(listed) if listed == shard => {}
                Some(listed) => {
                    return Err(bad(format!(
                        "tensor '{name}' is in {shard} but the index puts it in {listed}"
                    )))
                }
                None => {
                    return Err(bad(format!(
                        "tensor '{name}' is in {shard} but not in the index"
                    )))
                }
            }
        }
        out.push((path, tensors));
    }
    if let Some((name, shard)) = parsed
        .weight_map
        .iter()
        .find(|(name, _)| !seen.contains_key(*name))
    {
        return Err(bad(format!(
            "tensor '{name}' is listed in shard {shard}, which does not contain it"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
