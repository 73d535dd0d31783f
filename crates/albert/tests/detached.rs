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
    let diff = (&trainable - &detached).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(diff, 0.0);
    // Gradients reach the parameters from the trainable output only.
    let vars = model.varmap.all_vars();
    let g = trainable.sum_all().unwrap().backward().unwrap();
    assert!(vars.iter().any(|v| g.get(v.as_tensor()).is_some()));
    let g = detached.sum_all().unwrap().backward().unwrap();
    assert!(vars.iter().all(|v| g.get(v.as_tensor()).is_none()));
}
