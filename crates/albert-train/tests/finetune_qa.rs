//! Extractive QA fine-tuning: windows and answer labels against transformers' run_qa.py, and a tiny model that
//! learns to answer its training questions.

mod common;

use albert::decode::qa::QaWindowOptions;
use albert::tokenizer::AlbertTokenizer;
use albert::{Architecture, Pretrained};
use albert_train::finetune::qa::{QaFeatures, QaTask};
use albert_train::finetune::task::TaskFile;
use albert_train::finetune::{train, FinetuneError, FinetuneOptions, TaskFamily, TrainFeatures};
use albert_train::tasks::squad::{read_squad, SquadArticle, SquadDataset, SquadParagraph};
use albert_train::tasks::Task;
use candle_core::{DType, Device};

/// The tokenizer as fine-tuning uses it: the SentencePiece model converted to tokenizer.json, as transformers'
/// fast tokenizer is.
fn tokenizer(spm: &std::path::Path) -> AlbertTokenizer {
    let dir = tempfile::tempdir().unwrap();
    AlbertTokenizer::from_path(spm).unwrap().save(dir.path()).unwrap();
    AlbertTokenizer::from_path(dir.path()).unwrap()
}

/// A dataset of the paragraphs of `file` holding the questions `ids`, each paragraph reduced to those questions.
fn subset(file: &SquadDataset, ids: &[&str]) -> SquadDataset {
    let mut paragraphs = Vec::new();
    for id in ids {
        let p = file.data.iter().flat_map(|a| &a.paragraphs).find(|p| p.qas.iter().any(|q| q.id == *id)).unwrap();
        paragraphs.push(SquadParagraph { context: p.context.clone(), qas: p.qas.iter().filter(|q| q.id == *id).cloned().collect() });
    }
    SquadDataset { version: "1.1".into(), data: vec![SquadArticle { title: "subset".into(), paragraphs }] }
}

#[test]
fn windows_and_answer_labels_equal_run_qa() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tok = tokenizer(&spm);
    let reference: serde_json::Value = serde_json::from_str(include_str!("fixtures/qa_features.json")).unwrap();
    for q in reference["questions"].as_array().unwrap() {
        let Some(path) = common::shared_data(q["file"].as_str().unwrap()) else { return };
        let id = q["id"].as_str().unwrap();
        let dataset = subset(&read_squad(&path).unwrap(), &[id]);
        let features = QaFeatures::encode(&tok, &dataset, &QaWindowOptions::default(), true).unwrap();
        let expected = q["windows"].as_array().unwrap();
        assert_eq!(features.windows.len(), expected.len(), "{id}: windows");
        for (k, (w, e)) in features.windows.iter().zip(expected).enumerate() {
            let ids: Vec<u32> = serde_json::from_value(e["input_ids"].clone()).unwrap();
            let types: Vec<u32> = serde_json::from_value(e["token_type_ids"].clone()).unwrap();
            assert_eq!(w.encoding.ids, ids, "{id} window {k}: ids");
            assert_eq!(w.encoding.type_ids, types, "{id} window {k}: type ids");
            let labels = (e["start_position"].as_u64().unwrap() as u32, e["end_position"].as_u64().unwrap() as u32);
            assert_eq!(features.positions[k], labels, "{id} window {k}: answer positions");
        }
    }
}

#[test]
fn a_tiny_model_learns_to_answer_its_training_questions() {
    let (Some(spm), Some(path)) = (common::shared_data("spm/spiece.model"), common::shared_data("xquad/xquad.en.json")) else {
        return;
    };
    let tok = tokenizer(&spm);
    let file = read_squad(&path).unwrap();
    // The first question of the eight shortest paragraphs.
    let mut paragraphs: Vec<&SquadParagraph> = file.data.iter().flat_map(|a| &a.paragraphs).collect();
    paragraphs.sort_by_key(|p| p.context.len());
    let ids: Vec<&str> = paragraphs[..8].iter().map(|p| p.qas[0].id.as_str()).collect();
    let dataset = subset(&file, &ids);
    let opts = QaWindowOptions { max_seq_length: 256, ..QaWindowOptions::default() };
    let features = QaFeatures::encode(&tok, &dataset, &opts, true).unwrap();
    assert_eq!(features.len(), 8, "one window per short context");

    let cfg = common::tiny_config(tok.vocab_size(), 256);
    let model = Pretrained::init(&cfg, Architecture::QuestionAnswering, 5, DType::F32, &Device::Cpu).unwrap();
    let (task, file) = (QaTask(Task::SquadV1), TaskFile { path: path.clone(), items: dataset.clone() });
    let before = task.select(&model, &tok, &file, opts.max_seq_length).unwrap();
    let train_opts = FinetuneOptions { epochs: 80, batch_size: 4, lr: 3e-3, seed: 1, ..FinetuneOptions::default() };
    let mut no_save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let summary = train(&model, &features, None, &mut no_save, &train_opts).unwrap();
    let (first, last) = (summary.epochs[0].train_loss, summary.epochs.last().unwrap().train_loss);
    assert!(last < 0.05 * first, "loss {first} -> {last}");
    let after = task.select(&model, &tok, &file, opts.max_seq_length).unwrap();
    assert_eq!(after.metrics[0].name, "f1");
    assert_eq!(after.metrics[1].name, "exact_match");
    assert!(before.metrics[1].value < 50.0, "untrained exact match {}", before.metrics[1].value);
    assert_eq!(after.metrics[1].value, 100.0, "memorized answers: {:?}", after.metrics);
}

#[test]
fn the_wrong_head_is_an_error() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tok = tokenizer(&spm);
    let dataset: SquadDataset = serde_json::from_value(serde_json::json!({"version": "1.1", "data": [{"title": "t",
        "paragraphs": [{"context": "Paris is in France.", "qas": [{"id": "q", "question": "Where is Paris?",
        "answers": [{"text": "France", "answer_start": 12}]}]}]}]}))
    .unwrap();
    let features = QaFeatures::encode(&tok, &dataset, &QaWindowOptions::default(), true).unwrap();
    // By hand: [CLS] ▁where ▁is ▁paris ? [SEP] ▁paris ▁is ▁in ▁france . [SEP]; "France" is code points 12..18.
    assert_eq!(features.positions, [(9, 9)]);
    assert_eq!(features.windows[0].context_offsets[9], Some((12, 18)));
    let model = common::wrong_head_model(tok.vocab_size());
    let err = features.loss(&model.model, &[0], &Device::Cpu, &Default::default()).unwrap_err().to_string();
    assert!(err.contains("AlbertForQuestionAnswering"), "{err}");
}
