//! A user's document, as `albert index` reads it (`albert_search::passage`): the first byte picks the format, by the
//! file's extension (.txt, .md, .jsonl, .json for SQuAD), and the passage settings; the rest is the file. Every
//! document read is cut into passages by a small tokenizer, and each passage must be its span of the document.
#![no_main]

use std::sync::OnceLock;

use albert::tokenizer::AlbertTokenizer;
use albert_search::passage::{chunk, read_documents, ChunkSettings};
use libfuzzer_sys::fuzz_target;

fn tokenizer() -> &'static AlbertTokenizer {
    static TOK: OnceLock<AlbertTokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let vocab: Vec<(String, f32)> = ('a'..='z').chain('0'..='9').map(|c| (c.to_string(), -3.0)).collect();
        let mut pieces: Vec<(&str, f32)> = vocab.iter().map(|(p, s)| (p.as_str(), *s)).collect();
        pieces.extend([("▁", -2.0), ("▁the", -1.0), (".", -3.0), (",", -3.0), ("é", -4.0)]);
        AlbertTokenizer::from_vocab(&pieces).expect("a valid vocabulary")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let name = ["doc.txt", "doc.md", "doc.jsonl", "doc.json"][usize::from(pick % 4)];
    let passage_tokens = 1 + usize::from(pick / 4 % 8);
    let settings = ChunkSettings { passage_tokens, overlap: usize::from(pick / 32) % passage_tokens };
    let path = albert_fuzz::scratch_file(name, file);
    let Ok(documents) = read_documents(&path) else { return };
    for doc in &documents {
        let Ok(passages) = chunk(doc, tokenizer(), settings, 0) else { continue };
        for p in passages {
            let (start, end) = p.span;
            assert!(start <= end, "span {start}..{end}");
            let expected: String = doc.text.chars().skip(start).take(end - start).collect();
            assert_eq!(p.text, expected, "a passage is not its span {start}..{end} of the document");
        }
    }
});
