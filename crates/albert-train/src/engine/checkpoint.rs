//! Checkpoints: the weights, the optimizer's moments and where the run stands, written into a temporary directory
//! that then replaces `OUT/checkpoint` by renames, so a kill at any moment leaves a complete old or new checkpoint.

use std::path::{Path, PathBuf};

use albert::Pretrained;
use serde::{Deserialize, Serialize};

use super::EngineError;
use crate::optim::Optimizer;

/// Directory of the latest checkpoint inside the output directory.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The optimizer's moments inside a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// Where the run stands, inside a checkpoint (written last).
pub const STATE_FILE: &str = "engine_state.json";
/// Version of [`EngineState`]'s layout. Version 1 was the two loops' own states before the engine
/// (`trainer_state.json`, `finetune_state.json`), which are refused by name.
pub const STATE_VERSION: u32 = 2;

const TEMP_DIR: &str = ".checkpoint.tmp";
const OLD_DIR: &str = ".checkpoint.old";
/// The entries a run's checkpoints occupy in the output directory: the live one and the two used while replacing it.
pub const CHECKPOINT_ENTRIES: [&str; 3] = [CHECKPOINT_DIR, TEMP_DIR, OLD_DIR];

/// The state files of checkpoints written before the engine, and what wrote them.
const LEGACY_STATES: [(&str, &str); 2] =
    [("trainer_state.json", "`albert pretrain run`"), ("finetune_state.json", "`albert finetune`")];

/// Everything besides weights and moments that a resumed run needs to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// The workload's settings; a resume must use the same.
    pub settings: serde_json::Value,
    /// Optimizer steps completed.
    pub step: u64,
    /// Length in bytes of the metrics log when the checkpoint was taken.
    pub log_bytes: u64,
    /// The workload's own state (its place in the data, running sums, best score so far).
    pub workload: serde_json::Value,
}

impl EngineState {
    /// Reads the state of the checkpoint in `dir`, checking its version.
    pub fn load(dir: &Path) -> Result<Self, EngineError> {
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(EngineError::io(&path))?;
        let state: EngineState =
            serde_json::from_str(&text).map_err(|e| EngineError::BadState { path: path.clone(), message: e.to_string() })?;
        if state.version != STATE_VERSION {
            return Err(EngineError::BadState {
                path,
                message: format!("state format version {} (this albert reads {STATE_VERSION})", state.version),
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

    /// Finishes or undoes a swap a kill interrupted and removes leftovers; returns whether a checkpoint exists. A
    /// checkpoint of a format this build cannot continue is an error naming it.
    pub fn recover(&self) -> Result<bool, EngineError> {
        if !self.current.exists() && self.old.exists() {
            // Killed between the two renames of `commit`: the old checkpoint is the live one.
            rename(&self.old, &self.current)?;
        }
        remove_dir(&self.temp)?;
        remove_dir(&self.old)?;
        if let Some((file, writer)) = LEGACY_STATES.iter().find(|(f, _)| self.current.join(f).is_file()) {
            return Err(EngineError::BadState {
                path: self.current.join(file),
                message: format!(
                    "a checkpoint of {writer} from before the training engine (state format version 1); this \
                     albert resumes engine checkpoints ({STATE_FILE}, version {STATE_VERSION}). Start the run \
                     again in another output directory, or finish it with the albert that wrote it"
                ),
            });
        }
        Ok(self.current.join(STATE_FILE).is_file())
    }

    /// Writes a checkpoint: weights, optimizer moments, then the state, and makes it the live one.
    pub fn save(&self, model: &Pretrained, optimizer: &dyn Optimizer, state: &EngineState) -> Result<(), EngineError> {
        remove_dir(&self.temp)?;
        std::fs::create_dir_all(&self.temp).map_err(EngineError::io(&self.temp))?;
        model.save(&self.temp)?;
        optimizer.save_state(&self.temp.join(OPTIMIZER_FILE))?;
        let path = self.temp.join(STATE_FILE);
        let json = serde_json::to_vec_pretty(state).expect("state serializes");
        albert::fsio::write_atomic(&path, &json).map_err(EngineError::io(&path))?;
        self.commit()
    }

    /// Reads the live checkpoint's state (checking its version) and restores weights and optimizer moments.
    pub fn load(&self, model: &Pretrained, optimizer: &mut dyn Optimizer) -> Result<EngineState, EngineError> {
        let state = EngineState::load(&self.current)?;
        let weights = self.current.join("model.safetensors");
        model.varmap.clone().load(&weights).map_err(|e| EngineError::BadState { path: weights, message: e.to_string() })?;
        let device = model.varmap.all_vars().first().map_or(candle_core::Device::Cpu, |v| v.device().clone());
        optimizer.load_state(&self.current.join(OPTIMIZER_FILE), &device)?;
        Ok(state)
    }

    fn commit(&self) -> Result<(), EngineError> {
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

fn rename(from: &Path, to: &Path) -> Result<(), EngineError> {
    std::fs::rename(from, to).map_err(EngineError::io(from))
}

fn remove_dir(dir: &Path) -> Result<(), EngineError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::io(dir)(e)),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> Result<(), EngineError> {
    albert::fsio::sync_dir(dir).map_err(EngineError::io(dir))
}
