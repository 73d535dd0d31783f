//! The pipeline commands end to end on the built binary: arguments and stdin, readable and `--json` output, the
//! truncation warning, errors, and a hub id from an offline cache. Values are transformers' (tests/fixtures/pipelines,
//! see its README); the library tests check every field, these check that the commands carry them through.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::albert;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines")
}

fn model(name: &str) -> String {
    fixtures().join(name).to_str().unwrap().to_string()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    ok(out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn close(got: &Value, want: &Value) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!((g - w).abs() <= 1e-5, "{g} vs transformers {w}");
}

#[test]
fn classify_reads_arguments_and_stdin() {
    let exp = expected();
    let cases = exp["classify"]["sentiment"].as_array().unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let m = model("sentiment");
    let mut args = vec!["classify", "--model", &m, "--json", "--batch-size", "2"];
    args.extend(&texts);
    let from_args = json_lines(&albert(&args, b""));
    let stdin = texts.join("\n") + "\n";
    let from_stdin = json_lines(&albert(&["classify", "--model", &m, "--json"], stdin.as_bytes()));
    assert_eq!(from_args.len(), 3);
    for ((a, s), c) in from_args.iter().zip(&from_stdin).zip(cases) {
        assert_eq!(a["text"], c["text"]);
        assert_eq!(a["labels"][0]["label"], c["labels"][0]["label"]);
        close(&a["labels"][0]["score"], &c["labels"][0]["score"]);
        // Other batch sizes pad differently: the same labels, scores equal to rounding.
        for (x, y) in a["labels"].as_array().unwrap().iter().zip(s["labels"].as_array().unwrap()) {
            assert_eq!(x["label"], y["label"]);
            close(&x["score"], &y["score"]);
        }
    }
    let text = ok(&albert(&["classify", "--model", &m, "--top-k", "1", texts[0]], b""));
    let best = cases[0]["labels"][0]["label"].as_str().unwrap();
    assert!(text.starts_with(texts[0]) && text.contains(best), "{text}");
}

#[test]
fn over_long_input_warns() {
    let exp = expected();
    let case = &exp["classify_truncated"][0];
    let m = model("sentiment");
    let out = albert(&["classify", "--model", &m, "--max-length", "16", "--json", case["text"].as_str().unwrap()], b"");
    let lines = json_lines(&out);
    assert_eq!(lines[0]["truncated"], true);
    close(&lines[0]["labels"][0]["score"], &case["labels"][0]["score"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: input 1 was truncated to 16 tokens"), "{err}");
}

#[test]
fn fill_mask_ner_qa_embed_and_similarity_print_transformers_answers() {
    let exp = expected();
    let fm = &exp["fill_mask"][0];
    let out = json_lines(&albert(&["fill-mask", "--model", &model("pretraining"), "--json", fm["text"].as_str().unwrap()], b""));
    assert_eq!(out[0]["masks"][0][0]["token"], fm["masks"][0][0]["token"]);
    assert_eq!(out[0]["masks"][0][0]["sequence"], fm["masks"][0][0]["sequence"]);

    let n = &exp["ner"][0];
    let out = json_lines(&albert(&["ner", "--model", &model("ner"), "--aggregation", "simple", "--json", n["text"].as_str().unwrap()], b""));
    let spans = |v: &Value| -> Vec<(Value, Value, Value)> {
        v.as_array().unwrap().iter().map(|e| (e["entity_group"].clone(), e["start"].clone(), e["end"].clone())).collect()
    };
    assert_eq!(spans(&out[0]["entities"]), spans(&n["entities"]));

    let q = &exp["qa"][1];
    let ctx = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ctx.path(), q["context"].as_str().unwrap()).unwrap();
    let out = json_lines(&albert(
        &["qa", "--model", &model("qa"), "--context", ctx.path().to_str().unwrap(), "--question", q["question"].as_str().unwrap(), "--json"],
        b"",
    ));
    assert_eq!((&out[0]["answer"], &out[0]["start"], &out[0]["end"]), (&q["answer"], &q["start"], &q["end"]));
    close(&out[0]["score"], &q["score"]);
    // Questions from stdin against a context given as text.
    let s = &exp["qa"][0];
    let out = json_lines(&albert(&["qa", "--model", &model("qa"), "--context", s["context"].as_str().unwrap(), "--json"],
        format!("{}\n", s["question"].as_str().unwrap()).as_bytes()));
    assert_eq!(out[0]["answer"], s["answer"]);

    let e = &exp["embed"][0];
    let out = json_lines(&albert(&["embed", "--model", &model("pretraining"), "--pooler", "--json", e["text"].as_str().unwrap()], b""));
    for (g, w) in out[0]["vector"].as_array().unwrap().iter().zip(e["pooler"].as_array().unwrap()) {
        close(g, w);
    }

    let sim = &exp["similarity"][0];
    let (a, b) = (sim["a"].as_str().unwrap(), sim["b"].as_str().unwrap());
    let out = json_lines(&albert(&["similarity", "--model", &model("pretraining"), "--json", a, b], b""));
    close(&out[0]["cosine"], &sim["cosine"]);
    let out = json_lines(&albert(&["similarity", "--model", &model("pretraining"), "--json"], format!("{a}\t{b}\n").as_bytes()));
    close(&out[0]["cosine"], &sim["cosine"]);
}

#[test]
fn errors_name_what_is_wrong() {
    let pre = model("pretraining");
    let sentiment = model("sentiment");
    let qa = model("qa");
    for (args, expected) in [
        (vec!["fill-mask", "--model", pre.as_str(), "no mask"], "[MASK] is missing"),
        (vec!["classify", "--model", pre.as_str(), "text"], "AlbertForPreTraining checkpoint"),
        (vec!["ner", "--model", sentiment.as_str(), "text"], "needs AlbertForTokenClassification"),
        (vec!["classify", "--model", "/no/such/dir", "text"], "no such file or directory"),
        (vec!["embed", "--model", qa.as_str(), "--pooler", "text"], "no pooler"),
    ] {
        let out = albert(&args, b"");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = albert(&["similarity", "--model", &pre], b"only one text\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("separated by a tab"));
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_albert")).args(["classify", "text"]).env("ALBERT_MODELS", empty.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("built-in model `albert-small-sst2` is not at"), "{err}");
}

/// A pipeline checkpoint in the hub cache layout under a temporary HF_HOME answers by hub id, offline, exactly as
/// by path.
#[test]
fn hub_id_from_offline_cache() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path().join("hub/models--tiny-org--albert-sentiment");
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let snapshot = repo.join("snapshots").join(rev);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), rev).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixtures().join("sentiment").join(f), snapshot.join(f)).unwrap();
    }
    let run = |spec: &str| {
        Command::new(env!("CARGO_BIN_EXE_albert"))
            .args(["classify", "--model", spec, "--json", "I loved this movie."])
            .env("HF_HOME", home.path())
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("HF_HUB_CACHE")
            .output()
            .unwrap()
    };
    let by_id = run("tiny-org/albert-sentiment");
    assert_eq!(ok(&by_id), ok(&run(&model("sentiment"))));
}

/// `albert export` rewrites a checkpoint with its tokenizer: the f16 fixture exported to f32 and back to f16 keeps
/// every weight (f16 values are exact in f32), so all three answer alike, and the f16 file has the fixture's size.
#[test]
fn export_round_trips_between_dtypes() {
    let dir = tempfile::tempdir().unwrap();
    let (f32_dir, f16_dir) = (dir.path().join("f32"), dir.path().join("f16"));
    let sentiment = model("sentiment");
    for (src, out, dtype) in [(sentiment.as_str(), &f32_dir, "f32"), (f32_dir.to_str().unwrap(), &f16_dir, "f16")] {
        let text = ok(&albert(&["export", src, "--out", out.to_str().unwrap(), "--dtype", dtype], b""));
        assert!(text.contains("AlbertForSequenceClassification"), "{text}");
        assert!(out.join("tokenizer.json").is_file() && out.join("config.json").is_file());
    }
    let size = |d: &Path| std::fs::metadata(d.join("model.safetensors")).unwrap().len();
    let original = fixtures().join("sentiment");
    assert!(size(&f32_dir) > size(&original) * 19 / 10, "f32 weights take twice the room of f16");
    assert_eq!(size(&f16_dir), size(&original));
    let answer = |m: &str| ok(&albert(&["classify", "--model", m, "--json", "I loved this movie."], b""));
    let want = answer(&sentiment);
    assert_eq!(answer(f32_dir.to_str().unwrap()), want);
    assert_eq!(answer(f16_dir.to_str().unwrap()), want);
}
