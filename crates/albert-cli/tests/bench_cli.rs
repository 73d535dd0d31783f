//! `albert bench --texts` as a user runs it, on the tiny random sentiment model of the pipeline fixtures: both batch
//! orders classify every text of the file, and --texts-order without --texts is refused.

use std::path::Path;

use serde_json::Value;

mod common;
use common::albert;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name).display().to_string()
}

#[test]
fn texts_in_either_order_classify_every_text() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("dev.tsv");
    // Seven sentences of different lengths, so that file order and sorted order cut different batches of 3.
    let sentences = ["a fine film .", "dull", "the plot , the acting and the music all fall flat .", "great fun", "it is not what i hoped for , but close .", "bad", "worth a look ."];
    let body: String = sentences.iter().map(|s| format!("{s}\t1\n")).collect();
    std::fs::write(&tsv, format!("sentence\tlabel\n{body}")).unwrap();
    let model = fixture("sentiment");
    for order in ["sorted", "file"] {
        let args = ["bench", "--model", &model, "--texts", tsv.to_str().unwrap(), "--batch", "3", "--runs", "1", "--warmup", "0", "--threads", "1", "--texts-order", order, "--json"];
        let out = albert(&args, b"");
        assert!(out.status.success(), "{order}: {}", String::from_utf8_lossy(&out.stderr));
        let line: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((line["mode"].as_str(), line["texts_order"].as_str(), line["texts"].as_u64()), (Some("texts_to_logits"), Some(order), Some(7)), "{line}");
        let (ms, per_s) = (line["median_ms"].as_f64().unwrap(), line["seq_per_s"].as_f64().unwrap());
        assert!(ms > 0.0 && (per_s - 7e3 / ms).abs() < 1e-6 * per_s, "{line}");
    }
    let out = albert(&["bench", "--texts-order", "file", "--runs", "1"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--texts"), "{}", String::from_utf8_lossy(&out.stderr));
}
