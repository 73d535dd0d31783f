//! An index's `manifest.json`, as every `albert search`, `ask` and `index` command reads it before anything else
//! (`albert_search::Manifest::read`: an albert manifest or not, whole or damaged, of this layout version or not).
//! A manifest that reads is then described as `albert index info` describes it.
#![no_main]

use albert_search::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("manifest.json", data);
    let dir = path.parent().expect("a scratch file lies in the scratch directory");
    if let Ok(m) = Manifest::read(dir) {
        let _ = m.embedder.to_string();
        let _ = m.documents();
    }
});
