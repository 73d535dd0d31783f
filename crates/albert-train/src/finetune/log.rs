//! The training log: one JSON object per line, flushed as written so a crashed run keeps its history.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::FinetuneError;

pub(crate) struct JsonlLog {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl JsonlLog {
    /// Appends to `path`, or logs nowhere.
    pub(crate) fn open(path: Option<&Path>) -> Result<Self, FinetuneError> {
        let Some(path) = path else {
            return Ok(Self {
                path: PathBuf::new(),
                out: None,
            });
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| FinetuneError::io(dir, e))?;
        }
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| FinetuneError::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            out: Some(BufWriter::new(file)),
        })
    }

    pub(crate) fn write(&mut self, record: serde_json::Value) -> Result<(), FinetuneError> {
        if let Some(out) = &mut self.out {
            writeln!(out, "{record}")
                .and_then(|_| out.flush())
                .map_err(|e| FinetuneError::io(&self.path, e))?;
        }
        Ok(())
    }
}
