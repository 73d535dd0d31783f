//! Retrieval metrics against pytrec_eval (trec_eval 9) and ranx, and open-domain EM / F1 against the official SQuAD
//! v1.1 logic, on tests/fixtures/metrics/retrieval (made by scripts/reference/make_retrieval_metric_fixtures.py):
//! a seeded qrels (graded, queries with no relevant or more than 20 relevant documents) and run (frequent score
//! ties, queries without results, a query the qrels do not judge).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use albert_train::metrics::retrieval::{evaluate, parse_qrels, parse_run, score_query, QueryScores};
use albert_train::metrics::squad::{evaluate_v1, SquadReference};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/metrics/retrieval").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap()
}

/// Our field for each of pytrec_eval's measure names.
fn measures(s: &QueryScores) -> [(&'static str, f64); 5] {
    [
        ("recall_1", s.recall_1),
        ("recall_5", s.recall_5),
        ("recall_20", s.recall_20),
        ("mrr_10", s.mrr_10),
        ("ndcg_cut_10", s.ndcg_10),
    ]
}

#[test]
fn each_query_and_the_means_match_pytrec_eval() {
    let qrels = parse_qrels(&read("qrels.txt")).unwrap();
    let run = parse_run(&read("run.txt")).unwrap();
    let exp = json("expected.json");
    let per_query = exp["per_query"].as_object().unwrap();
    let scores = evaluate(&qrels, &run).unwrap();
    for (query, want) in per_query {
        let got = score_query(query, &qrels[query], &run[query]).unwrap();
        // evaluate's per-query scores (`trec_eval -q`) are the same.
        assert_eq!(scores.per_query[query], got);
        for (name, value) in measures(&got) {
            let w = want[name].as_f64().unwrap();
            assert!((value - w).abs() < 1e-12, "{query} {name}: {value} vs pytrec_eval {w}");
        }
    }
    assert_eq!(scores.queries as u64, exp["queries"].as_u64().unwrap());
    // q3 and q17 have no results; q_unjudged is not in the qrels.
    assert_eq!(scores.without_results, 2);
    for (name, value) in measures(&scores.mean) {
        let w = exp["mean"][name].as_f64().unwrap();
        assert!((value - w).abs() < 1e-12, "mean {name}: {value} vs {w}");
    }
}

#[test]
fn open_domain_exact_match_and_f1_match_the_squad_script() {
    let answers = json("answers.json");
    let mut references = Vec::new();
    let mut predictions = HashMap::new();
    for (i, case) in answers["cases"].as_array().unwrap().iter().enumerate() {
        let id = format!("q{i}");
        let golds = case["answers"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
        references.push(SquadReference { id: id.clone(), answers: golds });
        predictions.insert(id, case["prediction"].as_str().unwrap().to_string());
    }
    let scores = evaluate_v1(&references, &predictions).unwrap();
    let want = &answers["expected"];
    assert!((scores.exact_match - want["exact_match"].as_f64().unwrap()).abs() < 1e-9);
    assert!((scores.f1 - want["f1"].as_f64().unwrap()).abs() < 1e-9);
}
