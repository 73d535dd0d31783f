//! `albert finetune` → `albert evaluate --model` → `albert predict` round trip on a tiny random-init model that
//! memorizes 16 SST-2 sentences (train and dev are the same file, so dev accuracy must reach 100).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::shared_data;

fn albert(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert");
    assert!(
        out.status.success(),
        "albert {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn finetune_evaluate_predict_round_trip() {
    let (Some(spm), Some(train)) = (shared_data("spm/spiece.model"), shared_data("glue/SST-2/train.tsv")) else {
        return;
    };
    let text = std::fs::read_to_string(train).unwrap();
    let header = text.lines().next().unwrap();
    let class = |c: &'static str| text.lines().skip(1).filter(move |l| l.ends_with(c)).take(8);
    let rows: Vec<&str> = class("\t0").chain(class("\t1")).collect();
    let gold: Vec<&str> = rows
        .iter()
        // GLUE submissions write the classes as the task files do.
        .map(|r| if r.ends_with("\t1") { "1" } else { "0" })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let glue = dir.path().join("SST-2");
    std::fs::create_dir(&glue).unwrap();
    let tsv = format!("{header}\n{}\n", rows.join("\n"));
    std::fs::write(glue.join("train.tsv"), &tsv).unwrap();
    std::fs::write(glue.join("dev.tsv"), &tsv).unwrap();
    let config = albert::AlbertConfig {
        vocab_size: 30000,
        embedding_size: 16,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 64,
        max_position_embeddings: 128,
        ..albert::AlbertConfig::default()
    };
    config.save(dir.path()).unwrap();
    let out = dir.path().join("out");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    albert(&[
        "finetune",
        "--task",
        "sst2",
        "--data",
        &s(&glue),
        "--config",
        &s(&dir.path().join("config.json")),
        "--tokenizer",
        &s(&spm),
        "--out",
        &s(&out),
        "--epochs",
        "40",
        "--batch",
        "8",
        "--lr",
        "2e-3",
        "--seed",
        "7",
    ]);
    let log = std::fs::read_to_string(out.join("train_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 40 * 3, "two steps and one evaluation per epoch");

    let dev = s(&glue.join("dev.tsv"));
    let scores = albert(&[
        "evaluate",
        "--task",
        "sst2",
        "--data",
        &dev,
        "--model",
        &s(&out),
        "--json",
    ]);
    let scores: serde_json::Value = serde_json::from_slice(&scores.stdout).unwrap();
    assert_eq!(scores, serde_json::json!({"acc": 100.0}));

    let predictions = dir.path().join("pred.tsv");
    albert(&[
        "predict",
        "--task",
        "sst2",
        "--data",
        &dev,
        "--model",
        &s(&out),
        "--out",
        &s(&predictions),
    ]);
    let written = std::fs::read_to_string(&predictions).unwrap();
    let expected: String = std::iter::once("index\tprediction".to_string())
        .chain(gold.iter().enumerate().map(|(i, g)| format!("{i}\t{g}")))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(written, expected);
    let rescored = albert(&[
        "evaluate",
        "--task",
        "sst2",
        "--data",
        &dev,
        "--predictions",
        &s(&predictions),
        "--json",
    ]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&rescored.stdout).unwrap(),
        scores
    );
}

/// Question answering from the CLI: a few steps on XQuAD's training articles, then the official v1.1 scores on the
/// test articles (English and zero-shot German) and a predictions file holding exactly the test questions.
#[test]
fn xquad_finetune_evaluate_predict_on_the_article_split() {
    let (Some(spm), Some(en), Some(de)) =
        (shared_data("spm/spiece.model"), shared_data("xquad/xquad.en.json"), shared_data("xquad/xquad.de.json"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = albert::AlbertConfig {
        vocab_size: 30000,
        embedding_size: 16,
        hidden_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 384,
        ..albert::AlbertConfig::default()
    };
    config.save(dir.path()).unwrap();
    let (out, s) = (dir.path().join("out"), |p: &Path| p.to_str().unwrap().to_owned());
    #[rustfmt::skip]
    albert(&["finetune", "--task", "xquad", "--data", &s(&en), "--config", &s(&dir.path().join("config.json")),
        "--tokenizer", &s(&spm), "--out", &s(&out), "--steps", "2", "--batch", "4", "--limit", "8"]);
    for data in [&en, &de] {
        #[rustfmt::skip]
        let report = albert(&["evaluate", "--task", "xquad", "--data", &s(data), "--articles", "test", "--model", &s(&out), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
        let (em, f1) = (v["exact_match"].as_f64().unwrap(), v["f1"].as_f64().unwrap());
        assert!((0.0..=100.0).contains(&em) && em <= f1 && f1 <= 100.0, "{v}");
    }
    let predictions = albert(&["predict", "--task", "xquad", "--data", &s(&en), "--articles", "test", "--model", &s(&out)]);
    let answers: std::collections::BTreeMap<String, String> = serde_json::from_slice(&predictions.stdout).unwrap();
    let test = albert_train::tasks::squad::ArticleSplit::xquad()
        .part(&albert_train::tasks::squad::read_squad(&en).unwrap(), &en, albert_train::tasks::squad::ArticlePart::Test)
        .unwrap();
    let ids: std::collections::BTreeSet<String> = test.questions().map(|q| q.id.clone()).collect();
    assert_eq!(answers.keys().cloned().collect::<std::collections::BTreeSet<_>>(), ids);
}

/// A disk that fills during a checkpoint write (the atomic writer's ENOSPC seam) stops fine-tuning with status 1 and
/// a message naming the file and the full disk, leaves the previous checkpoint byte for byte, and a later --resume
/// ends with the uninterrupted run's weights.
#[test]
fn a_full_disk_during_a_checkpoint_keeps_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, out) = (dir.path().join("whole"), dir.path().join("full"));
    let Some(whole_args) = common::tiny_finetune(dir.path(), &whole) else { return };
    let args = common::tiny_finetune(dir.path(), &out).unwrap();
    let run = |extra: &[&str], fault: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_albert"));
        cmd.args(&args).args(extra);
        if let Some(n) = fault {
            cmd.env(albert::fsio::FAULT_ENOSPC_AFTER, n);
        }
        cmd.output().unwrap()
    };
    let whole_run = Command::new(env!("CARGO_BIN_EXE_albert")).args(&whole_args).output().unwrap();
    assert!(whole_run.status.success(), "{}", String::from_utf8_lossy(&whole_run.stderr));
    let first = run(&["--stop-after", "1"], None);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let checkpoint = out.join("checkpoint");
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = files(&checkpoint);
    // Before training the run saves its tokenizer once (to a temporary directory, as into the output); then step 2's
    // checkpoint (mid-epoch) is the next write, and 1000 bytes more fill the disk inside its weights.
    let tokenizer_bytes: u64 = ["spiece.model", "tokenizer.json", "tokenizer_config.json"]
        .iter()
        .map(|f| std::fs::metadata(whole.join(f)).unwrap().len())
        .sum();
    let full = run(&["--resume"], Some(&(tokenizer_bytes + 1000).to_string()));
    let err = String::from_utf8_lossy(&full.stderr);
    assert_eq!(full.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device") && err.contains("model.safetensors"), "{err}");
    assert_eq!(files(&checkpoint), before);
    // The state still says: epoch 1, one micro-batch done (the engine's checkpoint: the workload's place in the data).
    let state = albert_train::engine::EngineState::load(&checkpoint).unwrap().workload;
    assert_eq!((state["at"]["epoch"].as_u64(), state["at"]["next_micro"].as_u64()), (Some(1), Some(1)), "{state}");

    let resumed = run(&["--resume"], None);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let weights = |p: &Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert_eq!(weights(&out), weights(&whole));
    let log = |p: &Path| std::fs::read_to_string(p.join("train_log.jsonl")).unwrap();
    assert_eq!(log(&out), log(&whole));
}
