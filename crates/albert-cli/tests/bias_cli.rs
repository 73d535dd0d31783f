//! `albert bias crows-pairs` end to end on the built-in model: four pairs of the reference fixture
//! (tests/fixtures/crows_pairs/reference.json, made by scripts/reference/make_crows_pairs_fixtures.py) as a CSV.

mod common;

use common::albert;
use serde_json::Value;

/// A CSV field quoted as Python's csv module quotes it.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The first `n` reference pairs as a CrowS-Pairs CSV, and the reference's pairs.
fn sample(n: usize) -> (String, Vec<Value>) {
    let path = albert_testkit::repo_root().join("tests/fixtures/crows_pairs/reference.json");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pairs: Vec<Value> = reference["pairs"].as_array().unwrap()[..n].to_vec();
    let mut csv = String::from(",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n");
    for (i, p) in pairs.iter().enumerate() {
        let field = |k: &str| quoted(p[k].as_str().unwrap());
        csv += &format!(
            "{i},{},{},{},{},[],a0,[]\n",
            field("sent_more"),
            field("sent_less"),
            field("stereo_antistereo"),
            field("bias_type")
        );
    }
    (csv, pairs)
}

#[test]
fn crows_pairs_reports_the_references_counts_and_keeps_an_existing_pairs_file() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, reference) = sample(4);
    let data = dir.path().join("pairs.csv");
    std::fs::write(&data, csv).unwrap();
    let scores = dir.path().join("scores.csv");
    let args = ["bias", "crows-pairs", "--data", data.to_str().unwrap(), "--json", "--resamples", "100", "--pairs", scores.to_str().unwrap()];
    let out = albert(&args, b"");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stereotyped: u64 = reference.iter().map(|p| p["score"].as_u64().unwrap()).sum();
    assert_eq!(report["report"]["overall"]["pairs"], 4);
    assert_eq!(report["report"]["overall"]["stereotyped"], stereotyped);

    // The pairs file: a header and one row per pair, the unrounded scores of the reference within 1e-4.
    let written = std::fs::read_to_string(&scores).unwrap();
    let mut rows = csv_rows(&written);
    assert_eq!(rows.remove(0)[..5], ["index", "sent_more", "sent_less", "sent_more_score", "sent_less_score"]);
    assert_eq!(rows.len(), 4);
    for (row, p) in rows.iter().zip(&reference) {
        assert_eq!(row[1], p["sent_more"].as_str().unwrap());
        for (k, col) in [("sent_more_score", 3), ("sent_less_score", 4)] {
            let ours: f64 = row[col].parse().unwrap();
            assert!((ours - p[k].as_f64().unwrap()).abs() < 1e-4, "{k}: {ours} vs {}", p[k]);
        }
    }

    // An existing --pairs file is kept: the command stops before scoring, naming it.
    let again = albert(&args, b"");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("scores.csv"), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(std::fs::read_to_string(&scores).unwrap(), written);

    // The table names every group.
    let table = albert(&["bias", "crows-pairs", "--data", data.to_str().unwrap(), "--resamples", "100"], b"");
    let text = String::from_utf8_lossy(&table.stdout);
    for name in ["overall", "stereo", "antistereo", "95% interval", reference[0]["bias_type"].as_str().unwrap()] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
}

#[test]
fn a_malformed_csv_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, _) = sample(2);
    let data = dir.path().join("bad.csv");
    std::fs::write(&data, csv + "2,\"A, b\",\"C, d\",stereotype,age,[],a0,[]\n").unwrap();
    let out = albert(&["bias", "crows-pairs", "--data", data.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 4") && err.contains("stereotype") && err.contains("bad.csv"), "{err}");
}

/// Rows of a CSV without embedded newlines, quotes undone.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut fields = vec![String::new()];
            let (mut quoted, mut chars) = (false, line.chars().peekable());
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        chars.next();
                        fields.last_mut().unwrap().push('"');
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(String::new()),
                    (c, _) => fields.last_mut().unwrap().push(c),
                }
            }
            fields
        })
        .collect()
}
