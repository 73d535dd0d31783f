//! What the writing commands share: the `--overwrite` flag, the names they write, atomic file output.

use std::path::Path;

use anyhow::Context;

/// The files `AlbertTokenizer::save` writes.
pub const TOKENIZER_FILES: [&str; 3] = ["spiece.model", "tokenizer.json", "tokenizer_config.json"];

/// The files `Pretrained::save` writes.
pub const WEIGHT_FILES: [&str; 2] = ["config.json", "model.safetensors"];

/// A model directory's files: weights and tokenizer.
pub fn model_files() -> Vec<&'static str> {
    [&WEIGHT_FILES[..], &TOKENIZER_FILES[..]].concat()
}

/// `--overwrite`, flattened into every command that writes files.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct OverwriteArg {
    /// Replace existing files that albert did not write (a file of your own named like an output, say): without it
    /// the command stops before writing anything and names them. Files albert itself wrote into an output directory
    /// (recorded in its .albert-outputs.json) need no flag, so re-running a command into its own output directory,
    /// or continuing a run there with --resume, just works.
    #[arg(long)]
    pub overwrite: bool,
}

impl OverwriteArg {
    /// Claims the output directory `dir` for `command`, which writes the entries `names` (see `albert::fsio::claim_dir`).
    pub fn claim_dir(self, dir: &Path, command: &str, names: &[&str]) -> anyhow::Result<()> {
        Ok(albert::fsio::claim_dir(dir, command, names, self.overwrite)?)
    }

    /// Checks that the single output file `path` may be written (see `albert::fsio::claim_file`).
    pub fn claim_file(self, path: &Path) -> anyhow::Result<()> {
        Ok(albert::fsio::claim_file(path, self.overwrite)?)
    }
}

/// Writes `bytes` to `path` atomically, naming the path in the error.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    albert::fsio::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}
