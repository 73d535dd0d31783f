//! `albert forward --json` reproduces transformers' outputs (the golden fixtures) on every fixture, to 1e-5.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{DType, Device, Tensor};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models")
}

fn albert(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_albert")).args(args).output().expect("run albert")
}

fn flatten(v: &Value, out: &mut Vec<f32>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        Value::Number(n) => out.push(n.as_f64().unwrap() as f32),
        other => panic!("unexpected {other}"),
    }
}

fn max_diff(json: &Value, expected: &Tensor) -> f32 {
    let mut got = Vec::new();
    flatten(json, &mut got);
    let want: Vec<f32> = expected.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(got.len(), want.len(), "element counts differ");
    got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

fn words(t: &Tensor) -> String {
    let v: Vec<i64> = t.to_vec1().unwrap();
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")
}

#[test]
fn forward_json_matches_transformers_on_every_fixture() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("golden.safetensors").exists() {
            continue;
        }
        let g = candle_core::safetensors::load(dir.join("golden.safetensors"), &Device::Cpu).unwrap();
        let multiple_choice = g["input_ids"].rank() == 3;
        let seq = g["input_ids"].dims()[g["input_ids"].rank() - 1];
        let flat = |k: &str| g[k].reshape(((), seq)).unwrap();
        let (ids, types, mask) = (flat("input_ids"), flat("token_type_ids"), flat("attention_mask"));
        // Row 0 of the batch has no padding, so one sequence reproduces it; multiple choice passes every choice,
        // unpadded, and the command pads them as the fixture did.
        let rows = if multiple_choice { ids.dim(0).unwrap() } else { 1 };
        let mut args = vec!["forward".to_string(), dir.to_str().unwrap().to_string(), "--json".to_string()];
        for r in 0..rows {
            let len = mask.get(r).unwrap().sum_all().unwrap().to_scalar::<i64>().unwrap() as usize;
            args.extend(["--ids".into(), words(&ids.get(r).unwrap().narrow(0, 0, len).unwrap())]);
            args.extend(["--type-ids".into(), words(&types.get(r).unwrap().narrow(0, 0, len).unwrap())]);
        }
        let out = albert(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let pick = |k: &str| -> Tensor { if multiple_choice { g[k].clone() } else { g[k].get(0).unwrap() } };
        let mut checked = vec!["last_hidden_state"];
        assert!(max_diff(&json["last_hidden_state"], &pick("last_hidden_state")) <= 1e-5, "{}", dir.display());
        if g.contains_key("pooler_output") {
            assert!(max_diff(&json["pooler_output"], &pick("pooler_output")) <= 1e-5);
        } else {
            assert!(json["pooler_output"].is_null());
        }
        for key in ["logits", "start_logits", "end_logits", "prediction_logits", "sop_logits"] {
            if let Some(expected) = g.get(key) {
                let expected = expected.get(0).unwrap();
                let d = max_diff(&json[key], &expected);
                assert!(d <= 1e-5, "{}: {key} differs by {d}", dir.display());
                checked.push(key);
            } else {
                assert!(json.get(key).is_none(), "{}: unexpected {key}", dir.display());
            }
        }
        println!("{}: {checked:?} within 1e-5", dir.display());
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let qa = fixtures().join("qa");
    let qa = qa.to_str().unwrap();
    for (args, expected) in [
        (vec![qa, "--ids", "2 x 3"], "`x` is not a token id"),
        (vec![qa, "--ids", "2 999 3"], "input_ids holds 999"),
        (vec![qa, "--ids", "2 5 3", "--type-ids", "0 0"], "--type-ids"),
        (vec!["/no/such/dir", "--ids", "2"], "no such file or directory"),
        (vec![qa, "--ids", "2 5 3", "--architecture", "AlbertForTokenClassification", "--strict"], "classifier.weight"),
    ] {
        let mut full = vec!["forward"];
        full.extend(&args);
        let out = albert(&full);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn info_reports_hugging_face_parameter_counts() {
    let out = albert(&["info", "--preset", "albert-large-v2", "--json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["parameters"], 17_683_968);
}

/// A checkpoint laid out as the Hugging Face hub cache holds it (refs/main -> snapshots/<rev>/...), under a temporary
/// HF_HOME, loads by hub id with no network.
#[test]
fn hub_ids_load_from_the_cache_offline() {
    let home = std::env::temp_dir().join(format!("albert-hf-home-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let repo = home.join("hub/models--tiny-org--albert-qa");
    let rev = "0123456789abcdef0123456789abcdef01234567";
    let snapshot = repo.join("snapshots").join(rev);
    std::fs::create_dir_all(&snapshot).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), rev).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixtures().join("qa").join(f), snapshot.join(f)).unwrap();
    }
    let run = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_albert"))
            .args(["forward", id, "--ids", "2 31 45 3", "--json"])
            .env("HF_HOME", &home)
            .env("HF_HUB_OFFLINE", "1")
            .env_remove("HF_HUB_CACHE")
            .output()
            .unwrap()
    };
    let by_id = run("tiny-org/albert-qa");
    assert!(by_id.status.success(), "{}", String::from_utf8_lossy(&by_id.stderr));
    let by_path = run(fixtures().join("qa").to_str().unwrap());
    assert_eq!(by_id.stdout, by_path.stdout);
    let missing = run("tiny-org/not-cached");
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("not in the Hugging Face cache") || err.contains("nor in the Hugging Face cache"), "{err}");
    let _ = std::fs::remove_dir_all(&home);
}
