//! The detached inference model computes what the trainable one computes, records no autograd graph, and gives a
//! sequence the same outputs whatever else shares its batch.

use albert::{AlbertConfig, AlbertForAny, AlbertInput, Architecture, ForwardOptions, Precision, Pretrained};
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

/// A sequence's outputs are the same bits alone and in any batch (issue 24: results never depend on what else shared
/// the batch), in f32 and int8, on this run's kernels: the built-in sentiment model's last hidden state and logits for
/// a short sequence alone, then padded beside longer ones. In int8 a last-bit difference from the padding would
/// round some activation the other way and grow through the layers.
#[test]
fn a_sequence_gives_the_same_bits_alone_and_in_any_batch() {
    let dir = albert_testkit::repo_root().join("models/albert-small-sst2");
    let mut model = Pretrained::load(&dir, &albert::LoadOptions::default()).unwrap();
    let ids = |len: usize, seed: usize| -> Vec<u32> { (0..len).map(|i| (5 + (i * 7919 + seed * 104_729) % 15_000) as u32).collect() };
    let (short, long) = (ids(7, 1), ids(45, 2));
    albert_testkit::ran_on(&format!("f32 {}, int8 {}", albert::ops::f32_kernel().name(), albert::ops::int8_kernel().name()));
    for precision in [Precision::Full, Precision::Int8] {
        model.set_precision(precision);
        let detached = model.detached().unwrap();
        // The short sequence's last hidden state (seq, H) and logits, from its row `at` of a batch of `rows`.
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let run = |rows: &[Vec<u32>], at: usize| -> (Vec<u32>, Vec<u32>) {
            let input = AlbertInput::from_rows(rows, None, 0, &Device::Cpu).unwrap();
            let out = detached.forward(&input, &ForwardOptions::default()).unwrap();
            let hidden = out.base.last_hidden_state.get(at).unwrap().narrow(0, 0, short.len()).unwrap();
            (bits(hidden.flatten_all().unwrap().to_vec1().unwrap()), bits(out.head.logits().unwrap().get(at).unwrap().to_vec1().unwrap()))
        };
        let alone = run(std::slice::from_ref(&short), 0);
        for (rows, at) in [(vec![short.clone(), long.clone()], 0), (vec![long.clone(), ids(30, 3), short.clone()], 2)] {
            assert!(run(&rows, at) == alone, "{precision:?}: row {at} of {} differs from the sequence alone", rows.len());
        }
    }
}
