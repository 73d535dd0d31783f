//! A model's `config.json`; a config that validates is written back and read again, and its parameter count is
//! computed for every architecture (what `albert info` prints).
#![no_main]

use albert::{AlbertConfig, Architecture};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = AlbertConfig::from_json_str(text) else { return };
    for arch in Architecture::ALL {
        let _ = config.parameter_count(arch);
    }
    let again = AlbertConfig::from_json_str(&config.to_json_string());
    assert!(again.is_ok(), "a config that loaded does not load once written back: {again:?}");
});
