//! A CoNLL-2003 NER file (word POS chunk NER, IOB1), then the same bytes read as predicted tags for the
//! sentences it held.
#![no_main]

use albert_train::tasks::ner::{iob1_to_iob2, read_conll2003, read_predicted_tags};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("eng.testa", data);
    let Ok(sentences) = read_conll2003(&path) else { return };
    for s in &sentences {
        let _ = iob1_to_iob2(&s.tags);
    }
    let _ = read_predicted_tags(&path, &sentences);
});
