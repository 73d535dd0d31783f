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

    // Per question: the three found first score 1 on every metric, z2 0; the means' intervals ride along.
    let mine = tmp.path().join("bm25.jsonl");
    let m = mine.display().to_string();
    let v: Value = serde_json::from_str(&ok(&[&args[..], &["--per-question", &m]].concat(), "")).unwrap();
    let lines: Vec<Value> = std::fs::read_to_string(&mine).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mrr: Vec<(&str, f64)> = lines.iter().map(|l| (l["id"].as_str().unwrap(), l["mrr_10"].as_f64().unwrap())).collect();
    assert_eq!(mrr, [("h1", 1.0), ("h2", 1.0), ("z1", 1.0), ("z2", 0.0)]);
    assert!(lines[0]["f1"].is_null());
    let i = &v["intervals"]["mrr_10"];
    assert!(i["low"].as_f64().unwrap() <= 0.75 && i["high"].as_f64().unwrap() == 1.0, "{v}");
    // Against a baseline that scores 0 everywhere, the differences are the per-question 1, 1, 1, 0: mean 0.75; of
    // 1000 resamples of 4 questions about 4 have mean 0 and 51 at most 0.25, and 316 are all ones, so the paired
    // interval's 2.5% quantile is 0.25 and its 97.5% is 1.
    let zero = tmp.path().join("zero.jsonl");
    let zeros: String = ["h1", "h2", "z1", "z2"]
        .iter()
        .map(|id| format!("{{\"id\": \"{id}\", \"recall_1\": 0, \"recall_5\": 0, \"recall_20\": 0, \"mrr_10\": 0, \"ndcg_10\": 0}}\n"))
        .collect();
    std::fs::write(&zero, zeros).unwrap();
    let z = zero.display().to_string();
    let v: Value = serde_json::from_str(&ok(&[&args[..], &["--baseline", &z]].concat(), "")).unwrap();
    let d10 = &v["compared"]["differences"]["ndcg_10"];
    assert_eq!((d10["difference"].as_f64(), d10["interval"]["low"].as_f64(), d10["interval"]["high"].as_f64()), (Some(0.75), Some(0.25), Some(1.0)), "{v}");
    // The same run as its own baseline: every difference is exactly 0.
    let v: Value = serde_json::from_str(&ok(&[&args[..], &["--baseline", &m]].concat(), "")).unwrap();
    assert!(v["compared"]["differences"].as_object().unwrap().values().all(|d| d["difference"] == 0.0 && d["interval"]["high"] == 0.0), "{v}");
    // A baseline over other questions, or a file of something else, is refused by name.
    std::fs::write(&zero, "{\"id\": \"h1\", \"recall_1\": 0, \"recall_5\": 0, \"recall_20\": 0, \"mrr_10\": 0, \"ndcg_10\": 0}\n").unwrap();
    let out = albert(&[&args[..], &["--baseline", &z]].concat(), b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no question h2"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&zero, "[1, 2]\n").unwrap();
    let out = albert(&[&args[..], &["--baseline", &z]].concat(), b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1: not a --per-question record"));
    // An existing file is not replaced without --overwrite, as every single-file output.
    let out = albert(&[&args[..], &["--per-question", &z]].concat(), b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--overwrite"), "{}", String::from_utf8_lossy(&out.stderr));

    // --gold-paragraph reads each question's own paragraph: its answer is a span of it, and its score (what
    // scripts/experiments/ask_threshold.sh calibrates on) the one `albert qa` gives on that paragraph.
    let gold = tmp.path().join("gold.jsonl");
    let reader_args = ["--reader", &fixture("qa"), "--threshold", "0", "--gold-paragraph", "--per-question"];
    ok(&[&args[..], &reader_args[..], &[gold.display().to_string().as_str()]].concat(), "");
    let questions: Value = serde_json::from_str(SQUAD).unwrap();
    for line in std::fs::read_to_string(&gold).unwrap().lines() {
        let l: Value = serde_json::from_str(line).unwrap();
        let (paragraph, question) = questions["data"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["paragraphs"].as_array().unwrap())
            .flat_map(|p| p["qas"].as_array().unwrap().iter().map(move |q| (p["context"].as_str().unwrap(), q)))
            .find(|(_, q)| q["id"] == l["id"])
            .map(|(p, q)| (p, q["question"].as_str().unwrap()))
            .unwrap();
        assert!(paragraph.contains(l["prediction"].as_str().unwrap()) && l["f1"].is_number(), "{l}");
        let qa = ["qa", "--model", &fixture("qa"), "--context", paragraph, "--question", question, "--max-answer-length", "30", "--json"];
        let qa: Value = serde_json::from_str(&ok(&qa, "")).unwrap();
        // Both are f32 scores, printed in JSON each its own way.
        let f32_of = |v: &Value| v.as_f64().map(|x| x as f32);
        assert_eq!((&l["prediction"], f32_of(&l["score"])), (&qa["answer"], f32_of(&qa["score"])), "{l} against albert qa: {qa}");
    }

    let out = albert(&["evaluate", "--task", "sst-2", "--index", &index, "--data", &d], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--index is for --task retrieval"));
}
