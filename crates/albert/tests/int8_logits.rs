//! int8 logits against f32 where the difference matters: the base shape (ALBERT-base: 12 layers of H768, FFN 3,072,
//! weights drawn as transformers initializes them) and the built-in sentiment model on SST-2 dev sentences. Each test
//! prints the max and mean logit difference (docs/speed quotes them) and asserts the accuracy goal: int8 may
//! cost at most 0.5 points of accuracy, so on 128 sentences at most one prediction may change.

use albert::tokenizer::{EncodeOptions, TruncationStrategy};
use albert::{AlbertConfig, AlbertInput, AlbertTokenizer, Architecture, ForwardOptions, LoadOptions, Precision, Pretrained};
use candle_core::{DType, Device, Tensor};

/// The head's logits (batch, labels) and the last hidden state of `model` run in `precision`.
fn run(model: &mut Pretrained, input: &AlbertInput, precision: Precision) -> (Vec<Vec<f32>>, Tensor) {
    model.set_precision(precision);
    let out = model.detached().unwrap().forward(input, &ForwardOptions::default()).unwrap();
    (out.head.logits().unwrap().to_vec2().unwrap(), out.base.last_hidden_state)
}

/// (max, mean) absolute difference over every logit.
fn differences(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    let d: Vec<f32> = a.iter().flatten().zip(b.iter().flatten()).map(|(x, y)| (x - y).abs()).collect();
    (d.iter().fold(0f32, |m, &v| m.max(v)), d.iter().sum::<f32>() / d.len() as f32)
}

fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

fn kernels() -> String {
    format!("f32 {}, int8 {}", albert::ops::f32_kernel().name(), albert::ops::int8_kernel().name())
}

/// Base shape, 2 sequences of 64 pseudo-random tokens: every token's last hidden state keeps its direction
/// (cosine >= 0.99 after 12 layers of int8 projections).
#[test]
fn base_size_int8_logits_stay_close_to_f32() {
    let cfg = AlbertConfig::preset("albert-base-v2").unwrap();
    let mut model = Pretrained::init(&cfg, Architecture::SequenceClassification, 7, DType::F32, &Device::Cpu).unwrap();
    let rows: Vec<Vec<u32>> = (0..2).map(|r| (0..64).map(|i| 5 + ((i * 7919 + r * 104_729) % 29_990) as u32).collect()).collect();
    let input = AlbertInput::from_rows(&rows, None, 0, &Device::Cpu).unwrap();
    let (l32, h32) = run(&mut model, &input, Precision::Full);
    let (l8, h8) = run(&mut model, &input, Precision::Int8);
    albert_testkit::ran_on(&kernels());
    let (max, mean) = differences(&l32, &l8);
    let span = l32.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    println!("base size: int8 vs f32 logits: max |diff| {max:.2e}, mean {mean:.2e} (largest |logit| {span:.2e})");
    let dot = (&h32 * &h8).unwrap().sum(2).unwrap();
    let norms = (h32.sqr().unwrap().sum(2).unwrap().sqrt().unwrap() * h8.sqr().unwrap().sum(2).unwrap().sqrt().unwrap()).unwrap();
    let cos = (dot / norms).unwrap().flatten_all().unwrap().min(0).unwrap().to_scalar::<f32>().unwrap();
    println!("base size: lowest cosine of a token's last hidden state {cos:.5}");
    assert!(cos >= 0.99, "lowest cosine {cos}");
}

/// The built-in sentiment model (models/albert-small-sst2) on the first 128 SST-2 dev sentences: at most one of the
/// 128 predictions changes (0.8 points; the goal is 0.5 over the whole dev set).
#[test]
fn builtin_sentiment_int8_logits_on_sst2() {
    let Some(dev) = albert_testkit::shared_data("glue/SST-2/dev.tsv") else { return };
    let dir = albert_testkit::repo_root().join("models/albert-small-sst2");
    let mut model = Pretrained::load(&dir, &LoadOptions::default()).unwrap();
    let tokenizer = AlbertTokenizer::from_path(&dir).unwrap();
    let text = std::fs::read_to_string(dev).unwrap();
    let sentences: Vec<&str> = text.lines().skip(1).take(128).filter_map(|l| l.split('\t').next()).collect();
    let opts = EncodeOptions::truncating(128, TruncationStrategy::LongestFirst);
    let rows: Vec<Vec<u32>> = sentences.iter().map(|s| tokenizer.encode(s, None, &opts).unwrap().ids).collect();
    let pad = tokenizer.token_to_id("<pad>").unwrap_or(0);
    let input = AlbertInput::from_rows(&rows, None, pad, &Device::Cpu).unwrap();
    let (l32, _) = run(&mut model, &input, Precision::Full);
    let (l8, _) = run(&mut model, &input, Precision::Int8);
    albert_testkit::ran_on(&kernels());
    let (max, mean) = differences(&l32, &l8);
    let changed = l32.iter().zip(&l8).filter(|(a, b)| argmax(a) != argmax(b)).count();
    println!("built-in sentiment, 128 SST-2 dev sentences: int8 vs f32 logits: max |diff| {max:.3}, mean {mean:.4}; {changed} prediction(s) changed");
    assert!(changed <= 1, "{changed} of 128 predictions changed");
}
