//! Multiple-choice fine-tuning on the hand-written RACE files of tests/fixtures/tasks/race.

mod common;

use albert::tokenizer::AlbertTokenizer;
use albert::{Architecture, Pretrained};
use albert_train::finetune::choice::{option_text, predict, prediction_file, ChoiceFeatures, ChoiceTask};
use albert_train::finetune::task::TaskFile;
use albert_train::finetune::{train, FinetuneError, FinetuneOptions, TaskFamily, TrainFeatures};
use albert_train::tasks::multiple_choice::{read_choice_predictions, read_race, score_multiple_choice};
use candle_core::{DType, Device};

#[test]
fn option_text_fills_a_cloze_blank_or_follows_the_question() {
    assert_eq!(option_text("Who helped the old man _ .", "a boy"), "Who helped the old man a boy .");
    assert_eq!(option_text("Where does it happen?", "In a park."), "Where does it happen? In a park.");
}

#[test]
fn a_tiny_model_learns_the_right_options_and_round_trips_its_predictions() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tok = AlbertTokenizer::from_path(spm).unwrap();
    let path = common::fixture("tasks/race");
    let examples = read_race(&path).unwrap();
    assert_eq!(examples.len(), 3);
    let features = ChoiceFeatures::encode(&tok, &examples, 64).unwrap();
    // Every option is `[CLS] passage [SEP] question+option [SEP]`, cut to 64 tokens by shortening the passage.
    for (e, rows) in examples.iter().zip(&features.ids) {
        assert_eq!(rows.len(), 4);
        for (o, row) in e.options.iter().zip(rows) {
            let full = tok.encode(&e.context, Some(&option_text(&e.question, o)), &Default::default()).unwrap();
            assert_eq!(row.len(), full.len().min(64));
            assert_eq!(row[row.len() - 3..], full.ids[full.len() - 3..], "the option's end is kept");
        }
    }
    let cfg = common::tiny_config(tok.vocab_size(), 64);
    let model = Pretrained::init(&cfg, Architecture::MultipleChoice, 2, DType::F32, &Device::Cpu).unwrap();
    let opts = FinetuneOptions { epochs: 60, batch_size: 2, lr: 3e-3, seed: 4, ..FinetuneOptions::default() };
    let mut no_save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let summary = train(&model, &features, None, &mut no_save, &opts).unwrap();
    let (first, last) = (summary.epochs[0].train_loss, summary.epochs.last().unwrap().train_loss);
    assert!(last < 0.05 * first, "loss {first} -> {last}");
    let chosen = predict(&model, &features, 2).unwrap();
    assert_eq!(chosen, [1, 3, 0], "the answers B, D, A of the fixtures");
    let race = TaskFile { path: path.clone(), items: examples.clone() };
    assert_eq!(ChoiceTask.select(&model, &tok, &race, 64).unwrap().metrics[0].value, 100.0);
    // The predictions file is what `albert evaluate --task race --predictions` scores.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pred.json");
    std::fs::write(&file, serde_json::to_vec(&prediction_file(&examples, &chosen)).unwrap()).unwrap();
    let scores = score_multiple_choice(&examples, &path, &read_choice_predictions(&file).unwrap(), &file).unwrap();
    assert_eq!(scores.metrics[0].value, 100.0);
}

#[test]
fn mismatched_option_counts_and_the_wrong_head_are_errors() {
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tok = AlbertTokenizer::from_path(spm).unwrap();
    let mut examples = read_race(&common::fixture("tasks/race")).unwrap();
    let features = ChoiceFeatures::encode(&tok, &examples, 64).unwrap();
    let model = common::wrong_head_model(tok.vocab_size());
    let err = features.loss(&model.model, &[0], &Device::Cpu, &Default::default()).unwrap_err().to_string();
    assert!(err.contains("AlbertForMultipleChoice"), "{err}");
    examples[1].options.pop();
    let err = ChoiceFeatures::encode(&tok, &examples, 64).unwrap_err().to_string();
    assert!(err.contains("3 options"), "{err}");
}
