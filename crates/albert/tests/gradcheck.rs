//! Every parameter receives the gradient of the loss: analytic gradients against central finite differences in f64,
//! on tiny models covering every head, both GELUs, several groups and inner layers, and a padded batch.

use albert::model::{AlbertForAny, LoadReport};
use albert::{AlbertConfig, AlbertInput, Architecture, ForwardOptions, HiddenAct, Pretrained};
use candle_core::{DType, Device, Tensor, Var};

fn tiny(act: HiddenAct, groups: usize, inner: usize) -> AlbertConfig {
    AlbertConfig {
        vocab_size: 13,
        embedding_size: 4,
        hidden_size: 6,
        num_hidden_layers: 3,
        num_hidden_groups: groups,
        num_attention_heads: 2,
        intermediate_size: 5,
        inner_group_num: inner,
        hidden_act: act,
        max_position_embeddings: 8,
        initializer_range: 0.5,
        layer_norm_eps: 1e-5,
        // Padding positions hold id 0, an ordinary token here: the padding row (12) is never looked up, so its
        // gradient (only from the tied decoder) is the true one. `padding_row_gets_no_lookup_gradient` checks the rest.
        pad_token_id: Some(12),
        ..AlbertConfig::default()
    }
}

fn input(choices: bool) -> AlbertInput {
    let d = Device::Cpu;
    let rows = [vec![2u32, 7, 9, 3, 11, 3], vec![2, 5, 3, 0, 0, 0]];
    let types = [vec![0u32, 0, 0, 0, 1, 1], vec![0, 0, 0, 0, 0, 0]];
    let mask = [vec![1u32; 6], vec![1, 1, 1, 0, 0, 0]];
    let t = |r: &[Vec<u32>; 2]| {
        let t = Tensor::new(&[[r[0][0], r[0][1], r[0][2], r[0][3], r[0][4], r[0][5]], [r[1][0], r[1][1], r[1][2], r[1][3], r[1][4], r[1][5]]], &d).unwrap();
        if choices { t.reshape((1, 2, 6)).unwrap() } else { t }
    };
    AlbertInput { input_ids: t(&rows), token_type_ids: Some(t(&types)), attention_mask: Some(t(&mask)), position_ids: None }
}

fn loss(model: &AlbertForAny, x: &AlbertInput) -> Tensor {
    let d = Device::Cpu;
    let o = ForwardOptions::default();
    let tokens = Tensor::new(&[[-100i64, 4, -100, -100, 12, -100], [-100, -100, 1, -100, -100, -100]], &d).unwrap();
    match model {
        AlbertForAny::PreTraining(m) => m.loss(&m.forward(x, &o).unwrap(), &tokens, &Tensor::new(&[1i64, 0], &d).unwrap()),
        AlbertForAny::MaskedLM(m) => m.loss(&m.forward(x, &o).unwrap(), &tokens),
        AlbertForAny::SequenceClassification(m) => m.loss(&m.forward(x, &o).unwrap(), &Tensor::new(&[1i64, 0], &d).unwrap()),
        AlbertForAny::TokenClassification(m) => {
            let labels = Tensor::new(&[[0i64, 1, 1, 0, 1, 0], [1, 0, 1, -100, -100, -100]], &d).unwrap();
            m.loss(&m.forward(x, &o).unwrap(), &labels)
        }
        AlbertForAny::QuestionAnswering(m) => {
            let o2 = m.forward(x, &o).unwrap();
            m.loss(&o2, &Tensor::new(&[1i64, 2], &d).unwrap(), &Tensor::new(&[4i64, 2], &d).unwrap())
        }
        AlbertForAny::MultipleChoice(m) => m.loss(&m.forward(x, &o).unwrap(), &Tensor::new(&[1i64], &d).unwrap()),
        AlbertForAny::Model(m) => {
            // A scalar that depends on every output of the base model.
            let out = m.forward(x, &o).unwrap();
            let a = out.last_hidden_state.sin().unwrap().sum_all().unwrap();
            let b = out.pooler_output.unwrap().sqr().unwrap().sum_all().unwrap();
            (a + b).map_err(albert::Error::from)
        }
    }
    .unwrap()
}

fn check(cfg: &AlbertConfig, arch: Architecture) {
    let m = Pretrained::init(cfg, arch, 5, DType::F64, &Device::Cpu).unwrap();
    assert_eq!(m.report, LoadReport::default());
    let x = input(arch == Architecture::MultipleChoice);
    let grads = loss(&m.model, &x).backward().unwrap();
    let vars: Vec<(String, Var)> = {
        let data = m.varmap.data().lock().unwrap();
        let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(vars.iter().map(|(_, v)| v.elem_count()).sum::<usize>(), cfg.parameter_count(arch));
    let h = 1e-6;
    for (name, var) in &vars {
        let analytic: Vec<f64> = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{arch:?}: no gradient reaches {name}"))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let original: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        let mut numeric = vec![0f64; original.len()];
        for i in 0..original.len() {
            let probe = |delta: f64| {
                let mut v = original.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap()).unwrap();
                loss(&m.model, &x).to_scalar::<f64>().unwrap()
            };
            numeric[i] = (probe(h) - probe(-h)) / (2.0 * h);
        }
        var.set(&Tensor::from_vec(original.clone(), var.shape(), &Device::Cpu).unwrap()).unwrap();
        let a = analytic;
        let diff: f64 = a.iter().zip(&numeric).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
        let scale = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(numeric.iter().map(|x| x * x).sum::<f64>().sqrt());
        // A softmax ignores a shift shared by all its inputs, so these biases get no gradient, in transformers too:
        // q . b_key is shared by all keys; the QA bias by all positions; the multiple-choice bias by all choices.
        let shift_only = name.ends_with("attention.key.bias")
            || name == "qa_outputs.bias"
            || (arch == Architecture::MultipleChoice && name == "classifier.bias");
        if shift_only {
            assert!(scale < 1e-8, "{arch:?}: {name} should have no gradient, got norm {scale:.2e}");
            continue;
        }
        assert!(scale > 1e-8, "{arch:?}: gradient of {name} is zero");
        let rel = diff / scale;
        assert!(rel <= 1e-4, "{arch:?}: {name}: relative error {rel:.2e}");
    }
}

#[test]
fn pretraining_gradients_match_finite_differences() {
    check(&tiny(HiddenAct::GeluNew, 2, 2), Architecture::PreTraining);
}

#[test]
fn head_gradients_match_finite_differences() {
    check(&tiny(HiddenAct::Gelu, 1, 1), Architecture::SequenceClassification);
    check(&tiny(HiddenAct::Silu, 3, 1), Architecture::TokenClassification);
    check(&tiny(HiddenAct::GeluNew, 1, 2), Architecture::QuestionAnswering);
    check(&tiny(HiddenAct::Relu, 1, 1), Architecture::MultipleChoice);
    check(&tiny(HiddenAct::Gelu, 1, 1), Architecture::MaskedLM);
    check(&tiny(HiddenAct::GeluNew, 1, 1), Architecture::Model);
}

#[test]
fn padding_row_gets_no_lookup_gradient() {
    // As torch's Embedding(padding_idx=0): pad tokens read the row but training never moves it.
    let cfg = AlbertConfig { pad_token_id: Some(0), ..tiny(HiddenAct::GeluNew, 1, 1) };
    let m = Pretrained::init(&cfg, Architecture::Model, 9, DType::F64, &Device::Cpu).unwrap();
    let grads = loss(&m.model, &input(false)).backward().unwrap();
    let data = m.varmap.data().lock().unwrap();
    let table = &data["embeddings.word_embeddings.weight"];
    let g: Vec<Vec<f64>> = grads.get(table.as_tensor()).unwrap().to_vec2().unwrap();
    assert!(g[0].iter().all(|x| *x == 0.0), "padding row moved: {:?}", g[0]);
    assert!(g[7].iter().any(|x| *x != 0.0), "a used token got no gradient");
    let rows: Vec<Vec<f64>> = table.as_tensor().to_vec2().unwrap();
    assert!(rows[0].iter().all(|x| *x == 0.0), "initialization zeroes the padding row");
}
