//! Text Embeddings Inference's routes, request and response JSON field for field (TEI v1.9.3's
//! `router/src/http/types.rs` and `docs/openapi.json`): `/embed`, `/predict`, `/tokenize`, `/decode`. Each request
//! may name its model (`"model"`, as OpenAI's requests do); `prompt_name`, which no served model has prompts for, is
//! refused with a 422 rather than ignored. Token-id inputs are the model's input as given (TEI decodes them and
//! encodes the text again without special tokens, which gives the same ids for ids a tokenizer made).

use std::sync::Arc;

use albert::pipeline::classify::{self, Classification, ScoreFunction};
use albert::pipeline::embed::{self, Pooling};
use albert::pipeline::{PerInput, PipelineModel, Task, Truncated};
use albert::tokenizer::{EncodeOptions, Encoding, TruncationDirection as Direction, TruncationStrategy};
use axum::extract::State as AxumState;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{options, Body, OneOrMany, State, Texts, TruncationDirection, TruncationRequest};
use crate::error::{ApiError, ErrorType};
use crate::state::AppState;

/// TEI's `InputType`: a text, or token ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum InputType {
    Text(String),
    Ids(Vec<u32>),
}

impl InputType {
    /// Encodes `inputs` for `model`, cut to its maximum length from `direction`'s end: texts as the pipelines encode
    /// them, token ids as given ([`PipelineModel::encode_ids_each`]). Each keeps its place and its own error.
    fn encode_all(model: &PipelineModel, inputs: &[InputType], direction: Direction) -> albert::Result<Vec<PerInput<Truncated>>> {
        inputs
            .iter()
            .map(|input| {
                let mut one = match input {
                    InputType::Text(t) => model.encode_each_from(&[t.as_str()], None, direction)?,
                    InputType::Ids(ids) => model.encode_ids_each(&[ids.as_slice()], None, direction)?,
                };
                Ok(one.remove(0))
            })
            .collect()
    }
}

/// TEI's `Input`: one input or a batch.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Input {
    Single(InputType),
    Batch(Vec<InputType>),
}

impl Input {
    /// The inputs, in order (`[]` reads as one input without ids, as in TEI, where `Input` is untagged in this
    /// order: an empty input).
    pub(crate) fn items(self) -> Vec<InputType> {
        match self {
            Input::Single(one) => vec![one],
            Input::Batch(batch) => batch,
        }
    }
}

/// Refuses TEI's `prompt_name`: no served model has sentence-transformers prompts.
fn no_prompt(prompt_name: &Option<String>) -> Result<(), ApiError> {
    match prompt_name {
        Some(name) => Err(ApiError::validation(format!("`prompt_name` {name:?}: the served models have no prompts"))),
        None => Ok(()),
    }
}

/// TEI's `EmbedRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbedRequest {
    inputs: Input,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationDirection,
    #[serde(default)]
    prompt_name: Option<String>,
    #[serde(default = "yes")]
    normalize: bool,
    #[serde(default)]
    dimensions: Option<usize>,
    /// The served model to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

fn yes() -> bool {
    true
}

/// Sentence vectors of `inputs` (texts or token ids; mean pooling, as `albert embed`), cut to `dimensions` and
/// L2-normalized when asked, as TEI does; with each input's token count.
pub(crate) async fn embeddings(
    state: &Arc<AppState>,
    model: Option<&str>,
    inputs: Vec<InputType>,
    truncation: TruncationRequest,
    normalize: bool,
    dimensions: Option<usize>,
) -> Result<Vec<(Vec<f32>, usize)>, ApiError> {
    state.check_batch(inputs.len())?;
    if dimensions == Some(0) {
        return Err(ApiError::validation("`dimensions` should be positive"));
    }
    let (_, pipeline) = state.pipeline(Task::Embed, model)?;
    let opts = options(state);
    state
        .compute(move || {
            let encoded = InputType::encode_all(&pipeline, &inputs, truncation.direction)?;
            let lengths: Vec<usize> = encoded.iter().map(|t| t.as_ref().map_or(0, |t| t.encoding.len())).collect();
            let vectors = embed::embed_encoded_each(&pipeline, encoded, Pooling::Model, &opts)?;
            let vectors = truncation.results(&pipeline, vectors, |e| e.truncated)?;
            vectors
                .into_iter()
                .zip(lengths)
                .map(|(e, tokens)| {
                    let mut v = e.vector;
                    if let Some(d) = dimensions {
                        if d > v.len() {
                            return Err(ApiError::validation(format!(
                                "`dimensions` should be at most the embedding dimension ({})",
                                v.len()
                            )));
                        }
                        v.truncate(d);
                    }
                    if normalize {
                        let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt().max(1e-12);
                        v.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
                    }
                    Ok((v, tokens))
                })
                .collect()
        })
        .await
}

/// `POST /embed`: a list of vectors, one per input (a single input too), as TEI's `EmbedResponse`.
pub(crate) async fn embed(AxumState(state): State, Body(req): Body<EmbedRequest>) -> Result<Json<Vec<Vec<f32>>>, ApiError> {
    no_prompt(&req.prompt_name)?;
    let truncation = TruncationRequest::new(req.truncate, req.truncation_direction);
    let out = embeddings(&state, req.model.as_deref(), req.inputs.items(), truncation, req.normalize, req.dimensions).await?;
    Ok(Json(out.into_iter().map(|(v, _)| v).collect()))
}

/// One classifier input: a text or a pair.
#[derive(Debug, Clone)]
pub(crate) enum Sequence {
    Single(String),
    Pair(String, String),
}

impl Sequence {
    /// One input of TEI's lists: `[text]` or `[text, text_pair]`.
    fn from_list(mut list: Vec<String>, at: &str) -> Result<Self, ApiError> {
        match list.len() {
            1 => Ok(Sequence::Single(list.remove(0))),
            2 => {
                let b = list.remove(1);
                Ok(Sequence::Pair(list.remove(0), b))
            }
            n => Err(ApiError::validation(format!("{at}: a sequence is a string or a pair of strings, not {n} strings"))),
        }
    }
}

/// TEI's `PredictInput`: a text, a pair `[a, b]`, or a batch of `[text]` and `[a, b]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PredictInput {
    Text(String),
    List(Vec<String>),
    Batch(Vec<Vec<String>>),
}

impl PredictInput {
    /// The sequences and whether the input was a batch.
    fn sequences(self) -> Result<(Vec<Sequence>, bool), ApiError> {
        match self {
            PredictInput::Text(t) => Ok((vec![Sequence::Single(t)], false)),
            PredictInput::List(l) => Ok((vec![Sequence::from_list(l, "`inputs`")?], false)),
            PredictInput::Batch(b) => {
                let seqs = b.into_iter().enumerate().map(|(i, l)| Sequence::from_list(l, &format!("input {i}")));
                Ok((seqs.collect::<Result<_, _>>()?, true))
            }
        }
    }
}

/// TEI's `PredictRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct PredictRequest {
    inputs: PredictInput,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationDirection,
    #[serde(default)]
    raw_scores: bool,
    /// The served model to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// TEI's `Prediction`.
#[derive(Debug, Serialize)]
pub(crate) struct Prediction {
    score: f32,
    label: String,
}

/// Encodes a text as the classify pipeline does, or a pair as transformers does (longest-first truncation to the
/// model's maximum length), cutting from `direction`'s end; an empty text gets
/// [`albert::pipeline::InputError::Empty`].
fn encode_sequence(model: &PipelineModel, seq: &Sequence, direction: Direction) -> albert::Result<PerInput<Truncated>> {
    match seq {
        Sequence::Single(t) => Ok(model.encode_each_from(&[t.as_str()], None, direction)?.remove(0)),
        Sequence::Pair(a, b) => {
            if a.trim().is_empty() || b.trim().is_empty() {
                return Ok(Err(albert::pipeline::InputError::Empty));
            }
            let max_length = model.max_length(None)?;
            let opts = EncodeOptions::truncating_from(max_length, TruncationStrategy::LongestFirst, direction);
            Ok(model.tokenizer.encode(a, Some(b), &opts).map_err(Into::into).map(|mut encoding: Encoding| {
                let truncated = !std::mem::take(&mut encoding.overflowing).is_empty();
                Truncated { encoding, truncated }
            }))
        }
    }
}

/// `POST /predict`: every label with its score, best first (softmax, or sigmoid for one label; the logits with
/// `raw_scores`); a list for a single input, a list of lists for a batch.
pub(crate) async fn predict(
    AxumState(state): State,
    Body(req): Body<PredictRequest>,
) -> Result<Json<OneOrMany<Vec<Prediction>>>, ApiError> {
    let truncation = TruncationRequest::new(req.truncate, req.truncation_direction);
    let (sequences, batch) = req.inputs.sequences()?;
    state.check_batch(sequences.len())?;
    let (_, pipeline) = state.pipeline(Task::Classify, req.model.as_deref())?;
    let opts = options(&state);
    let raw = req.raw_scores;
    let results = state
        .compute(move || {
            let cfg = pipeline.config();
            let function = match raw {
                true => ScoreFunction::None,
                false => ScoreFunction::for_config(cfg.problem_type, cfg.num_labels()),
            };
            let encoded =
                sequences.iter().map(|s| encode_sequence(&pipeline, s, truncation.direction)).collect::<albert::Result<_>>()?;
            let results = classify::classify_encoded_each(&pipeline, encoded, None, function, &opts)?;
            truncation.results(&pipeline, results, |c: &Classification| c.truncated)
        })
        .await?;
    let predictions = results
        .into_iter()
        .map(|c| c.labels.into_iter().map(|l| Prediction { score: l.score, label: l.label }).collect())
        .collect();
    Ok(Json(OneOrMany::shaped(batch, predictions)))
}

/// TEI's `TokenizeRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenizeRequest {
    inputs: Texts,
    #[serde(default = "yes")]
    add_special_tokens: bool,
    #[serde(default)]
    prompt_name: Option<String>,
    /// The served model whose tokenizer to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// TEI's `SimpleToken`: offsets are byte offsets into the input, absent for special tokens.
#[derive(Debug, Serialize)]
pub(crate) struct SimpleToken {
    id: u32,
    text: String,
    special: bool,
    start: Option<usize>,
    stop: Option<usize>,
}

/// The tokens of `encoding` of `text` as TEI lists them: a special token by its string, any other by the slice of
/// the text it came from (the encoding's code-point offsets turned into byte offsets).
fn simple_tokens(encoding: &Encoding, text: &str) -> Vec<SimpleToken> {
    // Byte offset of each code point, and of the text's end.
    let bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).chain([text.len()]).collect();
    let at = |c: usize| bytes[c.min(bytes.len() - 1)];
    (0..encoding.len())
        .map(|i| {
            let id = encoding.ids[i];
            if encoding.special_tokens_mask[i] == 1 {
                return SimpleToken { id, text: encoding.tokens[i].clone(), special: true, start: None, stop: None };
            }
            let (start, stop) = (at(encoding.offsets[i].0), at(encoding.offsets[i].1));
            let piece = text.get(start..stop).unwrap_or_default().to_string();
            SimpleToken { id, text: piece, special: false, start: Some(start), stop: Some(stop) }
        })
        .collect()
}

/// `POST /tokenize`: the tokens of each input (a list of lists, a single input too).
pub(crate) async fn tokenize(
    AxumState(state): State,
    Body(req): Body<TokenizeRequest>,
) -> Result<Json<Vec<Vec<SimpleToken>>>, ApiError> {
    no_prompt(&req.prompt_name)?;
    let texts: Vec<String> = req.inputs.texts().into_iter().map(str::to_string).collect();
    state.check_batch(texts.len())?;
    let pipeline = state.model_or_default(req.model.as_deref())?.pipelines[0].clone();
    let opts = EncodeOptions { add_special_tokens: req.add_special_tokens, ..EncodeOptions::default() };
    let tokens = state
        .compute(move || {
            texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let encoding = pipeline.tokenizer.encode(t, None, &opts).map_err(|e| ApiError::input(i, &e.into()))?;
                    Ok(simple_tokens(&encoding, t))
                })
                .collect()
        })
        .await?;
    Ok(Json(tokens))
}

/// TEI's `InputIds`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InputIds {
    Single(Vec<u32>),
    Batch(Vec<Vec<u32>>),
}

/// TEI's `DecodeRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct DecodeRequest {
    ids: InputIds,
    #[serde(default = "yes")]
    skip_special_tokens: bool,
    /// The served model whose tokenizer to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// `POST /decode`: the text of each id list (a list, a single one too).
pub(crate) async fn decode(AxumState(state): State, Body(req): Body<DecodeRequest>) -> Result<Json<Vec<String>>, ApiError> {
    let ids = match req.ids {
        InputIds::Single(one) => vec![one],
        InputIds::Batch(batch) => batch,
    };
    state.check_batch(ids.len())?;
    let pipeline = state.model_or_default(req.model.as_deref())?.pipelines[0].clone();
    let skip = req.skip_special_tokens;
    let texts = state
        .compute(move || {
            ids.iter()
                .enumerate()
                .map(|(i, ids)| pipeline.tokenizer.decode(ids, skip).map_err(|e| ApiError::input(i, &e.into())))
                .collect()
        })
        .await?;
    Ok(Json(texts))
}

/// TEI's `SimilarityInput`.
#[derive(Debug, Deserialize)]
pub(crate) struct SimilarityInput {
    source_sentence: String,
    sentences: Vec<String>,
}

/// TEI's `SimilarityParameters`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SimilarityParameters {
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationDirection,
    #[serde(default)]
    prompt_name: Option<String>,
}

/// TEI's `SimilarityRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct SimilarityRequest {
    inputs: SimilarityInput,
    #[serde(default)]
    parameters: Option<SimilarityParameters>,
    /// The served model to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// `POST /similarity`: the cosine of the source sentence's vector with each sentence's (as `albert similarity`).
pub(crate) async fn similarity(AxumState(state): State, Body(req): Body<SimilarityRequest>) -> Result<Json<Vec<f32>>, ApiError> {
    let parameters = req.parameters.unwrap_or_default();
    no_prompt(&parameters.prompt_name)?;
    let truncation = TruncationRequest::new(parameters.truncate, parameters.truncation_direction);
    if req.inputs.sentences.is_empty() {
        return Err(ApiError::new(ErrorType::Empty, "`inputs.sentences` cannot be empty"));
    }
    let texts = std::iter::once(req.inputs.source_sentence).chain(req.inputs.sentences).map(InputType::Text).collect();
    let vectors = embeddings(&state, req.model.as_deref(), texts, truncation, false, None).await?;
    let (source, others) = vectors.split_first().expect("the source sentence has a vector");
    Ok(Json(others.iter().map(|(v, _)| embed::cosine(&source.0, v)).collect()))
}

/// TEI's `RerankRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct RerankRequest {
    query: String,
    texts: Vec<String>,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationDirection,
    #[serde(default)]
    raw_scores: bool,
    #[serde(default)]
    return_text: bool,
    /// The served model to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// TEI's `Rank`.
#[derive(Debug, Serialize)]
pub(crate) struct Rank {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    score: f32,
}

/// `POST /rerank`: each text scored with the query as a pair by a classifier with one output (a cross-encoder;
/// the sigmoid of its logit, the logit with `raw_scores`, as TEI), best first.
pub(crate) async fn rerank(AxumState(state): State, Body(req): Body<RerankRequest>) -> Result<Json<Vec<Rank>>, ApiError> {
    let truncation = TruncationRequest::new(req.truncate, req.truncation_direction);
    if req.texts.is_empty() {
        return Err(ApiError::new(ErrorType::Empty, "`texts` cannot be empty"));
    }
    state.check_batch(req.texts.len())?;
    let needs = "an AlbertForSequenceClassification checkpoint with one label (a cross-encoder scoring pairs)";
    let (_, pipeline) =
        state.pipeline_where(Task::Classify, req.model.as_deref(), |p| p.config().num_labels() == 1, needs)?;
    let opts = options(&state);
    let function = if req.raw_scores { ScoreFunction::None } else { ScoreFunction::Sigmoid };
    let pairs: Vec<Sequence> = req.texts.iter().map(|t| Sequence::Pair(req.query.clone(), t.clone())).collect();
    let results = state
        .compute(move || {
            let encoded =
                pairs.iter().map(|s| encode_sequence(&pipeline, s, truncation.direction)).collect::<albert::Result<_>>()?;
            let results = classify::classify_encoded_each(&pipeline, encoded, None, function, &opts)?;
            truncation.results(&pipeline, results, |c: &Classification| c.truncated)
        })
        .await?;
    let mut texts = req.texts.into_iter();
    let mut ranks: Vec<Rank> = results
        .into_iter()
        .enumerate()
        .map(|(index, c)| Rank { index, text: texts.next().filter(|_| req.return_text), score: c.labels[0].score })
        .collect();
    // As TEI: an ascending stable sort reversed (equal scores come in reverse input order).
    ranks.sort_by(|a, b| a.score.total_cmp(&b.score));
    ranks.reverse();
    Ok(Json(ranks))
}

/// TEI's `EmbedAllRequest`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbedAllRequest {
    inputs: Input,
    #[serde(default)]
    truncate: Option<bool>,
    #[serde(default)]
    truncation_direction: TruncationDirection,
    #[serde(default)]
    prompt_name: Option<String>,
    /// The served model to use (this server's addition).
    #[serde(default)]
    model: Option<String>,
}

/// `POST /embed_all`: every token's vector (the last hidden state, special tokens included, no pooling), per input.
pub(crate) async fn embed_all(
    AxumState(state): State,
    Body(req): Body<EmbedAllRequest>,
) -> Result<Json<Vec<Vec<Vec<f32>>>>, ApiError> {
    no_prompt(&req.prompt_name)?;
    let truncation = TruncationRequest::new(req.truncate, req.truncation_direction);
    let inputs = req.inputs.items();
    state.check_batch(inputs.len())?;
    let (_, pipeline) = state.pipeline(Task::Embed, req.model.as_deref())?;
    let batch_size = state.limits.batch_size;
    state
        .compute(move || {
            let encoded = InputType::encode_all(&pipeline, &inputs, truncation.direction)?;
            let encoded = truncation.results(&pipeline, encoded, |t| t.truncated)?;
            let encodings: Vec<&Encoding> = encoded.iter().map(|t| &t.encoding).collect();
            let mut out = vec![Vec::new(); encodings.len()];
            pipeline.run_batches(&encodings, batch_size, |o, batch| {
                for (row, &(i, e)) in batch.iter().enumerate() {
                    // (len, H): the row's real tokens, padding left out.
                    out[i] = o.base.last_hidden_state.get(row)?.narrow(0, 0, e.len())?.to_vec2::<f32>()?;
                }
                Ok(())
            })?;
            match out.iter().flatten().flatten().any(|x| !x.is_finite()) {
                true => Err(ApiError::new(ErrorType::Backend, "the model's output holds NaN or infinite values")),
                false => Ok(Json(out)),
            }
        })
        .await
}
