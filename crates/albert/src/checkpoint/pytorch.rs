//! PyTorch `torch.save` files: the zip format (torch >= 1.6) and the legacy format before it. Only
//! tensors are read; the pickle is interpreted by the allow-listing stack machine in `pickle.rs`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use candle_core::Tensor;

use super::pickle::{unpickle, PickleError, StorageRef, TensorRef, Value};
use super::{CheckpointError, Source};

/// Start of a legacy file: protocol-2 pickle of torch's magic number 0x1950a86a20f9469cfc6c.
const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
/// Legacy `PROTOCOL_VERSION`, the second pickle of a legacy file.
const LEGACY_PROTOCOL: i64 = 1001;

/// Reads all tensors of the torch file `path` whose bytes are `source`, in state_dict order, as
/// stored (CPU, own dtype).
pub(super) fn parse(path: &Path, source: &Source) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let data = source.bytes;
    if data.starts_with(b"PK\x03\x04") {
        read_zip(path, source)
    } else if data.starts_with(LEGACY_MAGIC) {
        read_legacy(path, source)
    } else {
        Err(corrupt(
            path,
            "neither a torch zip archive nor a legacy torch file",
        ))
    }
}

fn corrupt(path: &Path, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn pickle_error(path: &Path) -> impl Fn(PickleError) -> CheckpointError + '_ {
    move |e| match e {
        PickleError::Corrupt(reason) => corrupt(path, reason),
        PickleError::Global(global) => CheckpointError::ForbiddenGlobal {
            path: path.to_path_buf(),
            global,
        },
    }
}

/// Zip layout: `<archive>/data.pkl` (the pickle), `<archive>/data/<key>` (one entry per storage),
/// `<archive>/byteorder`. torch stores entries uncompressed.
fn read_zip(path: &Path, source: &Source) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let data = source.bytes;
    let zip_error = |e: zip::result::ZipError| corrupt(path, format!("zip archive: {e}"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(zip_error)?;
    let pickles: Vec<String> = zip
        .file_names()
        .filter_map(|name| name.ok())
        .filter(|name| name.ends_with("/data.pkl") && name.matches('/').count() == 1)
        .map(|name| name.into_owned())
        .collect();
    let [pkl] = &pickles[..] else {
        return Err(corrupt(
            path,
            format!("expected one <archive>/data.pkl, found {}", pickles.len()),
        ));
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    let mut read_entry = |name: &str| -> Result<Cow<'_, [u8]>, CheckpointError> {
        let failed = |e: &dyn std::fmt::Display| corrupt(path, format!("{name}: {e}"));
        let mut entry = zip.by_name(name).map_err(|e| failed(&e))?;
        // torch stores entries uncompressed: borrow them from the map instead of copying.
        let start = entry.data_start().and_then(|s| usize::try_from(s).ok());
        let len = usize::try_from(entry.size()).ok();
        if entry.compression() == zip::CompressionMethod::Stored {
            if let Some(bytes) = start
                .zip(len)
                .and_then(|(s, n)| data.get(s..s.checked_add(n)?))
            {
                return Ok(Cow::Borrowed(bytes));
            }
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| failed(&e))?;
        Ok(Cow::Owned(bytes))
    };
    // Archives written before torch recorded the byte order are little-endian.
    if let Ok(order) = read_entry(&format!("{prefix}byteorder")) {
        if *order != *b"little" {
            let order = String::from_utf8_lossy(&order).into_owned();
            return Err(CheckpointError::Unsupported {
                path: path.to_path_buf(),
                reason: format!("byte order '{order}'"),
            });
        }
    }
    let (root, _) = unpickle(&read_entry(pkl.as_str())?).map_err(pickle_error(path))?;
    let entries = state_dict(path, &root)?;
    build_tensors(path, source, &entries, |storage| {
        read_entry(&format!("{prefix}data/{}", storage.key))
    })
}

/// Legacy layout: pickles of the magic number, the protocol version, sys_info, the state_dict and
/// the list of storage keys; then, for each key in that order, the element count (i64) and the
/// raw elements.
fn read_legacy(path: &Path, source: &Source) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let data = source.bytes;
    let mut pos = LEGACY_MAGIC.len();
    let mut next_pickle = || -> Result<Value, CheckpointError> {
        let (value, len) =
            unpickle(data.get(pos..).unwrap_or_default()).map_err(pickle_error(path))?;
        pos += len;
        Ok(value)
    };
    let unsupported = |reason: String| CheckpointError::Unsupported {
        path: path.to_path_buf(),
        reason,
    };
    match next_pickle()? {
        Value::Int(LEGACY_PROTOCOL) => {}
        Value::Int(v) => return Err(unsupported(format!("legacy torch protocol version {v}"))),
        other => {
            return Err(corrupt(
                path,
                format!("protocol version is a {}", other.kind()),
            ))
        }
    }
    let little_endian = match next_pickle()? {
        Value::Dict(info) => info
            .items
            .iter()
            .any(|(k, v)| matches!((k, v), (Value::Str(k), Value::Bool(true)) if &**k == "little_endian")),
        other => return Err(corrupt(path, format!("sys_info is a {}", other.kind()))),
    };
    if !little_endian {
        return Err(unsupported("big-endian legacy torch file".into()));
    }
    let entries = state_dict(path, &next_pickle()?)?;
    let keys = match next_pickle()? {
        Value::List(keys) => keys.items.clone(),
        other => {
            return Err(corrupt(
                path,
                format!("storage key list is a {}", other.kind()),
            ))
        }
    };
    let storages: HashMap<&str, &StorageRef> = entries
        .iter()
        .map(|(_, t)| (t.storage.key.as_str(), &*t.storage))
        .collect();
    let mut records: HashMap<String, &[u8]> = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(corrupt(path, format!("storage key is a {}", key.kind())));
        };
        let Some(storage) = storages.get(&*key) else {
            return Err(corrupt(
                path,
                format!("storage '{key}' is not used by any tensor"),
            ));
        };
        let record = (|| {
            let count = data.get(pos..pos.checked_add(8)?)?;
            let count = usize::try_from(i64::from_le_bytes(count.try_into().ok()?)).ok()?;
            let len = count.checked_mul(storage.dtype.size_in_bytes())?;
            let bytes = data.get(pos + 8..(pos + 8).checked_add(len)?)?;
            pos += 8 + len;
            Some(bytes)
        })();
        let Some(bytes) = record else {
            return Err(corrupt(
                path,
                format!("storage '{key}' is truncated or has a bad size"),
            ));
        };
        records.insert(key.to_string(), bytes);
    }
    build_tensors(path, source, &entries, |storage| {
        records
            .get(&storage.key)
            .map(|bytes| Cow::Borrowed(*bytes))
            .ok_or_else(|| {
                corrupt(
                    path,
                    format!("storage '{}' has no data record", storage.key),
                )
            })
    })
}

/// The `name -> tensor` entries of a pickled state_dict, in order.
fn state_dict(path: &Path, root: &Value) -> Result<Vec<(String, Rc<TensorRef>)>, CheckpointError> {
    let Value::Dict(dict) = root else {
        return Err(corrupt(
            path,
            format!("the pickle holds a {}, expected a state_dict", root.kind()),
        ));
    };
    let mut seen = std::collections::HashSet::new();
    dict.items
        .iter()
        .map(|(key, value)| {
            let Value::Str(name) = key else {
                return Err(corrupt(
                    path,
                    format!("state_dict key is a {}, expected a string", key.kind()),
                ));
            };
            if !seen.insert(name) {
                return Err(CheckpointError::DuplicateTensor {
                    name: name.to_string(),
                    first: path.to_path_buf(),
                    second: path.to_path_buf(),
                });
            }
            match value {
                Value::Tensor(t) => Ok((name.to_string(), t.clone())),
                other => Err(CheckpointError::BadTensor {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    reason: format!(
                        "value is a {}, not a tensor (expected a flat state_dict)",
                        other.kind()
                    ),
                }),
            }
        })
        .collect()
}

/// Materializes the tensors, loading each storage once (tied weights share one) and keeping only
/// one storage's bytes in memory at a time (its pages in the map are released once its tensors are
/// copied, see [`Source`]).
fn build_tensors<'a>(
    path: &Path,
    source: &Source,
    entries: &[(String, Rc<TensorRef>)],
    mut load: impl FnMut(&StorageRef) -> Result<Cow<'a, [u8]>, CheckpointError>,
) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let mut groups: Vec<(&StorageRef, Vec<usize>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (i, (name, t)) in entries.iter().enumerate() {
        let g = *group_of.entry(t.storage.key.as_str()).or_insert_with(|| {
            groups.push((&*t.storage, Vec::new()));
            groups.len() - 1
        });
        let first = groups[g].0;
        if first != &*t.storage {
            return Err(CheckpointError::BadTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                reason: format!(
                    "storage '{}' is declared twice with different types or sizes",
                    first.key
                ),
            });
        }
        groups[g].1.push(i);
    }
    let mut out: Vec<Option<Tensor>> = vec![None; entries.len()];
    for (storage, members) in groups {
        let bytes = load(storage)?;
        let expected = storage.numel.checked_mul(storage.dtype.size_in_bytes());
        if expected != Some(bytes.len()) {
            return Err(corrupt(
                path,
                format!(
                    "storage '{}' ({} x {}) holds {} bytes",
                    storage.key,
                    storage.numel,
                    storage.class,
                    bytes.len()
                ),
            ));
        }
        for i in members {
            let (name, t) = &entries[i];
            out[i] =
                Some(
                    strided_tensor(source, &bytes, t).map_err(|reason| CheckpointError::BadTensor {
                        path: path.to_path_buf(),
                        name: name.clone(),
                        reason,
                    })?,
                );
        }
        source.release(&bytes);
    }
    Ok(entries
        .iter()
        .zip(out)
        .filter_map(|((name, _), t)| Some((name.clone(), t?)))
        .collect())
}

/// Copies the strided view `t` of `storage` (bytes of `source`) into a contiguous CPU tensor.
fn strided_tensor(source: &Source, storage: &[u8], t: &TensorRef) -> Result<Tensor, String> {
    let dtype = t.storage.dtype;
    let elem = dtype.size_in_bytes();
    let numel = t
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("size overflows")?;
    let from_bytes = |bytes: &[u8]| source.tensor(bytes, dtype, &t.shape).map_err(|e| e.to_string());
    if numel == 0 {
        return from_bytes(&[]);
    }
    // Highest element index the view touches; it must lie inside the storage.
    let last = t
        .shape
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |acc, (&d, &s)| {
            acc.checked_add((d - 1).checked_mul(s)?)
        })
        .ok_or("strides overflow")?;
    if last >= t.storage.numel {
        return Err(format!(
            "view (offset {}, size {:?}, stride {:?}) reaches element {last} of a {}-element storage",
            t.offset, t.shape, t.stride, t.storage.numel
        ));
    }
    let row_major = t
        .shape
        .iter()
        .rev()
        .scan(1, |n, &d| Some(std::mem::replace(n, *n * d)));
    if t.stride
        .iter()
        .rev()
        .zip(row_major)
        .all(|(&s, expected)| s == expected)
    {
        return from_bytes(&storage[t.offset * elem..(t.offset + numel) * elem]);
    }
    let mut bytes = Vec::with_capacity(numel * elem);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..numel {
        let at = t.offset
            + index
                .iter()
                .zip(&t.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        bytes.extend_from_slice(&storage[at * elem..(at + 1) * elem]);
        // Advance the row-major multi-index.
        for (i, &d) in index.iter_mut().zip(&t.shape).rev() {
            *i += 1;
            if *i < d {
                break;
            }
            *i = 0;
        }
    }
    from_bytes(&bytes)
}
