//! `albert explain` end to end on the built-in SST-2 model, against Captum: the attributions of
//! tests/fixtures/explain/expected.json (scripts/reference/make_explain_fixtures.py) and the deletion curves of
//! tests/fixtures/explain/faithfulness.json (scripts/reference/make_faithfulness_fixtures.py).

mod common;

use common::albert;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    // This crate's own path: albert_testkit's may have been built from another copy of the repository.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/explain").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The two cases of expected.json on the built-in SST-2 model.
fn sst2_cases() -> Vec<Value> {
    fixture("expected.json")["cases"].as_array().unwrap().iter().filter(|c| c["model"] == "models/albert-small-sst2").cloned().collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// `ours` within `tol` of the largest of `want` in magnitude, element by element.
fn assert_close(ours: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(ours.len(), want.len(), "{what}");
    let scale = want.iter().fold(0f64, |m, x| m.max(x.abs()));
    for (o, w) in ours.iter().zip(want) {
        assert!((o - w).abs() <= tol * scale, "{what}: {ours:?} vs {want:?}");
    }
}

/// --json on both texts (IG, the fixture's 50 steps) and gradient x input on one: tokens, the predicted label and
/// its probability, scores and delta as Captum's.
#[test]
fn json_matches_captum() {
    let cases = sst2_cases();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    let out = albert(&["explain", "--json", "--internal-batch-size", "10", texts[0], texts[1]], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for (line, case) in lines.iter().zip(&cases) {
        assert_eq!(line["tokens"], case["tokens"]);
        let label = case["target"]["label"].as_u64().unwrap() as usize;
        assert_eq!(line["prediction"]["label"], ["negative", "positive"][label]);
        let p = line["prediction"]["probability"].as_f64().unwrap();
        assert!((p - floats(&case["probabilities"])[label]).abs() < 1e-5);
        let target = &line["targets"][0];
        let ig = floats(&case["ig"]);
        assert_close(&floats(&target["scores"]), &ig, 1e-4, "ig");
        let scale = ig.iter().fold(0f64, |m, x| m.max(x.abs()));
        assert!((target["delta"].as_f64().unwrap() - case["delta"].as_f64().unwrap()).abs() <= 1e-4 * scale);
    }
    let out = albert(&["explain", "--json", "--method", "grad-x-input", texts[1]], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_close(&floats(&line["targets"][0]["scores"]), &floats(&cases[1]["grad_x_input"]), 1e-4, "grad x input");
    assert!(line["targets"][0]["delta"].is_null());
}

/// The readable output: the text, the prediction with its probability to 3 decimals, then one line per token with
/// its score to 4 decimals (Captum's, within 1e-4 of the largest plus the rounding).
#[test]
fn text_output_lists_every_token_with_captums_score() {
    let case = &sst2_cases()[1];
    let text = case["text"].as_str().unwrap();
    let out = albert(&["explain", text], b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], text);
    let label = case["target"]["label"].as_u64().unwrap() as usize;
    let p = floats(&case["probabilities"])[label];
    assert_eq!(lines[1], format!("  prediction: {} ({p:.3})", ["negative", "positive"][label]));
    assert!(lines[2].starts_with(&format!("  ig for {} (p {p:.3}", ["negative", "positive"][label])), "{}", lines[2]);
    let ig = floats(&case["ig"]);
    let tokens = case["tokens"].as_array().unwrap();
    assert_eq!(lines.len(), 3 + tokens.len());
    let scale = ig.iter().fold(0f64, |m, x| m.max(x.abs()));
    for ((line, token), want) in lines[3..].iter().zip(tokens).zip(&ig) {
        let (shown, score) = line.trim().rsplit_once(' ').unwrap();
        assert_eq!(shown.trim(), token.as_str().unwrap());
        assert!((score.parse::<f64>().unwrap() - want).abs() <= 1e-4 * scale + 5e-5, "{line} vs {want}");
    }
}

/// --faithfulness on the fixture's four SST-2 dev sentences (Integrated Gradients at the fixture's 20 steps): per
/// text the predicted label, its probability, the piece counts deleted, and per method the deletion order, the drops
/// and AOPC as the reference computes them with transformers; the summary's mean AOPCs are the reference's means;
/// random's AOPC is (sum of its drops) / 6, and each method's difference to it the mean of the per-text differences.
/// Then the table on two texts with one method, and the refusals. About 10 s in the test profile.
#[test]
fn faithfulness_matches_the_reference_curves() {
    let reference = fixture("faithfulness.json");
    let cases = reference["texts"].as_array().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev.tsv");
    let tsv: String = cases.iter().map(|c| format!("{}\t1\n", c["text"].as_str().unwrap())).collect();
    std::fs::write(&data, format!("sentence\tlabel\n{tsv}")).unwrap();
    let png = dir.path().join("curves.png");
    let (data_arg, png_arg) = (data.to_str().unwrap(), png.to_str().unwrap());
    let args = ["explain", "--faithfulness", "--data", data_arg, "--steps", "20", "--random-seeds", "2", "--resamples", "100", "--json", "--png", png_arg];
    let out = albert(&args, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts = report["texts"].as_array().unwrap();
    assert_eq!(texts.len(), cases.len());
    let methods = ["ig", "grad-x-input", "attention-rollout"];
    let mut aopc_sums = [0.0; 3];
    for (ours, want) in texts.iter().zip(cases) {
        assert_eq!(ours["label"], want["label"]);
        assert!((ours["probability"].as_f64().unwrap() - want["probability"].as_f64().unwrap()).abs() < 1e-5);
        assert_eq!((&ours["pieces"], &ours["deleted"]), (&want["pieces"], &want["deleted"]));
        let curves = ours["curves"].as_array().unwrap();
        for (m, name) in methods.iter().enumerate() {
            let (curve, reference) = (&curves[m], &want["curves"][name]);
            assert_eq!(curve["ranking"], *name);
            assert_eq!(curve["order"], reference["order"], "{name} on {}", want["text"]);
            assert_close(&floats(&curve["drops"]), &floats(&reference["drops"]), 1e-4, name);
            assert!((curve["aopc"].as_f64().unwrap() - reference["aopc"].as_f64().unwrap()).abs() < 1e-4);
            aopc_sums[m] += reference["aopc"].as_f64().unwrap();
        }
        let random = &curves[3];
        assert_eq!(random["ranking"], "random");
        let drops = floats(&random["drops"]);
        assert!((random["aopc"].as_f64().unwrap() - drops.iter().sum::<f64>() / 6.0).abs() < 1e-12);
    }
    let summary = &report["summary"];
    assert_eq!(summary["texts"], 4);
    let random_mean = summary["rankings"][3]["aopc"]["mean"].as_f64().unwrap();
    for (m, name) in methods.iter().enumerate() {
        let r = &summary["rankings"][m];
        assert_eq!(r["ranking"], *name);
        let mean = r["aopc"]["mean"].as_f64().unwrap();
        assert!((mean - aopc_sums[m] / 4.0).abs() < 1e-4, "{name}: {mean}");
        let versus = &r["versus_random"];
        assert!((versus["mean"].as_f64().unwrap() - (mean - random_mean)).abs() < 1e-12);
        assert!(versus["low"].as_f64().unwrap() <= versus["mean"].as_f64().unwrap());
        assert!(r["aopc"]["low"].as_f64().unwrap() <= mean && mean <= r["aopc"]["high"].as_f64().unwrap());
    }
    assert!(summary["rankings"][3]["versus_random"].is_null());
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");

    let args = ["explain", "--faithfulness", "--data", data_arg, "--method", "grad-x-input", "--limit", "2", "--random-seeds", "1"];
    let out = albert(&args, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("on 2 texts of"), "{table}");
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("grad-x-input") || l.starts_with("random (1 seed)")).collect();
    assert_eq!(rows.len(), 2, "{table}");

    let refused = |args: &[&str], code: i32, says: &str| {
        let out = albert(args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    refused(&["explain", "--faithfulness"], 2, "--data");
    refused(&["explain", "--faithfulness", "--data", data_arg, "Some text."], 2, "cannot be used with");
    refused(&["explain", "--random-seeds", "3", "Some text."], 2, "--faithfulness");
    let no_column = dir.path().join("bad.tsv");
    std::fs::write(&no_column, "text\tlabel\nA film.\t1\n").unwrap();
    refused(&["explain", "--faithfulness", "--data", no_column.to_str().unwrap()], 1, "\"sentence\"");
}
