//! The task pipelines against transformers' own pipelines on the same checkpoints
//! (tests/fixtures/pipelines, made by scripts/reference/make_pipeline_fixtures.py): labels, tokens, words and
//! code-point spans exactly, scores within 1e-5. Inputs of different lengths share batches, so padding is exercised
//! against references computed one text at a time.

use std::path::{Path, PathBuf};

use albert::pipeline::{classify, embed, fill_mask, ner, qa, PipelineModel, PipelineOptions, Task};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap()).unwrap()
}

fn load(name: &str, task: Task) -> PipelineModel {
    PipelineModel::load_dir(&fixtures().join(name), task).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn texts<'a>(cases: &'a Value, key: &str) -> Vec<&'a str> {
    cases.as_array().unwrap().iter().map(|c| str_of(&c[key])).collect()
}

fn close(got: f32, want: &Value, what: &str) {
    let want = want.as_f64().unwrap();
    let diff = (got as f64 - want).abs();
    assert!(diff <= 1e-5, "{what}: {got} vs transformers {want} (diff {diff})");
}

const BATCHED: PipelineOptions = PipelineOptions { max_length: None, batch_size: 3 };

#[test]
fn fill_mask_matches_transformers() {
    let exp = expected();
    let cases = &exp["fill_mask"];
    let model = load("pretraining", Task::FillMask);
    let refs = texts(cases, "text");
    let got = fill_mask::fill_mask(&model, &refs, 5, &BATCHED).unwrap();
    assert_eq!(got.len(), refs.len());
    for (case, g) in cases.as_array().unwrap().iter().zip(&got) {
        let masks = case["masks"].as_array().unwrap();
        assert_eq!(g.masks.len(), masks.len(), "{}", case["text"]);
        for (want, have) in masks.iter().zip(&g.masks) {
            for (w, h) in want.as_array().unwrap().iter().zip(have) {
                assert_eq!(h.token as u64, w["token"].as_u64().unwrap(), "{}", case["text"]);
                assert_eq!(h.token_str, str_of(&w["token_str"]));
                assert_eq!(h.sequence, str_of(&w["sequence"]));
                close(h.score, &w["score"], "fill-mask score");
            }
        }
        assert!(!g.truncated);
    }
}

#[test]
fn classify_matches_transformers_softmax_sigmoid_and_regression() {
    let exp = expected();
    for name in ["sentiment", "multilabel", "regression"] {
        let cases = &exp["classify"][name];
        let model = load(name, Task::Classify);
        let refs = texts(cases, "text");
        let got = classify::classify(&model, &refs, None, &BATCHED).unwrap();
        assert_eq!(got.len(), refs.len());
        for (case, g) in cases.as_array().unwrap().iter().zip(&got) {
            let want = case["labels"].as_array().unwrap();
            assert_eq!(g.labels.len(), want.len());
            for (w, h) in want.iter().zip(&g.labels) {
                assert_eq!(h.label, str_of(&w["label"]), "{name}: {}", case["text"]);
                close(h.score, &w["score"], name);
            }
        }
    }
    // top-k keeps the best labels.
    let model = load("sentiment", Task::Classify);
    let top = classify::classify(&model, &["I loved this movie."], Some(1), &BATCHED).unwrap();
    assert_eq!(top[0].labels.len(), 1);
    assert_eq!(top[0].labels[0].label, str_of(&exp["classify"]["sentiment"][0]["labels"][0]["label"]));
}

#[test]
fn over_long_input_is_truncated_and_flagged() {
    let exp = expected();
    let case = &exp["classify_truncated"][0];
    let model = load("sentiment", Task::Classify);
    let max = case["max_length"].as_u64().unwrap() as usize;
    let opts = PipelineOptions { max_length: Some(max), batch_size: 2 };
    let got = classify::classify(&model, &[str_of(&case["text"]), "Short."], None, &opts).unwrap();
    assert!(got[0].truncated && !got[1].truncated);
    for (w, h) in case["labels"].as_array().unwrap().iter().zip(&got[0].labels) {
        assert_eq!(h.label, str_of(&w["label"]));
        close(h.score, &w["score"], "truncated classify");
    }
}

/// The entities of `cases` (transformers' output for one aggregation) equal ours.
fn assert_ner_matches(cases: &Value, aggregation: ner::Aggregation) {
    let model = load("ner", Task::Ner);
    let refs = texts(cases, "text");
    let got = ner::ner(&model, &refs, aggregation, &BATCHED).unwrap();
    assert_eq!(got.len(), refs.len());
    for (case, g) in cases.as_array().unwrap().iter().zip(&got) {
        let want = case["entities"].as_array().unwrap();
        let have: Vec<(&str, &str, u64, u64)> =
            g.entities.iter().map(|e| (e.entity_group.as_str(), e.word.as_str(), e.start as u64, e.end as u64)).collect();
        let expect: Vec<(&str, &str, u64, u64)> = want
            .iter()
            .map(|w| (str_of(&w["entity_group"]), str_of(&w["word"]), w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap()))
            .collect();
        assert_eq!(have, expect, "{aggregation:?}: {}", case["text"]);
        for (w, h) in want.iter().zip(&g.entities) {
            close(h.score, &w["score"], "ner score");
        }
    }
}

#[test]
fn ner_matches_transformers_simple_aggregation() {
    assert_ner_matches(&expected()["ner"], ner::Aggregation::Simple);
}

/// Word-level aggregation (tests/fixtures/pipelines/ner_aggregation.json, from
/// scripts/reference/ner_aggregation_reference.py): words found by transformers' fallback for tokenizers without a
/// subword prefix, each taking its first piece's, mean or most confident label.
#[test]
fn ner_matches_transformers_word_aggregations() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("ner_aggregation.json")).unwrap()).unwrap();
    for (name, aggregation) in [("first", ner::Aggregation::First), ("average", ner::Aggregation::Average), ("max", ner::Aggregation::Max)] {
        assert_ner_matches(&reference[name], aggregation);
    }
}

#[test]
fn embeddings_and_similarity_match_transformers() {
    let exp = expected();
    let cases = &exp["embed"];
    let model = load("pretraining", Task::Embed);
    let refs = texts(cases, "text");
    for (pooling, key) in [(embed::Pooling::Mean, "mean"), (embed::Pooling::Pooler, "pooler")] {
        let got = embed::embed(&model, &refs, pooling, &BATCHED).unwrap();
        assert_eq!(got.len(), refs.len());
        for (case, g) in cases.as_array().unwrap().iter().zip(&got) {
            let want = case[key].as_array().unwrap();
            assert_eq!(g.vector.len(), want.len());
            for (h, w) in g.vector.iter().zip(want) {
                close(*h, w, key);
            }
        }
    }
    let refs: Vec<(&str, &str)> =
        exp["similarity"].as_array().unwrap().iter().map(|c| (str_of(&c["a"]), str_of(&c["b"]))).collect();
    let got = embed::similarity(&model, &refs, &BATCHED).unwrap();
    assert_eq!(got.len(), refs.len());
    for (case, g) in exp["similarity"].as_array().unwrap().iter().zip(&got) {
        close(g.cosine, &case["cosine"], "cosine");
    }
}

#[test]
fn qa_matches_transformers_over_windows() {
    let exp = expected();
    let model = load("qa", Task::QuestionAnswering);
    for case in exp["qa"].as_array().unwrap() {
        let opts = qa::QaOptions {
            max_length: case["max_length"].as_u64().unwrap() as usize,
            stride: case["stride"].as_u64().unwrap() as usize,
            ..qa::QaOptions::default()
        };
        let a = qa::answer(&model, str_of(&case["question"]), str_of(&case["context"]), &opts).unwrap();
        let what = format!("{} windows of {}", case["windows"], opts.max_length);
        assert_eq!(a.windows as u64, case["windows"].as_u64().unwrap(), "{what}");
        assert_eq!((a.answer.as_str(), a.start as u64, a.end as u64),
                   (str_of(&case["answer"]), case["start"].as_u64().unwrap(), case["end"].as_u64().unwrap()), "{what}");
        close(a.score, &case["score"], &what);
        let rel = (a.score as f64 / case["score"].as_f64().unwrap() - 1.0).abs();
        assert!(rel < 1e-3, "{what}: relative score difference {rel}");
    }
}

/// `top_k` answers and the empty answer (`handle_impossible_answer`) as transformers' question-answering pipeline
/// (v4.57's postprocess, reproduced in scripts/reference/make_qa_top_k_fixtures.py) gave them: per-window top-k,
/// answers of the same text from several windows summed (some cases merge 14 windows' "Lyon"), the empty answer
/// ranked among the spans.
#[test]
fn qa_top_k_and_impossible_answers_match_transformers() {
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("qa_top_k.json")).unwrap()).unwrap();
    let model = load("qa", Task::QuestionAnswering);
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    let mut empty_answers = 0;
    for case in cases {
        let number = |k: &str| case[k].as_u64().unwrap() as usize;
        let opts = qa::QaOptions {
            max_length: number("max_length"),
            stride: number("stride"),
            top_k: number("top_k"),
            handle_impossible_answer: case["handle_impossible_answer"].as_bool().unwrap(),
            ..qa::QaOptions::default()
        };
        let got = qa::answers_each(&model, &[str_of(&case["question"])], str_of(&case["context"]), &opts).unwrap().remove(0).unwrap();
        let want = case["answers"].as_array().unwrap();
        let what = format!("{} windows of {}, top_k {}, impossible {}", case["windows"], opts.max_length, opts.top_k, opts.handle_impossible_answer);
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!((g.answer.as_str(), g.start as u64, g.end as u64), (str_of(&w["answer"]), w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap()), "{what}");
            assert_eq!(g.windows, number("windows"), "{what}");
            let rel = (g.score as f64 / w["score"].as_f64().unwrap() - 1.0).abs();
            assert!(rel < 1e-3, "{what}: {} vs transformers {} ", g.score, w["score"]);
            empty_answers += usize::from(g.answer.is_empty());
        }
    }
    assert!(empty_answers > 0, "some case ranks the empty answer");
    let err = error_of(qa::answers_each(&model, &["Who?"], "Anna.", &qa::QaOptions { top_k: 0, ..qa::QaOptions::default() }));
    assert!(err.contains("top-k"), "{err}");
}

fn error_of<T>(r: albert::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_and_wrong_checkpoints_are_clear_errors() {
    let mlm = load("pretraining", Task::FillMask);
    let err = error_of(fill_mask::fill_mask(&mlm, &["no mask here"], 5, &BATCHED));
    assert!(err.contains("[MASK] is missing"), "{err}");
    let err = error_of(fill_mask::fill_mask(&mlm, &["a b c d e f g h i j k [MASK]"], 5, &PipelineOptions { max_length: Some(6), batch_size: 1 }));
    assert!(err.contains("cut off by truncation"), "{err}");
    let err = error_of(classify::classify(&load("sentiment", Task::Classify), &["fine", "  "], None, &BATCHED));
    assert!(err.contains("input 2 is empty"), "{err}");
    let err = error_of(classify::classify(&load("sentiment", Task::Classify), &["fine"], None, &PipelineOptions { max_length: Some(513), batch_size: 1 }));
    assert!(err.contains("max_position_embeddings"), "{err}");
    // The config names another class.
    let err = error_of(PipelineModel::load_dir(&fixtures().join("ner"), Task::Classify));
    assert!(err.contains("AlbertForTokenClassification") && err.contains("AlbertForSequenceClassification"), "{err}");
    let err = error_of(PipelineModel::load_dir(&fixtures().join("sentiment"), Task::FillMask));
    assert!(err.contains("AlbertForMaskedLM or AlbertForPreTraining"), "{err}");
    // A config without `architectures`: the missing head's tensors are named, nothing is initialized at random.
    let tmp = tempfile::tempdir().unwrap();
    for f in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(fixtures().join("pretraining").join(f), tmp.path().join(f)).unwrap();
    }
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join("pretraining/config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("architectures");
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let err = error_of(PipelineModel::load_dir(tmp.path(), Task::QuestionAnswering));
    assert!(err.contains("qa_outputs.weight") && err.contains("initialized at random"), "{err}");
    // No pooler in a token-classification checkpoint.
    let ner_model = load("ner", Task::Embed);
    let err = error_of(embed::embed(&ner_model, &["text"], embed::Pooling::Pooler, &BATCHED));
    assert!(err.contains("no pooler"), "{err}");
    assert!(embed::embed(&ner_model, &["text"], embed::Pooling::Mean, &BATCHED).is_ok());
    let qa_model = load("qa", Task::QuestionAnswering);
    let err = error_of(qa::answer(&qa_model, " ", "context", &qa::QaOptions::default()));
    assert!(err.contains("question is empty"), "{err}");
    // A model loaded for one task is refused by another.
    let err = error_of(ner::ner(&qa_model, &["text"], ner::Aggregation::First, &BATCHED));
    assert!(err.contains("loaded for `qa`"), "{err}");
}

/// One bad input of a call loses nothing else: the `_each` forms answer every good input (as the input alone would
/// be answered) and give the bad ones their own error, in input order.
#[test]
fn each_input_gets_its_answer_or_its_own_error() {
    let sentiment = load("sentiment", Task::Classify);
    let got = classify::classify_each(&sentiment, &["I loved this movie.", "  ", "Short."], None, &BATCHED).unwrap();
    assert!(matches!(got[1], Err(albert::pipeline::InputError::Empty)), "{:?}", got[1]);
    for (i, text) in [(0, "I loved this movie."), (2, "Short.")] {
        let alone = classify::classify(&sentiment, &[text], None, &BATCHED).unwrap();
        let each = got[i].as_ref().unwrap();
        assert_eq!(each.labels.len(), alone[0].labels.len());
        for (a, b) in each.labels.iter().zip(&alone[0].labels) {
            assert_eq!(a.label, b.label);
            assert!((a.score - b.score).abs() <= 1e-5);
        }
    }
    let mlm = load("pretraining", Task::FillMask);
    let got = fill_mask::fill_mask_each(&mlm, &["The [MASK] was great.", "no mask here", ""], 2, &BATCHED).unwrap();
    assert_eq!(got[0].as_ref().unwrap().masks[0].len(), 2);
    assert_eq!(got[1].as_ref().unwrap_err().to_string(), "[MASK] is missing");
    assert_eq!(got[2].as_ref().unwrap_err().to_string(), "the text is empty");
    let pre = load("pretraining", Task::Embed);
    let got = embed::similarity_each(&pre, &[("a cat", "a dog"), ("a cat", " "), ("", "a dog")], &BATCHED).unwrap();
    assert!(got[0].is_ok() && got[1].is_err() && got[2].is_err());
    let got = embed::embed_each(&pre, &["", "a cat"], embed::Pooling::Mean, &BATCHED).unwrap();
    assert_eq!(got[1].as_ref().unwrap().vector.len(), 32);
    let tagger = load("ner", Task::Ner);
    let got = ner::ner_each(&tagger, &["\t", "John Smith works for Google."], ner::Aggregation::First, &BATCHED).unwrap();
    assert!(got[0].is_err() && got[1].is_ok());
    let reader = load("qa", Task::QuestionAnswering);
    let got = qa::answer_each(&reader, &["Where does Zoë live?", " "], "Zoë lives in São Paulo.", &qa::QaOptions::default()).unwrap();
    assert!(got[0].is_ok());
    assert_eq!(got[1].as_ref().unwrap_err().to_string(), "the question is empty");
}

/// `top_k` 0 is refused by classify as by fill-mask; a `top_k` beyond the vocabulary gives every token (30000 in
/// the fixture's config.json) instead of allocating room for `top_k` candidates (an abort before).
#[test]
fn top_k_zero_is_refused_and_a_huge_top_k_is_clamped_to_the_vocabulary() {
    let sentiment = load("sentiment", Task::Classify);
    let err = error_of(classify::classify(&sentiment, &["fine"], Some(0), &BATCHED));
    assert!(err.contains("top-k must be at least 1"), "{err}");
    let mlm = load("pretraining", Task::FillMask);
    let got = fill_mask::fill_mask(&mlm, &["The [MASK] was great."], usize::MAX / 2, &BATCHED).unwrap();
    assert_eq!(got[0].masks[0].len(), 30000);
}

/// Sets the rows `rows` of the model's `name` parameter to NaN (a model in memory, as a corrupt checkpoint that the
/// load-time check would refuse gives it).
fn poison(model: &mut albert::Pretrained, name: &str, rows: std::ops::Range<usize>) {
    let data = model.varmap.data().lock().unwrap();
    let var = data.get(name).unwrap_or_else(|| panic!("no parameter {name}"));
    let t = var.as_tensor();
    let mut values: Vec<Vec<f32>> = t.to_dtype(candle_core::DType::F32).unwrap().to_vec2().unwrap();
    for row in &mut values[rows] {
        row.fill(f32::NAN);
    }
    let poisoned = candle_core::Tensor::new(values, t.device()).unwrap().to_dtype(t.dtype()).unwrap();
    var.set(&poisoned).unwrap();
}

/// NaN weights give NaN outputs: an error per input naming the count of non-finite values, never NaN scores.
/// Hand-derived counts: one NaN row of the 3x32 classifier weight makes one of the 3 logits NaN; a NaN word
/// embedding table makes all 32 values (hidden_size) of a mean-pooled vector NaN.
#[test]
fn non_finite_outputs_are_errors_naming_the_count() {
    let dir = fixtures().join("sentiment");
    let tokenizer = albert::AlbertTokenizer::from_path(&dir).unwrap();
    let mut model = albert::Pretrained::load(&dir, &albert::LoadOptions::default()).unwrap();
    poison(&mut model, "classifier.weight", 0..1);
    let pipeline = PipelineModel::new(model, tokenizer.clone(), Task::Classify).unwrap();
    let got = classify::classify_each(&pipeline, &["I loved this movie.", "", "Short."], None, &BATCHED).unwrap();
    for i in [0, 2] {
        assert!(
            matches!(got[i], Err(albert::pipeline::InputError::NonFinite { count: 1, total: 3 })),
            "{:?}",
            got[i]
        );
    }
    let err = error_of(classify::classify(&pipeline, &["I loved this movie."], None, &BATCHED));
    assert!(err.contains("input 1") && err.contains("1 non-finite value(s)"), "{err}");

    let mut model = albert::Pretrained::load(&dir, &albert::LoadOptions::default()).unwrap();
    poison(&mut model, "albert.embeddings.word_embeddings.weight", 0..30000);
    let pipeline = PipelineModel::new(model, tokenizer, Task::Embed).unwrap();
    let err = error_of(embed::embed(&pipeline, &["fine"], embed::Pooling::Mean, &BATCHED));
    assert!(err.contains("32 non-finite value(s) (NaN or infinity) out of 32"), "{err}");
}
