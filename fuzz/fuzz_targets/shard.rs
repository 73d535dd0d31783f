//! A prepared pretraining data directory: `manifest.json`, the shard index and token files it names for the
//! first training shard, and `word_starts.bin`, packed into one input (see `albert_fuzz::split_parts`). A
//! directory that opens is read through: every document's token spans and the token counts.
#![no_main]

use albert_train::data::{PreparedSplit, Split};
use libfuzzer_sys::fuzz_target;

/// Where the parts go, in input order.
const FILES: [&str; 4] = ["manifest.json", "train.00000.index", "train.00000.tokens", "word_starts.bin"];

fuzz_target!(|data: &[u8]| {
    let dir = albert_fuzz::scratch_dir().join("prepared");
    std::fs::create_dir_all(&dir).expect("create the data directory");
    for (name, bytes) in FILES.iter().zip(albert_fuzz::split_parts::<4>(data)) {
        std::fs::write(dir.join(name), bytes).expect("write a part");
    }
    let Ok(split) = PreparedSplit::open(&dir, Split::Train) else { return };
    let docs = split.documents();
    for d in 0..docs.len() {
        for span in docs.document(d) {
            let _ = split.tokens(*span);
        }
    }
    let _ = split.token_counts();
});
