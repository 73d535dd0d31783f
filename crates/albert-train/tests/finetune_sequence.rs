//! Fine-tuning a tiny random-init model on a handful of GLUE examples: the loop must lower the loss and fit them.

mod common;

use albert::tokenizer::AlbertTokenizer;
use albert::{Architecture, LoadOptions, Pretrained};
use albert_train::finetune::sequence::{predict, SequenceFeatures, SequenceSplit};
use albert_train::finetune::{train, FinetuneError, FinetuneOptions};
use albert_train::tasks::glue::GlueTask;
use albert_train::tasks::{Target, TextExample};
use candle_core::{DType, Device};

/// The first `n` examples of each class (or the first `2n` for regression) of a GLUE training file.
fn subset(task: GlueTask, n: usize) -> Option<Vec<TextExample>> {
    let path = common::shared_data(&format!("glue/{}/train.tsv", task.folder()))?;
    let split = SequenceSplit::glue(task, &path).unwrap();
    let all = split.examples();
    Some(if task.is_regression() {
        all[..2 * n].to_vec()
    } else {
        let class = |c| {
            all.iter()
                .filter(move |e| e.label == Some(Target::Class(c)))
                .take(n)
                .cloned()
        };
        class(0).chain(class(1)).collect()
    })
}

fn tokenizer() -> Option<AlbertTokenizer> {
    common::shared_data("spm/spiece.model").map(|p| AlbertTokenizer::from_path(p).unwrap())
}

fn options(epochs: usize) -> FinetuneOptions {
    FinetuneOptions {
        epochs,
        batch_size: 8,
        lr: 2e-3,
        warmup_ratio: 0.1,
        seed: 7,
        ..FinetuneOptions::default()
    }
}

#[test]
fn overfits_sixteen_sst2_sentences_and_reloads() {
    let (Some(tok), Some(examples)) = (tokenizer(), subset(GlueTask::Sst2, 8)) else {
        return;
    };
    let mut cfg = common::tiny_config(tok.vocab_size(), 128);
    cfg.set_labels(&["negative".into(), "positive".into()]);
    let model = Pretrained::init(&cfg, Architecture::SequenceClassification, 3, DType::F32, &Device::Cpu).unwrap();
    let features = SequenceFeatures::encode(&tok, &examples, 128).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut save = |m: &Pretrained| -> Result<(), FinetuneError> {
        m.save(out.path())?;
        Ok(tok.save(out.path())?)
    };
    let summary = train(&model, &features, None, &mut save, &options(40)).unwrap();
    let (first, last) = (summary.epochs[0].train_loss, summary.epochs.last().unwrap().train_loss);
    assert!(last < 0.1 * first, "loss {first} -> {last}");
    let gold: Vec<Target> = examples.iter().map(|e| e.label.unwrap()).collect();
    let predicted = predict(&model, &features, 5).unwrap();
    assert_eq!(predicted, gold, "training accuracy must reach 100%");

    // The saved directory is a checkpoint with readable labels and the tokenizer; it predicts the same.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["id2label"],
        serde_json::json!({"0": "negative", "1": "positive"})
    );
    assert_eq!(config["label2id"], serde_json::json!({"negative": 0, "positive": 1}));
    assert_eq!(
        config["architectures"],
        serde_json::json!(["AlbertForSequenceClassification"])
    );
    for file in [
        "model.safetensors",
        "spiece.model",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        assert!(out.path().join(file).is_file(), "{file} missing");
    }
    let reloaded = Pretrained::load(out.path(), &LoadOptions::default()).unwrap();
    assert_eq!(predict(&reloaded, &features, 16).unwrap(), gold);
    // The directory's tokenizer is the fast one (tokenizer.json), as transformers loads it.
    assert!(AlbertTokenizer::from_path(out.path()).is_ok());
}

#[test]
fn regression_fits_stsb_pairs() {
    let (Some(tok), Some(examples)) = (tokenizer(), subset(GlueTask::Stsb, 8)) else {
        return;
    };
    let mut cfg = common::tiny_config(tok.vocab_size(), 128);
    cfg.num_labels = Some(1);
    let model = Pretrained::init(&cfg, Architecture::SequenceClassification, 5, DType::F32, &Device::Cpu).unwrap();
    let features = SequenceFeatures::encode(&tok, &examples, 128).unwrap();
    let mut no_save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let summary = train(&model, &features, None, &mut no_save, &options(150)).unwrap();
    let (first, last) = (summary.epochs[0].train_loss, summary.epochs.last().unwrap().train_loss);
    assert!(last < 0.05 * first, "loss {first} -> {last}");
    let predicted = predict(&model, &features, 16).unwrap();
    for (p, e) in predicted.iter().zip(&examples) {
        let (Target::Score(p), Some(Target::Score(g))) = (p, e.label) else {
            panic!("regression targets")
        };
        assert!((p - g).abs() < 0.5, "predicted {p} for gold {g}");
    }
}

#[test]
fn dev_evaluation_keeps_the_best_epoch_and_stops_early() {
    let (Some(tok), Some(examples)) = (tokenizer(), subset(GlueTask::Sst2, 8)) else {
        return;
    };
    let Some(dev_path) = common::shared_data("glue/SST-2/dev.tsv") else {
        return;
    };
    let dev = SequenceSplit::glue(GlueTask::Sst2, &dev_path).unwrap();
    let dev_examples = &dev.examples()[..32];
    let dev_features = SequenceFeatures::encode(&tok, dev_examples, 128).unwrap();
    let mut cfg = common::tiny_config(tok.vocab_size(), 128);
    cfg.set_labels(&["negative".into(), "positive".into()]);
    let model = Pretrained::init(&cfg, Architecture::SequenceClassification, 3, DType::F32, &Device::Cpu).unwrap();
    let features = SequenceFeatures::encode(&tok, &examples, 128).unwrap();
    let mut saved_epochs = Vec::new();
    let mut epoch = 0;
    let mut evaluate = |m: &Pretrained| -> Result<_, FinetuneError> {
        epoch += 1;
        let predicted = predict(m, &dev_features, 32)?;
        let correct = predicted
            .iter()
            .zip(dev_examples)
            .filter(|(p, e)| Some(**p) == e.label)
            .count();
        let mut scores = albert_train::tasks::TaskScores::default();
        scores.push("acc", 100.0 * correct as f64 / dev_examples.len() as f64);
        Ok(scores)
    };
    let mut save = |_: &Pretrained| -> Result<(), FinetuneError> {
        saved_epochs.push(());
        Ok(())
    };
    let log = tempfile::tempdir().unwrap();
    let opts = FinetuneOptions {
        patience: Some(2),
        log: Some(log.path().join("log.jsonl")),
        ..options(30)
    };
    let summary = train(&model, &features, Some(&mut evaluate), &mut save, &opts).unwrap();
    let evals: Vec<f64> = summary
        .epochs
        .iter()
        .map(|e| e.eval.as_ref().unwrap().metrics[0].value)
        .collect();
    // The best is the first maximum; a save happened at each strict improvement; it stopped 2 epochs after the last.
    let best = evals.iter().cloned().fold(f64::MIN, f64::max);
    let best_epoch = evals.iter().position(|&v| v == best).unwrap() + 1;
    assert_eq!(summary.best, Some((best, best_epoch)));
    let improvements = evals
        .iter()
        .scan(f64::MIN, |m, &v| {
            Some(if v > *m {
                *m = v;
                true
            } else {
                false
            })
        })
        .filter(|&b| b)
        .count();
    assert_eq!(saved_epochs.len(), improvements);
    if summary.stopped_early {
        assert_eq!(evals.len(), best_epoch + 2);
    } else {
        assert_eq!(evals.len(), 30);
    }
    // One log line per optimizer step (2 per epoch: 16 examples, batch 8) and one per evaluation.
    let lines = std::fs::read_to_string(log.path().join("log.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), evals.len() * 3);
}

#[test]
fn hold_out_splits_disjoint_seeded_parts_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("train.tsv");
    let rows: String = (0..20).map(|i| format!("sentence {i}\t{}\n", i % 2)).collect();
    std::fs::write(&path, format!("sentence\tlabel\n{rows}")).unwrap();
    let split = SequenceSplit::glue(GlueTask::Sst2, &path).unwrap();
    let (rest, held) = split.hold_out(0.25, 7);
    let texts = |s: &SequenceSplit| s.examples().iter().map(|e| e.text_a.clone()).collect::<Vec<_>>();
    assert_eq!((rest.examples().len(), held.examples().len()), (15, 5));
    let (a, b) = (texts(&rest), texts(&held));
    assert!(a.iter().all(|t| !b.contains(t)), "disjoint");
    let index = |t: &String| t[9..].parse::<usize>().unwrap();
    assert!(a.windows(2).all(|w| index(&w[0]) < index(&w[1])) && b.windows(2).all(|w| index(&w[0]) < index(&w[1])));
    assert_eq!(texts(&split.hold_out(0.25, 7).1), b, "same seed, same part");
    assert_ne!(texts(&split.hold_out(0.25, 8).1), b, "another seed, another part");
    assert_eq!(split.subset(|i| i < 3).examples().len(), 3);
}
