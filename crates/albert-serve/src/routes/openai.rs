//! OpenAI's `POST /v1/embeddings`, as TEI serves it (`OpenAICompatRequest` / `OpenAICompatResponse`): float or
//! base64 vectors (little-endian f32 bytes), always L2-normalized, errors as `{"message", "code", "type"}`. Unlike
//! TEI, which serves one model and only warns about another name, `"model"` picks the served model and an unknown
//! name is a 404.

use albert::pipeline::Task;
use axum::extract::State as AxumState;
use axum::Json;
use base64::prelude::BASE64_STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::tei::{embeddings, Input};
use super::{OpenAiBody, State, TruncationDirection, TruncationRequest};
use crate::error::OpenAiError;

/// TEI's `EncodingFormat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EncodingFormat {
    #[default]
    Float,
    Base64,
}

/// TEI's `OpenAICompatRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingsRequest {
    input: Input,
    #[serde(default)]
    model: Option<String>,
    /// OpenAI's end-user id; accepted and unused, as in TEI.
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
    #[serde(default)]
    encoding_format: EncodingFormat,
    #[serde(default)]
    dimensions: Option<usize>,
}

/// TEI's `Embedding`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Embedding {
    Float(Vec<f32>),
    Base64(String),
}

/// TEI's `OpenAICompatEmbedding`.
#[derive(Debug, Serialize)]
pub(crate) struct EmbeddingObject {
    object: &'static str,
    embedding: Embedding,
    index: usize,
}

/// TEI's `OpenAICompatUsage`.
#[derive(Debug, Serialize)]
pub(crate) struct Usage {
    prompt_tokens: usize,
    total_tokens: usize,
}

/// TEI's `OpenAICompatResponse`.
#[derive(Debug, Serialize)]
pub(crate) struct EmbeddingsResponse {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: String,
    usage: Usage,
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings_route(
    AxumState(state): State,
    OpenAiBody(req): OpenAiBody<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, OpenAiError> {
    let (model, _) = state.pipeline(Task::Embed, req.model.as_deref())?;
    let name = model.name.clone();
    // TEI's route has no `truncate`; its server-wide default (no auto-truncation) applies.
    let truncation = TruncationRequest::new(None, TruncationDirection::Right);
    let out = embeddings(&state, Some(&name), req.input.items(), truncation, true, req.dimensions).await?;
    let prompt_tokens = out.iter().map(|(_, n)| n).sum();
    let data = out
        .into_iter()
        .enumerate()
        .map(|(index, (v, _))| {
            let embedding = match req.encoding_format {
                EncodingFormat::Float => Embedding::Float(v),
                EncodingFormat::Base64 => {
                    Embedding::Base64(BASE64_STANDARD.encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()))
                }
            };
            EmbeddingObject { object: "embedding", embedding, index }
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model: name,
        usage: Usage { prompt_tokens, total_tokens: prompt_tokens },
    }))
}
