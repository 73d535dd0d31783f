//! A GLUE task's TSV file (train, dev, test or diagnostic; the first byte picks the task), then the same bytes
//! read as a GLUE submission TSV.
#![no_main]

use albert_train::tasks::glue::{read_glue, read_glue_predictions, GlueTask};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let task = GlueTask::ALL[usize::from(pick) % GlueTask::ALL.len()];
    let path = albert_fuzz::scratch_file("data.tsv", file);
    let examples = read_glue(task, &path).map_or(4, |d| d.examples.len());
    let _ = read_glue_predictions(task, &path, examples);
});
