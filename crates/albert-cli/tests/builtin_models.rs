//! The built-in models (models/) end to end: `albert demo` answers what transformers answers on the same f16 files
//! (tests/fixtures/builtin/demo_reference.json, from scripts/reference/builtin_reference.py), the README's first
//! command runs that demo, every pipeline command runs on its built-in default, and each model card's scores are
//! what the shipped weights score on ../shared/data.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn albert(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_albert")).args(args).output().expect("run albert");
    assert!(out.status.success(), "albert {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn close(got: &Value, want: &Value, tol: f64, what: &str) {
    let (g, w) = (got.as_f64().unwrap(), want.as_f64().unwrap());
    assert!((g - w).abs() <= tol, "{what}: {g} vs transformers {w}");
}

#[test]
fn demo_matches_transformers() {
    let got: Value = serde_json::from_str(&albert(&["demo", "--json"])).unwrap();
    let want = json_file(&root().join("tests/fixtures/builtin/demo_reference.json"));
    for (g, w) in got["classify"]["results"].as_array().unwrap().iter().zip(want["classify"].as_array().unwrap()) {
        assert_eq!(g["text"], w["text"]);
        let mut wl = w["labels"].as_array().unwrap().clone();
        wl.sort_by(|a, b| a["label"].as_str().cmp(&b["label"].as_str()));
        let mut gl = g["labels"].as_array().unwrap().clone();
        gl.sort_by(|a, b| a["label"].as_str().cmp(&b["label"].as_str()));
        assert_eq!(gl.len(), wl.len());
        for (a, b) in gl.iter().zip(&wl) {
            assert_eq!(a["label"], b["label"]);
            close(&a["score"], &b["score"], 1e-4, "classify score");
        }
    }
    let (g, w) = (got["fill_mask"]["candidates"].as_array().unwrap(), want["fill_mask"]["candidates"].as_array().unwrap());
    assert_eq!(g.len(), w.len());
    for (a, b) in g.iter().zip(w) {
        assert_eq!(a["token"], b["token"], "fill-mask candidates in transformers' order");
        assert_eq!(a["token_str"], b["token_str"]);
        close(&a["score"], &b["score"], 1e-4, "fill-mask score");
    }
    for (g, w) in got["qa"]["results"].as_array().unwrap().iter().zip(want["qa"].as_array().unwrap()) {
        assert_eq!(g["question"], w["question"]);
        let a = &g["answer"];
        assert_eq!((&a["answer"], &a["start"], &a["end"]), (&w["answer"], &w["start"], &w["end"]));
        close(&a["score"], &w["score"], 1e-4, "qa score");
    }
    for (g, w) in got["ner"]["results"].as_array().unwrap().iter().zip(want["ner"].as_array().unwrap()) {
        let (ge, we) = (g["entities"].as_array().unwrap(), w["entities"].as_array().unwrap());
        assert_eq!(ge.len(), we.len(), "entities of {}", w["text"]);
        for (a, b) in ge.iter().zip(we) {
            for key in ["entity_group", "word", "start", "end"] {
                assert_eq!(a[key], b[key], "{key}");
            }
            close(&a["score"], &b["score"], 1e-4, "ner score");
        }
    }
}

/// The README's first command is the demo, and it prints each model with the scores of its card.
#[test]
fn readme_first_command_runs_the_demo() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first = readme
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .expect("a command in the README's first code block");
    let args: Vec<&str> = first.split_once(" -- ").expect("a `cargo run ... -- ARGS` command").1.split_whitespace().collect();
    assert_eq!(args, ["demo"], "{first}");
    let text = albert(&args);
    for name in ["albert-small", "albert-small-sst2", "albert-small-xquad", "albert-small-conll03"] {
        let scores = json_file(&root().join("models").join(name).join("scores.json"));
        let dataset = scores["dataset"].as_str().unwrap();
        assert!(text.contains(name) && text.contains(dataset), "{name} with its scores on {dataset}:\n{text}");
    }
    for gold in ["gold: United States", "gold:  Japan LOC"] {
        assert!(text.contains(gold), "{text}");
    }
}

/// Every pipeline command runs on its built-in default when --model is left out.
#[test]
fn pipelines_default_to_the_builtin_models() {
    let first = |args: &[&str]| -> Value { serde_json::from_str(albert(args).lines().next().unwrap()).unwrap() };
    let c = first(&["classify", "--json", "a gorgeous , witty , seductive movie ."]);
    let labels: Vec<&str> = c["labels"].as_array().unwrap().iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert!(labels.contains(&"positive") && labels.contains(&"negative"), "{labels:?}");
    let f = first(&["fill-mask", "--json", "He went to the [MASK] ."]);
    assert_eq!(f["masks"][0].as_array().unwrap().len(), 5);
    let e = first(&["embed", "--json", "A short text."]);
    assert_eq!(e["vector"].as_array().unwrap().len(), 256, "hidden size of albert-small");
    let s = first(&["similarity", "--json", "A cat sat.", "A cat sat."]);
    close(&s["cosine"], &Value::from(1.0), 1e-5, "cosine of a text with itself");
    let q = first(&["qa", "--json", "--context", "Anna lives in Paris.", "--question", "Where does Anna live?"]);
    assert!(q["answer"].is_string());
    let n = first(&["ner", "--json", "Angela Merkel visited Paris ."]);
    assert!(n["entities"].is_array());
}

/// The numbers of each fine-tuned model's card (scores.json) are what the shipped f16 weights score.
#[test]
fn model_card_scores_are_reproduced() {
    let Some(data) = common::shared_data("") else { return };
    let models = root().join("models");
    let eval = |args: &[&str]| -> Value { serde_json::from_str(&albert(args)).unwrap() };
    let path = |p: PathBuf| p.to_str().unwrap().to_string();
    let card = |name: &str| json_file(&models.join(name).join("scores.json"))["metrics"].clone();

    let sst2 = eval(&["evaluate", "--task", "sst2", "--data", &path(data.join("glue/SST-2/dev.tsv")), "--model",
        &path(models.join("albert-small-sst2")), "--json"]);
    close(&sst2["acc"], &card("albert-small-sst2")["accuracy"], 1e-9, "SST-2 dev accuracy");
    let xquad = eval(&["evaluate", "--task", "xquad", "--data", &path(data.join("xquad/xquad.en.json")), "--articles",
        "test", "--model", &path(models.join("albert-small-xquad")), "--json"]);
    for k in ["exact_match", "f1"] {
        close(&xquad[k], &card("albert-small-xquad")[k], 1e-9, k);
    }
    let conll = eval(&["evaluate", "--task", "conll2003", "--data", &path(data.join("conll2003/eng.testb")), "--model",
        &path(models.join("albert-small-conll03")), "--json"]);
    close(&conll["FB1"], &card("albert-small-conll03")["f1"], 1e-9, "CoNLL-2003 test F1");
}
