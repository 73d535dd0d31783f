//! Token classification fine-tuning on CoNLL-2003 sentences with a tiny random-init model.

mod common;

use albert::tokenizer::AlbertTokenizer;
use albert::{Architecture, Pretrained};
use albert_train::finetune::token::{predict, write_conll, TokenFeatures};
use albert_train::finetune::{train, FinetuneError, FinetuneOptions};
use albert_train::tasks::ner::{read_conll2003, read_predicted_tags, score_ner, CONLL2003_LABELS};
use candle_core::{DType, Device};

#[test]
fn overfits_conll_sentences_with_labels_on_first_subtokens() {
    let (Some(spm), Some(train_path)) = (
        common::shared_data("spm/spiece.model"),
        common::shared_data("conll2003/eng.train"),
    ) else {
        return;
    };
    let tok = AlbertTokenizer::from_path(spm).unwrap();
    // 12 sentences with at least one entity and five words.
    let sentences: Vec<_> = read_conll2003(&train_path)
        .unwrap()
        .into_iter()
        .filter(|s| s.tokens.len() >= 5 && s.tags.iter().any(|t| t != "O"))
        .take(12)
        .collect();
    let labels: Vec<String> = CONLL2003_LABELS.iter().map(|s| s.to_string()).collect();
    let features = TokenFeatures::encode(&tok, &sentences, &labels, 128).unwrap();
    // Every word has exactly one first sub-token, in order, carrying its tag.
    for ((s, starts), row) in sentences.iter().zip(&features.word_starts).zip(&features.labels) {
        let words: Vec<usize> = starts.iter().flatten().copied().collect();
        assert_eq!(words, (0..s.tokens.len()).collect::<Vec<_>>(), "{:?}", s.tokens);
        let tagged: Vec<&str> = row
            .as_ref()
            .unwrap()
            .iter()
            .filter(|&&l| l >= 0)
            .map(|&l| CONLL2003_LABELS[l as usize])
            .collect();
        assert_eq!(tagged, s.tags);
    }

    let mut cfg = common::tiny_config(tok.vocab_size(), 128);
    cfg.set_labels(&labels);
    let model = Pretrained::init(&cfg, Architecture::TokenClassification, 11, DType::F32, &Device::Cpu).unwrap();
    let opts = FinetuneOptions {
        epochs: 60,
        batch_size: 4,
        lr: 3e-3,
        seed: 3,
        ..FinetuneOptions::default()
    };
    let mut no_save = |_: &Pretrained| -> Result<(), FinetuneError> { Ok(()) };
    let summary = train(&model, &features, None, &mut no_save, &opts).unwrap();
    let (first, last) = (summary.epochs[0].train_loss, summary.epochs.last().unwrap().train_loss);
    assert!(last < 0.05 * first, "loss {first} -> {last}");

    // The predictions file scores 100 with conlleval once the words are memorized.
    let predicted = predict(&model, &features, 5).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pred.conll");
    write_conll(&path, &sentences, &predicted, &labels).unwrap();
    let tags = read_predicted_tags(&path, &sentences).unwrap();
    let report = score_ner(&sentences, &tags).unwrap();
    assert_eq!(report.overall.f1, 100.0);
}
