//! `albert::pipeline::explain` against Captum on the same checkpoints (tests/fixtures/explain/expected.json, made by
//! scripts/reference/make_explain_fixtures.py): Integrated Gradients (LayerIntegratedGradients on
//! `albert.embeddings`), its convergence delta and gradient x input (LayerGradientXActivation) within 1e-4 of the
//! largest attribution; attention rollout against a numpy rendering over transformers' attention maps.

use std::path::{Path, PathBuf};

use albert::pipeline::explain::{self, ExplainOptions, Method, Request, Target};
use albert::pipeline::{PipelineModel, Task};
use albert::pretrained::{LoadOptions, Pretrained};
use albert::tokenizer::Encoding;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn expected() -> Value {
    let path = root().join("tests/fixtures/explain/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn target(v: &Value) -> Target {
    let n = |k: &str| v[k].as_u64().unwrap() as usize;
    match v["kind"].as_str().unwrap() {
        "label" => Target::Label { label: n("label") },
        "start" => Target::Start { position: n("position") },
        "end" => Target::End { position: n("position") },
        "token" => Target::Token { position: n("position"), label: n("label") },
        other => panic!("unknown target kind {other}"),
    }
}

/// The case's input as an encoding (the fixture checkpoints have no tokenizer: ids are given).
fn encoding(case: &Value) -> Encoding {
    let ids = u32s(&case["ids"]);
    let n = ids.len();
    Encoding {
        type_ids: u32s(&case["type_ids"]),
        special_tokens_mask: u32s(&case["special"]),
        attention_mask: vec![1; n],
        tokens: vec![String::new(); n],
        offsets: vec![(0, 0); n],
        ids,
        ..Encoding::default()
    }
}

/// Every score within `1e-4 * max |reference|` of the reference.
fn assert_close(got: &[f32], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let diff = (*g as f64 - w).abs();
        assert!(diff <= 1e-4 * scale, "{what}[{i}]: {g} vs Captum {w} (diff {diff:.2e}, largest {scale:.3e})\n{got:?}\n{want:?}");
    }
}

fn run(model: &albert::model::AlbertForAny, case: &Value, method: Method) -> explain::Attribution {
    let opts = ExplainOptions {
        steps: case["steps"].as_u64().unwrap() as usize,
        internal_batch_size: case["internal_batch_size"].as_u64().map_or(usize::MAX, |b| b as usize),
        max_length: None,
    };
    let mut out = explain::attribute(model, &encoding(case), &[target(&case["target"])], method, 0, &opts, &mut |_| {}).unwrap();
    out.remove(0)
}

/// Integrated Gradients, its delta and gradient x input on every case equal Captum's within 1e-4 relative to the
/// largest attribution; the attributed output equals transformers' within 1e-5.
#[test]
fn attributions_match_captum() {
    let expected = expected();
    for case in expected["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let dir = root().join(case["model"].as_str().unwrap());
        let model = Pretrained::load(&dir, &LoadOptions::default()).unwrap();
        let ig = run(&model.model, case, Method::IntegratedGradients);
        let reference = floats(&case["ig"]);
        assert_close(&ig.scores, &reference, &format!("{name} ig"));
        let scale = reference.iter().fold(0f64, |m, v| m.max(v.abs()));
        let (delta, want) = (ig.delta.unwrap() as f64, case["delta"].as_f64().unwrap());
        assert!((delta - want).abs() <= 1e-4 * scale, "{name}: delta {delta:e} vs Captum {want:e}");
        let output = case["output"].as_f64().unwrap();
        assert!((ig.output as f64 - output).abs() <= 1e-5, "{name}: output {} vs {output}", ig.output);
        // Special tokens are the baseline's too: nothing to attribute.
        for (s, &special) in ig.scores.iter().zip(&u32s(&case["special"])) {
            assert!(special == 0 || *s == 0.0, "{name}: a special token got {s}");
        }
        let gxi = run(&model.model, case, Method::GradXInput);
        assert_close(&gxi.scores, &floats(&case["grad_x_input"]), &format!("{name} grad-x-input"));
    }
}

/// Rollout over the layers as run equals the numpy rendering over transformers' attention maps, every entry within
/// 1e-5; a target's scores are the row of its position.
#[test]
fn attention_rollout_matches_the_python_rendering() {
    let expected = expected();
    for case in expected["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let model = Pretrained::load(root().join(case["model"].as_str().unwrap()), &LoadOptions::default()).unwrap();
        let maps = explain::attention(&model.model, &encoding(case)).unwrap();
        let rolled = explain::rollout(&maps);
        let want: Vec<Vec<f64>> = case["rollout"].as_array().unwrap().iter().map(floats).collect();
        for (i, (row, w)) in rolled.iter().zip(&want).enumerate() {
            for (j, (v, w)) in row.iter().zip(w).enumerate() {
                assert!((v - w).abs() <= 1e-5, "{name}: rollout[{i}][{j}] {v} vs {w}");
            }
        }
        let t = target(&case["target"]);
        let row = match t {
            Target::Label { .. } => 0,
            Target::Start { position } | Target::End { position } | Target::Token { position, .. } => position,
        };
        let scores = run(&model.model, case, Method::AttentionRollout).scores;
        let want_row: Vec<f32> = want[row].iter().map(|&v| v as f32).collect();
        assert_close(&scores, &want_row.iter().map(|&v| v as f64).collect::<Vec<_>>(), &format!("{name} rollout row"));
    }
}

/// The rule is Captum's: numpy's leggauss scaled to [0, 1], to 1e-12.
#[test]
fn gauss_legendre_points_are_captums() {
    let expected = expected();
    for (n, rule) in expected["gauss_legendre"].as_object().unwrap() {
        let (alphas, steps) = explain::gauss_legendre(n.parse().unwrap()).unwrap();
        for (got, want) in alphas.iter().zip(floats(&rule["alphas"])).chain(steps.iter().zip(floats(&rule["step_sizes"]))) {
            assert!((got - want).abs() < 1e-12, "n = {n}: {got} vs numpy {want}");
        }
    }
}

/// End to end on the built-in SST-2 model: the text through our tokenizer gives Captum's ids, the predicted label
/// and its probability are transformers', and the scores are Captum's.
#[test]
fn the_sentiment_pipeline_explains_its_prediction_as_captum() {
    let expected = expected();
    let model = PipelineModel::load_dir(&root().join("models/albert-small-sst2"), Task::Classify).unwrap();
    for case in expected["cases"].as_array().unwrap().iter().filter(|c| !c["text"].is_null()) {
        let text = case["text"].as_str().unwrap();
        let request = Request::Classify { text, pair: None, label: None };
        let mut passes = 0;
        let out = explain::explain(&model, &request, Method::IntegratedGradients, &ExplainOptions::default(), &mut |n| passes += n).unwrap();
        assert_eq!(passes, Method::IntegratedGradients.work(&ExplainOptions::default()));
        let tokens: Vec<&str> = case["tokens"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(out.tokens, tokens);
        let probs = floats(&case["probabilities"]);
        let label = target(&case["target"]);
        let Target::Label { label: index } = label else { panic!("sst2 cases explain a label") };
        let prediction = out.prediction.as_ref().unwrap();
        assert_eq!(prediction.label, ["negative", "positive"][index]);
        assert!((prediction.probability as f64 - probs[index]).abs() < 1e-5);
        assert_eq!(out.targets[0].attribution.target, label);
        assert_close(&out.targets[0].attribution.scores, &floats(&case["ig"]), "sst2 pipeline ig");
        // Words add their pieces' scores and read as the text writes them.
        let words = out.words(&[text]);
        assert_eq!(words.words.first().map(String::as_str), Some("[CLS]"));
        assert_eq!(words.words[1..words.words.len() - 1].join(" "), text);
        let total: f32 = words.scores[0].iter().sum();
        let pieces: f32 = out.targets[0].attribution.scores.iter().sum();
        assert!((total - pieces).abs() < 1e-5);
    }
}

/// A label the model lacks, a head explain cannot read and a prepared model are refused by name.
#[test]
fn bad_requests_are_refused_by_name() {
    let model = PipelineModel::load_dir(&root().join("models/albert-small-sst2"), Task::Classify).unwrap();
    let request = Request::Classify { text: "fine", pair: None, label: Some("neutral") };
    let err = explain::explain(&model, &request, Method::IntegratedGradients, &ExplainOptions::default(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("negative, positive"), "{err}");
    let empty = Request::Classify { text: " ", pair: None, label: None };
    assert!(explain::explain(&model, &empty, Method::GradXInput, &ExplainOptions::default(), &mut |_| {}).is_err());
    let case = &expected()["cases"][0];
    let prepared = model.trainable().unwrap().detached().unwrap();
    let err = explain::attribute(&prepared, &encoding(case), &[Target::Label { label: 0 }], Method::GradXInput, 0, &ExplainOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("prepared for inference"), "{err}");
    let err = explain::attribute(&model.trainable().unwrap().model, &encoding(case), &[Target::Start { position: 1 }], Method::GradXInput, 0, &ExplainOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

/// QA end to end on the pipeline fixture: the explained start and end are the positions of transformers' answer
/// (tests/fixtures/pipelines/expected.json), in a window of the question and the context, with a probability each.
#[test]
fn a_question_explains_the_start_and_end_of_transformers_answer() {
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/pipelines/expected.json")).unwrap()).unwrap();
    let case = &cases["qa"][0];
    let (question, context) = (case["question"].as_str().unwrap(), case["context"].as_str().unwrap());
    let model = PipelineModel::load_dir(&root().join("tests/fixtures/pipelines/qa"), Task::QuestionAnswering).unwrap();
    let out = explain::explain(&model, &Request::Answer { question, context }, Method::GradXInput, &ExplainOptions::default(), &mut |_| {}).unwrap();
    let answer = case["answer"].as_str().unwrap();
    assert_eq!(out.prediction.as_ref().unwrap().label, answer);
    let [start, end] = &out.targets[..] else { panic!("two targets, start and end") };
    let (Target::Start { position: s }, Target::End { position: e }) = (start.attribution.target, end.attribution.target) else {
        panic!("start then end: {:?}", out.targets)
    };
    assert_eq!(out.segments[s], 1, "the start lies in the context");
    assert_eq!((out.offsets[s].0, out.offsets[e].1), (case["start"].as_u64().unwrap() as usize, case["end"].as_u64().unwrap() as usize));
    assert_eq!(start.label, format!("start of {answer:?}"));
    assert!(start.probability > 0.0 && end.probability > 0.0);
    let words = out.words(&[question, context]);
    assert!(words.words.iter().any(|w| w == "live?"), "{:?}", words.words);
}

/// Token classification end to end on the NER pipeline fixture: one target per entity transformers finds with
/// `aggregation_strategy="first"` (tests/fixtures/pipelines/ner_aggregation.json), at the entity's first token, in
/// text order; `label` keeps one entity type.
#[test]
fn entities_are_explained_one_by_one_as_transformers_finds_them() {
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("tests/fixtures/pipelines/ner_aggregation.json")).unwrap()).unwrap();
    let case = &cases["first"][0];
    let text = case["text"].as_str().unwrap();
    let model = PipelineModel::load_dir(&root().join("tests/fixtures/pipelines/ner"), Task::Ner).unwrap();
    let run = |label| explain::explain(&model, &Request::Entities { text, label }, Method::GradXInput, &ExplainOptions::default(), &mut |_| {});
    let out = run(None).unwrap();
    let entities = case["entities"].as_array().unwrap();
    assert_eq!(out.targets.len(), entities.len());
    for (t, e) in out.targets.iter().zip(entities) {
        let Target::Token { position, .. } = t.attribution.target else { panic!("token targets") };
        assert_eq!(out.offsets[position].0 as u64, e["start"].as_u64().unwrap(), "{}", t.label);
        assert!(t.label.starts_with(&format!("B-{}", e["entity_group"].as_str().unwrap())) || t.label.starts_with("I-"), "{}", t.label);
    }
    let misc = run(Some("MISC")).unwrap();
    assert_eq!(misc.targets.len(), entities.iter().filter(|e| e["entity_group"] == "MISC").count());
    assert!(run(Some("LOC")).unwrap_err().to_string().contains("no LOC entity"));
}
