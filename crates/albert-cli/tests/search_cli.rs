//! `albert index` and `albert search` as a user runs them, with the tiny random embedder of the pipeline fixtures:
//! build, info, search in each mode, add / sync / remove, and a damaged index or a full disk (a clear error, the
//! index left whole; `index info --verify` for damage that opening does not read).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn albert(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert")).args(args).envs(env.iter().copied()).output().expect("run albert")
}

fn ok(args: &[&str]) -> String {
    let out = albert(args, &[]);
    assert!(out.status.success(), "albert {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines").join(name).display().to_string()
}

fn docs(dir: &Path) -> PathBuf {
    let docs = dir.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::write(docs.join("ships.txt"), "The harbour fills with ships at dawn; sailors mend the nets.").unwrap();
    std::fs::write(docs.join("guide.md"), "# Brewing guide\n\nGrind the beans, heat the water, pour slowly.\n").unwrap();
    std::fs::write(docs.join("faq.jsonl"), "{\"id\": \"q1\", \"title\": \"Zebras\", \"text\": \"A zebra sleeps standing up.\"}\n").unwrap();
    docs
}

fn doc_ids(v: &Value) -> Vec<String> {
    v["hits"].as_array().unwrap().iter().map(|h| h["passage"]["source"]["doc_id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn index_and_search_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = docs(tmp.path());
    let index = tmp.path().join("index");
    let (d, i) = (docs.display().to_string(), index.display().to_string());
    let embedder = fixture("pretraining");
    let built = json(&["index", "build", "--docs", &d, "--out", &i, "--embedder", &embedder, "--json"]);
    assert_eq!(built["report"]["added"].as_array().unwrap().len(), 3);
    let info = json(&["index", "info", &i, "--json"]);
    assert_eq!((info["files"].as_u64(), info["passages"].as_u64()), (Some(3), Some(3)));
    assert_eq!(info["chunking"]["passage_tokens"], 200);
    assert!(ok(&["index", "info", &i]).contains("3 passages, 3 documents, 3 files"));

    // Each mode answers; BM25 finds the only passage with the word.
    let bm25 = json(&["search", &i, "zebra", "--mode", "bm25", "--json"]);
    assert_eq!(doc_ids(&bm25), ["q1"]);
    let hit = &bm25["hits"][0];
    assert!(hit["passage"]["source"]["file"].as_str().unwrap().ends_with("faq.jsonl"));
    assert_eq!(hit["passage"]["span"], serde_json::json!([0, 27]));
    assert_eq!(hit["passage"]["source"]["title"], "Zebras");
    for mode in ["dense", "hybrid"] {
        let v = json(&["search", &i, "where do ships wait?", "--mode", mode, "-k", "2", "--json"]);
        assert_eq!(v["hits"].as_array().unwrap().len(), 2, "{mode}: {v}");
    }
    let reranked = json(&["search", &i, "zebra", "--rerank", &fixture("sentiment"), "--json"]);
    assert_eq!(reranked["reranker"]["label"], "positive");
    assert!(reranked["hits"][0]["scores"]["rerank"].is_number());
    // In int8 the reranker reads the same candidates, and its scores (probabilities) move little.
    let int8 = json(&["search", &i, "zebra", "--rerank", &fixture("sentiment"), "--int8", "--json"]);
    let rerank_scores = |v: &Value| -> std::collections::BTreeMap<String, f64> {
        let hits = v["hits"].as_array().unwrap().iter();
        hits.map(|h| (h["passage"]["source"]["doc_id"].as_str().unwrap().to_string(), h["scores"]["rerank"].as_f64().unwrap())).collect()
    };
    let (f32_scores, int8_scores) = (rerank_scores(&reranked), rerank_scores(&int8));
    assert_eq!(f32_scores.keys().collect::<Vec<_>>(), int8_scores.keys().collect::<Vec<_>>());
    for (id, s) in &f32_scores {
        assert!((s - int8_scores[id]).abs() < 0.05, "{id}: f32 {s}, int8 {}", int8_scores[id]);
    }
    let text = ok(&["search", &i, "zebra", "--mode", "bm25"]);
    assert!(text.contains("faq.jsonl") && text.contains("[q1 \"Zebras\"] chars 0..27"), "{text}");

    // sync picks up a changed and a new file; remove takes one out.
    std::fs::write(docs.join("ships.txt"), "Lighthouses guide the ships home.").unwrap();
    std::fs::write(docs.join("new.txt"), "The moon pulls the tides.").unwrap();
    let synced = json(&["index", "sync", &i, "--json"]);
    assert_eq!(synced["report"]["updated"].as_array().unwrap().len(), 1);
    assert_eq!(synced["report"]["added"].as_array().unwrap().len(), 1);
    assert_eq!(doc_ids(&json(&["search", &i, "lighthouses", "--mode", "bm25", "--json"])), ["ships"]);
    let removed = json(&["index", "remove", &i, &docs.join("new.txt").display().to_string(), "--json"]);
    assert_eq!(removed["report"]["passages_removed"], 1);
    assert!(doc_ids(&json(&["search", &i, "moon", "--mode", "bm25", "--json"])).is_empty());
    let added = json(&["index", "add", &i, &docs.join("new.txt").display().to_string(), "--json"]);
    assert_eq!(added["index"]["passages"], 4);
}

#[test]
fn a_damaged_index_or_a_full_disk_is_a_clear_error_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = docs(tmp.path());
    let index = tmp.path().join("index");
    let (d, i) = (docs.display().to_string(), index.display().to_string());
    ok(&["index", "build", "--docs", &d, "--out", &i, "--embedder", &fixture("pretraining")]);
    let manifest = std::fs::read(index.join("manifest.json")).unwrap();

    // A full disk while writing the next generation: the command fails, the index is as it was.
    std::fs::write(docs.join("new.txt"), "The moon pulls the tides.").unwrap();
    let out = albert(&["index", "sync", &i], &[("ALBERT_FAULT_ENOSPC_AFTER", "100")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(std::fs::read(index.join("manifest.json")).unwrap(), manifest);
    assert_eq!(json(&["index", "info", &i, "--json"])["passages"], 3);

    // Garbage in the manifest: named, exit status 1.
    std::fs::write(index.join("manifest.json"), b"\x00\x01 not json").unwrap();
    let out = albert(&["search", &i, "zebra"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is corrupted") && err.contains("manifest.json"), "{err}");
    std::fs::write(index.join("manifest.json"), &manifest).unwrap();

    // A flipped byte keeps sizes and headers: searches go on (opening reads neither file whole), `index info
    // --verify` names the damage, and `sync` refuses to build on it.
    assert_eq!(json(&["index", "info", &i, "--verify", "--json"])["verified"], true);
    let generation = json(&["index", "info", &i, "--json"])["generation"].as_u64().unwrap();
    let vectors = index.join(format!("g{generation}/vectors.usearch"));
    let mut bytes = std::fs::read(&vectors).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&vectors, &bytes).unwrap();
    ok(&["search", &i, "zebra", "--mode", "bm25"]);
    for args in [&["index", "info", &i, "--verify"][..], &["index", "sync", &i]] {
        let out = albert(args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("is corrupted") && err.contains("vectors.usearch") && err.contains("SHA-256"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(index.join("manifest.json")).unwrap(), manifest);

    // A folder that is not an index.
    let out = albert(&["index", "info", &d], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an albert index"));
}

/// A Latin-1 file in the folder: the others are indexed, one warning names it and why, the summary and --json count
/// it; named on its own it is an error (exit status 1) and nothing is written.
#[test]
fn a_file_that_is_not_utf8_is_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = docs(tmp.path());
    std::fs::write(docs.join("latin1.txt"), b"Caf\xe9 cr\xe8me").unwrap();
    let index = tmp.path().join("index");
    let (d, i) = (docs.display().to_string(), index.display().to_string());
    let embedder = fixture("pretraining");
    let out = albert(&["index", "build", "--docs", &d, "--out", &i, "--embedder", &embedder, "--json"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let latin1 = docs.canonicalize().unwrap().join("latin1.txt").display().to_string();
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings, [format!("warning: skipped {latin1}: not UTF-8 (invalid byte at offset 3)")], "{err}");
    let built: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(built["report"]["added"].as_array().unwrap().len(), 3, "{built}");
    assert_eq!(built["report"]["skipped"], serde_json::json!([{"path": latin1, "reason": "not UTF-8 (invalid byte at offset 3)"}]));
    assert_eq!(built["index"]["files"], 3);

    // The summary counts it.
    let text = ok(&["index", "sync", &i]);
    assert!(text.contains("0 file(s) added, 0 re-indexed, 0 removed, 3 unchanged, 1 skipped (see the warnings);"), "{text}");

    // Named explicitly, it is an error naming the file; the index is not touched.
    let manifest = std::fs::read(index.join("manifest.json")).unwrap();
    let out = albert(&["index", "add", &i, &docs.join("latin1.txt").display().to_string()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("latin1.txt") && err.contains("not UTF-8"), "{err}");
    assert_eq!(std::fs::read(index.join("manifest.json")).unwrap(), manifest);
}
