//! `albert forward`: a checkpoint's own head on one sequence, outputs as transformers names them.

use albert::{AlbertInput, Architecture, ForwardOptions, LoadOptions, Pretrained};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use serde_json::{json, Value};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  albert forward tests/fixtures/models/seq_cls_silu --ids \"2 31 45 3\"\n  \
albert forward tests/fixtures/models/multiple_choice --ids \"2 10 3\" --ids \"2 11 3\" --json\n\n\
The JSON has no batch dimension: last_hidden_state (seq x hidden), pooler_output (hidden, or null when the class\n\
has no pooler) and the head's outputs: logits, start_logits/end_logits, or prediction_logits/sop_logits.")]
pub struct ForwardArgs {
    /// Checkpoint directory (config.json + model.safetensors or pytorch_model.bin), or a Hugging Face hub id
    /// (taken from the hub cache, fetched when missing unless HF_HUB_OFFLINE=1).
    model: String,
    /// Token ids, separated by spaces or commas. Give --ids once per choice for a multiple-choice model.
    #[arg(long, required = true)]
    ids: Vec<String>,
    /// Token type ids (segment ids), one per token; zeros by default. Repeat like --ids.
    #[arg(long)]
    type_ids: Vec<String>,
    /// Run this class instead of the one in config.json's `architectures` (e.g. AlbertModel).
    #[arg(long)]
    architecture: Option<Architecture>,
    /// Refuse a checkpoint that lacks the head or holds tensors the class does not use (instead of warning).
    #[arg(long)]
    strict: bool,
    /// Print JSON (all values) instead of a summary.
    #[arg(long)]
    json: bool,
}

fn parse_ids(text: &str, what: &str) -> Result<Vec<u32>> {
    let ids: Vec<u32> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().with_context(|| format!("{what}: `{s}` is not a token id")))
        .collect::<Result<_>>()?;
    if ids.is_empty() {
        bail!("{what} is empty");
    }
    Ok(ids)
}

pub fn run(args: ForwardArgs) -> Result<()> {
    let opts = LoadOptions { architecture: args.architecture, strict: args.strict, ..LoadOptions::default() };
    let dir = albert::hub::resolve_model(&args.model)?;
    let loaded = Pretrained::load(&dir, &opts).with_context(|| format!("loading {}", dir.display()))?;
    for name in &loaded.report.initialized {
        eprintln!("warning: {name} is not in the checkpoint and was initialized at random");
    }
    if !loaded.report.ignored.is_empty() {
        eprintln!("note: {} checkpoint tensor(s) unused by this class: {}", loaded.report.ignored.len(), loaded.report.ignored.join(", "));
    }
    let arch = loaded.model.architecture();
    let rows: Vec<Vec<u32>> = args.ids.iter().map(|s| parse_ids(s, "--ids")).collect::<Result<_>>()?;
    let types: Vec<Vec<u32>> = args.type_ids.iter().map(|s| parse_ids(s, "--type-ids")).collect::<Result<_>>()?;
    if arch != Architecture::MultipleChoice && rows.len() > 1 {
        bail!("{} takes one sequence; repeat --ids only for AlbertForMultipleChoice", arch.hf_name());
    }
    if !types.is_empty() && (types.len() != rows.len() || types.iter().zip(&rows).any(|(t, r)| t.len() != r.len())) {
        bail!("--type-ids must give one id per token of each --ids");
    }
    let mut input = AlbertInput::from_rows(&rows, (!types.is_empty()).then_some(types.as_slice()), 0, &Device::Cpu)?;
    if arch == Architecture::MultipleChoice {
        let (choices, seq) = input.input_ids.dims2()?;
        let add_batch = |t: Tensor| t.reshape((1, choices, seq));
        input = AlbertInput {
            input_ids: add_batch(input.input_ids)?,
            token_type_ids: input.token_type_ids.map(add_batch).transpose()?,
            attention_mask: input.attention_mask.map(add_batch).transpose()?,
            position_ids: None,
        };
    }
    let out = loaded.model.forward(&input, &ForwardOptions::default())?;
    // Drop the batch dimension, except for multiple choice, whose encoder batch is the choices.
    let unbatch = |t: &Tensor| -> Result<Value> {
        let t = if arch == Architecture::MultipleChoice && t.dim(0)? == rows.len() && rows.len() > 1 { t.clone() } else { t.squeeze(0)? };
        to_json(&t)
    };
    let mut obj = serde_json::Map::new();
    obj.insert("architecture".into(), json!(arch.hf_name()));
    obj.insert("last_hidden_state".into(), unbatch(&out.base.last_hidden_state)?);
    obj.insert("pooler_output".into(), out.base.pooler_output.as_ref().map(&unbatch).transpose()?.unwrap_or(Value::Null));
    for (name, t) in out.head.named() {
        obj.insert(name.to_string(), to_json(&t.squeeze(0)?)?);
    }
    if args.json {
        println!("{}", Value::Object(obj));
        return Ok(());
    }
    println!("{} on {} token(s)", arch.hf_name(), rows[0].len());
    println!("  last_hidden_state  {:?}", out.base.last_hidden_state.squeeze(0)?.dims());
    match &out.base.pooler_output {
        Some(p) => println!("  pooler_output      {:?}", p.squeeze(0)?.dims()),
        None => println!("  pooler_output      none (this class has no pooler)"),
    }
    for (name, t) in out.head.named() {
        let t = t.squeeze(0)?;
        println!("  {name:<18} {:?}", t.dims());
        if t.rank() == 1 && t.dim(0)? <= 16 {
            let v: Vec<f32> = t.to_dtype(DType::F32)?.to_vec1()?;
            let shown: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
            println!("  {:<18} [{}]", "", shown.join(", "));
        }
    }
    if arch == Architecture::SequenceClassification {
        let logits = out.head.logits()?.squeeze(0)?;
        if logits.dim(0)? > 1 {
            let best = logits.argmax(0)?.to_scalar::<u32>()? as usize;
            println!("  prediction         {}", loaded.config.label_name(best));
        }
    }
    Ok(())
}

fn to_json(t: &Tensor) -> Result<Value> {
    let t = t.to_dtype(DType::F32)?;
    Ok(match t.rank() {
        0 => json!(t.to_scalar::<f32>()?),
        1 => json!(t.to_vec1::<f32>()?),
        2 => json!(t.to_vec2::<f32>()?),
        3 => json!(t.to_vec3::<f32>()?),
        r => bail!("cannot print a rank-{r} tensor"),
    })
}
