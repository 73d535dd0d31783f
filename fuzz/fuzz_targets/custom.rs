//! A user's own CSV, TSV or JSON Lines data (columns `text`, `text_b`, `label`); the first byte picks the format,
//! the label kind and whether there is a text pair. The same bytes are then read as a submission TSV.
#![no_main]

use albert_train::tasks::custom::{read_custom, read_custom_predictions, CustomTask, FileFormat, LabelKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let format = [FileFormat::Csv, FileFormat::Tsv, FileFormat::Jsonl][usize::from(pick % 3)];
    let kind = match (pick / 3) % 3 {
        0 => LabelKind::Classification { labels: None },
        1 => LabelKind::Classification { labels: Some(vec!["neg".into(), "pos".into()]) },
        _ => LabelKind::Regression,
    };
    let task = CustomTask {
        text_column: "text".into(),
        text_pair_column: (pick & 0x80 != 0).then(|| "text_b".into()),
        label_column: "label".into(),
        kind,
        format: Some(format),
    };
    let path = albert_fuzz::scratch_file("data.txt", file);
    if let Ok(dataset) = read_custom(&task, &path) {
        let _ = read_custom_predictions(&dataset, &path);
    }
});
