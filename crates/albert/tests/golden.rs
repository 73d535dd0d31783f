//! Parity with Hugging Face transformers on the committed fixtures (scripts/reference/make_fixtures.py): every output,
//! hidden state, attention map and loss, for each weights format, to 1e-5.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use albert::model::AlbertForAny;
use albert::{AlbertInput, Architecture, ForwardOptions, LoadOptions, Pretrained};
use candle_core::{DType, Device, Tensor};

const TOLERANCE: f32 = 1e-5;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures())
        .expect("tests/fixtures/models")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("golden.safetensors").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 9, "fixtures missing: {dirs:?}");
    dirs
}

fn golden(dir: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(dir.join("golden.safetensors"), &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    let a = a.to_dtype(DType::F32).unwrap();
    let b = b.to_dtype(DType::F32).unwrap();
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn ids(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).unwrap()
}

/// The golden file's inputs.
fn golden_input(g: &HashMap<String, Tensor>) -> AlbertInput {
    AlbertInput {
        input_ids: ids(&g["input_ids"]),
        token_type_ids: Some(ids(&g["token_type_ids"])),
        attention_mask: Some(ids(&g["attention_mask"])),
        position_ids: None,
    }
}

/// Runs the fixture's class on its golden inputs and returns every output under the golden file's names.
fn run(model: &AlbertForAny, g: &HashMap<String, Tensor>, with_loss: bool) -> HashMap<String, Tensor> {
    let input = golden_input(g);
    let opts = ForwardOptions { output_hidden_states: true, output_attentions: true, train: false, skip_padding: false };
    let out = model.forward(&input, &opts).unwrap();
    let mut got: HashMap<String, Tensor> = HashMap::new();
    got.insert("last_hidden_state".into(), out.base.last_hidden_state.clone());
    if let Some(p) = &out.base.pooler_output {
        got.insert("pooler_output".into(), p.clone());
    }
    for (i, h) in out.base.hidden_states.iter().flatten().enumerate() {
        got.insert(format!("hidden_states.{i}"), h.clone());
    }
    for (i, a) in out.base.attentions.iter().flatten().enumerate() {
        got.insert(format!("attentions.{i}"), a.clone());
    }
    for (name, t) in out.head.named() {
        got.insert(name.to_string(), t.clone());
    }
    if let Some(loss) = with_loss.then(|| loss(model, &input, g, &ForwardOptions::default())).flatten() {
        got.insert("loss".into(), loss.reshape(1).unwrap());
    }
    got
}

fn loss(model: &AlbertForAny, input: &AlbertInput, g: &HashMap<String, Tensor>, o: &ForwardOptions) -> Option<Tensor> {
    let label = |k: &str| g[&format!("labels.{k}")].clone();
    let l = match model {
        AlbertForAny::Model(_) => return None,
        AlbertForAny::PreTraining(m) => m.loss(&m.forward(input, o).unwrap(), &label("labels"), &label("sentence_order_label")),
        AlbertForAny::MaskedLM(m) => m.loss(&m.forward(input, o).unwrap(), &label("labels")),
        AlbertForAny::SequenceClassification(m) => m.loss(&m.forward(input, o).unwrap(), &label("labels")),
        AlbertForAny::TokenClassification(m) => m.loss(&m.forward(input, o).unwrap(), &label("labels")),
        AlbertForAny::MultipleChoice(m) => m.loss(&m.forward(input, o).unwrap(), &label("labels")),
        AlbertForAny::QuestionAnswering(m) => {
            m.loss(&m.forward(input, o).unwrap(), &label("start_positions"), &label("end_positions"))
        }
    };
    Some(l.unwrap())
}

fn compare(name: &str, g: &HashMap<String, Tensor>, got: &HashMap<String, Tensor>) -> f32 {
    let mut worst = 0f32;
    let mut compared = 0;
    for (key, expected) in g {
        if key.starts_with("labels.") || ["input_ids", "token_type_ids", "attention_mask"].contains(&key.as_str()) {
            continue;
        }
        let actual = got.get(key).unwrap_or_else(|| panic!("{name}: no output `{key}`"));
        let d = max_diff(actual, expected);
        assert!(d <= TOLERANCE, "{name}: `{key}` differs by {d}");
        worst = worst.max(d);
        compared += 1;
    }
    let outputs = got.keys().filter(|k| !k.starts_with("labels.")).count();
    assert_eq!(compared, outputs, "{name}: we return outputs transformers does not: {:?}", got.keys());
    worst
}

/// The inference model (`Pretrained::detached`: projections prepared once, packed for the f32 micro-kernel where the
/// CPU has AVX-512, column-major for `gemm` elsewhere) meets the same tolerance on every output but the loss.
#[test]
fn the_prepared_inference_model_matches_transformers() {
    albert_testkit::ran_on(albert::ops::f32_kernel().name());
    for dir in fixture_dirs() {
        let mut g = golden(&dir);
        g.remove("loss");
        let loaded = Pretrained::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
        let name = format!("{} (prepared)", dir.file_name().unwrap().to_string_lossy());
        let worst = compare(&name, &g, &run(&loaded.detached().unwrap(), &g, false));
        println!("{name}: max abs diff {worst:.2e}");
    }
}

/// With the padding left out of every layer (`ForwardOptions::skip_padding`, what the pipelines run), the prepared
/// model meets the tolerance at every real position of every output (per-position outputs are compared where the
/// attention mask is 1, the others whole), and its last hidden state is zero at the padding positions.
#[test]
fn skipping_the_padding_keeps_every_real_output() {
    albert_testkit::ran_on(albert::ops::f32_kernel().name());
    for dir in fixture_dirs() {
        let g = golden(&dir);
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let model = Pretrained::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap().detached().unwrap();
        let opts = ForwardOptions { skip_padding: true, ..ForwardOptions::default() };
        let out = model.forward(&golden_input(&g), &opts).unwrap();
        let real: Vec<bool> = g["attention_mask"].flatten_all().unwrap().to_dtype(DType::F32).unwrap().to_vec1::<f32>().unwrap().iter().map(|&m| m != 0.0).collect();
        assert!(real.contains(&false), "{name}: the fixture has no padding");
        // The rows of a per-position output (its leading dimensions multiply to the mask's positions), else None.
        let per_position = |t: &Tensor| -> Option<Vec<Vec<f32>>> {
            let mut positions = 1;
            for &d in t.dims() {
                positions *= d;
                if positions == real.len() {
                    return Some(t.reshape((positions, t.elem_count() / positions)).unwrap().to_dtype(DType::F32).unwrap().to_vec2().unwrap());
                }
            }
            None
        };
        let mut outputs = vec![("last_hidden_state", &out.base.last_hidden_state)];
        outputs.extend(out.base.pooler_output.iter().map(|p| ("pooler_output", p)));
        outputs.extend(out.head.named());
        for (key, got) in outputs {
            let want = &g[key];
            let worst = match (per_position(got), per_position(want)) {
                (Some(got), Some(want)) => got.iter().zip(&want).zip(&real).filter(|(_, &r)| r).flat_map(|((a, b), _)| a.iter().zip(b).map(|(x, y)| (x - y).abs())).fold(0f32, f32::max),
                _ => max_diff(got, want),
            };
            assert!(worst <= TOLERANCE, "{name}: `{key}` differs by {worst} at real positions");
        }
        let hidden = per_position(&out.base.last_hidden_state).unwrap();
        assert!(hidden.iter().zip(&real).all(|(row, &r)| r || row.iter().all(|&v| v == 0.0)), "{name}: padding positions are not zeros");
    }
}

#[test]
fn every_fixture_matches_transformers_in_every_weights_format() {
    for dir in fixture_dirs() {
        let g = golden(&dir);
        for weights in ["model.safetensors", "pytorch_model.bin", "model_f16.safetensors"] {
            let opts = LoadOptions { strict: true, weights: Some(dir.join(weights)), ..LoadOptions::default() };
            let loaded = Pretrained::load(&dir, &opts).unwrap_or_else(|e| panic!("{}/{weights}: {e}", dir.display()));
            let name = format!("{}/{weights}", dir.file_name().unwrap().to_string_lossy());
            let worst = compare(&name, &g, &run(&loaded.model, &g, true));
            println!("{name}: max abs diff {worst:.2e}");
        }
    }
}

#[test]
fn save_then_load_is_lossless() {
    let dir = fixtures().join("pretraining_groups");
    let first = Pretrained::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
    let tmp = tempdir("roundtrip");
    first.save(&tmp).unwrap();
    let second = Pretrained::load(&tmp, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
    assert_eq!(second.config.architecture(), Some(Architecture::PreTraining));
    let a = albert::model::named_tensors(&first.varmap);
    let b = albert::model::named_tensors(&second.varmap);
    assert_eq!(a.len(), b.len());
    for ((ka, ta), (kb, tb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert_eq!(max_diff(ta, tb), 0.0, "{ka}");
    }
    let g = golden(&dir);
    compare("roundtrip", &g, &run(&second.model, &g, true));
}

#[test]
fn loading_into_another_class_initializes_and_lists_the_head() {
    let dir = fixtures().join("masked_lm_relu");
    let opts = LoadOptions { architecture: Some(Architecture::SequenceClassification), ..LoadOptions::default() };
    let m = Pretrained::load(&dir, &opts).unwrap();
    assert_eq!(m.report.initialized, ["albert.pooler.bias", "albert.pooler.weight", "classifier.bias", "classifier.weight"]);
    assert_eq!(m.report.ignored, ["predictions.LayerNorm.bias", "predictions.LayerNorm.weight", "predictions.bias", "predictions.dense.bias", "predictions.dense.weight"]);
    // The encoder is the checkpoint's: hidden states equal transformers' AlbertForMaskedLM ones.
    let g = golden(&dir);
    let got = run(&m.model, &g, false);
    assert!(max_diff(&got["last_hidden_state"], &g["last_hidden_state"]) <= TOLERANCE);
    let strict = LoadOptions { strict: true, ..opts };
    let err = Pretrained::load(&dir, &strict).err().unwrap().to_string();
    assert!(err.contains("classifier.weight"), "{err}");
    // AlbertModel from a head checkpoint: the `albert.` prefix goes, the heads are ignored.
    let base = Pretrained::load(&dir, &LoadOptions { architecture: Some(Architecture::Model), ..LoadOptions::default() }).unwrap();
    assert_eq!(base.report.initialized, ["pooler.bias", "pooler.weight"]);
}

#[test]
fn an_incomplete_encoder_is_an_error_naming_the_tensors() {
    let dir = fixtures().join("model_gelu_new");
    let tensors = albert::checkpoint::load_tensors(&dir.join("model.safetensors"), &Device::Cpu, DType::F32).unwrap();
    let tmp = tempdir("incomplete");
    std::fs::copy(dir.join("config.json"), tmp.join("config.json")).unwrap();
    let kept: Vec<_> = tensors.into_iter().filter(|(k, _)| !k.contains("ffn_output")).collect();
    albert::checkpoint::save_safetensors(&tmp.join("model.safetensors"), &kept).unwrap();
    let err = Pretrained::load(&tmp, &LoadOptions::default()).err().unwrap().to_string();
    assert!(err.contains("encoder.albert_layer_groups.0.albert_layers.0.ffn_output.weight"), "{err}");
}

#[test]
fn a_mis_shaped_tensor_is_named() {
    let dir = fixtures().join("model_gelu_new");
    let tmp = tempdir("misshaped");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["intermediate_size"] = 36.into();
    std::fs::write(tmp.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(dir.join("model.safetensors"), tmp.join("model.safetensors")).unwrap();
    let err = Pretrained::load(&tmp, &LoadOptions::default()).err().unwrap().to_string();
    assert!(err.contains("ffn.bias") || err.contains("ffn.weight"), "{err}");
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("albert-golden-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn legacy_torch_files_are_read() {
    // torch.save(..., _use_new_zipfile_serialization=False): the pre-1.6 format of the original hub checkpoints.
    let tensors = albert::checkpoint::load_tensors(&fixtures().join("legacy_format.bin"), &Device::Cpu, DType::F32).unwrap();
    let names: Vec<_> = tensors.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"embeddings.word_embeddings.weight"), "{names:?}");
    let word = &tensors.iter().find(|(k, _)| k == "embeddings.word_embeddings.weight").unwrap().1;
    assert_eq!(word.dims(), [99, 16]);
}

/// The masked-LM loss from the predicted positions only (what pretraining and `bench --train` run) equals
/// transformers' loss over every position, and gives the same gradients as our every-position loss.
#[test]
fn predicted_position_loss_matches_transformers() {
    let mut checked = 0;
    for dir in fixture_dirs() {
        let g = golden(&dir);
        let loaded = Pretrained::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
        let input = golden_input(&g);
        let o = ForwardOptions::default();
        let labels = || &g["labels.labels"];
        let (full, predicted) = match &loaded.model {
            AlbertForAny::MaskedLM(m) => {
                let base = m.albert.forward(&input, &o).unwrap();
                (m.loss(&m.forward(&input, &o).unwrap(), labels()).unwrap(), m.predictions.predicted_loss(&base.last_hidden_state, labels()).unwrap().loss)
            }
            AlbertForAny::PreTraining(m) => {
                let out = m.forward(&input, &o).unwrap();
                let sop = albert::model::loss::cross_entropy(&out.sop_logits, &g["labels.sentence_order_label"], -100).unwrap();
                let mlm = m.predictions.predicted_loss(&out.base.last_hidden_state, labels()).unwrap().loss;
                (m.loss(&out, labels(), &g["labels.sentence_order_label"]).unwrap(), (mlm + sop).unwrap())
            }
            _ => continue,
        };
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        assert!(max_diff(&predicted.reshape(1).unwrap(), &g["loss"]) <= TOLERANCE, "{name}: loss differs from transformers'");
        let (gf, gp) = (full.backward().unwrap(), predicted.backward().unwrap());
        for var in loaded.varmap.all_vars() {
            let (a, b) = (gf.get(var.as_tensor()), gp.get(var.as_tensor()));
            assert_eq!(a.is_some(), b.is_some(), "{name}: a parameter has a gradient in one loss only");
            if let (Some(a), Some(b)) = (a, b) {
                let scale = a.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap().max(1e-3);
                assert!(max_diff(a, b) <= 1e-5 * scale, "{name}: gradients differ by {}", max_diff(a, b));
            }
        }
        checked += 1;
    }
    assert!(checked >= 2, "no masked-LM fixture");
}

/// The backward pass matches PyTorch's: the gradient of every parameter of every fixture with a loss against
/// transformers' (scripts/reference/make_gradient_fixtures.py, eval mode), to 1e-5 of the largest value of each.
/// Both training paths: the fused layer operation (`albert::ops::layer`, the default), and the layer composed of one
/// graph node per operation (taken when attention maps are asked for, or dropout is active).
#[test]
fn gradients_match_transformers() {
    let mut checked = 0;
    for dir in fixture_dirs() {
        let Ok(reference) = candle_core::safetensors::load(dir.join("gradients.safetensors"), &Device::Cpu) else { continue };
        let g = golden(&dir);
        let loaded = Pretrained::load(&dir, &LoadOptions { strict: true, ..LoadOptions::default() }).unwrap();
        let input = golden_input(&g);
        for (path, output_attentions) in [("fused", false), ("composed", true)] {
            let name = format!("{} ({path})", dir.file_name().unwrap().to_string_lossy());
            let o = ForwardOptions { output_attentions, ..ForwardOptions::default() };
            let l = loss(&loaded.model, &input, &g, &o).unwrap();
            assert!(max_diff(&l.reshape(1).unwrap(), &reference["loss"]) <= TOLERANCE, "{name}: loss differs");
            let grads = l.backward().unwrap();
            let vars = loaded.varmap.data().lock().unwrap().clone();
            let (mut worst, mut compared) = (0f32, 0);
            for (param, var) in &vars {
                let expected = reference.get(&format!("grad.{param}")).unwrap_or_else(|| panic!("{name}: transformers has no gradient for {param}"));
                let actual = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name}: no gradient reaches {param}"));
                let scale = expected.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
                // f32 sums in another order: 1e-5 of the largest value, and 2.5e-7 absolute for gradients that are
                // zero in exact arithmetic (the attention key bias, the QA and multiple-choice biases: a softmax
                // ignores a shared shift), sums of probability terms up to 1 that round to an ulp or two of 1
                // (1.19e-7 each) depending on the order (the scalar `gemm` of ALBERT_CPU=portable gives 1.19e-7).
                let diff = max_diff(actual, expected);
                assert!(diff <= 1e-5 * scale + 2.5e-7, "{name}: gradient of {param} differs by {diff:.2e} (largest value {scale:.2e})");
                worst = worst.max(diff / scale.max(1e-2));
                compared += 1;
            }
            assert_eq!(compared, reference.len() - 1, "{name}: transformers has gradients we do not");
            println!("{name}: {compared} parameter gradients, worst difference {worst:.2e} of the largest value (or of 1e-2)");
        }
        checked += 1;
    }
    assert!(checked >= 8, "gradient fixtures missing");
}
