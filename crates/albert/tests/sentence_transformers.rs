//! sentence-transformers directories against the library itself (tests/fixtures/st, made by
//! scripts/reference/make_sentence_transformers_fixture.py with sentence-transformers 6.3): the vectors within
//! 1e-5 and each text's token count, for the saved directory (six pooling modes concatenated, then Normalize) and
//! for the variants the script wrote over a copy of it (legacy `pooling_mode_*` keys as in the published
//! paraphrase-albert-small-v2, cls alone, max alone with no length limit). Texts of different lengths share
//! batches, so padding is exercised.

use std::path::{Path, PathBuf};

use albert::pipeline::embed::{self, Pooling};
use albert::pipeline::embed_st::PoolingMode;
use albert::pipeline::{PipelineModel, PipelineOptions, Task};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/st")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap()).unwrap()
}

const BATCHED: PipelineOptions = PipelineOptions { max_length: None, batch_size: 3 };

/// Embeds the fixture's texts with the directory's own modules and compares with the library's vectors and
/// token counts.
fn check(dir: &Path, want: &Value, texts: &[&str], what: &str) -> PipelineModel {
    let model = PipelineModel::load_dir(dir, Task::Embed).unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = embed::embed(&model, texts, Pooling::Model, &BATCHED).unwrap();
    let lengths = model.encode(texts, None).unwrap();
    for (i, (g, w)) in got.iter().zip(want["vectors"].as_array().unwrap()).enumerate() {
        let w: Vec<f64> = w.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(g.vector.len(), w.len(), "{what}, text {i}: width");
        let worst = g.vector.iter().zip(&w).map(|(a, b)| (*a as f64 - b).abs()).fold(0.0, f64::max);
        assert!(worst <= 1e-5, "{what}, text {i}: differs from sentence-transformers by {worst}");
        let want_len = want["lengths"][i].as_u64().unwrap() as usize;
        assert_eq!(lengths[i].encoding.len(), want_len, "{what}, text {i}: token count");
        assert_eq!(g.truncated, lengths[i].truncated, "{what}, text {i}");
    }
    model
}

#[test]
fn every_pooling_mode_then_normalize_matches_sentence_transformers() {
    let exp = expected();
    let texts: Vec<&str> = exp["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let model = check(&fixture().join("model"), &exp["model"], &texts, "model");
    let head = model.sentence.as_ref().expect("a sentence-transformers directory");
    use PoolingMode::*;
    assert_eq!(head.modes, vec![Cls, Max, Mean, MeanSqrtLen, WeightedMean, LastToken]);
    assert!(head.normalize);
    // max_seq_length 24 (the tokenizer's model_max_length, as the library saves it) cut the long text.
    assert_eq!(head.max_seq_length, Some(24));
    assert!(embed::embed(&model, &texts, Pooling::Model, &BATCHED).unwrap()[4].truncated);
}

#[test]
fn legacy_cls_and_unbounded_max_variants_match_sentence_transformers() {
    let exp = expected();
    let texts: Vec<&str> = exp["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    for (name, variant) in exp["variants"].as_object().unwrap() {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture().join("model"), dir.path());
        std::fs::remove_dir_all(dir.path().join("2_Normalize")).unwrap();
        for (rel, content) in variant["files"].as_object().unwrap() {
            std::fs::write(dir.path().join(rel), serde_json::to_string_pretty(content).unwrap()).unwrap();
        }
        check(dir.path(), variant, &texts, name);
    }
}

/// The directory's explicit choices stay available: `Mean` and `Pooler` set its modules aside.
#[test]
fn mean_and_pooler_set_the_modules_aside() {
    let model = PipelineModel::load_dir(&fixture().join("model"), Task::Embed).unwrap();
    let text = ["A man is eating food."];
    let mean = embed::embed(&model, &text, Pooling::Mean, &BATCHED).unwrap();
    let pooler = embed::embed(&model, &text, Pooling::Pooler, &BATCHED).unwrap();
    let own = embed::embed(&model, &text, Pooling::Model, &BATCHED).unwrap();
    assert_eq!((mean[0].vector.len(), pooler[0].vector.len(), own[0].vector.len()), (32, 32, 6 * 32));
    // The mean is the third block of the concatenation, before normalization.
    let block = &own[0].vector[64..96];
    let scale = mean[0].vector[0] / block[0];
    for (m, b) in mean[0].vector.iter().zip(block) {
        assert!((m - b * scale).abs() <= 1e-5 * m.abs().max(1.0), "{m} vs {b} * {scale}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
