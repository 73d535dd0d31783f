//! Every route through the router in process (`tower::ServiceExt::oneshot`, no network) over the built-in models:
//! each answer equals the pipeline's own result for the same input (the pipelines are pinned to transformers by
//! their own tests), and each refusal has its status and TEI's (or OpenAI's) error shape. Every answer of a route
//! TEI documents is validated against TEI's own OpenAPI document, every answer of `/v1/*` against OpenAI's
//! (`tests/fixtures/`), and every answer against this server's `/openapi.json`.

mod openapi;

use std::sync::{Arc, OnceLock};

use albert::pipeline::classify::{self, ScoreFunction};
use albert::pipeline::embed::{self, Pooling};
use albert::pipeline::explain::{self, ExplainOptions, Method, Request as Explain};
use albert::pipeline::{fill_mask, ner, qa, PipelineModel, PipelineOptions, Task};
use albert::{builtin, Precision};
use albert_search::ask::{AskSettings, Asker};
use albert_search::{ChunkSettings, Embedder, Index, Reranker, SearchMode, SearchOptions};
use albert_serve::{router, AppState, IndexSpec, Limits, ModelSpec, ServeConfig, ServedModel};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::prelude::BASE64_STANDARD;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Documents of the served index `docs`, one fact each.
const DOCS: [(&str, &str); 3] = [
    ("anna.md", "# Anna\n\nAnna lives in Berlin, where she teaches music at a school near the river.\n"),
    ("tower.md", "# The tower\n\nThe Eiffel Tower stands in Paris; it was finished in 1889 for a world fair.\n"),
    ("fruit.txt", "Bananas are yellow fruit rich in potassium, grown in warm countries."),
];

/// An index of [`DOCS`] built with the built-in encoder (under the target directory, rebuilt by each run).
fn build_index() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-routes");
    let docs = root.join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    for (name, text) in DOCS {
        std::fs::write(docs.join(name), text).unwrap();
    }
    let embedder = Embedder::load(builtin::path(builtin::PRETRAINED).unwrap().to_str().unwrap()).unwrap();
    let out = root.join("index");
    Index::build(&out, &[docs], &embedder, ChunkSettings::default(), &mut ()).unwrap();
    out
}

/// The built-in models, and an index as `docs`, loaded once for every test.
fn state() -> Arc<AppState> {
    static STATE: OnceLock<Arc<AppState>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            // One input per forward pass: the tests run at once on this server, each in passes of its own (sharing
            // would change no bit: tests/serving.rs checks shared passes against requests alone).
            let limits = Limits { max_batch_requests: Some(1), ..Limits::default() };
            let indexes = vec![IndexSpec { name: "docs".into(), path: build_index() }];
            let config = ServeConfig { models: Vec::new(), indexes, int8: false, limits, api_key: None };
            Arc::new(AppState::load(&config).expect("the built-in models load"))
        })
        .clone()
}

/// The OpenAPI documents: TEI's, OpenAI's and this server's.
struct Documents {
    tei: openapi::OpenApi,
    openai: openapi::OpenApi,
    ours: openapi::OpenApi,
}

fn documents() -> &'static Documents {
    static DOCS: OnceLock<Documents> = OnceLock::new();
    DOCS.get_or_init(|| Documents { tei: openapi::OpenApi::tei(), openai: openapi::OpenApi::openai(), ours: openapi::OpenApi::ours() })
}

/// An OpenAI embeddings answer with each base64 vector decoded to its floats: OpenAI's document describes the float
/// form only (its API answers `encoding_format: "base64"` with the little-endian f32 bytes as a string, as here).
fn decoded_base64(mut answer: Value) -> Value {
    for item in answer["data"].as_array_mut().into_iter().flatten() {
        if let Some(b64) = item["embedding"].as_str() {
            let bytes = BASE64_STANDARD.decode(b64).expect("base64");
            assert_eq!(bytes.len() % 4, 0, "whole f32 values");
            let floats: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            item["embedding"] = json!(floats);
        }
    }
    answer
}

/// The pipeline the server runs for `task` (the first built-in model that serves it).
fn pipeline(task: Task) -> Arc<PipelineModel> {
    state().pipeline(task, None).expect("a built-in model serves the task").1
}

/// Sends `body` (raw bytes) to `path` on `state`'s router; the status and the JSON answer (`Null` when empty).
async fn send_raw(state: Arc<AppState>, method: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let res = router(state).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = match bytes.is_empty() {
        true => Value::Null,
        false => serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {bytes:?}")),
    };
    // Errors of /v1/* are in OpenAI's shape, not in TEI's (see tests/fixtures/README.md).
    let Documents { tei, openai, ours } = documents();
    if tei.has(method, path) && !(path.starts_with("/v1/") && status.as_u16() >= 400) {
        tei.check_response(method, path, status.as_u16(), &value)
            .unwrap_or_else(|e| panic!("{method} {path} answered {status} outside TEI's schema: {e}"));
    }
    if let Some(route) = path.strip_prefix("/v1").filter(|r| openai.has(method, r)) {
        openai
            .check_response(method, route, status.as_u16(), &decoded_base64(value.clone()))
            .unwrap_or_else(|e| panic!("{method} {path} answered {status} outside OpenAI's schema: {e}"));
    }
    // Every route this server answers is in its own document, and answers as it says.
    let unrouted = matches!(status, StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED) && !ours.has(method, path);
    if !unrouted {
        ours.check_response(method, path, status.as_u16(), &value)
            .unwrap_or_else(|e| panic!("{method} {path} answered {status} outside /openapi.json: {e}"));
    }
    (status, value)
}

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    send_raw(state(), "POST", path, body.to_string().into_bytes()).await
}

async fn get(path: &str) -> (StatusCode, Value) {
    send_raw(state(), "GET", path, Vec::new()).await
}

/// A refusal in TEI's shape, with its status and type; its message, for further checks.
fn tei_error(answer: (StatusCode, Value), status: StatusCode, error_type: &str) -> String {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error_type"], error_type, "{body}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    body["error"].as_str().expect("a message").to_string()
}

/// `value` as the server sends it: serialized (f32 in its shortest form) and parsed back.
fn wire(value: impl serde::Serialize) -> Value {
    serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap()
}

fn opts() -> PipelineOptions {
    PipelineOptions { max_length: None, batch_size: Limits::default().batch_size }
}

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[tokio::test]
async fn health_info_and_models_describe_the_built_in_models() {
    assert_eq!(get("/health").await, (StatusCode::OK, Value::Null));
    let (status, info) = get("/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["served_model_name"], builtin::SENTIMENT);
    assert_eq!(info["model_type"]["classifier"]["id2label"], json!({"0": "negative", "1": "positive"}));
    assert_eq!(info["model_type"]["classifier"]["label2id"], json!({"negative": 0, "positive": 1}));
    assert_eq!(info["max_input_length"], 512);
    assert_eq!(info["model_dtype"], "float32");
    assert_eq!(info["auto_truncate"], false);
    let tasks: Vec<(&str, Vec<&str>)> = info["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["tasks"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect()))
        .collect();
    assert_eq!(
        tasks,
        [
            (builtin::SENTIMENT, vec!["classify"]),
            (builtin::PRETRAINED, vec!["embed", "fill-mask"]),
            (builtin::QUESTION_ANSWERING, vec!["qa"]),
            (builtin::NER, vec!["ner"]),
        ]
    );
    let (status, models) = get("/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [builtin::SENTIMENT, builtin::PRETRAINED, builtin::QUESTION_ANSWERING, builtin::NER]);
    assert!(models["data"].as_array().unwrap().iter().all(|m| m["object"] == "model" && m["owned_by"] == "albert"));
}

const TEXTS: [&str; 3] = ["I loved this movie.", "A dull, lifeless film.", "It was fine, I guess."];

#[tokio::test]
async fn predict_equals_the_classify_pipeline() {
    let model = pipeline(Task::Classify);
    let expected = classify::classify(&model, &TEXTS, None, &opts()).unwrap();
    let as_json = |c: &classify::Classification| wire(&c.labels);
    // A text alone runs as a batch of one (no padding): compared with the pipeline given it alone.
    let alone = classify::classify(&model, &TEXTS[..1], None, &opts()).unwrap();
    let (status, single) = post("/predict", json!({"inputs": TEXTS[0]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(single, as_json(&alone[0]));
    // `[text]` is one input, as in TEI.
    assert_eq!(post("/predict", json!({"inputs": [TEXTS[0]]})).await.1, as_json(&alone[0]));
    let batch: Vec<Value> = TEXTS.iter().map(|t| json!([t])).collect();
    let (status, answers) = post("/predict", json!({"inputs": batch})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answers, Value::Array(expected.iter().map(as_json).collect()));
    // Raw scores are the logits: their softmax gives the scores, the labels in the same order.
    let (_, raw) = post("/predict", json!({"inputs": TEXTS[1], "raw_scores": true})).await;
    let logits = floats(&Value::Array(raw.as_array().unwrap().iter().map(|p| p["score"].clone()).collect()));
    let total: f32 = logits.iter().map(|l| l.exp()).sum();
    let scores: Vec<f32> = logits.iter().map(|l| l.exp() / total).collect();
    assert_close(&scores, &expected[1].labels.iter().map(|l| l.score).collect::<Vec<_>>(), 1e-5);
}

#[tokio::test]
async fn predict_takes_a_pair_alone_and_in_a_batch() {
    let model = pipeline(Task::Classify);
    let (a, b) = ("The movie was long.", "It never ended.");
    let encoded = vec![Ok(albert::pipeline::Truncated {
        encoding: model.tokenizer.encode(a, Some(b), &Default::default()).unwrap(),
        truncated: false,
    })];
    let function = ScoreFunction::for_config(model.config().problem_type, model.config().num_labels());
    let expected = classify::classify_encoded_each(&model, encoded, None, function, &opts()).unwrap().remove(0).unwrap();
    let (status, pair) = post("/predict", json!({"inputs": [a, b]})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pair, wire(&expected.labels));
    let (_, batch) = post("/predict", json!({"inputs": [[TEXTS[0]], [a, b]]})).await;
    assert_eq!(batch[1], pair);
    let message = tei_error(post("/predict", json!({"inputs": [["a", "b", "c"]]})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(message.contains("pair"), "{message}");
}

#[tokio::test]
async fn embed_and_openai_embeddings_equal_the_embed_pipeline() {
    let model = pipeline(Task::Embed);
    let expected = embed::embed(&model, &TEXTS, Pooling::Mean, &opts()).unwrap();
    let unit = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let (status, raw) = post("/embed", json!({"inputs": TEXTS[0], "normalize": false})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw.as_array().unwrap().len(), 1);
    assert_eq!(floats(&raw[0]), expected[0].vector);
    let (_, normalized) = post("/embed", json!({"inputs": TEXTS})).await;
    for (got, want) in normalized.as_array().unwrap().iter().zip(&expected) {
        assert_close(&floats(got), &unit(&want.vector), 1e-6);
    }
    let (_, cut) = post("/embed", json!({"inputs": TEXTS[0], "dimensions": 8, "normalize": false})).await;
    assert_eq!(floats(&cut[0]), expected[0].vector[..8]);

    let (status, openai) = post("/v1/embeddings", json!({"input": TEXTS, "model": builtin::PRETRAINED})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&openai["object"], &openai["model"]), (&json!("list"), &json!(builtin::PRETRAINED)));
    let tokens: usize = model.encode(&TEXTS, None).unwrap().iter().map(|t| t.encoding.len()).sum();
    assert_eq!(openai["usage"], json!({"prompt_tokens": tokens, "total_tokens": tokens}));
    for (i, item) in openai["data"].as_array().unwrap().iter().enumerate() {
        assert_eq!((&item["object"], &item["index"]), (&json!("embedding"), &json!(i)));
        assert_eq!(floats(&item["embedding"]), floats(&normalized[i]));
    }
    let (_, b64) = post("/v1/embeddings", json!({"input": TEXTS[2], "encoding_format": "base64"})).await;
    let bytes = BASE64_STANDARD.decode(b64["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(decoded, floats(&normalized[2]));
}

#[tokio::test]
async fn tokenize_and_decode_use_the_models_tokenizer() {
    let tok = &pipeline(Task::Classify).tokenizer;
    let text = "Zürich is lovely.";
    let encoding = tok.encode(text, None, &Default::default()).unwrap();
    let (status, tokens) = post("/tokenize", json!({"inputs": text})).await;
    assert_eq!(status, StatusCode::OK);
    let tokens = tokens[0].as_array().unwrap();
    let ids: Vec<u32> = tokens.iter().map(|t| t["id"].as_u64().unwrap() as u32).collect();
    assert_eq!(ids, encoding.ids);
    assert_eq!(tokens[0], json!({"id": encoding.ids[0], "text": "[CLS]", "special": true, "start": null, "stop": null}));
    // Offsets are bytes, as TEI's: "ü" is two.
    for t in &tokens[1..tokens.len() - 1] {
        let (start, stop) = (t["start"].as_u64().unwrap() as usize, t["stop"].as_u64().unwrap() as usize);
        assert_eq!(t["text"], text[start..stop]);
        assert_eq!(t["special"], false);
    }
    let (_, plain) = post("/tokenize", json!({"inputs": [text, "b"], "add_special_tokens": false})).await;
    assert_eq!(plain.as_array().unwrap().len(), 2);
    assert_eq!(plain[0].as_array().unwrap().len(), encoding.len() - 2);

    let (status, texts) = post("/decode", json!({"ids": encoding.ids})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts, json!([tok.decode(&encoding.ids, true).unwrap()]));
    let (_, both) = post("/decode", json!({"ids": [encoding.ids, [5]], "skip_special_tokens": false})).await;
    assert_eq!(both, json!([tok.decode(&encoding.ids, false).unwrap(), tok.decode(&[5], false).unwrap()]));
    tei_error(post("/decode", json!({"ids": [999999]})).await, StatusCode::UNPROCESSABLE_ENTITY, "Tokenizer");
}

#[tokio::test]
async fn fill_mask_qa_and_ner_equal_their_pipelines() {
    let texts = ["The capital of France is [MASK].", "I [MASK] this movie."];
    let expected = fill_mask::fill_mask(&pipeline(Task::FillMask), &texts, 3, &opts()).unwrap();
    let (status, one) = post("/fill-mask", json!({"inputs": texts[0], "top_k": 3})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, wire(&expected[0]));
    assert_eq!(post("/fill-mask", json!({"inputs": texts, "top_k": 3})).await.1, wire(&expected));
    tei_error(post("/fill-mask", json!({"inputs": "no mask here"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");

    let (question, context) = ("Where does Anna live?", "Anna lives in Berlin and works in Potsdam as a teacher.");
    let answer = qa::answer(&pipeline(Task::QuestionAnswering), question, context, &qa::QaOptions::default()).unwrap();
    let (status, got) = post("/qa", json!({"question": question, "context": context})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, wire(&answer));
    // `top_k` above 1 gives a list, the empty answer competing with `handle_impossible_answer`; windows of 32 tokens.
    let top3 = qa::QaOptions { top_k: 3, handle_impossible_answer: true, max_length: 32, stride: 8, ..qa::QaOptions::default() };
    let long = context.repeat(6);
    let answers = qa::answers_each(&pipeline(Task::QuestionAnswering), &[question], &long, &top3).unwrap().remove(0).unwrap();
    let body = json!({"question": question, "context": long, "top_k": 3, "handle_impossible_answer": true, "max_seq_len": 32, "doc_stride": 8});
    let (status, got) = post("/qa", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, wire(&answers));
    assert!(answers.len() == 3 && answers[0].windows > 1, "{answers:?}");
    tei_error(post("/qa", json!({"question": question, "context": context, "top_k": 0})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    tei_error(post("/qa", json!({"question": " ", "context": context})).await, StatusCode::BAD_REQUEST, "Empty");

    let sentences = ["Angela Merkel visited Paris with Emmanuel Macron.", "nothing here"];
    let model = pipeline(Task::Ner);
    let expected = ner::ner(&model, &sentences[..1], ner::Aggregation::First, &opts()).unwrap();
    assert_eq!(post("/ner", json!({"inputs": sentences[0]})).await.1, wire(&expected[0]), "`first` by default, as `albert ner`");
    for (name, aggregation) in [("simple", ner::Aggregation::Simple), ("first", ner::Aggregation::First), ("max", ner::Aggregation::Max)] {
        let expected = ner::ner(&model, &sentences, aggregation, &opts()).unwrap();
        let (status, got) = post("/ner", json!({"inputs": sentences, "aggregation_strategy": name})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got, wire(&expected));
    }
    tei_error(post("/ner", json!({"inputs": "x", "aggregation_strategy": "none"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
}

#[tokio::test]
async fn bad_requests_get_a_status_and_teis_error_shape() {
    // Malformed JSON: 400, naming where.
    let m = tei_error(send_raw(state(), "POST", "/embed", b"{\"inputs\": ".to_vec()).await, StatusCode::BAD_REQUEST, "Validation");
    assert!(m.contains("EOF"), "{m}");
    // A field of the wrong type: 422.
    tei_error(post("/predict", json!({"inputs": 5})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    tei_error(post("/embed", json!({"texts": ["a"]})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    // Empty input and empty batch: 400, TEI's "empty".
    tei_error(post("/embed", json!({"inputs": []})).await, StatusCode::BAD_REQUEST, "Empty");
    tei_error(post("/predict", json!({"inputs": "  "})).await, StatusCode::BAD_REQUEST, "Empty");
    // Too many inputs: 422.
    let many = vec!["a"; Limits::default().max_client_batch_size + 1];
    let m = tei_error(post("/embed", json!({"inputs": many})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("batch size"), "{m}");
    // Over the model's length: refused unless truncation is asked for.
    let long = "word ".repeat(600);
    let m = tei_error(post("/predict", json!({"inputs": long})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("truncate"), "{m}");
    assert_eq!(post("/predict", json!({"inputs": long, "truncate": true})).await.0, StatusCode::OK);
    // Unknown model: 404 naming the served ones; a model without the route's head: 422 naming the class needed.
    let m = tei_error(post("/predict", json!({"inputs": "a", "model": "gpt"})).await, StatusCode::NOT_FOUND, "Validation");
    assert!(m.contains("gpt") && m.contains(builtin::SENTIMENT), "{m}");
    let m = tei_error(
        post("/predict", json!({"inputs": "a", "model": builtin::PRETRAINED})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "Validation",
    );
    assert!(m.contains("AlbertForSequenceClassification"), "{m}");
    // What the server does not do is refused, not ignored.
    tei_error(post("/embed", json!({"inputs": "a", "prompt_name": "query"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    tei_error(post("/ner", json!({"inputs": "a", "truncation_direction": "Left"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    // Token ids outside the vocabulary: TEI's tokenizer error, naming the id.
    let m = tei_error(post("/embed", json!({"inputs": [[2, 30000000]]})).await, StatusCode::UNPROCESSABLE_ENTITY, "Tokenizer");
    assert!(m.contains("30000000"), "{m}");
    // A body over the payload limit: 413.
    let big = "a".repeat(Limits::default().payload_limit + 1);
    tei_error(post("/embed", json!({"inputs": big})).await, StatusCode::PAYLOAD_TOO_LARGE, "Validation");
    // Unknown route and method: 404 and 405, still JSON.
    tei_error(get("/nowhere").await, StatusCode::NOT_FOUND, "Validation");
    tei_error(get("/embed").await, StatusCode::METHOD_NOT_ALLOWED, "Validation");
}

/// Refusals of `/v1/*` in OpenAI's `ErrorResponse` (validated against OpenAI's document by `send_raw`), with TEI's
/// statuses: an unknown model, malformed JSON, an empty input, a body over the limit, an unknown `/v1/` route.
#[tokio::test]
async fn openai_routes_answer_errors_in_openais_shape() {
    let openai_error = |(status, body): (StatusCode, Value), want: StatusCode, kind: &str, code: &str| {
        assert_eq!(status, want, "{body}");
        assert_eq!((body["error"]["type"].as_str(), body["error"]["code"].as_str()), (Some(kind), Some(code)), "{body}");
        assert_eq!(body["error"]["param"], Value::Null);
        body["error"]["message"].as_str().unwrap().to_string()
    };
    let m = openai_error(post("/v1/embeddings", json!({"input": "a", "model": "nope"})).await, StatusCode::NOT_FOUND, "invalid_request_error", "validation");
    assert!(m.contains("nope"), "{m}");
    let m = openai_error(send_raw(state(), "POST", "/v1/embeddings", b"[".to_vec()).await, StatusCode::BAD_REQUEST, "invalid_request_error", "validation");
    assert!(m.contains("EOF"), "{m}");
    openai_error(post("/v1/embeddings", json!({"input": []})).await, StatusCode::BAD_REQUEST, "invalid_request_error", "empty");
    let big = "a".repeat(Limits::default().payload_limit + 1);
    openai_error(post("/v1/embeddings", json!({"input": big})).await, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request_error", "validation");
    let (status, body) = get("/v1/nowhere").await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("validation")), "{body}");
}

/// A server with only the sentiment classifier: routes whose head it lacks answer TEI's 424, naming the class.
#[tokio::test]
async fn a_route_without_a_fitting_model_names_what_is_missing() {
    let spec = ModelSpec { name: "sst2".into(), source: builtin::path(builtin::SENTIMENT).unwrap().to_string_lossy().into_owned() };
    let only = Arc::new(AppState::new(vec![ServedModel::load(&spec, Precision::Full).unwrap()], Limits::default(), Precision::Full).unwrap());
    let body = |v: Value| v.to_string().into_bytes();
    let m = tei_error(send_raw(only.clone(), "POST", "/embed", body(json!({"inputs": "a"}))).await, StatusCode::FAILED_DEPENDENCY, "Backend");
    assert!(m.contains("AlbertForMaskedLM"), "{m}");
    let m = tei_error(send_raw(only.clone(), "POST", "/ner", body(json!({"inputs": "a"}))).await, StatusCode::FAILED_DEPENDENCY, "Backend");
    assert!(m.contains("AlbertForTokenClassification"), "{m}");
    let m = tei_error(send_raw(only.clone(), "POST", "/search", body(json!({"query": "a"}))).await, StatusCode::FAILED_DEPENDENCY, "Backend");
    assert!(m.contains("--index"), "{m}");
    assert_eq!(send_raw(only, "POST", "/predict", body(json!({"inputs": "fine"}))).await.0, StatusCode::OK);
}

#[tokio::test]
async fn similarity_is_the_cosine_of_the_embed_pipelines_vectors() {
    let texts = ["A great film.", "A wonderful movie.", "The stock market fell."];
    let vectors = embed::embed(&pipeline(Task::Embed), &texts, Pooling::Mean, &opts()).unwrap();
    let expected: Vec<f32> = vectors[1..].iter().map(|v| embed::cosine(&vectors[0].vector, &v.vector)).collect();
    let (status, got) = post("/similarity", json!({"inputs": {"source_sentence": texts[0], "sentences": &texts[1..]}})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(floats(&got), expected);
    tei_error(post("/similarity", json!({"inputs": {"source_sentence": "a", "sentences": []}})).await, StatusCode::BAD_REQUEST, "Empty");
}

#[tokio::test]
async fn the_root_route_is_the_default_models_and_get_root_is_health() {
    assert_eq!(post("/", json!({"inputs": TEXTS[0]})).await, post("/predict", json!({"inputs": TEXTS[0]})).await);
    assert_eq!(get("/").await, (StatusCode::OK, Value::Null));
    assert_eq!(get("/ping").await, (StatusCode::OK, Value::Null));
}

/// `/rerank` scores pairs with a classifier of one output: a random one here (the built-in models have none), next
/// to the sentiment classifier, which the route passes over.
#[tokio::test]
async fn rerank_scores_query_text_pairs_with_a_one_label_classifier() {
    let sst2 = builtin::path(builtin::SENTIMENT).unwrap();
    let mut config = albert::AlbertConfig::from_file(sst2.join("config.json")).unwrap();
    (config.id2label, config.label2id, config.num_labels, config.problem_type) = (None, None, Some(1), None);
    let cross = albert::Pretrained::init(&config, albert::Architecture::SequenceClassification, 7, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    cross.save(dir.path()).unwrap();
    pipeline(Task::Classify).tokenizer.save(dir.path()).unwrap();
    let spec = |name: &str, path: &std::path::Path| ModelSpec { name: name.into(), source: path.to_string_lossy().into_owned() };
    let models = vec![
        ServedModel::load(&spec("sst2", &sst2), Precision::Full).unwrap(),
        ServedModel::load(&spec("cross", dir.path()), Precision::Full).unwrap(),
    ];
    let served = Arc::new(AppState::new(models, Limits::default(), Precision::Full).unwrap());
    let call = |path: &'static str, body: Value| send_raw(served.clone(), "POST", path, body.to_string().into_bytes());

    let (query, texts) = ("Where is the Eiffel tower?", ["It is in Paris.", "Bananas are yellow.", "Paris has a tower."]);
    let (status, ranks) = call("/rerank", json!({"query": query, "texts": texts, "return_text": true})).await;
    assert_eq!(status, StatusCode::OK);
    let pairs: Vec<Value> = texts.iter().map(|t| json!([query, t])).collect();
    let (_, predicted) = call("/predict", json!({"inputs": pairs, "model": "cross"})).await;
    let ranks = ranks.as_array().unwrap();
    assert_eq!(ranks.len(), texts.len());
    for (i, rank) in ranks.iter().enumerate() {
        let index = rank["index"].as_u64().unwrap() as usize;
        assert_eq!(rank["text"], texts[index]);
        assert_eq!(rank["score"], predicted[index][0]["score"], "the pair's sigmoid score, as /predict gives it");
        if i > 0 {
            assert!(rank["score"].as_f64() <= ranks[i - 1]["score"].as_f64(), "best first");
        }
    }
    let (_, raw) = call("/rerank", json!({"query": query, "texts": texts, "raw_scores": true})).await;
    for rank in raw.as_array().unwrap() {
        let logit = rank["score"].as_f64().unwrap() as f32;
        let index = rank["index"].as_u64().unwrap() as usize;
        assert!(rank.get("text").is_none());
        assert!((1.0 / (1.0 + (-logit).exp()) - predicted[index][0]["score"].as_f64().unwrap() as f32).abs() < 1e-6);
    }
    let m = tei_error(call("/rerank", json!({"query": query, "texts": texts, "model": "sst2"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("one label"), "{m}");
    // The built-in models have no reranker: TEI's 424, naming what is missing.
    let m = tei_error(post("/rerank", json!({"query": query, "texts": texts})).await, StatusCode::FAILED_DEPENDENCY, "Backend");
    assert!(m.contains("one label"), "{m}");
}

/// Token-id inputs (TEI's `InputType`) are the model's input as given: the ids `/tokenize` gives for a text embed
/// as the text does, alone or in a batch beside texts, on `/embed`, `/embed_all` and `/v1/embeddings`.
#[tokio::test]
async fn token_ids_embed_as_the_text_they_encode() {
    let model = pipeline(Task::Embed);
    let (_, tokens) = post("/tokenize", json!({"inputs": TEXTS[0], "model": builtin::PRETRAINED})).await;
    let ids: Vec<u64> = tokens[0].as_array().unwrap().iter().map(|t| t["id"].as_u64().unwrap()).collect();
    let (status, by_ids) = post("/embed", json!({"inputs": ids, "normalize": false})).await;
    assert_eq!(status, StatusCode::OK);
    let by_text = embed::embed(&model, &TEXTS[..1], Pooling::Mean, &opts()).unwrap();
    assert_eq!(floats(&by_ids[0]), by_text[0].vector);
    let (_, mixed) = post("/embed", json!({"inputs": [TEXTS[1], ids], "normalize": false})).await;
    assert_close(&floats(&mixed[1]), &by_text[0].vector, 1e-5);
    let (_, all_by_ids) = post("/embed_all", json!({"inputs": [ids]})).await;
    let (_, all_by_text) = post("/embed_all", json!({"inputs": TEXTS[0]})).await;
    assert_eq!(all_by_ids, all_by_text);
    let (status, openai) = post("/v1/embeddings", json!({"input": [ids]})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, normalized) = post("/embed", json!({"inputs": TEXTS[0]})).await;
    assert_eq!(floats(&openai["data"][0]["embedding"]), floats(&normalized[0]));
    assert_eq!(openai["usage"]["prompt_tokens"], ids.len());
    // Over the model's length: refused unless `truncate`, then cut from the requested end.
    let long: Vec<u64> = (0..600).map(|i| 100 + i).collect();
    let m = tei_error(post("/embed", json!({"inputs": [long]})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("truncate"), "{m}");
    let (_, left) = post("/embed_all", json!({"inputs": [long], "truncate": true, "truncation_direction": "Left"})).await;
    let (_, tail) = post("/embed_all", json!({"inputs": [&long[600 - 512..]]})).await;
    assert_eq!(left, tail, "Left keeps the last 512 ids");
}

/// `truncation_direction: "Left"` cuts from the start, as transformers' `truncation_side="left"` (the tokenizer's
/// own test checks that against transformers): /predict and /embed answer as the pipelines on inputs cut so, which
/// differ from the right cut.
#[tokio::test]
async fn left_truncation_keeps_the_end_of_long_inputs() {
    let long = format!("{} It was a wonderful, moving film.", "The plot of this movie is told slowly. ".repeat(80));
    let direction = albert::tokenizer::TruncationDirection::Left;
    let classifier = pipeline(Task::Classify);
    let encoded = classifier.encode_each_from(&[long.as_str()], None, direction).unwrap();
    assert!(encoded[0].as_ref().unwrap().truncated);
    let function = ScoreFunction::for_config(classifier.config().problem_type, classifier.config().num_labels());
    let expected = classify::classify_encoded_each(&classifier, encoded, None, function, &opts()).unwrap().remove(0).unwrap();
    let (status, got) = post("/predict", json!({"inputs": long, "truncate": true, "truncation_direction": "Left"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, wire(&expected.labels));
    let (_, right) = post("/predict", json!({"inputs": long, "truncate": true})).await;
    assert_ne!(got, right);
    let encoder = pipeline(Task::Embed);
    let encoded = encoder.encode_each_from(&[long.as_str()], None, direction).unwrap();
    let expected = embed::embed_encoded_each(&encoder, encoded, Pooling::Mean, &opts()).unwrap().remove(0).unwrap();
    let body = json!({"inputs": long, "truncate": true, "truncation_direction": "Left", "normalize": false});
    assert_eq!(floats(&post("/embed", body).await.1[0]), expected.vector);
}

/// `/embed_all` gives every token's vector; their mean is the embed pipeline's sentence vector.
#[tokio::test]
async fn embed_all_gives_the_token_vectors_whose_mean_embed_gives() {
    let model = pipeline(Task::Embed);
    let (status, all) = post("/embed_all", json!({"inputs": TEXTS})).await;
    assert_eq!(status, StatusCode::OK);
    let expected = embed::embed(&model, &TEXTS, Pooling::Mean, &opts()).unwrap();
    let lengths = model.encode(&TEXTS, None).unwrap();
    for ((tokens, want), t) in all.as_array().unwrap().iter().zip(&expected).zip(&lengths) {
        let rows: Vec<Vec<f32>> = tokens.as_array().unwrap().iter().map(floats).collect();
        assert_eq!(rows.len(), t.encoding.len());
        let mean: Vec<f32> = (0..want.vector.len()).map(|j| rows.iter().map(|r| r[j]).sum::<f32>() / rows.len() as f32).collect();
        assert_close(&mean, &want.vector, 1e-5);
    }
}

/// `/openapi.json` serves the document the answers are checked against, and every route it lists is served.
#[tokio::test]
async fn openapi_json_lists_every_route() {
    let (status, doc) = get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    for (method, path) in documents().ours.routes() {
        let body = if method == "GET" { Vec::new() } else { b"{}".to_vec() };
        let (status, _) = send_raw(state(), &method, &path, body).await;
        assert!(![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status), "{method} {path}: {status}");
    }
}

/// With `max_concurrent_requests` requests in flight, one more is answered 429 at once (TEI's "overloaded"), and the
/// server answers again when one finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_concurrency_limit_gets_429_at_once() {
    let spec = ModelSpec { name: "sst2".into(), source: builtin::path(builtin::SENTIMENT).unwrap().to_string_lossy().into_owned() };
    let limits = Limits { max_concurrent_requests: 1, ..Limits::default() };
    let one = Arc::new(AppState::new(vec![ServedModel::load(&spec, Precision::Full).unwrap()], limits, Precision::Full).unwrap());
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let busy = {
        let one = one.clone();
        tokio::spawn(async move {
            one.compute(move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(())
            })
            .await
        })
    };
    tokio::task::spawn_blocking(move || started.recv().unwrap()).await.unwrap();
    let body = json!({"inputs": "fine"}).to_string().into_bytes();
    let m = tei_error(send_raw(one.clone(), "POST", "/predict", body.clone()).await, StatusCode::TOO_MANY_REQUESTS, "Overloaded");
    assert!(m.contains("overloaded"), "{m}");
    release.send(()).unwrap();
    busy.await.unwrap().unwrap();
    assert_eq!(send_raw(one, "POST", "/predict", body).await.0, StatusCode::OK);
}

/// With an API key, every route but the health checks needs it as a Bearer token (401 otherwise).
#[tokio::test]
async fn an_api_key_guards_every_route_but_health() {
    let spec = ModelSpec { name: "sst2".into(), source: builtin::path(builtin::SENTIMENT).unwrap().to_string_lossy().into_owned() };
    let keyed = AppState::new(vec![ServedModel::load(&spec, Precision::Full).unwrap()], Limits::default(), Precision::Full)
        .unwrap()
        .with_api_key(Some("s3cret".into()));
    let app = router(Arc::new(keyed));
    let call = |method: &str, path: &str, auth: Option<&str>| {
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let body = if method == "POST" { json!({"inputs": "fine"}).to_string() } else { String::new() };
        app.clone().oneshot(req.body(Body::from(body)).unwrap())
    };
    assert_eq!(call("GET", "/health", None).await.unwrap().status(), StatusCode::OK);
    for auth in [None, Some("Bearer wrong"), Some("s3cret"), Some("Bearer s3cret ")] {
        let res = call("POST", "/predict", auth).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let body: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    }
    assert_eq!(call("GET", "/info", None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(call("POST", "/predict", Some("Bearer s3cret")).await.unwrap().status(), StatusCode::OK);
}

/// `--int8`: the models are quantized once, at start, and answer as the int8 pipeline does.
#[tokio::test]
async fn int8_models_answer_as_the_int8_pipeline() {
    let path = builtin::path(builtin::SENTIMENT).unwrap();
    let spec = ModelSpec { name: "sst2".into(), source: path.to_string_lossy().into_owned() };
    let int8 = Arc::new(AppState::new(vec![ServedModel::load(&spec, Precision::Int8).unwrap()], Limits::default(), Precision::Int8).unwrap());
    let mut model = PipelineModel::load_dir(&path, Task::Classify).unwrap();
    model.set_precision(Precision::Int8);
    let expected = classify::classify(&model, &TEXTS[..1], None, &opts()).unwrap();
    let (status, got) = send_raw(int8.clone(), "POST", "/predict", json!({"inputs": TEXTS[0]}).to_string().into_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, wire(&expected[0].labels));
    assert_eq!(send_raw(int8, "GET", "/info", Vec::new()).await.1["model_dtype"], "int8");
}

/// `got` holds `want`'s JSON, each number within 1e-5 (query vectors are computed on the server's compute pool,
/// whose sums may round otherwise) and everything else equal.
fn assert_json_close(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-5, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: {got} vs {want}");
            x.iter().zip(y).enumerate().for_each(|(i, (x, y))| assert_json_close(x, y, &format!("{at}[{i}]")));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            x.iter().for_each(|(k, v)| assert_json_close(v, &y[k], &format!("{at}.{k}")));
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// `/search` gives the search library's hits on the served index in every mode, reranked by a served classifier
/// as `Reranker` ranks them; the refusals name the problem.
#[tokio::test]
async fn search_answers_the_search_librarys_hits() {
    let served = state().index(None).unwrap();
    let query = "Where does Anna live?";
    for mode in SearchMode::NAMES {
        let opts = SearchOptions { mode: mode.parse().unwrap(), k: 2, ..SearchOptions::default() };
        let want = served.index.search(query, &opts, Some(&served.embedder), None).unwrap();
        let (status, got) = post("/search", json!({"query": query, "k": 2, "mode": mode})).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!((got["index"].as_str(), got["mode"].as_str()), (Some("docs"), Some(mode)));
        assert_json_close(&got["hits"], &wire(&want), "hits");
        assert!(got["hits"][0]["passage"]["text"].as_str().unwrap().contains("Berlin"), "{got}");
    }
    let reranker = Reranker::shared(pipeline(Task::Classify)).unwrap();
    let want = served.index.search(query, &SearchOptions::default(), Some(&served.embedder), Some(&reranker)).unwrap();
    let (status, got) = post("/search", json!({"query": query, "index": "docs", "rerank": builtin::SENTIMENT})).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["reranker"], json!({"model": builtin::SENTIMENT, "label": "positive"}));
    assert_json_close(&got["hits"], &wire(&want), "hits");

    let m = tei_error(post("/search", json!({"query": query, "index": "nowhere"})).await, StatusCode::NOT_FOUND, "Validation");
    assert!(m.contains("`nowhere`") && m.contains("`docs`"), "{m}");
    tei_error(post("/search", json!({"query": " "})).await, StatusCode::BAD_REQUEST, "Empty");
    let m = tei_error(post("/search", json!({"query": query, "mode": "sparse"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("bm25, dense or hybrid"), "{m}");
    let m = tei_error(post("/search", json!({"query": query, "k": 0})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("`k`"), "{m}");
    let m = tei_error(post("/search", json!({"query": query, "rerank": builtin::NER})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("AlbertForSequenceClassification"), "{m}");
}

/// `/ask` answers as `Asker` does with the served reader (each answer's source, and its span in the document, which
/// holds its text), reads a follow-up after the turns given, and refuses a reader that is not a question-answering
/// model.
#[tokio::test]
async fn ask_answers_as_the_asker_with_the_served_reader() {
    let served = state().index(None).unwrap();
    let reader = pipeline(Task::QuestionAnswering);
    let asker = Asker { index: &served.index, embedder: Some(&served.embedder), reranker: None, reader: &reader };
    let settings = AskSettings {
        search: SearchOptions { k: 5, ..SearchOptions::default() },
        qa: qa::QaOptions { max_answer_length: 30, ..qa::QaOptions::default() },
        threshold: albert_search::ask::DEFAULT_THRESHOLD,
        runner_ups: 3,
    };
    let question = "Where does Anna live?";
    let want = asker.ask(&settings, question, question.to_string()).unwrap();
    let (status, got) = post("/ask", json!({"question": question})).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_json_close(&got, &wire(&want), "ask");
    // Each answer's span is its text in its document.
    let found: Vec<&Value> = got["runner_ups"].as_array().unwrap().iter().chain([&got["best"]]).collect();
    assert!(found.len() > 1, "{got}");
    for f in found {
        let file = std::path::Path::new(f["source"]["file"].as_str().unwrap()).file_name().unwrap();
        let text = DOCS.iter().find(|(name, _)| file == *name).unwrap().1;
        let (start, end) = (f["span"][0].as_u64().unwrap() as usize, f["span"][1].as_u64().unwrap() as usize);
        assert_eq!(text.chars().skip(start).take(end - start).collect::<String>(), f["answer"].as_str().unwrap(), "{f}");
    }

    let turns = json!([["Where does Anna live?", "Berlin"]]);
    let (status, got) = post("/ask", json!({"question": "What does she teach?", "history": turns, "mode": "bm25"})).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["read_as"], "Q: Where does Anna live? A: Berlin Q: What does she teach?");

    tei_error(post("/ask", json!({"question": ""})).await, StatusCode::BAD_REQUEST, "Empty");
    let m = tei_error(post("/ask", json!({"question": question, "model": builtin::SENTIMENT})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("AlbertForQuestionAnswering"), "{m}");
    let m = tei_error(post("/ask", json!({"question": question, "threshold": 2})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("`threshold`"), "{m}");
}

/// Scores within `1e-4 * max |reference|` of the reference (as crates/albert/tests/explain.rs holds the library to).
fn assert_attributions(got: &Value, want: &[f64], what: &str) {
    let got: Vec<f64> = got.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-4 * scale, "{what}: {got:?} vs {want:?}");
    }
}

/// `/explain` on the built-in SST-2 model gives Captum's Integrated Gradients (tests/fixtures/explain/expected.json)
/// and, over words and for an answer's start and end, what `albert::pipeline::explain` gives; the refusals name the
/// problem.
#[tokio::test]
async fn explain_gives_captums_attributions_and_the_librarys_explanations() {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/explain/expected.json")).unwrap()).unwrap();
    let case = fixture["cases"].as_array().unwrap().iter().find(|c| c["name"] == "sst2_negative").unwrap();
    let text = case["text"].as_str().unwrap();
    let (status, got) = post("/explain", json!({"inputs": text})).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["tokens"], case["tokens"]);
    assert_eq!(got["prediction"]["label"], "negative");
    assert_eq!(got["targets"][0]["target"], case["target"]);
    let ig: Vec<f64> = case["ig"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_attributions(&got["targets"][0]["scores"], &ig, "ig");

    // Words, another label, another method: the library's explanation of the same request.
    let request = Explain::Classify { text, pair: None, label: Some("positive") };
    let want = explain::explain(&pipeline(Task::Classify), &request, Method::GradXInput, &ExplainOptions::default(), &mut |_| {}).unwrap();
    let words = want.words(&[text]);
    let body = json!({"inputs": text, "method": "grad-x-input", "target": "positive", "words": true});
    let (status, got) = post("/explain", body).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!((&got["words"], &got["offsets"]), (&json!(words.words), &wire(&words.offsets)));
    assert!(got.get("tokens").is_none(), "{got}");
    let scores: Vec<f64> = words.scores[0].iter().map(|&s| f64::from(s)).collect();
    assert_attributions(&got["targets"][0]["scores"], &scores, "grad-x-input words");

    // A question: the answer's start and end, in the window that holds it (the reader runs through its batcher).
    let (question, context) = ("Where does Anna live?", "Anna lives in Berlin, where she teaches music.");
    let request = Explain::Answer { question, context };
    let want = explain::explain(&pipeline(Task::QuestionAnswering), &request, Method::AttentionRollout, &ExplainOptions::default(), &mut |_| {}).unwrap();
    let body = json!({"inputs": context, "question": question, "method": "attention-rollout"});
    let (status, got) = post("/explain", body).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!((&got["tokens"], &got["prediction"]), (&json!(want.tokens), &wire(&want.prediction)));
    assert_eq!(got["targets"].as_array().unwrap().len(), 2);
    for (g, w) in got["targets"].as_array().unwrap().iter().zip(&want.targets) {
        assert_eq!((&g["label"], &g["target"]), (&json!(w.label), &wire(w.attribution.target)));
        let scores: Vec<f64> = w.attribution.scores.iter().map(|&s| f64::from(s)).collect();
        assert_attributions(&g["scores"], &scores, "rollout");
    }

    let refused = |body: Value| async move { post("/explain", body).await };
    let m = tei_error(refused(json!({"inputs": text, "method": "saliency"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("expected ig"), "{m}");
    let m = tei_error(refused(json!({"inputs": text, "target": "neutral"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("negative, positive"), "{m}");
    let m = tei_error(refused(json!({"inputs": text, "steps": 0})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("`steps`"), "{m}");
    tei_error(refused(json!({"inputs": "  "})).await, StatusCode::BAD_REQUEST, "Empty");
    let m = tei_error(refused(json!({"inputs": context, "question": question, "target": "x"})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("`target`"), "{m}");
    let m = tei_error(refused(json!({"inputs": text, "model": builtin::PRETRAINED})).await, StatusCode::UNPROCESSABLE_ENTITY, "Validation");
    assert!(m.contains("question"), "{m}");
    tei_error(refused(json!({"inputs": text, "model": "nobody"})).await, StatusCode::NOT_FOUND, "Validation");
}
