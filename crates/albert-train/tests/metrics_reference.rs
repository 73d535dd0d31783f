//! Metrics against values computed by scikit-learn, scipy, the official SQuAD scripts and
//! seqeval/conlleval.pl on committed prediction fixtures (scripts/reference/make_metric_fixtures.py).

mod common;

use std::collections::HashMap;

use albert_train::metrics::squad::{evaluate_v2, NaProbs};
use albert_train::metrics::{
    accuracy, conlleval, f1_binary, matthews_corrcoef, pearson, spearman, ConfusionMatrix,
};
use albert_train::tasks::glue::GlueTask;
use albert_train::tasks::squad::{
    read_na_probs, read_squad, read_squad_predictions, score_squad_v2,
};
use albert_train::tasks::{evaluate_predictions, EvalOptions, Task};
use common::{assert_close, assert_json_close, fixture, json_fixture, shared_data};
use serde_json::Value;

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tag_sentences(v: &Value) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn classification_matches_sklearn() {
    let vectors = json_fixture("metrics/vectors.json");
    for (i, case) in vectors["classification"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let (refs, preds) = (usizes(&case["references"]), usizes(&case["predictions"]));
        let k = case["num_classes"].as_u64().unwrap() as usize;
        assert_close(
            accuracy(&preds, &refs).unwrap(),
            case["accuracy"].as_f64().unwrap(),
            &format!("case {i} accuracy"),
        );
        assert_close(
            matthews_corrcoef(&preds, &refs).unwrap(),
            case["mcc"].as_f64().unwrap(),
            &format!("case {i} mcc"),
        );
        let cm = ConfusionMatrix::new(&preds, &refs, k).unwrap();
        assert_close(
            cm.matthews_corrcoef(),
            case["mcc"].as_f64().unwrap(),
            &format!("case {i} mcc (matrix)"),
        );
        if let Some(f1) = case.get("f1") {
            assert_close(
                f1_binary(&preds, &refs, 1).unwrap(),
                f1.as_f64().unwrap(),
                &format!("case {i} f1"),
            );
        }
    }
}

#[test]
fn correlation_matches_scipy() {
    let vectors = json_fixture("metrics/vectors.json");
    for (i, case) in vectors["correlation"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let (x, y) = (floats(&case["predictions"]), floats(&case["references"]));
        assert_close(
            pearson(&x, &y).unwrap(),
            case["pearson"].as_f64().unwrap(),
            &format!("case {i} pearson"),
        );
        assert_close(
            spearman(&x, &y).unwrap(),
            case["spearman"].as_f64().unwrap(),
            &format!("case {i} spearman"),
        );
    }
}

#[test]
fn conlleval_matches_official_semantics_on_synthetic_tags() {
    let vectors = json_fixture("metrics/vectors.json");
    for (i, case) in vectors["ner"].as_array().unwrap().iter().enumerate() {
        let report = conlleval(
            &tag_sentences(&case["references"]),
            &tag_sentences(&case["predictions"]),
        )
        .unwrap();
        assert_json_close(
            &serde_json::to_value(&report).unwrap(),
            &case["expected"],
            &format!("ner case {i}"),
        );
    }
}

#[test]
fn squad_v2_matches_official_script() {
    let expected = json_fixture("metrics/squad_v2/expected.json");
    let data = fixture("metrics/squad_v2/dataset.json");
    let dataset = read_squad(&data).unwrap();
    let preds = read_squad_predictions(&fixture("metrics/squad_v2/predictions.json")).unwrap();
    let na_probs = read_na_probs(&fixture("metrics/squad_v2/na_probs.json")).unwrap();
    for (key, na, thresh) in [
        ("no_na_probs", None, 1.0),
        ("na_probs_thresh_1.0", Some(&na_probs), 1.0),
        ("na_probs_thresh_0.5", Some(&na_probs), 0.5),
    ] {
        let scores = score_squad_v2(&dataset, &data, &preds, na, thresh).unwrap();
        let actual = serde_json::to_value(&scores).unwrap();
        assert_json_close(&actual, &expected[key], key);
        // Integers stay integers, as in the official JSON.
        assert!(
            actual["total"].is_u64() && actual["HasAns_total"].is_u64(),
            "{key}: totals are integers"
        );
    }
    // The same through the file-level entry point with the CLI's options.
    let options = EvalOptions {
        na_prob_file: Some(fixture("metrics/squad_v2/na_probs.json")),
        na_prob_thresh: 0.5,
        ..EvalOptions::new()
    };
    let report = evaluate_predictions(
        Task::SquadV2,
        &data,
        &fixture("metrics/squad_v2/predictions.json"),
        &options,
    )
    .unwrap();
    assert_json_close(
        &serde_json::to_value(&report).unwrap(),
        &expected["na_probs_thresh_0.5"],
        "evaluate_predictions",
    );
}

#[test]
fn squad_v2_best_threshold_breaks_ties_in_file_order() {
    // Hand-derived from find_best_thresh: both questions have probability 0.5. In the order
    // (answered-correctly, wrongly-answered-no-answer) the running score goes 1 -> 2 -> 1, so
    // the best (2 of 2) is reached at 0.5; in the opposite order it goes 1 -> 0 -> 1 and the
    // best stays the initial 1 at threshold 0.0.
    let refs = vec![
        albert_train::metrics::squad::SquadReference {
            id: "has".into(),
            answers: vec!["Paris".into()],
        },
        albert_train::metrics::squad::SquadReference {
            id: "none".into(),
            answers: vec![],
        },
    ];
    let preds = HashMap::from([
        ("has".to_string(), "Paris".to_string()),
        ("none".to_string(), "Lyon".to_string()),
    ]);
    let first = NaProbs::from_json_str(r#"{"has": 0.5, "none": 0.5}"#).unwrap();
    let second = NaProbs::from_json_str(r#"{"none": 0.5, "has": 0.5}"#).unwrap();
    let a = evaluate_v2(&refs, &preds, Some(&first), 1.0).unwrap();
    let b = evaluate_v2(&refs, &preds, Some(&second), 1.0).unwrap();
    assert_eq!(
        (a.best_exact, a.best_exact_thresh),
        (Some(100.0), Some(0.5))
    );
    assert_eq!((b.best_exact, b.best_exact_thresh), (Some(50.0), Some(0.0)));
}

#[test]
fn squad_v1_matches_official_script_on_xquad() {
    let expected = json_fixture("metrics/squad_v1/expected.json");
    for (lang, reference) in expected.as_object().unwrap() {
        let Some(data) = shared_data(&format!("xquad/xquad.{lang}.json")) else {
            return;
        };
        let preds = fixture(&format!("metrics/squad_v1/xquad.{lang}.predictions.json"));
        let report = evaluate_predictions(Task::Xquad, &data, &preds, &EvalOptions::new()).unwrap();
        assert_json_close(
            &serde_json::to_value(&report).unwrap(),
            reference,
            &format!("xquad.{lang}"),
        );
    }
}

#[test]
fn glue_matches_sklearn_and_scipy_on_dev_sets() {
    let expected = json_fixture("metrics/glue/expected.json");
    for (name, reference) in expected.as_object().unwrap() {
        let task = GlueTask::from_name(name).unwrap();
        let Some(data) = shared_data(&format!("glue/{}/{}", task.folder(), task.dev_file())) else {
            return;
        };
        let preds = fixture(&format!("metrics/glue/{name}.tsv"));
        let report =
            evaluate_predictions(Task::Glue(task), &data, &preds, &EvalOptions::new()).unwrap();
        // The reference holds sklearn/scipy fractions; reports are on the 0-100 scale.
        let scaled: serde_json::Map<String, Value> = reference
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(100.0 * v.as_f64().unwrap())))
            .collect();
        assert_json_close(
            &serde_json::to_value(&report).unwrap(),
            &Value::Object(scaled),
            name,
        );
    }
}

#[test]
fn conlleval_matches_official_on_conll2003_dev() {
    let Some(data) = shared_data("conll2003/eng.testa") else {
        return;
    };
    let report = evaluate_predictions(
        Task::Conll2003,
        &data,
        &fixture("metrics/conll/eng.testa.predictions"),
        &EvalOptions::new(),
    )
    .unwrap();
    assert_json_close(
        &serde_json::to_value(&report).unwrap(),
        &json_fixture("metrics/conll/expected.json"),
        "eng.testa",
    );
}
