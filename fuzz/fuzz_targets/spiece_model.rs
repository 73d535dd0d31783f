//! A `spiece.model` (SentencePiece `ModelProto`: pieces, trainer and normalizer specs, precompiled charsmap);
//! a model that loads is then used: every sample text is encoded and decoded.
#![no_main]

use albert::tokenizer::{AlbertTokenizer, TokenizerConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The last byte picks the settings, so both normalization paths see every model.
    let config = TokenizerConfig {
        do_lower_case: data.last().is_some_and(|b| b & 1 == 0),
        keep_accents: data.last().is_some_and(|b| b & 2 != 0),
    };
    if let Ok(tok) = AlbertTokenizer::from_spm_bytes(data, config) {
        albert_fuzz::exercise_tokenizer(&tok);
    }
});
