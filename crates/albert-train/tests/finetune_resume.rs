//! A fine-tuning run stopped with a checkpoint and resumed ends exactly where the uninterrupted run ends: the
//! same weights, the same log and the same summary, with batches in shuffled order or grouped by length.

use albert::{AlbertConfig, Architecture, Pretrained};
use albert_train::finetune::sequence::SequenceFeatures;
use albert_train::finetune::{train, FinetuneError, FinetuneOptions, ResumeOptions};
use albert_train::tasks::{Target, TaskScores};
use candle_core::{DType, Device};

fn features() -> SequenceFeatures {
    // 10 sequences of made-up ids; the label is whether id 7 occurs.
    let ids: Vec<Vec<u32>> = (0..10u32).map(|i| (0..4 + i % 3).map(|k| 5 + (i * 7 + k * 3) % 11).collect()).collect();
    let labels = ids.iter().map(|r| Some(Target::Class(usize::from(r.contains(&7))))).collect();
    SequenceFeatures { type_ids: ids.iter().map(|r| vec![0; r.len()]).collect(), ids, labels, pad_id: 0 }
}

fn model() -> Pretrained {
    let mut cfg = AlbertConfig {
        vocab_size: 20,
        embedding_size: 8,
        hidden_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 16,
        hidden_dropout_prob: 0.1,
        ..AlbertConfig::default()
    };
    cfg.set_labels(&["no".to_string(), "yes".to_string()]);
    Pretrained::init(&cfg, Architecture::SequenceClassification, 3, DType::F32, &Device::Cpu).unwrap()
}

fn weights(m: &Pretrained) -> Vec<(String, Vec<f32>)> {
    let mut all: Vec<(String, Vec<f32>)> = m
        .varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Runs 3 epochs of 5 micro-batches (accumulating 2: 3 steps an epoch), evaluating after each epoch with a score
/// that depends on the weights, checkpointing every 2 steps; `stop_after` interrupts it.
fn run(dir: &std::path::Path, stop_after: Option<u64>, resume: bool, grouped: bool) -> (Pretrained, albert_train::finetune::FinetuneSummary) {
    try_run(dir, stop_after, resume, grouped).unwrap()
}

fn try_run(
    dir: &std::path::Path,
    stop_after: Option<u64>,
    resume: bool,
    grouped: bool,
) -> Result<(Pretrained, albert_train::finetune::FinetuneSummary), FinetuneError> {
    let model = model();
    let data = features();
    let opts = FinetuneOptions {
        epochs: 3,
        batch_size: 2,
        accumulate: 2,
        lr: 1e-2,
        seed: 9,
        group_by_length: grouped,
        log: Some(dir.join("log.jsonl")),
        checkpoint: Some(ResumeOptions { dir: dir.to_owned(), every: 2, resume, stop_after }),
        ..FinetuneOptions::default()
    };
    let mut evaluate = |m: &Pretrained| -> Result<TaskScores, FinetuneError> {
        let mut s = TaskScores::default();
        s.push("sum", weights(m).iter().map(|(_, w)| w.iter().map(|&x| x as f64).sum::<f64>()).sum());
        Ok(s)
    };
    let mut save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let summary = train(&model, &data, Some(&mut evaluate), &mut save, &opts)?;
    Ok((model, summary))
}

#[test]
fn stopping_and_resuming_gives_the_uninterrupted_run() {
    let mut finals = Vec::new();
    for grouped in [false, true] {
        let whole = tempfile::tempdir().unwrap();
        let (reference, reference_summary) = run(whole.path(), None, false, grouped);
        assert_eq!(reference_summary.steps, 9);
        // Mid-epoch (after step 4, inside epoch 2), at an epoch end (step 6), and twice in a row.
        for stops in [vec![4], vec![6], vec![1, 7]] {
            let dir = tempfile::tempdir().unwrap();
            let mut resume = false;
            for &stop in &stops {
                let (_, partial) = run(dir.path(), Some(stop), resume, grouped);
                assert_eq!(partial.steps, stop);
                resume = true;
            }
            let (resumed, summary) = run(dir.path(), None, true, grouped);
            assert_eq!(weights(&resumed), weights(&reference), "weights after stops at {stops:?} (grouped {grouped})");
            assert_eq!(serde_json::to_value(&summary).unwrap(), serde_json::to_value(&reference_summary).unwrap());
            let log = |d: &std::path::Path| std::fs::read_to_string(d.join("log.jsonl")).unwrap();
            assert_eq!(log(dir.path()), log(whole.path()), "log after stops at {stops:?} (grouped {grouped})");
        }
        finals.push(weights(&reference));
    }
    // Grouping changes which items share a batch, so the runs differ.
    assert_ne!(finals[0], finals[1]);
}

#[test]
fn a_grouped_checkpoint_resumes_only_grouped() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), Some(2), false, true);
    let err = try_run(dir.path(), None, true, false).err().expect("resuming without grouping must fail").to_string();
    assert!(err.contains("grouped by length"), "{err}");
}

#[test]
fn a_checkpoint_is_not_overwritten_without_resume() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), Some(2), false, false);
    let model = model();
    let opts = FinetuneOptions {
        epochs: 1,
        checkpoint: Some(ResumeOptions { dir: dir.path().to_owned(), every: 2, resume: false, stop_after: None }),
        ..FinetuneOptions::default()
    };
    let mut save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let err = train(&model, &features(), None, &mut save, &opts).unwrap_err().to_string();
    assert!(err.contains("--resume"), "{err}");
}
