//! `GET /health`, `GET /info` (TEI's `Info`, of the default model, plus every served model) and `GET /v1/models`
//! (OpenAI's model list).

use std::collections::BTreeMap;

use albert::pipeline::Task;
use albert::Precision;
use axum::extract::State as AxumState;
use axum::Json;
use serde::Serialize;

use super::State;
use crate::error::ApiError;
use crate::state::{AppState, ServedModel};

/// 200 with an empty body, as TEI: the models are loaded and prepared before the server listens.
pub(crate) async fn health() {}

/// TEI's `ClassifierModel`.
#[derive(Serialize)]
struct ClassifierModel {
    id2label: BTreeMap<String, String>,
    label2id: BTreeMap<String, usize>,
}

/// TEI's `EmbeddingModel`.
#[derive(Serialize)]
struct EmbeddingModel {
    pooling: &'static str,
}

/// TEI's `ModelType`: what the default model's `/predict` or `/embed` answers.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ModelType {
    Classifier(ClassifierModel),
    Embedding(EmbeddingModel),
}

/// One served model, beyond TEI's fields.
#[derive(Serialize)]
struct ModelInfo {
    name: String,
    source: String,
    architecture: &'static str,
    tasks: Vec<&'static str>,
    max_input_length: usize,
}

/// TEI's `Info` (every required field, with this server's values), plus `models`.
#[derive(Serialize)]
pub(crate) struct Info {
    model_id: String,
    model_dtype: &'static str,
    served_model_name: String,
    model_type: ModelType,
    max_concurrent_requests: usize,
    max_input_length: usize,
    /// Most padded tokens in one forward pass shared by requests (`--max-batch-tokens`).
    max_batch_tokens: usize,
    max_client_batch_size: usize,
    auto_truncate: bool,
    tokenization_workers: usize,
    version: &'static str,
    /// Every served model (the first is the one described above).
    models: Vec<ModelInfo>,
}

fn input_length(model: &ServedModel) -> Result<usize, ApiError> {
    Ok(model.pipelines[0].max_length(None)?)
}

fn model_type(model: &ServedModel) -> ModelType {
    match model.pipeline(Task::Classify) {
        Some(p) => {
            let cfg = p.config();
            let labels: Vec<String> = (0..cfg.num_labels()).map(|i| cfg.label_name(i)).collect();
            ModelType::Classifier(ClassifierModel {
                id2label: labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.clone())).collect(),
                label2id: labels.into_iter().enumerate().map(|(i, l)| (l, i)).collect(),
            })
        }
        None => ModelType::Embedding(EmbeddingModel { pooling: "mean" }),
    }
}

fn info_of(state: &AppState) -> Result<Info, ApiError> {
    let default = state.default_model();
    let max_input_length = input_length(default)?;
    let models = state
        .models
        .iter()
        .map(|m| {
            Ok(ModelInfo {
                name: m.name.clone(),
                source: m.source.clone(),
                architecture: m.architecture.hf_name(),
                tasks: m.served_tasks().map(Task::name).collect(),
                max_input_length: input_length(m)?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Info {
        model_id: default.source.clone(),
        model_dtype: match state.precision {
            Precision::Full => "float32",
            Precision::Int8 => "int8",
        },
        served_model_name: default.name.clone(),
        model_type: model_type(default),
        max_concurrent_requests: state.limits.max_concurrent_requests,
        max_input_length,
        max_batch_tokens: state.limits.max_batch_tokens,
        max_client_batch_size: state.limits.max_client_batch_size,
        auto_truncate: false,
        // The pipelines tokenize on rayon's pool.
        tokenization_workers: rayon::current_num_threads(),
        version: env!("CARGO_PKG_VERSION"),
        models,
    })
}

pub(crate) async fn info(AxumState(state): State) -> Result<Json<Info>, ApiError> {
    info_of(&state).map(Json)
}

/// OpenAI's model object.
#[derive(Serialize)]
struct Model {
    id: String,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

/// OpenAI's model list.
#[derive(Serialize)]
pub(crate) struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

pub(crate) async fn models(AxumState(state): State) -> Json<ModelList> {
    let data = state
        .models
        .iter()
        .map(|m| Model { id: m.name.clone(), object: "model", created: state.created, owned_by: "albert" })
        .collect();
    Json(ModelList { object: "list", data })
}
