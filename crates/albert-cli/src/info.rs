//! `albert info`: what a checkpoint or preset is, or (`--kernels`) which kernel each product runs on here; and
//! what `--int8` gets on this CPU, for the commands that take it.

use std::path::Path;

use albert::ops::{Kernels, CPU_ENV, F32_KERNEL_ENV, INT8_KERNEL_ENV};
use albert::{AlbertConfig, Architecture, LoadOptions, Pretrained};
use anyhow::{bail, Context, Result};
use serde_json::json;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert info tests/fixtures/models/qa\n  albert info --preset albert-xxlarge-v2 --json\n  \
albert info --kernels\n  ALBERT_CPU=avx2 albert info --kernels --json\n\n\
Kernels: every product runs the best kernel the CPU has, at one of three levels: avx512 (AVX-512, with VNNI and AMX\n\
for int8 where present), avx2 (AVX2 + FMA) and portable (baseline code). ALBERT_CPU=avx512|avx2|portable caps the\n\
level for every kernel family, `gemm`'s products included; within it ALBERT_F32_KERNEL (packed-avx512, packed-avx2,\n\
gemm) and ALBERT_INT8_KERNEL (amx, avx512-vnni, avx2-7x7, avx2-7bit, avx2, portable) choose the f32 and int8\n\
kernels; avx2-7x7 quantizes the weights and the activations to 7 bits, avx2-7bit only the weights (as ONNX Runtime's\n\
reduce_range) and is slower, avx2 keeps 8 and is slower still. A kernel the CPU lacks\n\
or one above the cap is an error.")]
pub struct InfoArgs {
    /// Checkpoint directory holding config.json, or a Hugging Face hub id.
    model: Option<String>,
    /// A published configuration instead of a checkpoint (albert-base-v2, albert-large-v1, ...).
    #[arg(long, conflicts_with = "model")]
    preset: Option<String>,
    /// Which kernel each product (f32 and int8 linear layers, attention, layer norm, softmax, GELU...) runs on this
    /// CPU, and why: the CPU's features, the ALBERT_CPU cap and the kernel variables.
    #[arg(long, conflicts_with_all = ["model", "preset"])]
    kernels: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// `--help` of `--int8`, for every command that has it: what the flag does and what this CPU gets.
pub fn int8_help() -> String {
    let here = match albert::ops::kernels() {
        Ok(k) => k.int8_summary(),
        Err(e) => format!("the kernel variables are invalid here ({e})"),
    };
    format!("Run the encoder's projections in int8 (dynamic quantization): faster, scores change slightly; {here}")
}

/// Whether a command given `--int8` runs int8: not where no fast integer kernel exists (the portable one is 13 to
/// 18 times slower than f32) unless ALBERT_INT8_KERNEL asks for it; then it runs f32 and says so, once, on stderr.
/// Invalid kernel variables leave the flag as given: loading the model reports them.
pub fn int8_wanted(int8: bool) -> bool {
    match albert::ops::kernels() {
        Ok(k) if int8 && !k.int8_pays() => {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| eprintln!("note: {}", k.int8_summary()));
            false
        }
        _ => int8,
    }
}

pub fn run(args: InfoArgs) -> Result<()> {
    if args.kernels {
        return kernels(args.json);
    }
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

/// `albert info --kernels`: the CPU, the level in force and each product's kernel.
fn kernels(as_json: bool) -> Result<()> {
    let k: &Kernels = albert::ops::kernels()?;
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let cpu = cpu_name();
    let available = |level| albert::ops::CpuLevel::ALL.into_iter().filter(move |&l| l <= level).map(|l| l.name());
    if as_json {
        let out = json!({
            "cpu": cpu,
            "arch": std::env::consts::ARCH,
            "features": k.features,
            "cpu_level": k.features.level(),
            "cap": k.cap,
            "level": k.level,
            "variables": {CPU_ENV: var(CPU_ENV), F32_KERNEL_ENV: var(F32_KERNEL_ENV), INT8_KERNEL_ENV: var(INT8_KERNEL_ENV)},
            "f32_kernel": k.f32.name(),
            "int8_kernel": k.int8.name(),
            "gemm": k.gemm,
            "int8_runs_int8": k.int8_pays(),
            "levels_here": available(k.features.level()).collect::<Vec<_>>(),
            "products": k.products(),
        });
        println!("{out}");
        return Ok(());
    }
    println!("CPU          {} ({})", cpu.as_deref().unwrap_or("unknown model"), std::env::consts::ARCH);
    let features = k.features.names();
    println!("features     {}", if features.is_empty() { "none of AVX2, AVX-512, VNNI, AMX".into() } else { features.join(", ") });
    let cap = match k.cap {
        Some(cap) => format!("{CPU_ENV}={}", cap.name()),
        None => format!("none ({CPU_ENV} unset)"),
    };
    println!("level        {} (the CPU's: {}; cap: {cap})", k.level.name(), k.features.level().name());
    for name in [F32_KERNEL_ENV, INT8_KERNEL_ENV] {
        println!("{name:<18} {}", var(name).unwrap_or_else(|| "unset".into()));
    }
    println!();
    let rows = k.products();
    let width = rows.iter().map(|r| r.product.len()).max().unwrap_or(0);
    let kernel_width = rows.iter().map(|r| r.kernel.len()).max().unwrap_or(0);
    for r in rows {
        println!("{:<width$}  {:<kernel_width$}  {}", r.product, r.kernel, r.why);
    }
    Ok(())
}

/// The CPU's model name, from /proc/cpuinfo where there is one, with its family and model numbers: a virtual
/// machine's name can be as bare as "AMD EPYC", which covers Zen 1 (family 23) to Zen 5.
fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let field = |key: &str| {
        info.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string()))
    };
    let name = field("model name")?;
    Some(match (field("cpu family"), field("model")) {
        (Some(family), Some(model)) => format!("{name} (family {family} model {model})"),
        _ => name,
    })
}
