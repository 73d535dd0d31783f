//! Step parity with PyTorch: 20 AdamW steps (with accumulation, clipping, warmup and decay) of
//! the tiny model give the per-step losses transformers' `AlbertForPreTraining` with
//! `torch.optim.AdamW` gives from the same initial weights on the same batches.
//!
//! The inputs are regenerated here by our pipeline and checked against the SHA-256 digests the
//! reference saw; `cargo test -p albert-train --test pretrain_parity -- --ignored` with
//! `ALBERT_PARITY_DIR` set writes them for scripts/reference/pretrain_step_parity.py.

mod trainer_setup;

use std::path::{Path, PathBuf};

use albert::{Architecture, LoadOptions, Pretrained};
use albert_train::data::{Batch, BatchConfig, PretrainData, Split};
use albert_train::pretrain::{BatchCursor, OptimizerKind, StepRunner, TrainSettings};
use candle_core::DType;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use trainer_setup::{prepare, spiece, tiny_config};

fn settings() -> TrainSettings {
    TrainSettings {
        steps: 20,
        batch_size: 4,
        accumulate: 2,
        lr: 1e-2,
        warmup_steps: 5,
        optimizer: OptimizerKind::AdamW,
        weight_decay: 0.01,
        max_grad_norm: 1.0,
        seed: 3,
        ..TrainSettings::default()
    }
}

/// Writes `dir/model` (initial weights) and `dir/batches.json`; returns the batches per step.
fn write_inputs(dir: &Path, spiece: &Path) -> Vec<Vec<Batch>> {
    let s = settings();
    let data_dir = prepare(dir, spiece);
    let model = Pretrained::init(
        &tiny_config(0.0),
        Architecture::PreTraining,
        s.seed,
        DType::F32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    model.save(dir.join("model")).unwrap();
    let data = PretrainData::open(
        &data_dir,
        Split::Train,
        BatchConfig {
            seed: s.seed,
            ..BatchConfig::default()
        },
    )
    .unwrap();
    let mut cursor = BatchCursor::new(&data, 0, 0);
    let steps: Vec<Vec<Batch>> = (0..s.steps)
        .map(|_| {
            (0..s.accumulate)
                .map(|_| cursor.next(&data, s.batch_size).unwrap())
                .collect()
        })
        .collect();
    let as_json = |b: &Batch| {
        json!({"batch_size": b.batch_size, "seq_len": b.seq_len, "input_ids": b.input_ids,
               "token_type_ids": b.token_type_ids, "attention_mask": b.attention_mask, "labels": b.labels,
               "sentence_order_label": b.sentence_order_label})
    };
    let doc = json!({
        "settings": s,
        "steps": steps.iter().map(|m| m.iter().map(as_json).collect::<Vec<_>>()).collect::<Vec<_>>(),
    });
    std::fs::write(dir.join("batches.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    steps
}

fn sha256(path: PathBuf) -> String {
    format!("{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
#[ignore = "writes the reference script's inputs into $ALBERT_PARITY_DIR"]
fn dump_parity_inputs() {
    let dir = PathBuf::from(std::env::var("ALBERT_PARITY_DIR").expect("set ALBERT_PARITY_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    write_inputs(&dir, &spiece().expect("spiece.model"));
}

#[test]
fn adamw_steps_match_pytorch() {
    let Some(spiece) = spiece() else { return };
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pretrain_step_parity.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let steps = write_inputs(tmp.path(), &spiece);
    // The reference trained on exactly these inputs.
    assert_eq!(
        sha256(tmp.path().join("model/model.safetensors")),
        fixture["inputs_sha256"]["model.safetensors"]
    );
    assert_eq!(
        sha256(tmp.path().join("batches.json")),
        fixture["inputs_sha256"]["batches.json"]
    );

    let opts = LoadOptions {
        architecture: Some(Architecture::PreTraining),
        strict: true,
        ..LoadOptions::default()
    };
    let mut runner = StepRunner::new(
        Pretrained::load(tmp.path().join("model"), &opts).unwrap(),
        &settings(),
    )
    .unwrap();
    let want = |key: &str| -> Vec<f64> {
        fixture[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (loss, mlm, sop) = (want("loss"), want("mlm_loss"), want("sop_loss"));
    assert_eq!(loss.len(), 20);
    for (i, micro) in steps.iter().enumerate() {
        let r = runner.step(i as u64, micro).unwrap();
        for (name, got, expected) in [
            ("loss", r.loss, loss[i]),
            ("mlm", r.mlm_loss, mlm[i]),
            ("sop", r.sop_loss, sop[i]),
        ] {
            let rel = (got - expected).abs() / expected.abs();
            assert!(
                rel <= 1e-4,
                "step {}: {name} {got} vs PyTorch {expected} (relative {rel:.2e})",
                i + 1
            );
        }
    }
    // The model learned something over the 20 steps (guards against a vacuous comparison).
    assert!(loss[19] < loss[0] - 0.5, "{loss:?}");
}
