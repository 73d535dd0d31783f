//! `albert evaluate` end to end on committed fixtures (expected values from the official
//! SQuAD v2.0 logic, scripts/reference/make_metric_fixtures.py).

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

fn albert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albert"))
        .args(args)
        .output()
        .expect("run albert")
}

#[test]
fn squad_v2_json_output_has_official_keys_order_and_values() {
    let data = fixture("metrics/squad_v2/dataset.json");
    let preds = fixture("metrics/squad_v2/predictions.json");
    let na = fixture("metrics/squad_v2/na_probs.json");
    let out = albert(&[
        "evaluate",
        "--task",
        "squad-v2",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--na-prob-file",
        na.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let keys = [
        "exact",
        "f1",
        "total",
        "HasAns_exact",
        "HasAns_f1",
        "HasAns_total",
        "NoAns_exact",
        "NoAns_f1",
        "NoAns_total",
        "best_exact",
        "best_exact_thresh",
        "best_f1",
        "best_f1_thresh",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\""))
                .unwrap_or_else(|| panic!("{k} missing in {text}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of the official order: {text}"
    );
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("metrics/squad_v2/expected.json")).unwrap(),
    )
    .unwrap();
    for key in keys {
        let (g, e) = (
            got[key].as_f64().unwrap(),
            expected["na_probs_thresh_1.0"][key].as_f64().unwrap(),
        );
        assert!(
            (g - e).abs() <= 1e-12 * e.abs().max(1.0),
            "{key}: {g} vs {e}"
        );
    }
}

#[test]
fn unlabeled_data_is_a_clear_error() {
    let data = fixture("tasks/mnli_test_matched.tsv");
    let preds = std::env::temp_dir().join(format!("albert-cli-preds-{}.tsv", std::process::id()));
    std::fs::write(
        &preds,
        "index\tprediction\n0\tentailment\n1\tneutral\n2\tcontradiction\n",
    )
    .unwrap();
    let out = albert(&[
        "evaluate",
        "--task",
        "mnli",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mnli_test_matched.tsv") && err.contains("has no labels"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_refused() {
    let out = albert(&[
        "evaluate",
        "--task",
        "imdb",
        "--data",
        "x",
        "--predictions",
        "y",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("known tasks: cola"));
    let out = albert(&["evaluate", "--task", "rte", "--data", "x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--predictions"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_output_for_race() {
    let preds = std::env::temp_dir().join(format!("albert-cli-race-{}.json", std::process::id()));
    std::fs::write(
        &preds,
        r#"{"high1.txt-0": "B", "high1.txt-1": "D", "middle7.txt-0": "C"}"#,
    )
    .unwrap();
    let data = fixture("tasks/race");
    let out = albert(&[
        "evaluate",
        "--task",
        "race",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Two of three correct, hand-counted.
    let text = String::from_utf8(out.stdout).unwrap();
    let value: f64 = text.trim().strip_prefix("acc: ").unwrap().parse().unwrap();
    assert!((value - 200.0 / 3.0).abs() < 1e-12, "{text}");
}

#[test]
fn custom_jsonl_classification_with_named_columns() {
    let dir = std::env::temp_dir().join(format!("albert-cli-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("reviews.jsonl");
    std::fs::write(
        &data,
        "{\"review\": \"great\", \"stars\": \"pos\"}\n{\"review\": \"dull\", \"stars\": \"neg\"}\n\
         {\"review\": \"fine\", \"stars\": \"pos\"}\n{\"review\": \"awful\", \"stars\": \"neg\"}\n",
    )
    .unwrap();
    let preds = dir.join("preds.tsv");
    std::fs::write(&preds, "index\tprediction\n0\tpos\n1\tpos\n2\t1\n3\tneg\n").unwrap();
    let out = albert(&[
        "evaluate",
        "--task",
        "custom",
        "--data",
        data.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
        "--text-column",
        "review",
        "--label-column",
        "stars",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Hand-derived, classes [neg, pos]: tp 2, tn 1, fp 1, fn 0.
    let expected = [
        ("acc", 75.0),
        ("f1", 80.0),
        ("mcc", 100.0 * 2.0 / 12f64.sqrt()),
    ];
    for (key, value) in expected {
        assert!(
            (got[key].as_f64().unwrap() - value).abs() < 1e-12,
            "{key}: {got}"
        );
    }
}

/// `evaluate --model` scores in memory what `predict` writes: SQuAD v2.0 answers and, beside them, the no-answer
/// odds, which `evaluate --predictions --na-prob-file` scores the same (the tiny QA checkpoint of the fixtures).
#[test]
fn a_models_scores_equal_the_scores_of_its_written_predictions() {
    let (data, model) = (fixture("metrics/squad_v2/dataset.json"), fixture("pipelines/qa"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pred.json");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let run = |args: &[&str]| {
        let o = albert(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    run(&["predict", "--task", "squad-v2", "--data", &s(&data), "--model", &s(&model), "--out", &s(&out)]);
    let odds = dir.path().join("pred.na_odds.json");
    assert!(odds.is_file(), "the no-answer odds are written beside the predictions");
    let in_memory = run(&["evaluate", "--task", "squad-v2", "--data", &s(&data), "--model", &s(&model), "--json"]);
    #[rustfmt::skip]
    let from_files = run(&["evaluate", "--task", "squad-v2", "--data", &s(&data), "--predictions", &s(&out), "--na-prob-file", &s(&odds), "--json"]);
    let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    assert_eq!(parse(&in_memory), parse(&from_files));
    assert!(parse(&in_memory)["best_f1"].is_number(), "scored with the odds");
}
