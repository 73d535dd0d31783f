//! A class's parameters: created by building the model over a `VarMap`, then filled from a checkpoint (mapping the
//! key layouts real checkpoints use) and/or initialized as Hugging Face's `_init_weights` does, from the seeded RNG.

use std::collections::{BTreeMap, BTreeSet};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::config::{AlbertConfig, Architecture};
use crate::error::{Error, Result};
use crate::ops::take_f32;
use crate::pretrained::LoadOptions;
use crate::rng::AlbertRng;

/// Where the parameters of a built model came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Head parameters absent from the checkpoint, freshly initialized (transformers' "newly initialized" list).
    pub initialized: Vec<String>,
    /// Checkpoint tensors this class does not use (another head's, or unknown).
    pub ignored: Vec<String>,
}

/// Builds a model over a fresh `VarMap` whose parameters are all initialized from `rng`.
pub fn init_model<M>(
    cfg: &AlbertConfig,
    dtype: DType,
    device: &Device,
    rng: &mut AlbertRng,
    build: impl FnOnce(VarBuilder) -> Result<M>,
) -> Result<(M, VarMap)> {
    let varmap = VarMap::new();
    let model = build(VarBuilder::from_varmap(&varmap, dtype, device))?;
    let names: Vec<String> = varmap.data().lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
    init_params(&varmap, cfg, &names, rng)?;
    Ok((model, varmap))
}

/// Builds a model of class `arch` over a fresh `VarMap` and fills it from checkpoint `tensors` (any key layout).
/// The tensors are consumed: an f32 tensor's values are moved into its parameter, not copied, which leaves any
/// clone of it (a tensor sharing its storage) empty.
///
/// The encoder must be complete. Head parameters absent from the checkpoint are initialized from `rng` and listed;
/// tensors the class does not use are listed; with `opts.strict` either is an error. A head parameter of another
/// shape (another number of labels) is an error, or with `opts.ignore_mismatched_heads` initialized and listed.
pub fn load_model<M>(
    cfg: &AlbertConfig,
    arch: Architecture,
    tensors: Vec<(String, Tensor)>,
    opts: &LoadOptions,
    rng: &mut AlbertRng,
    build: impl FnOnce(VarBuilder) -> Result<M>,
) -> Result<(M, VarMap, LoadReport)> {
    let (dtype, device) = (opts.dtype, &opts.device);
    let (mut provided, mut ignored) = map_names(tensors, arch);
    // Before anything is allocated from the config: its sizes must be the checkpoint's, and the model must fit.
    check_config_against(cfg, &provided)?;
    crate::memory::ensure_fits(
        crate::memory::weight_bytes(cfg, arch, dtype.size_in_bytes()),
        &format!("the {} of this config.json", arch.hf_name()),
    )?;
    let varmap = VarMap::new();
    let model = build(VarBuilder::from_varmap(&varmap, dtype, device))?;
    let mut initialized = Vec::new();
    let mut missing_encoder = Vec::new();
    {
        let vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let var = &vars[name];
            match provided.remove(name.as_str()) {
                Some(t) if t.dims() != var.dims() && opts.ignore_mismatched_heads && is_head_param(name, arch) => {
                    ignored.push(name.clone());
                    initialized.push(name.clone());
                }
                Some(t) => {
                    if t.dims() != var.dims() {
                        return Err(Error::Weight {
                            name: name.clone(),
                            message: format!("checkpoint shape {:?}, model expects {:?} (check config.json)", t.dims(), var.dims()),
                        });
                    }
                    if !t.dtype().is_float() {
                        return Err(Error::Weight { name: name.clone(), message: format!("holds {:?}, not floats", t.dtype()) });
                    }
                    let bad = count_non_finite(&t)?;
                    if bad > 0 {
                        return Err(Error::Weight {
                            name: name.clone(),
                            message: format!(
                                "holds {bad} non-finite value(s) (NaN or infinity) of {}: the checkpoint is corrupt \
                                 (the first such tensor in name order)",
                                t.elem_count()
                            ),
                        });
                    }
                    move_into(var, t.to_dtype(dtype)?.to_device(device)?)?;
                }
                None if is_head_param(name, arch) => initialized.push(name.clone()),
                None => missing_encoder.push(name.clone()),
            }
        }
    }
    if !missing_encoder.is_empty() {
        return Err(Error::MissingWeights(missing_encoder));
    }
    ignored.extend(provided.into_keys());
    ignored.sort();
    if opts.strict && !initialized.is_empty() {
        return Err(Error::MissingWeights(initialized));
    }
    if opts.strict && !ignored.is_empty() {
        return Err(Error::UnexpectedWeights(ignored));
    }
    init_params(&varmap, cfg, &initialized, rng)?;
    Ok((model, varmap, LoadReport { initialized, ignored }))
}

/// Sets the fresh parameter `var` to `t`'s values. f32 values on the CPU are moved out of `t` ([`take_f32`]) into the
/// parameter's storage: copying them made each tensor twice resident at once (albert-xxlarge's 256 MiB feed-forward
/// matrices over its 849 MiB of weights), and the parameter's own zeros are never touched, so they cost nothing.
fn move_into(var: &candle_core::Var, t: Tensor) -> Result<()> {
    if !(t.dtype() == DType::F32 && var.dtype() == DType::F32 && t.device().is_cpu() && var.device().is_cpu()) {
        return Ok(var.set(&t)?);
    }
    let put = PutF32(std::sync::Mutex::new(Some(take_f32(t)?)));
    var.inplace_op1(&put)?;
    Ok(())
}

/// The in-place operation of [`move_into`]: replaces a whole contiguous f32 storage of the same length.
struct PutF32(std::sync::Mutex<Option<Vec<f32>>>);

impl candle_core::InplaceOp1 for PutF32 {
    fn name(&self) -> &'static str {
        "albert-put-f32"
    }

    fn cpu_fwd(&self, storage: &mut candle_core::CpuStorage, layout: &candle_core::Layout) -> candle_core::Result<()> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match (storage, layout.contiguous_offsets(), slot.take()) {
            (candle_core::CpuStorage::F32(dst), Some((0, end)), Some(values)) if end == dst.len() && values.len() == end => {
                *dst = values;
                Ok(())
            }
            _ => candle_core::bail!("a parameter's values can only replace a whole contiguous f32 storage of their length"),
        }
    }
}

/// The tensor each size of the config can be read from (in the layout after [`map_names`], without the `albert.`
/// prefix), as (tensor, dimension, config field).
const SIZED_BY: [(&str, usize, &str); 8] = [
    ("embeddings.word_embeddings.weight", 0, "vocab_size"),
    ("embeddings.word_embeddings.weight", 1, "embedding_size"),
    ("embeddings.position_embeddings.weight", 0, "max_position_embeddings"),
    ("embeddings.token_type_embeddings.weight", 0, "type_vocab_size"),
    ("encoder.embedding_hidden_mapping_in.weight", 0, "hidden_size"),
    ("encoder.albert_layer_groups.0.albert_layers.0.ffn.weight", 0, "intermediate_size"),
    ("encoder.albert_layer_groups.0.albert_layers.0.ffn.weight", 1, "hidden_size"),
    ("encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight", 0, "hidden_size"),
];

/// Refuses a config whose sizes disagree with the checkpoint's tensors (the layer groups included), naming the
/// field, so that a wrong or hostile `config.json` fails before the model is allocated from it.
fn check_config_against(cfg: &AlbertConfig, provided: &BTreeMap<String, Tensor>) -> Result<()> {
    let base = |key: &str| key.strip_prefix("albert.").unwrap_or(key).to_string();
    let tensors: BTreeMap<String, &Tensor> = provided.iter().map(|(k, t)| (base(k), t)).collect();
    let field_value = |field: &str| match field {
        "vocab_size" => cfg.vocab_size,
        "embedding_size" => cfg.embedding_size,
        "max_position_embeddings" => cfg.max_position_embeddings,
        "type_vocab_size" => cfg.type_vocab_size,
        "hidden_size" => cfg.hidden_size,
        "intermediate_size" => cfg.intermediate_size,
        _ => unreachable!("`{field}` is not in SIZED_BY"),
    };
    for (name, dim, field) in SIZED_BY {
        let Some(t) = tensors.get(name) else { continue };
        let actual = t.dims().get(dim).copied();
        if actual != Some(field_value(field)) {
            return Err(Error::config(
                field,
                format!("{} does not fit the checkpoint: its tensor `{name}` has shape {:?}", field_value(field), t.dims()),
            ));
        }
    }
    // Layer groups and the layers inside a group, as numbered in the checkpoint's keys.
    let count = |prefix: &str| {
        tensors.keys().filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse::<usize>().ok()).max().map(|m| m + 1)
    };
    for (field, prefix, expected) in [
        ("num_hidden_groups", "encoder.albert_layer_groups.", cfg.num_hidden_groups),
        ("inner_group_num", "encoder.albert_layer_groups.0.albert_layers.", cfg.inner_group_num),
    ] {
        if let Some(found) = count(prefix).filter(|n| *n != expected) {
            return Err(Error::config(field, format!("{expected} does not fit the checkpoint, which holds {found}")));
        }
    }
    Ok(())
}

/// Number of NaN and infinite values in a float tensor, read in place where it lies contiguous on the CPU.
pub(crate) fn count_non_finite(t: &Tensor) -> Result<usize> {
    use candle_core::{CpuStorage, Storage};
    fn count<T: Copy>(values: &[T], finite: impl Fn(T) -> bool) -> usize {
        values.iter().filter(|v| !finite(**v)).count()
    }
    {
        let (storage, layout) = t.storage_and_layout();
        if let (Storage::Cpu(cpu), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
            match cpu {
                CpuStorage::F32(v) => return Ok(count(&v[start..end], f32::is_finite)),
                CpuStorage::F64(v) => return Ok(count(&v[start..end], f64::is_finite)),
                CpuStorage::F16(v) => return Ok(count(&v[start..end], |x| x.is_finite())),
                CpuStorage::BF16(v) => return Ok(count(&v[start..end], |x| x.is_finite())),
                _ => {}
            }
        }
    }
    let values = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(count(&values, f64::is_finite))
}

/// Parameters in the layout of class `arch`, with Hugging Face names, ready to save as a checkpoint.
pub fn named_tensors(varmap: &VarMap) -> Vec<(String, Tensor)> {
    let vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<(String, Tensor)> = vars.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn is_base_key(key: &str) -> bool {
    ["embeddings.", "encoder.", "pooler."].iter().any(|p| key.starts_with(p))
}

// The pooler belongs to `AlbertModel`, yet checkpoints of pooler-less classes lack it: treat it as part of the head.
fn is_head_param(name: &str, arch: Architecture) -> bool {
    let base = if arch == Architecture::Model { name } else { name.strip_prefix("albert.").unwrap_or(name) };
    !is_base_key(base) || base.starts_with("pooler.")
}

/// Maps checkpoint keys onto class `arch`'s layout: with or without the `albert.` prefix, legacy `gamma`/`beta`
/// LayerNorm names, and the tied decoder (`predictions.decoder.*`) dropped or used for an absent bias.
/// Returns the mapped tensors and the keys that belong to no class.
fn map_names(tensors: Vec<(String, Tensor)>, arch: Architecture) -> (BTreeMap<String, Tensor>, Vec<String>) {
    let mut mapped = BTreeMap::new();
    let mut decoder_bias = None;
    let mut unknown = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, t) in tensors {
        let mut k = key.clone();
        for (old, new) in [(".gamma", ".weight"), (".beta", ".bias")] {
            if let Some(stem) = k.strip_suffix(old) {
                if stem.ends_with("LayerNorm") || stem.ends_with("layer_norm") {
                    k = format!("{stem}{new}");
                }
            }
        }
        let base = k.strip_prefix("albert.").filter(|b| is_base_key(b)).or_else(|| is_base_key(&k).then_some(k.as_str()));
        let target = match base {
            Some(b) if b == "embeddings.position_ids" || b == "embeddings.token_type_ids" => continue,
            Some(b) if arch == Architecture::Model => b.to_string(),
            Some(b) => format!("albert.{b}"),
            None if k == "predictions.decoder.weight" => continue, // tied to the word embeddings
            None if k == "predictions.decoder.bias" => {
                decoder_bias = Some(t);
                continue;
            }
            None if k.starts_with("albert.") => {
                unknown.push(key);
                continue;
            }
            None => k,
        };
        if !seen.insert(target.clone()) {
            unknown.push(key);
            continue;
        }
        mapped.insert(target, t);
    }
    if let Some(bias) = decoder_bias {
        mapped.entry("predictions.bias".to_string()).or_insert(bias);
    }
    (mapped, unknown)
}

/// Initializes `names` as transformers' `_init_weights`: LayerNorm weights 1, biases 0, every other weight
/// normal(0, initializer_range), the padding row of the word embeddings 0. Names are visited in sorted order so the
/// same seed gives the same weights.
fn init_params(varmap: &VarMap, cfg: &AlbertConfig, names: &[String], rng: &mut AlbertRng) -> Result<()> {
    let vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    for name in names {
        let var = &vars[name.as_str()];
        let (dims, dtype, device) = (var.dims().to_vec(), var.dtype(), var.device().clone());
        let is_norm = name.contains("LayerNorm") || name.contains("layer_norm");
        if name.ends_with("bias") {
            var.set(&Tensor::zeros(dims.as_slice(), dtype, &device)?)?;
        } else if is_norm {
            var.set(&Tensor::ones(dims.as_slice(), dtype, &device)?)?;
        } else {
            fill_normal(var, cfg.initializer_range, rng)?;
            if let (true, Some(pad)) = (name.ends_with("word_embeddings.weight"), cfg.pad_token_id) {
                var.slice_set(&Tensor::zeros((1, dims[1]), dtype, &device)?, 0, pad as usize)?;
            }
        }
    }
    Ok(())
}

/// Values drawn per block by [`fill_normal`]: 4 MiB of f64 draws.
const DRAW_BLOCK: usize = 1 << 19;

/// Fills `var` with normal(0, std) draws in row-major order, the same values as one draw of its whole shape, written
/// in place a block of rows at a time: a whole matrix of draws beside the parameter it fills would add the largest
/// weight to the peak memory (256 MiB, 0.3x the f32 weights, for albert-xxlarge's feed-forward matrices).
fn fill_normal(var: &candle_core::Var, std: f64, rng: &mut AlbertRng) -> Result<()> {
    let (dims, dtype, device) = (var.dims().to_vec(), var.dtype(), var.device().clone());
    let Some((&rows, rest)) = dims.split_first() else {
        return Ok(var.set(&rng.normal(&dims, std, dtype, &device)?)?);
    };
    let block = (DRAW_BLOCK / rest.iter().product::<usize>().max(1)).max(1);
    for start in (0..rows).step_by(block) {
        let shape: Vec<usize> = std::iter::once(block.min(rows - start)).chain(rest.iter().copied()).collect();
        var.slice_set(&rng.normal(&shape, std, dtype, &device)?, 0, start)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Tensor {
        Tensor::zeros(1, DType::F32, &Device::Cpu).unwrap()
    }

    #[test]
    fn key_layouts_map_onto_each_class() {
        let keys = [
            "albert.embeddings.word_embeddings.weight",
            "encoder.embedding_hidden_mapping_in.weight",
            "albert.embeddings.position_ids",
            "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm.gamma",
            "predictions.decoder.weight",
            "predictions.decoder.bias",
            "sop_classifier.classifier.weight",
        ];
        let tensors = keys.iter().map(|k| (k.to_string(), t())).collect::<Vec<_>>();
        let (mapped, unknown) = map_names(tensors.clone(), Architecture::Model);
        let names: Vec<_> = mapped.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "embeddings.word_embeddings.weight",
                "encoder.albert_layer_groups.0.albert_layers.0.attention.LayerNorm.weight",
                "encoder.embedding_hidden_mapping_in.weight",
                "predictions.bias",
                "sop_classifier.classifier.weight",
            ]
        );
        assert!(unknown.is_empty());
        let (mapped, _) = map_names(tensors, Architecture::MaskedLM);
        assert!(mapped.contains_key("albert.encoder.embedding_hidden_mapping_in.weight"));
        assert!(mapped.contains_key("predictions.bias"));
    }

    /// Drawn in blocks of rows (here three: 5,000 x 300 values, 1,747 rows a block), a weight holds the values of
    /// one draw of its whole shape from the same seed, and a 1-D weight those of one draw too.
    #[test]
    fn weights_drawn_in_blocks_equal_one_whole_draw() {
        for dims in [vec![5_000, 300], vec![1_000]] {
            let var = candle_core::Var::zeros(dims.as_slice(), DType::F32, &Device::Cpu).unwrap();
            fill_normal(&var, 0.02, &mut AlbertRng::new(7)).unwrap();
            let whole = AlbertRng::new(7).normal(&dims, 0.02, DType::F32, &Device::Cpu).unwrap();
            let (a, b) = (var.flatten_all().unwrap().to_vec1::<f32>().unwrap(), whole.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            assert!(a == b && a.iter().any(|&v| v != 0.0), "{dims:?}");
        }
    }

    #[test]
    fn pooler_counts_as_head() {
        assert!(is_head_param("albert.pooler.weight", Architecture::SequenceClassification));
        assert!(is_head_param("classifier.bias", Architecture::SequenceClassification));
        assert!(!is_head_param("albert.encoder.embedding_hidden_mapping_in.bias", Architecture::MaskedLM));
        assert!(!is_head_param("embeddings.LayerNorm.weight", Architecture::Model));
    }
}
