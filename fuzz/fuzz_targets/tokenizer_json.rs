//! A `tokenizer.json` (Hugging Face tokenizers); a tokenizer that loads is then used: every sample text is encoded
//! and decoded.
#![no_main]

use albert::tokenizer::AlbertTokenizer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("tokenizer.json", data);
    if let Ok(tok) = AlbertTokenizer::from_tokenizer_json(&path) {
        albert_fuzz::exercise_tokenizer(&tok);
    }
});
