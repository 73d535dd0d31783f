//! Hostile and careless inputs (issue 22): absurd configs, corrupt weights, a lying hub cache, odd model names and
//! failed reads each end in exit status 1 with an error naming what is wrong, never an abort, a panic or a clean
//! report of something broken.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{Device, Tensor};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models").join(name)
}

fn albert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert")).args(args).output().expect("run albert")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the `qa` fixture (config.json and model.safetensors) whose config.json has `edit` applied.
fn checkpoint_with(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let src = fixture("qa");
    let dst = dir.join("ckpt");
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::copy(src.join("model.safetensors"), dst.join("model.safetensors")).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(dst.join("config.json"), config.to_string()).unwrap();
    dst
}

/// Exit status 1 (an error, not 134 for an abort or 101 for a panic) with every `needles` in the message.
fn assert_refused(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

/// Sizes of 10^12 and 2^40 aborted on allocation, 2^64-1 panicked with "capacity overflow": now the config is
/// refused by name, before anything is allocated, by every command that reads it.
#[test]
fn absurd_sizes_in_a_config_are_refused_by_name() {
    let cases: [(&str, u64); 5] = [
        ("vocab_size", 1_000_000_000_000),
        ("max_position_embeddings", 1_000_000_000_000),
        ("intermediate_size", 1_000_000_000_000),
        ("hidden_size", 1 << 40),
        ("vocab_size", u64::MAX),
    ];
    for (field, value) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = checkpoint_with(tmp.path(), |c| c[field] = value.into());
        let dir = dir.to_str().unwrap();
        for args in [vec!["info", dir], vec!["forward", dir, "--ids", "2 5 3"]] {
            let out = albert(&args);
            assert_refused(&out, &[field, &value.to_string(), "limit"]);
        }
    }
}

/// Sizes within the limits that disagree with the checkpoint's tensors are refused before the model is built from
/// them (a vocabulary of 2^24 x E 16 would be 1 GiB), naming the field and the tensor.
#[test]
fn a_config_that_disagrees_with_its_weights_is_refused_before_allocating() {
    let cases: [(&str, u64, &str); 3] = [
        ("vocab_size", 1 << 24, "embeddings.word_embeddings.weight"),
        ("intermediate_size", 1 << 18, "ffn.weight"),
        ("num_hidden_groups", 1, "which holds 3"),
    ];
    for (field, value, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = checkpoint_with(tmp.path(), |c| c[field] = value.into());
        let out = albert(&["forward", dir.to_str().unwrap(), "--ids", "2 5 3"]);
        assert_refused(&out, &[field, needle]);
    }
}

/// `albert info` printed an overflowed parameter count for such configs; within the limits it prints the count of
/// the values transformers saved for the fixture, one per parameter (23,265 for `qa`).
#[test]
fn info_counts_parameters_without_overflow() {
    let out = albert(&["info", fixture("qa").to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["parameters"], 23_265);
    assert_eq!(parameter_count_of_fixture("qa"), 23_265);
    assert_eq!(v["weights_checked"], true);
}

/// The number of values in the fixture's weights (each parameter stored once), the count transformers reports.
fn parameter_count_of_fixture(name: &str) -> u64 {
    let tensors = candle_core::safetensors::load(fixture(name).join("model.safetensors"), &Device::Cpu).unwrap();
    tensors.values().map(|t| t.elem_count() as u64).sum()
}

/// A NaN in the weights printed NaN scores and exited 0; `info` gave a clean summary of a truncated file. Now the
/// load names the first tensor holding non-finite values, and `info` reads the weights before vouching for them.
#[test]
fn corrupt_weights_are_named_at_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = checkpoint_with(tmp.path(), |_| {});
    let path = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let name = "albert.encoder.embedding_hidden_mapping_in.weight";
    let w = &tensors[name];
    let mut values: Vec<f32> = w.flatten_all().unwrap().to_vec1().unwrap();
    values[3] = f32::NAN;
    values[7] = f32::INFINITY;
    tensors.insert(name.to_string(), Tensor::from_vec(values, w.shape(), &Device::Cpu).unwrap());
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let d = dir.to_str().unwrap();
    for args in [vec!["info", d], vec!["forward", d, "--ids", "2 5 3"]] {
        assert_refused(&albert(&args), &[name, "2 non-finite value(s)"]);
    }

    let bytes = std::fs::read(fixture("qa").join("model.safetensors")).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(&albert(&["info", d]), &["model.safetensors", "truncated"]);
}

/// `pretrain run --config` with a config far beyond the machine is refused with the memory it needs, before
/// anything is allocated (here H 65536 and FFN 262144: tens of billions of parameters).
#[test]
fn pretraining_a_config_beyond_the_machine_is_refused_with_its_memory() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus.txt");
    std::fs::write(&corpus, "The cat sat on the mat. It was happy.\n\nThe dog barked. It ran away.\n").unwrap();
    let data = tmp.path().join("data");
    let out = albert(&[
        "pretrain", "prepare", "--corpus", corpus.to_str().unwrap(), "--tokenizer", spm.to_str().unwrap(),
        "--out", data.to_str().unwrap(), "--max-seq-length", "32",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config = tmp.path().join("huge.json");
    std::fs::write(
        &config,
        r#"{"embedding_size": 128, "hidden_size": 65536, "num_attention_heads": 64, "intermediate_size": 262144,
            "num_hidden_layers": 12, "max_position_embeddings": 512}"#,
    )
    .unwrap();
    let out = albert(&[
        "pretrain", "run", "--quiet", "--steps", "1", "--data", data.to_str().unwrap(), "--config",
        config.to_str().unwrap(), "--out", tmp.path().join("run").to_str().unwrap(),
    ]);
    assert_refused(&out, &["pretraining", "needs at least", "available"]);
}

/// "No such file or directory (os error 2): No such file or directory (os error 2)": a cause is said once.
#[test]
fn a_failed_read_is_described_once() {
    let out = albert(&["evaluate", "--task", "squad", "--data", "/nonexistent/dev.json", "--predictions", "/nonexistent/p.json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/nonexistent/dev.json"), "{err}");
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
}

/// A 100,000-character model name was echoed whole.
#[test]
fn a_huge_model_name_is_not_echoed_whole() {
    let name = "m".repeat(100_000);
    for args in [vec!["info", name.as_str()], vec!["classify", "--model", name.as_str(), "good"]] {
        let out = albert(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{} characters", err.len());
        assert!(err.len() < 400 && err.contains("(100000 characters)"), "{} characters: {}", err.len(), &err[..200]);
    }
}

/// A hub cache whose `refs/main` points out of the cache (`../../../../elsewhere`) loaded the folder it pointed to;
/// now the cache entry is refused as corrupt. Without HOME or HF variables the cache is an error, not a panic.
#[test]
fn the_hub_cache_pointer_is_not_followed_out_of_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("qa").join(f), elsewhere.join(f)).unwrap();
    }
    let cache = tmp.path().join("cache/hub");
    let repo = cache.join("models--org--model");
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    std::fs::write(repo.join("refs/main"), "../../../../elsewhere").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["info", "org/model"])
        .env("HF_HUB_CACHE", &cache)
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert_refused(&out, &["corrupt", "refs/main"]);

    let out = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["info", "org/model"])
        .env_clear()
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert_refused(&out, &["HF_HUB_CACHE"]);
}

/// A training length beyond the model's positions was only caught (as a memory shortfall, or in the first step);
/// now it is refused by name.
#[test]
fn finetuning_beyond_the_models_positions_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("train.csv");
    std::fs::write(&data, "text,label\ngood film,pos\nbad film,neg\n").unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/sentiment");
    let out = albert(&[
        "finetune", "--task", "custom", "--data", data.to_str().unwrap(), "--dev", data.to_str().unwrap(), "--model",
        model.to_str().unwrap(), "--out", tmp.path().join("out").to_str().unwrap(), "--max-seq-length", "100000",
    ]);
    assert_refused(&out, &["--max-seq-length 100000", "max_position_embeddings"]);
}

/// Fine-tuning a classifier of three labels on a task of two refused the checkpoint ("checkpoint shape [3], model
/// expects [2]"); `--help` promises a new head unless it fits, and the encoder is kept.
#[test]
fn finetuning_another_tasks_classifier_starts_a_new_head() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("train.csv");
    std::fs::write(&data, "text,label\ngood film,pos\nbad film,neg\n").unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/sentiment");
    let out_dir = tmp.path().join("out");
    let out = albert(&[
        "finetune", "--task", "custom", "--data", data.to_str().unwrap(), "--dev", data.to_str().unwrap(), "--model",
        model.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--steps", "1", "--batch", "2",
    ]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("initialized new parameters: classifier.bias, classifier.weight"), "{err}");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["id2label"].as_object().unwrap().len(), 2);
}
