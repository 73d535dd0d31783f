//! Initialization follows transformers' `_init_weights` and is reproducible from the seed.

use albert::model::named_tensors;
use albert::{AlbertConfig, Architecture, Pretrained};
use candle_core::{DType, Device};

fn values(m: &Pretrained, name: &str) -> Vec<f32> {
    let t = named_tensors(&m.varmap).into_iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("{name}")).1;
    t.flatten_all().unwrap().to_vec1().unwrap()
}

#[test]
fn initialization_follows_transformers() {
    let cfg = AlbertConfig { vocab_size: 500, hidden_size: 64, num_attention_heads: 4, intermediate_size: 128, num_hidden_layers: 2, ..AlbertConfig::default() };
    let m = Pretrained::init(&cfg, Architecture::PreTraining, 3, DType::F32, &Device::Cpu).unwrap();
    for (name, t) in named_tensors(&m.varmap) {
        let v: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
        if name.contains("LayerNorm.weight") || name.contains("layer_norm.weight") {
            assert!(v.iter().all(|x| *x == 1.0), "{name}");
        } else if name.ends_with("bias") {
            assert!(v.iter().all(|x| *x == 0.0), "{name}");
        } else {
            let n = v.len() as f64;
            let std = (v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / n).sqrt();
            let tolerance = 0.02 * 5.0 / n.sqrt() + 1e-4;
            if !name.ends_with("word_embeddings.weight") {
                assert!((std - 0.02).abs() < tolerance, "{name}: std {std}");
            }
        }
    }
    let words = values(&m, "albert.embeddings.word_embeddings.weight");
    assert!(words[..cfg.embedding_size].iter().all(|x| *x == 0.0), "padding row is zero");
    assert!(words[cfg.embedding_size..].iter().any(|x| *x != 0.0));
}

#[test]
fn the_seed_decides_the_weights() {
    let cfg = AlbertConfig { vocab_size: 50, hidden_size: 16, num_attention_heads: 2, intermediate_size: 8, num_hidden_layers: 2, ..AlbertConfig::default() };
    let init = |seed| Pretrained::init(&cfg, Architecture::MaskedLM, seed, DType::F32, &Device::Cpu).unwrap();
    let name = "albert.encoder.albert_layer_groups.0.albert_layers.0.ffn.weight";
    assert_eq!(values(&init(1), name), values(&init(1), name));
    assert_ne!(values(&init(1), name), values(&init(2), name));
}
