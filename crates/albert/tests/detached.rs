//! The detached inference model computes what the trainable one computes, and records no autograd graph.

use albert::{AlbertConfig, AlbertForAny, AlbertInput, Architecture, ForwardOptions, Pretrained};
use candle_core::{DType, Device, Tensor};

#[test]
fn detached_model_gives_the_same_outputs_without_a_graph() {
    let cfg = AlbertConfig {
        vocab_size: 50,
        embedding_size: 8,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 32,
        ..AlbertConfig::default()
    };
    let model = Pretrained::init(&cfg, Architecture::MaskedLM, 3, DType::F32, &Device::Cpu).unwrap();
    let input = AlbertInput::from_rows(&[vec![2, 7, 9, 3], vec![2, 11, 3]], None, 0, &Device::Cpu).unwrap();
    let logits = |m: &AlbertForAny| -> Tensor {
        let AlbertForAny::MaskedLM(m) = m else { unreachable!() };
        m.forward(&input, &ForwardOptions::default()).unwrap().logits
    };
    let (trainable, detached) = (logits(&model.model), logits(&model.detached().unwrap()));
    albert_testkit::ran_on(albert::ops::f32_kernel().name());
    // The detached projections read column-major weights, so the products sum in another order: equal up to f32
    // rounding.
    let diff = (&trainable - &detached).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert!(diff < 1e-5, "the detached model differs by {diff}");
    // Gradients reach the parameters from the trainable output only.
    let vars = model.varmap.all_vars();
    let g = trainable.sum_all().unwrap().backward().unwrap();
    assert!(vars.iter().any(|v| g.get(v.as_tensor()).is_some()));
    let g = detached.sum_all().unwrap().backward().unwrap();
    assert!(vars.iter().all(|v| g.get(v.as_tensor()).is_none()));
}

/// With int8 projections the detached model stays close to the f32 one (a transformers-checked checkpoint, grouped
/// layers): every token's last hidden state keeps its direction, and the class of every sequence is unchanged.
#[test]
fn int8_detached_model_stays_close_to_f32() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models/seq_cls_silu");
    let mut model = Pretrained::load(&dir, &albert::LoadOptions::default()).unwrap();
    let rows: Vec<Vec<u32>> = (0..6).map(|r| (0..12 + r).map(|i| (2 + (i * 7 + r * 13) % 90) as u32).collect()).collect();
    let input = AlbertInput::from_rows(&rows, None, 0, &Device::Cpu).unwrap();
    let run = |m: &AlbertForAny| {
        let out = m.forward(&input, &ForwardOptions::default()).unwrap();
        let logits: Vec<Vec<f32>> = out.head.logits().unwrap().to_vec2().unwrap();
        (out.base.last_hidden_state, logits)
    };
    let (h32, l32) = run(&model.detached().unwrap());
    model.set_precision(albert::Precision::Int8);
    let (h8, l8) = run(&model.detached().unwrap());
    albert_testkit::ran_on(&format!("f32 {}, int8 {}", albert::ops::f32_kernel().name(), albert::ops::int8_kernel().name()));
    // (batch, seq) cosine between the f32 and int8 hidden states
    let dot = (&h32 * &h8).unwrap().sum(2).unwrap();
    let norms = (h32.sqr().unwrap().sum(2).unwrap().sqrt().unwrap() * h8.sqr().unwrap().sum(2).unwrap().sqrt().unwrap()).unwrap();
    let cos = (dot / norms).unwrap().flatten_all().unwrap().min(0).unwrap().to_scalar::<f32>().unwrap();
    assert!(cos > 0.999, "lowest cosine {cos}");
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    for (a, b) in l32.iter().zip(&l8) {
        assert_eq!(argmax(a), argmax(b), "{a:?} vs {b:?}");
    }
    assert_ne!(l32, l8, "the int8 path must have run");
}
