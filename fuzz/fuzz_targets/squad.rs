//! A SQuAD v1.1/v2.0 JSON file; a file that reads is turned into references and into labeled question-answering
//! windows (what `finetune` and `evaluate` do with it). The same bytes are then read as a predictions file and as
//! a no-answer probability file.
#![no_main]

use std::sync::OnceLock;

use albert::decode::qa::QaWindowOptions;
use albert::tokenizer::AlbertTokenizer;
use albert_train::finetune::qa::QaFeatures;
use albert_train::tasks::squad::{read_na_probs, read_squad, read_squad_predictions};
use libfuzzer_sys::fuzz_target;

fn tokenizer() -> &'static AlbertTokenizer {
    static TOK: OnceLock<AlbertTokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let vocab: Vec<(String, f32)> = ('a'..='z').chain('0'..='9').map(|c| (c.to_string(), -3.0)).collect();
        let mut pieces: Vec<(&str, f32)> = vocab.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        pieces.extend([("▁", -2.0), ("▁the", -1.0), (".", -3.0), (",", -3.0)]);
        AlbertTokenizer::from_vocab(&pieces).expect("a valid vocabulary")
    })
}

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("squad.json", data);
    if let Ok(dataset) = read_squad(&path) {
        let _ = dataset.references();
        let opts = QaWindowOptions { max_seq_length: 24, doc_stride: 6, max_query_length: 8 };
        let _ = QaFeatures::encode(tokenizer(), &dataset, &opts, true);
    }
    let _ = read_squad_predictions(&path);
    let _ = read_na_probs(&path);
});
