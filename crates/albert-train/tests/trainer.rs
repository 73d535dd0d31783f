//! The trainer: a run stopped and resumed computes exactly the losses and weights of an
//! uninterrupted one, and its output is a loadable Hugging Face checkpoint.

mod trainer_setup;

use std::path::Path;

use albert::tokenizer::{AlbertTokenizer, EncodeOptions};
use albert::{Architecture, LoadOptions, Pretrained};
use albert_train::pretrain::{
    train, ModelSource, OptimizerKind, Record, StepRecord, TrainConfig, TrainSettings, METRICS_FILE,
};
use trainer_setup::{prepare, prepare_with_heldout, spiece, tiny_config, CORPUS};

fn config(data: &Path, out: &Path, optimizer: OptimizerKind) -> TrainConfig {
    let mut cfg = TrainConfig::new(
        data.to_owned(),
        out.to_owned(),
        ModelSource::Config(Box::new(tiny_config(0.1))),
    );
    cfg.settings = TrainSettings {
        steps: 9,
        batch_size: 3,
        accumulate: 2,
        lr: 5e-3,
        warmup_steps: 2,
        optimizer,
        seed: 11,
        ..TrainSettings::default()
    };
    cfg.save_every = 2;
    cfg.eval_every = 4;
    cfg.eval_batches = 2;
    cfg
}

fn logged(out: &Path) -> Vec<Record> {
    std::fs::read_to_string(out.join(METRICS_FILE))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Records without the wall-clock field.
fn timeless(records: Vec<Record>) -> Vec<Record> {
    records
        .into_iter()
        .map(|r| match r {
            Record::Train(s) => Record::Train(StepRecord {
                tokens_per_second: 0.0,
                ..s
            }),
            e => e,
        })
        .collect()
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let t =
        albert::checkpoint::load_tensors(dir, &candle_core::Device::Cpu, candle_core::DType::F32)
            .unwrap();
    let mut v: Vec<(String, Vec<f32>)> = t
        .into_iter()
        .map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn resumed_runs_reproduce_the_uninterrupted_run_exactly() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare(tmp.path(), &spiece);
    for (optimizer, grouped) in [
        (OptimizerKind::Lamb, false),
        (OptimizerKind::AdamW, false),
        (OptimizerKind::AdamW, true),
    ] {
        let with = |mut cfg: TrainConfig| {
            cfg.settings.group_by_length = grouped;
            cfg
        };
        let whole = tmp.path().join(format!("whole-{optimizer:?}-{grouped}"));
        let full = train(&with(config(&data, &whole, optimizer))).unwrap();
        assert!(full.finished);
        assert_eq!(full.records.len(), 9);
        assert!(full.records.iter().all(|r| r.loss.is_finite()));

        let parts = tmp.path().join(format!("parts-{optimizer:?}-{grouped}"));
        let mut cfg = with(config(&data, &parts, optimizer));
        let mut losses = Vec::new();
        // Stop at a checkpoint (4), between checkpoints (5: its own checkpoint), then finish.
        for (stop, resume) in [
            (Some(4), false),
            (Some(5), true),
            (Some(7), true),
            (None, true),
        ] {
            cfg.stop_after = stop;
            cfg.resume = resume;
            let part = train(&cfg).unwrap();
            assert_eq!(part.finished, stop.is_none());
            losses.extend(part.records.iter().map(|r| r.loss.to_bits()));
        }
        let expected: Vec<u64> = full.records.iter().map(|r| r.loss.to_bits()).collect();
        assert_eq!(losses, expected, "{optimizer:?}: per-step losses differ");
        assert_eq!(
            timeless(logged(&parts)),
            timeless(logged(&whole)),
            "{optimizer:?}: logs differ"
        );
        assert_eq!(
            weights(&parts),
            weights(&whole),
            "{optimizer:?}: final weights differ"
        );
        // Training moved the weights and the log holds the held-out evaluations (steps 4, 8, 9).
        let evals = logged(&whole)
            .into_iter()
            .filter(|r| matches!(r, Record::Eval(_)))
            .count();
        assert_eq!(evals, 3);
    }
}

#[test]
fn output_is_a_loadable_pretraining_checkpoint_with_its_tokenizer() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare(tmp.path(), &spiece);
    let out = tmp.path().join("run");
    let mut cfg = config(&data, &out, OptimizerKind::Lamb);
    cfg.settings.steps = 3;
    train(&cfg).unwrap();

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["architectures"],
        serde_json::json!(["AlbertForPreTraining"])
    );
    assert_eq!(config["vocab_size"], 30000);
    let opts = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let loaded = Pretrained::load(&out, &opts).unwrap();
    assert_eq!(loaded.model.architecture(), Architecture::PreTraining);
    assert_eq!(weights(&out), weights(&out.join("checkpoint")));
    let tok = AlbertTokenizer::from_path(&out).unwrap();
    assert_eq!(tok.vocab_size(), 30000);
    for f in ["spiece.model", "tokenizer.json", "tokenizer_config.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // A finished run resumes as a no-op; a fresh start over it is refused.
    cfg.resume = true;
    let again = train(&cfg).unwrap();
    assert!(again.finished && again.records.is_empty());
    cfg.resume = false;
    let err = train(&cfg).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
}

#[test]
fn resuming_with_other_settings_is_refused() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare(tmp.path(), &spiece);
    let out = tmp.path().join("run");
    let mut cfg = config(&data, &out, OptimizerKind::Lamb);
    cfg.stop_after = Some(1);
    train(&cfg).unwrap();
    cfg.resume = true;
    cfg.settings.lr = 1e-2;
    let err = train(&cfg).unwrap_err().to_string();
    assert!(err.contains("same settings"), "{err}");
}

/// Checkpoints written before `max_ngram` and `group_by_length` were settings (n-gram masking of up to 3 words, batches
/// in shuffled order) resume under them; a `max_ngram` of 0 is refused before any work.
#[test]
fn max_ngram_defaults_to_albert_three_and_zero_is_refused() {
    let old = r#"{"steps":12000,"batch_size":32,"accumulate":1,"lr":0.0005,"warmup_steps":500,"optimizer":"adamw",
        "weight_decay":0.01,"max_grad_norm":1.0,"seed":44}"#;
    let settings: TrainSettings = serde_json::from_str(old).unwrap();
    assert_eq!(settings.max_ngram, 3);
    // Nor was grouping by length, which such runs did not do; written only when on.
    assert!(!settings.group_by_length);
    assert!(!serde_json::to_string(&settings).unwrap().contains("group_by_length"));
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path(), &tmp.path().join("run"), OptimizerKind::AdamW);
    cfg.settings.max_ngram = 0;
    let err = train(&cfg).unwrap_err().to_string();
    assert!(err.contains("max_ngram"), "{err}");
}

/// A fresh model's masked-LM output bias starts at ln((count + 1/2) / (tokens + vocab/2)) of each id in the training
/// text, counted here by tokenizing the corpus line by line; `zero_mlm_bias` keeps transformers' zeros.
#[test]
fn fresh_mlm_bias_starts_at_the_log_frequencies_of_the_training_tokens() {
    let Some(spiece) = spiece() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = prepare_with_heldout(tmp.path(), &spiece, 0.0);
    let tok = AlbertTokenizer::from_path(&spiece).unwrap();
    let opts = EncodeOptions {
        add_special_tokens: false,
        ..EncodeOptions::default()
    };
    let mut counts = vec![0f64; tok.vocab_size()];
    for line in CORPUS.lines() {
        for id in tok.encode(line, None, &opts).unwrap().ids {
            counts[id as usize] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum::<f64>() + 0.5 * counts.len() as f64;
    let bias_of = |out: &Path| {
        weights(out)
            .into_iter()
            .find(|(k, _)| k == "predictions.bias")
            .expect("predictions.bias saved")
            .1
    };
    for unigram in [true, false] {
        let out = tmp.path().join(format!("run-{unigram}"));
        let mut cfg = config(&data, &out, OptimizerKind::AdamW);
        // One step so small (Adam moves a parameter by about the rate) that the bias keeps its initial value.
        cfg.settings.steps = 1;
        cfg.settings.lr = 1e-9;
        cfg.unigram_bias = unigram;
        train(&cfg).unwrap();
        let bias = bias_of(&out);
        assert_eq!(bias.len(), counts.len());
        for (id, (&b, &c)) in bias.iter().zip(&counts).enumerate() {
            let expected = if unigram { ((c + 0.5) / total).ln() } else { 0.0 };
            assert!((b as f64 - expected).abs() < 1e-5, "id {id}: bias {b}, expected {expected}");
        }
    }
}
