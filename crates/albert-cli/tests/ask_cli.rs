//! `albert ask` and `albert evaluate --task retrieval` as a user runs them, over a small SQuAD-format file indexed
//! with the tiny random embedder of the pipeline fixtures and read by the tiny random QA model: the answer placed in
//! its document, the threshold, a chat's history, and retrieval metrics worked by hand for BM25.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::albert;

fn ok(args: &[&str], stdin: &str) -> String {
    let out = albert(args, stdin.as_bytes());
    assert!(out.status.success(), "albert {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name).display().to_string()
}

/// Three paragraphs in two articles; each question but the last shares a rare word with its own paragraph only.
const SQUAD: &str = r#"{"version": "1.1", "data": [
 {"title": "Harbour", "paragraphs": [
  {"context": "The harbour fills with ships at dawn; sailors mend the nets on the quay.",
   "qas": [{"id": "h1", "question": "When do ships fill the harbour?", "answers": [{"text": "at dawn", "answer_start": 34}]}]},
  {"context": "A lighthouse on the cape guides the fishing boats home through the fog.",
   "qas": [{"id": "h2", "question": "What guides boats through fog?", "answers": [{"text": "A lighthouse", "answer_start": 0}]}]}]},
 {"title": "Zebra", "paragraphs": [
  {"context": "A zebra sleeps standing up, and its stripes confuse biting flies.",
   "qas": [{"id": "z1", "question": "How does a zebra sleep?", "answers": [{"text": "standing up", "answer_start": 15}]},
           {"id": "z2", "question": "Qwxyz plorb?", "answers": [{"text": "nothing", "answer_start": 0}]}]}]}]}"#;

fn setup(dir: &Path) -> (PathBuf, String) {
    let data = dir.join("squad.json");
    std::fs::write(&data, SQUAD).unwrap();
    let index = dir.join("index").display().to_string();
    let d = data.display().to_string();
    ok(&["index", "build", "--docs", &d, "--out", &index, "--embedder", &fixture("pretraining"), "--json"], "");
    (data, index)
}

fn chars(text: &str, span: &Value) -> String {
    let (s, e) = (span[0].as_u64().unwrap() as usize, span[1].as_u64().unwrap() as usize);
    text.chars().skip(s).take(e - s).collect()
}

#[test]
fn ask_answers_with_the_source_or_says_the_documents_do_not_contain_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, index) = setup(tmp.path());
    let qa = fixture("qa");
    let base = ["ask", &index, "zebra sleeps", "--mode", "bm25", "--reader", &qa, "--json"];
    let v: Value = serde_json::from_str(&ok(&[&base[..], &["--threshold", "0"]].concat(), "")).unwrap();
    let a = &v["answer"];
    assert_eq!(a["source"]["doc_id"], "Zebra#0", "{v}");
    // The span indexes the document (the paragraph), and holds the answer's text.
    let paragraph = "A zebra sleeps standing up, and its stripes confuse biting flies.";
    assert_eq!(chars(paragraph, &a["span"]), a["answer"].as_str().unwrap());
    assert_eq!(v["passages_read"], 1, "only the zebra paragraph has the words: {v}");
    // No span of a random model reaches probability 1: the documents "do not contain" the answer.
    let v: Value = serde_json::from_str(&ok(&[&base[..], &["--threshold", "1"]].concat(), "")).unwrap();
    assert!(v["answer"].is_null() && v["best"].is_object(), "{v}");
    let text = ok(&["ask", &index, "zebra sleeps", "--mode", "bm25", "--reader", &qa, "--threshold", "1"], "");
    assert!(text.starts_with("The documents do not contain the answer"), "{text}");
    let out = albert(&["ask", &index, "zebra", "--reader", &qa, "--threshold", "2"], b"");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threshold 2 should be a probability"));
}

#[test]
fn a_chat_reads_each_follow_up_after_the_previous_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, index) = setup(tmp.path());
    let qa = fixture("qa");
    let out = ok(
        &["ask", &index, "--chat", "--mode", "bm25", "--reader", &qa, "--threshold", "0", "--json"],
        "How does a zebra sleep?\nAnd its stripes?\n\nnever read\n",
    );
    let turns: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(turns.len(), 2, "an empty line ends the session: {out}");
    assert_eq!(turns[0]["read_as"], "How does a zebra sleep?");
    let first = turns[0]["answer"]["answer"].as_str().unwrap();
    assert_eq!(turns[1]["read_as"], format!("Q: How does a zebra sleep? A: {first} Q: And its stripes?"));
}

/// BM25 ranks each question's own paragraph first (its rare word is nowhere else); "Qwxyz plorb?" matches nothing
/// and scores 0: every mean is 3/4.
#[test]
fn retrieval_metrics_of_bm25_worked_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, index) = setup(tmp.path());
    let d = data.display().to_string();
    let args = ["evaluate", "--task", "retrieval", "--index", &index, "--data", &d, "--mode", "bm25", "--json"];
    let v: Value = serde_json::from_str(&ok(&args, "")).unwrap();
    assert_eq!((v["queries"].as_u64(), v["without_results"].as_u64()), (Some(4), Some(1)), "{v}");
    for key in ["recall_1", "recall_5", "recall_20", "mrr_10", "ndcg_10"] {
        assert_eq!(v[key].as_f64(), Some(0.75), "{key}: {v}");
    }
    assert!(v["exact_match"].is_null());
    let with_reader: Value =
        serde_json::from_str(&ok(&[&args[..], &["--reader", &fixture("qa"), "--threshold", "0"]].concat(), "")).unwrap();
    let f1 = with_reader["f1"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&f1) && with_reader["exact_match"].is_number(), "{with_reader}");

    let out = albert(&["evaluate", "--task", "sst-2", "--index", &index, "--data", &d], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--index is for --task retrieval"));
}
