//! `albert export`: a checkpoint rewritten as a self-contained Hugging Face directory, its weights in the dtype asked
//! for (f16 for the built-in models), with its tokenizer files.

use std::path::PathBuf;

use albert::tokenizer::Backend;
use albert::{AlbertTokenizer, LoadOptions, Pretrained};
use anyhow::{Context, Result};
use candle_core::DType;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  albert export runs/sst2 --out models/my-sst2 --dtype f16\n  \
albert export albert-base-v2 --out /tmp/albert-base-bf16 --dtype bf16\n\n\
The output loads in transformers (from_pretrained upcasts f16 to the model's dtype) and in every albert command.")]
pub struct ExportArgs {
    /// Checkpoint directory or Hugging Face hub id.
    model: String,
    /// Output directory (config.json, model.safetensors, spiece.model, tokenizer.json, tokenizer_config.json).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    overwrite: crate::output::OverwriteArg,
    /// Weight dtype: f16, bf16 or f32.
    #[arg(long, default_value = "f16", value_parser = ["f16", "bf16", "f32"])]
    dtype: String,
}

pub fn run(args: ExportArgs) -> Result<()> {
    args.overwrite.claim_dir(&args.out, "export", &crate::output::model_files())?;
    let dir = albert::hub::resolve_model(&args.model)?;
    let model = Pretrained::load(&dir, &LoadOptions::default()).with_context(|| format!("loading {}", dir.display()))?;
    // SentencePiece first, so that spiece.model (which transformers' slow AlbertTokenizer needs) is written too.
    let tokenizer = if dir.join("spiece.model").is_file() {
        AlbertTokenizer::from_dir_with(&dir, Backend::SentencePiece)
    } else {
        AlbertTokenizer::from_path(&dir)
    }
    .with_context(|| format!("reading the tokenizer of {}", dir.display()))?;
    let dtype = match args.dtype.as_str() {
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        _ => DType::F32,
    };
    model.save_as(&args.out, Some(dtype))?;
    tokenizer.save(&args.out)?;
    let bytes = std::fs::metadata(args.out.join("model.safetensors")).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({}, {} parameters, {:.1} MB of {} weights)",
        args.out.display(),
        model.model.architecture().hf_name(),
        model.parameter_count(),
        bytes as f64 / 1e6,
        args.dtype
    );
    Ok(())
}
