//! Training checkpoints: the model, the optimizer state and where the run stands, written into a
//! temporary directory that then replaces `OUT/checkpoint` by renames, so a kill at any moment
//! leaves a complete old or new checkpoint.

use std::path::{Path, PathBuf};

use albert::rng::RngState;
use serde::{Deserialize, Serialize};

use super::{TrainError, TrainSettings};

/// Directory of the latest checkpoint inside the output directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The optimizer's moments inside a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Where the run stands, inside a checkpoint (written last).
pub const TRAINER_STATE_FILE: &str = "trainer_state.json";
/// Version of [`TrainerState`]'s layout.
pub const STATE_VERSION: u32 = 1;

const TEMP_DIR: &str = ".checkpoint.tmp";
const OLD_DIR: &str = ".checkpoint.old";
/// The entries a run's checkpoints occupy in the output directory: the live one and the two used while replacing it.
pub const CHECKPOINT_ENTRIES: [&str; 3] = [CHECKPOINT_DIR, TEMP_DIR, OLD_DIR];

/// Everything besides weights and moments that a resumed run needs to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The run's settings; a resume must use the same.
    pub settings: TrainSettings,
    /// Optimizer steps completed.
    pub step: u64,
    /// Epoch of the next micro-batch.
    pub epoch: u64,
    /// Index of the next micro-batch within its epoch.
    pub next_batch: usize,
    /// The dropout generator's state (`Pretrained::rng`).
    pub dropout_rng: RngState,
    /// Length in bytes of `metrics.jsonl` when the checkpoint was taken (later lines are dropped
    /// on resume, so the log reads as if the run had never stopped).
    pub metrics_bytes: u64,
}

impl TrainerState {
    /// Reads `dir/trainer_state.json`.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join(TRAINER_STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(TrainError::io(&path))?;
        let state: TrainerState =
            serde_json::from_str(&text).map_err(|e| TrainError::BadState {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if state.version != STATE_VERSION {
            return Err(TrainError::BadState {
                path,
                message: format!(
                    "version {} (this build reads {STATE_VERSION})",
                    state.version
                ),
            });
        }
        Ok(state)
    }
}

/// Paths of a run's checkpoint directories.
pub(crate) struct CheckpointDirs {
    /// The live checkpoint.
    pub current: PathBuf,
    temp: PathBuf,
    old: PathBuf,
}

impl CheckpointDirs {
    pub fn new(out_dir: &Path) -> Self {
        CheckpointDirs {
            current: out_dir.join(CHECKPOINT_DIR),
            temp: out_dir.join(TEMP_DIR),
            old: out_dir.join(OLD_DIR),
        }
    }

    /// Finishes or undoes a swap a kill interrupted and removes leftovers; returns whether a
    /// checkpoint exists.
    pub fn recover(&self) -> Result<bool, TrainError> {
        if !self.current.exists() && self.old.exists() {
            // Killed between the two renames of `commit`: the old checkpoint is the live one.
            rename(&self.old, &self.current)?;
        }
        remove_dir(&self.temp)?;
        remove_dir(&self.old)?;
        Ok(self.current.join(TRAINER_STATE_FILE).is_file())
    }

    /// An empty directory to write the next checkpoint into.
    pub fn begin(&self) -> Result<&Path, TrainError> {
        remove_dir(&self.temp)?;
        std::fs::create_dir_all(&self.temp).map_err(TrainError::io(&self.temp))?;
        Ok(&self.temp)
    }

    /// Makes the directory from [`CheckpointDirs::begin`] the live checkpoint.
    pub fn commit(&self) -> Result<(), TrainError> {
        sync_dir(&self.temp)?;
        if self.current.exists() {
            rename(&self.current, &self.old)?;
        }
        rename(&self.temp, &self.current)?;
        if let Some(parent) = self.current.parent() {
            sync_dir(parent)?;
        }
        remove_dir(&self.old)
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), TrainError> {
    std::fs::rename(from, to).map_err(TrainError::io(from))
}

fn remove_dir(dir: &Path) -> Result<(), TrainError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(dir)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    albert::fsio::sync_dir(dir).map_err(TrainError::io(dir))
}
