//! The pipeline commands on hostile input streams (issue 22): a bad line is reported in its place with its number
//! and the others answered (exit status 3), stdin is answered as it comes rather than at its end, bad --top-k values
//! are refused or clamped, and a checkpoint with NaN weights never prints NaN scores.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::albert;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name)
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A good line, an empty one, invalid UTF-8, a good line: the good ones answered in order, the bad ones reported
/// with their line numbers in their place, exit status 3.
#[test]
fn bad_lines_are_reported_in_place_and_the_rest_answered() {
    let m = fixture("sentiment");
    let m = m.to_str().unwrap();
    let input = b"I loved this movie.\n\n\xff\xfe not text\nShort.\n";
    let out = albert(&["classify", "--model", m, "--json"], input);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0]["text"], "I loved this movie.");
    assert_eq!(got[1], serde_json::json!({"line": 2, "error": "the text is empty"}));
    assert_eq!(got[2]["line"], 3);
    assert!(got[2]["error"].as_str().unwrap().contains("invalid UTF-8 at byte 0"), "{}", got[2]);
    assert_eq!(got[3]["text"], "Short.");
    assert_eq!(got[3]["labels"].as_array().unwrap().len(), 3);
    assert!(stderr(&out).contains("2 of 4 inputs failed"), "{}", stderr(&out));

    // Text mode: the answers on stdout, the errors on stderr with their numbers.
    let out = albert(&["classify", "--model", m], input);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(text.starts_with("I loved this movie.\n") && text.contains("\nShort.\n"), "{text}");
    let err = stderr(&out);
    assert!(err.contains("error: line 2: the text is empty") && err.contains("error: line 3: invalid UTF-8"), "{err}");

    // Arguments are inputs 1, 2, ...
    let out = albert(&["classify", "--model", m, "good", " ", "fine"], b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("error: input 2: the text is empty"), "{}", stderr(&out));

    // Per-line failures of the other pipelines: a line without a tab for similarity, no [MASK] for fill-mask.
    let pre = fixture("pretraining");
    let pre = pre.to_str().unwrap();
    let out = albert(&["similarity", "--model", pre, "--json"], b"a cat\ta dog\nno tab here\n");
    assert_eq!(out.status.code(), Some(3));
    let got = lines(&out);
    assert!(got[0]["cosine"].is_number());
    assert_eq!(got[1], serde_json::json!({"line": 2, "error": "expected two texts separated by a tab"}));
    let out = albert(&["fill-mask", "--model", pre, "--json", "--top-k", "1"], b"no mask\nThe [MASK] was great.\n");
    assert_eq!(out.status.code(), Some(3));
    let got = lines(&out);
    assert_eq!(got[0], serde_json::json!({"line": 1, "error": "[MASK] is missing"}));
    assert_eq!(got[1]["masks"][0].as_array().unwrap().len(), 1);
    let out = albert(&["qa", "--model", fixture("qa").to_str().unwrap(), "--context", "Zoë lives in São Paulo.", "--json"], "\nWhere does Zoë live?\n".as_bytes());
    assert_eq!(out.status.code(), Some(3));
    let got = lines(&out);
    assert_eq!(got[0], serde_json::json!({"line": 1, "error": "the question is empty"}));
    assert!(got[1]["answer"].is_string());
}

/// An answer comes out while stdin is still open: the command does not wait for the end of its input.
#[test]
fn stdin_is_answered_before_it_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(["classify", "--model", fixture("sentiment").to_str().unwrap(), "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"I loved this movie.\n").unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    // Generous for a loaded machine: the answer takes milliseconds once the model is loaded.
    let line = rx.recv_timeout(Duration::from_secs(60));
    drop(stdin);
    let status = child.wait().unwrap();
    let line = line.expect("no answer while stdin was open");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["text"], "I loved this movie.");
    assert!(status.success());
}

#[test]
fn top_k_zero_is_refused_and_a_huge_top_k_is_clamped() {
    let out = albert(&["classify", "--model", fixture("sentiment").to_str().unwrap(), "--top-k", "0", "text"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--top-k must be at least 1"), "{}", stderr(&out));
    // 30000: vocab_size in the fixture's config.json.
    let out = albert(&["fill-mask", "--model", fixture("pretraining").to_str().unwrap(), "--top-k", "100000000", "--json", "The [MASK] was great."], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out)[0]["masks"][0].as_array().unwrap().len(), 30000);
    assert_eq!(stderr(&out).matches("--top-k 100000000 is more than the 30000 tokens").count(), 1, "{}", stderr(&out));
}

/// The sentiment fixture with its classifier weight's first row (32 f16 values) set to NaN: whether the checkpoint
/// is refused at load or its NaN logits are refused per input, the command fails naming non-finite values and never
/// prints a NaN score.
#[test]
fn nan_weights_never_print_nan_scores() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixture("sentiment").join(f), dir.path().join(f)).unwrap();
    }
    let mut bytes = std::fs::read(fixture("sentiment").join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let w = &header["classifier.weight"];
    assert_eq!((w["dtype"].as_str(), w["shape"][1].as_u64()), (Some("F16"), Some(32)));
    let start = 8 + header_len + w["data_offsets"][0].as_u64().unwrap() as usize;
    for i in 0..32 {
        // f16 quiet NaN, little-endian.
        bytes[start + 2 * i..start + 2 * i + 2].copy_from_slice(&0x7e00u16.to_le_bytes());
    }
    std::fs::write(dir.path().join("model.safetensors"), &bytes).unwrap();
    let out = albert(&["classify", "--model", dir.path().to_str().unwrap(), "--json", "I loved this movie."], b"");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
    assert!(stderr(&out).contains("non-finite") || text.contains("non-finite"), "{}", stderr(&out));
}

/// Every pipeline command's help documents exit status 3.
#[test]
fn help_documents_the_partial_exit_status() {
    for command in ["classify", "fill-mask", "embed", "similarity", "qa", "ner"] {
        let out = albert(&[command, "--help"], b"");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("Exit status: 0 when every input was answered; 3 when some were not"), "{command}: {help}");
    }
}

/// `tokenize --jsonl` reads stdin as the pipelines do: a line that is not UTF-8 is reported in its place, the others
/// encoded ([CLS] = 2 and [SEP] = 3 in the fixture's tokenizer.json), exit status 3.
#[test]
fn tokenize_jsonl_reports_a_bad_line_in_place() {
    let tok = fixture("sentiment");
    let out = albert(&["tokenize", "--tokenizer", tok.to_str().unwrap(), "--jsonl"], b"a cat\n\xc3\x28\n\nthe end\n");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let got = lines(&out);
    assert_eq!(got.len(), 4);
    assert_eq!(got[1], serde_json::json!({"line": 2, "error": "invalid UTF-8 at byte 0"}));
    // An empty line is a text like another: [CLS] [SEP].
    assert_eq!(got[2]["input_ids"], serde_json::json!([2, 3]));
    for good in [&got[0], &got[3]] {
        let ids = good["input_ids"].as_array().unwrap();
        assert_eq!((ids.first(), ids.last()), (Some(&serde_json::json!(2)), Some(&serde_json::json!(3))));
        assert_eq!(good["offsets"].as_array().unwrap().len(), ids.len());
    }
}
