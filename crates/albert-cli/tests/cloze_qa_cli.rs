//! `albert cloze-qa`: a SQuAD file that `finetune --task squad` and the official metric accept, whose answers are
//! spans of their contexts at code-point offsets; clear errors for unusable input.

use std::process::{Command, Output};

use serde_json::Value;

fn albert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert")).args(args).output().expect("run albert")
}

const TEXT: &str = "The Tyne Bridge was opened in 1928 by King George V after four years of work. It carried the \
main road north from Newcastle to the Scottish border for decades, and it was the longest single span in Britain.

= Heading =

Émile Durand moved to Zürich in 1891, where he taught chemistry at the Polytechnic for 30 years. His students \
included several later prize winners, and the laboratory he founded still bears his name today.
";

#[test]
fn cloze_questions_are_squad_answers_at_code_point_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("text.txt");
    std::fs::write(&corpus, TEXT).unwrap();
    let out = dir.path().join("cloze.json");
    let run = albert(&["cloze-qa", "--corpus", corpus.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "--min-paragraph-words", "10", "--json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary: Value = serde_json::from_slice(&run.stdout).unwrap();
    // Three paragraphs, one a heading too short to ask about; two of two sentences each, a question from each sentence.
    assert_eq!((summary["paragraphs_read"].as_u64(), summary["questions"].as_u64()), (Some(3), Some(4)), "{summary}");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let mut predictions = serde_json::Map::new();
    for p in data["data"].as_array().unwrap().iter().flat_map(|a| a["paragraphs"].as_array().unwrap()) {
        let context = p["context"].as_str().unwrap();
        for q in p["qas"].as_array().unwrap() {
            let a = &q["answers"][0];
            let text = a["text"].as_str().unwrap();
            let at: String = context.chars().skip(a["answer_start"].as_u64().unwrap() as usize).take(text.chars().count()).collect();
            assert_eq!(at, text);
            let question = q["question"].as_str().unwrap();
            assert!(["What ", "When ", "How many "].iter().any(|w| question.starts_with(w)) && question.ends_with('?'), "{question}");
            predictions.insert(q["id"].as_str().unwrap().to_string(), Value::from(text));
        }
    }
    // The official SQuAD v1.1 metric reads the file: its own answers score 100.
    let preds = dir.path().join("predictions.json");
    std::fs::write(&preds, serde_json::to_vec(&predictions).unwrap()).unwrap();
    let eval = albert(&["evaluate", "--task", "squad", "--data", out.to_str().unwrap(), "--predictions", preds.to_str().unwrap(), "--json"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let scores: Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!((scores["exact_match"].as_f64(), scores["f1"].as_f64()), (Some(100.0), Some(100.0)));
}

#[test]
fn unusable_input_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cloze.json");
    let missing = albert(&["cloze-qa", "--corpus", "/nonexistent/text.txt", "--out", out.to_str().unwrap()]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/text.txt"));
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "Too short.\n").unwrap();
    let none = albert(&["cloze-qa", "--corpus", short.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("30 words"), "{}", String::from_utf8_lossy(&none.stderr));
    assert!(!out.exists(), "nothing written");
}
