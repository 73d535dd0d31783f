//! `albert info`: what a checkpoint or preset is.

use std::path::Path;

use albert::{AlbertConfig, Architecture, LoadOptions, Pretrained};
use anyhow::{bail, Context, Result};
use serde_json::json;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert info tests/fixtures/models/qa\n  albert info --preset albert-xxlarge-v2 --json")]
pub struct InfoArgs {
    /// Checkpoint directory holding config.json, or a Hugging Face hub id.
    model: Option<String>,
    /// A published configuration instead of a checkpoint (albert-base-v2, albert-large-v1, ...).
    #[arg(long, conflicts_with = "model")]
    preset: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: InfoArgs) -> Result<()> {
    let (source, cfg) = match (&args.model, &args.preset) {
        (Some(spec), None) => {
            let dir = albert::hub::resolve_model(spec)?;
            let cfg = AlbertConfig::from_file(dir.join("config.json")).with_context(|| format!("reading {}", dir.display()))?;
            (dir.display().to_string(), cfg)
        }
        (None, Some(name)) => (name.clone(), AlbertConfig::preset(name)?),
        _ => bail!("give a checkpoint directory or --preset NAME (see --help)"),
    };
    let arch = cfg.architecture().unwrap_or(Architecture::Model);
    // A summary vouches for the weights too: read them all, as a load would (shapes against the config, every value
    // finite), so a corrupt checkpoint is reported here rather than at its first use.
    let weights = match &args.model {
        Some(_) if has_weights(Path::new(&source)) => {
            let opts = LoadOptions { architecture: Some(arch), ..LoadOptions::default() };
            let model = Pretrained::load(&source, &opts).with_context(|| format!("checking the weights of {source}"))?;
            Some(model.report)
        }
        _ => None,
    };
    let params = cfg.parameter_count(arch);
    let encoder_params = cfg.parameter_count(Architecture::Model);
    let weight_bytes = params * 4;
    let dir = args.model.as_deref().map(albert::hub::resolve_model).transpose()?;
    let files: Vec<(String, u64)> = dir
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let weights = name.ends_with(".safetensors") || name.ends_with(".bin");
            weights.then(|| (name, e.metadata().map(|m| m.len()).unwrap_or(0)))
        })
        .collect();
    if args.json {
        let out = json!({
            "source": source,
            "architecture": arch.hf_name(),
            "config": serde_json::to_value(&cfg)?,
            "parameters": params,
            "albert_model_parameters": encoder_params,
            "weight_bytes_f32": weight_bytes,
            "weight_files": files.iter().map(|(n, s)| json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
            "weights_checked": weights.is_some(),
            "head_missing": weights.as_ref().map(|r| r.initialized.clone()),
        });
        println!("{out}");
        return Ok(());
    }
    println!("{source}");
    println!("  class              {}", arch.hf_name());
    println!("  vocabulary         {} pieces, embeddings E = {}", cfg.vocab_size, cfg.embedding_size);
    println!(
        "  encoder            H = {}, {} layers over {} group(s) x {} inner layer(s), {} heads, FFN {}, {:?}",
        cfg.hidden_size,
        cfg.num_hidden_layers,
        cfg.num_hidden_groups,
        cfg.inner_group_num,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        cfg.hidden_act
    );
    println!("  positions          {}, token types {}", cfg.max_position_embeddings, cfg.type_vocab_size);
    if matches!(arch, Architecture::SequenceClassification | Architecture::TokenClassification) {
        let labels: Vec<String> = (0..cfg.num_labels()).map(|i| cfg.label_name(i)).collect();
        println!("  labels             {}", labels.join(", "));
    }
    println!("  parameters         {} ({:.1}M; AlbertModel {:.1}M)", params, params as f64 / 1e6, encoder_params as f64 / 1e6);
    if arch == Architecture::Model {
        let pt = cfg.parameter_count(Architecture::PreTraining);
        println!("                     AlbertForPreTraining {} ({:.1}M)", pt, pt as f64 / 1e6);
    }
    println!("  weight memory      {:.1} MiB in f32", weight_bytes as f64 / (1 << 20) as f64);
    for (name, size) in files {
        println!("  file               {name} ({:.1} MiB)", size as f64 / (1 << 20) as f64);
    }
    match weights {
        Some(report) if report.initialized.is_empty() => {
            println!("  weights            read and checked: shapes fit the config, every value finite")
        }
        Some(report) => println!(
            "  weights            read and checked; the {} head is absent ({})",
            arch.hf_name(),
            report.initialized.join(", ")
        ),
        None if args.model.is_some() => println!("  weights            none (config only)"),
        None => {}
    }
    Ok(())
}

fn has_weights(dir: &Path) -> bool {
    albert::checkpoint::CHECKPOINT_FILES.iter().any(|f| dir.join(f).is_file())
}
