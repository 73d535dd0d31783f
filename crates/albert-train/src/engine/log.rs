//! The run's metrics log: one JSON object per line, flushed as written so a killed run keeps its history, cut back on
//! resume to its length at the checkpoint so it reads as if the run had never stopped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::EngineError;

/// An append-only JSON-lines log, or none.
pub struct MetricsLog {
    file: Option<(PathBuf, File)>,
}

impl MetricsLog {
    /// Opens `path` for a fresh run (an earlier run's lines are dropped) or, with `resume_at`, for a resumed one:
    /// the lines written after the checkpoint (`resume_at` bytes) are dropped.
    pub fn open(path: Option<&Path>, resume_at: Option<u64>) -> Result<Self, EngineError> {
        let Some(path) = path else { return Ok(Self { file: None }) };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(EngineError::io(dir))?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(EngineError::io(path))?;
        let len = resume_at.unwrap_or(0);
        let actual = file.metadata().map_err(EngineError::io(path))?.len();
        if actual < len {
            return Err(EngineError::BadState {
                path: path.to_owned(),
                message: format!("the log has {actual} bytes, the checkpoint recorded {len}"),
            });
        }
        file.set_len(len).map_err(EngineError::io(path))?;
        Ok(Self { file: Some((path.to_owned(), file)) })
    }

    /// Appends one record as a line.
    pub fn write(&mut self, record: &impl serde::Serialize) -> Result<(), EngineError> {
        if let Some((path, file)) = &mut self.file {
            let mut line = serde_json::to_string(record).expect("records serialize");
            line.push('\n');
            file.write_all(line.as_bytes()).and_then(|_| file.flush()).map_err(EngineError::io(&*path))?;
        }
        Ok(())
    }

    /// The log's length, made durable first (a checkpoint records it).
    pub fn sync_len(&self) -> Result<u64, EngineError> {
        match &self.file {
            None => Ok(0),
            Some((path, file)) => {
                file.sync_all().map_err(EngineError::io(path))?;
                Ok(file.metadata().map_err(EngineError::io(path))?.len())
            }
        }
    }
}
