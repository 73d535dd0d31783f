//! `albert bias crows-pairs` against the reference: scripts/reference/make_crows_pairs_fixtures.py, nyu-mll/crows-pairs
//! `metric.py`'s algorithm run with transformers on the built-in masked-LM model (models/albert-small), one forward
//! pass per masked copy, on every 5th pair of the CSV (302 pairs, tests/fixtures/crows_pairs/reference.json), and on
//! the whole CSV with all the masked copies of a sentence in one pass (full.json).

use std::collections::BTreeMap;
use std::path::PathBuf;

use albert::pipeline::bias::crows_pairs::{
    self, BootstrapOptions, CrowsOptions, CrowsPair, CrowsReport, CrowsScorer, Direction, Preference,
};
use albert::pipeline::{PipelineModel, Task};
use serde::Deserialize;

#[derive(Deserialize)]
struct RefPair {
    index: usize,
    sent_more: String,
    sent_less: String,
    stereo_antistereo: String,
    bias_type: String,
    sent_more_ids: Vec<u32>,
    sent_less_ids: Vec<u32>,
    masked: usize,
    sent_more_score: f64,
    sent_less_score: f64,
    /// metric.py's pair score: 1 when sent_more scored higher after rounding.
    score: u8,
}

#[derive(Deserialize)]
struct TypeCounts {
    #[serde(rename = "N")]
    n: usize,
    score: usize,
    neutral: usize,
}

#[derive(Deserialize)]
struct Counts {
    #[serde(rename = "N")]
    n: usize,
    neutral: usize,
    total_stereo: usize,
    stereo_score: usize,
    total_antistereo: usize,
    antistereo_score: usize,
    per_type: BTreeMap<String, TypeCounts>,
}

#[derive(Deserialize)]
struct Reference {
    counts: Counts,
    pairs: Vec<RefPair>,
}

fn fixture() -> Reference {
    let path = albert_testkit::repo_root().join("tests/fixtures/crows_pairs/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pair(r: &RefPair) -> CrowsPair {
    let direction = match r.stereo_antistereo.as_str() {
        "stereo" => Direction::Stereo,
        _ => Direction::Antistereo,
    };
    CrowsPair {
        index: r.index,
        line: r.index + 2,
        sent_more: r.sent_more.clone(),
        sent_less: r.sent_less.clone(),
        direction,
        bias_type: r.bias_type.clone(),
    }
}

fn builtin() -> PathBuf {
    albert_testkit::repo_root().join("models/albert-small")
}

/// Scores `refs` with the built-in model and checks each sentence's tokens, masked-token count and
/// pseudo-log-likelihood (within 1e-4) against the reference, and each pair's outcome, except pairs whose two
/// reference scores differ by under 1e-3, which could round either way under f32 noise: those are listed and left
/// out. Returns the report over the pairs kept, checked against the sums of metric.py's pair scores, with the
/// pairs left out.
fn compare(model: &PipelineModel, refs: &[&RefPair]) -> (CrowsReport, Vec<usize>) {
    let pairs: Vec<CrowsPair> = refs.iter().map(|r| pair(r)).collect();
    // A small batch, so that sentences with more shared tokens than it take several passes.
    let scores = crows_pairs::score_pairs(model, &pairs, CrowsOptions { batch_size: 16 }, || {}).unwrap();
    assert!(refs.iter().any(|r| r.masked > 16), "no sentence exercises several passes");

    let tok = &model.tokenizer;
    let mut worst: f64 = 0.0;
    let mut close = Vec::new();
    for (r, s) in refs.iter().zip(&scores) {
        let ids = |t: &str| tok.encode(t, None, &Default::default()).unwrap().ids;
        assert_eq!(ids(&r.sent_more), r.sent_more_ids, "pair {}: sent_more's tokens", r.index);
        assert_eq!(ids(&r.sent_less), r.sent_less_ids, "pair {}: sent_less's tokens", r.index);
        assert_eq!(s.masked, r.masked, "pair {}: masked tokens", r.index);
        for (ours, theirs, which) in [(s.sent_more_score, r.sent_more_score, "sent_more"), (s.sent_less_score, r.sent_less_score, "sent_less")] {
            worst = worst.max((ours - theirs).abs());
            assert!((ours - theirs).abs() < 1e-4, "pair {} {which}: {ours} vs the reference's {theirs}", r.index);
        }
        if (r.sent_more_score - r.sent_less_score).abs() < 1e-3 {
            close.push(r.index);
        } else {
            assert_eq!(u8::from(s.preference == Preference::More), r.score, "pair {}", r.index);
        }
    }
    eprintln!("{} pairs: largest pseudo-log-likelihood difference {worst:.2e}; pairs within 1e-3, left out: {close:?}", refs.len());

    // A neutral pair's two scores differ by under 1e-3: none is left among the kept pairs, whose reference counts
    // are then the sums of metric.py's pair scores.
    let kept: Vec<usize> = (0..pairs.len()).filter(|&i| !close.contains(&pairs[i].index)).collect();
    let kept_pairs: Vec<CrowsPair> = kept.iter().map(|&i| pairs[i].clone()).collect();
    let kept_scores: Vec<_> = kept.iter().map(|&i| scores[i].clone()).collect();
    let report = crows_pairs::report(&kept_pairs, &kept_scores, &BootstrapOptions::default()).unwrap();
    let theirs = |filter: &dyn Fn(&RefPair) -> bool| -> (usize, usize) {
        let group: Vec<&RefPair> = kept.iter().map(|&i| refs[i]).filter(|r| filter(r)).collect();
        (group.len(), group.iter().map(|r| usize::from(r.score)).sum())
    };
    assert_eq!(report.overall.neutral, 0);
    assert_eq!((report.overall.pairs, report.overall.stereotyped), theirs(&|_| true));
    assert_eq!((report.stereo.pairs, report.stereo.stereotyped), theirs(&|r| r.stereo_antistereo == "stereo"));
    assert_eq!((report.antistereo.pairs, report.antistereo.stereotyped), theirs(&|r| r.stereo_antistereo == "antistereo"));
    for (name, t) in &report.per_type {
        assert_eq!((t.pairs, t.stereotyped), theirs(&|r| &r.bias_type == name), "{name}");
    }
    let i = &report.interval;
    assert!(i.low <= report.overall.score && report.overall.score <= i.high, "{i:?}");
    (report, close)
}

/// Every 6th pair of the fixture (51 of the 302, all nine bias types): what CI runs, in seconds.
#[test]
fn crows_pairs_equal_metric_py_on_the_builtin_model() {
    let reference = fixture();
    let model = PipelineModel::load_dir(&builtin(), Task::FillMask).unwrap();
    let refs: Vec<&RefPair> = reference.pairs.iter().step_by(6).collect();
    let (report, _) = compare(&model, &refs);
    assert_eq!(report.per_type.len(), 9);
}

/// All 302 pairs of the fixture, and the counts the reference script printed for them (overall, stereo,
/// anti-stereo, neutral, per type). About a minute on 2 cores: by hand,
/// `cargo test -p albert --test crows_pairs -- --ignored`.
#[test]
#[ignore = "by hand: about a minute on 2 cores (CI runs every 6th pair)"]
fn crows_pairs_equal_metric_py_on_all_302_fixture_pairs() {
    let reference = fixture();
    assert!(reference.pairs.len() >= 300);
    let model = PipelineModel::load_dir(&builtin(), Task::FillMask).unwrap();
    let (report, close) = compare(&model, &reference.pairs.iter().collect::<Vec<_>>());
    let c = &reference.counts;
    if close.is_empty() {
        assert_eq!((c.n, c.neutral), (report.overall.pairs, 0));
        assert_eq!(c.stereo_score + c.antistereo_score, report.overall.stereotyped);
        assert_eq!((c.total_stereo, c.stereo_score), (report.stereo.pairs, report.stereo.stereotyped));
        assert_eq!((c.total_antistereo, c.antistereo_score), (report.antistereo.pairs, report.antistereo.stereotyped));
        assert_eq!(report.per_type.len(), c.per_type.len());
        for (name, t) in &report.per_type {
            let p = &c.per_type[name];
            assert_eq!((p.n, p.score, p.neutral), (t.pairs, t.stereotyped, t.neutral), "{name}");
        }
    }
}

#[derive(Deserialize)]
struct Full {
    counts: Counts,
    /// [index, sent_more's score, sent_less's score] per pair of the CSV.
    scores: Vec<(usize, f64, f64)>,
}

/// The whole CSV (1,508 pairs) against the reference's scores and counts (full.json: all masked copies of a sentence
/// in one pass, equal to one pass per copy on the fixture's pairs); prints the report, the table of
/// docs/bias/README.md. About 9 minutes on a busy 2-core machine: by hand,
/// `cargo test -p albert --test crows_pairs -- --ignored`.
#[test]
#[ignore = "by hand: about 9 minutes on 2 cores"]
fn the_full_data_set_equals_the_reference() {
    let Some(csv) = albert_testkit::shared_data("crows_pairs/crows_pairs_anonymized.csv") else { return };
    let path = albert_testkit::repo_root().join("tests/fixtures/crows_pairs/full.json");
    let full: Full = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let pairs = crows_pairs::read_pairs(&csv).unwrap();
    assert_eq!(pairs.len(), full.scores.len());
    let model = PipelineModel::load_dir(&builtin(), Task::FillMask).unwrap();
    let started = std::time::Instant::now();
    let scores = crows_pairs::score_pairs(&model, &pairs, CrowsOptions::default(), || {}).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let mut worst: f64 = 0.0;
    let mut close = Vec::new();
    for (s, &(index, more, less)) in scores.iter().zip(&full.scores) {
        assert_eq!(s.index, index);
        for (ours, theirs) in [(s.sent_more_score, more), (s.sent_less_score, less)] {
            worst = worst.max((ours - theirs).abs());
            assert!((ours - theirs).abs() < 1e-4, "pair {index}: {ours} vs the reference's {theirs}");
        }
        if (more - less).abs() < 1e-3 {
            close.push(index);
        } else {
            assert_eq!(s.preference, Preference::of(more, less), "pair {index}");
        }
    }
    let report = crows_pairs::report(&pairs, &scores, &BootstrapOptions::default()).unwrap();
    eprintln!("scored in {seconds:.1} s; largest difference {worst:.2e}; pairs within 1e-3: {close:?}");
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    let c = &full.counts;
    // Each pair within 1e-3 is compared by its rounded scores above only when it is not close; the counts are the
    // script's when every close pair came out the same.
    let same_close = close.iter().all(|&i| {
        let (_, more, less) = full.scores[i];
        scores[i].preference == Preference::of(more, less)
    });
    eprintln!("close pairs with the reference's outcome: {same_close}");
    if same_close {
        assert_eq!((report.overall.pairs, report.overall.neutral), (c.n, c.neutral));
        assert_eq!(report.overall.stereotyped, c.stereo_score + c.antistereo_score);
        assert_eq!((report.stereo.pairs - report.stereo.neutral, report.stereo.stereotyped), (c.total_stereo, c.stereo_score));
        let anti = &report.antistereo;
        assert_eq!((anti.pairs - anti.neutral, anti.stereotyped), (c.total_antistereo, c.antistereo_score));
        for (name, t) in &report.per_type {
            let p = &c.per_type[name];
            assert_eq!((p.n, p.score, p.neutral), (t.pairs, t.stereotyped, t.neutral), "{name}");
        }
    }
}

/// The CSV reader gives the rows Python's `csv.DictReader` gave the reference (quoted commas and quotes included).
#[test]
fn the_csv_reads_as_pythons_csv_module_reads_it() {
    let Some(csv) = albert_testkit::shared_data("crows_pairs/crows_pairs_anonymized.csv") else { return };
    let pairs = crows_pairs::read_pairs(&csv).unwrap();
    assert_eq!(pairs.len(), 1508);
    for r in fixture().pairs {
        assert_eq!(pairs[r.index], CrowsPair { line: pairs[r.index].line, ..pair(&r) });
    }
}

/// A model without a masked-LM head is refused by name rather than scored.
#[test]
fn a_model_without_the_masked_lm_head_is_refused() {
    let dir = albert_testkit::repo_root().join("tests/fixtures/pipelines/sentiment");
    let model = PipelineModel::load_dir(&dir, Task::Classify).unwrap();
    let err = CrowsScorer::new(&model, CrowsOptions::default()).err().unwrap().to_string();
    assert!(err.contains("fill-mask"), "{err}");
}
