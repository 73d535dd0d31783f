//! RACE-style multiple choice JSON (one article per file, or JSON Lines), then the same bytes read as
//! predictions.
#![no_main]

use albert_train::tasks::multiple_choice::{read_choice_predictions, read_race};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = albert_fuzz::scratch_file("race.json", data);
    let _ = read_race(&path);
    let _ = read_choice_predictions(&path);
});
