//! `POST /explain`: which tokens a prediction rests on (`albert::pipeline::explain`: Integrated Gradients, gradient x
//! input, attention rollout, as Captum computes them), in TEI's style; the answer holds what `albert explain --json`
//! prints, less the inputs it echoes. The gradients are computed on the compute pool, never on the async threads.

use albert::pipeline::explain::{self, ExplainOptions, Explanation, Method, Prediction, Request, Target};
use albert::pipeline::Task;
use axum::extract::State as AxumState;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{Body, State};
use crate::error::{ApiError, ErrorType};

/// Most Integrated Gradients points one request may ask for: each costs a forward and a backward pass.
const MAX_STEPS: usize = 1000;

fn ig() -> String {
    "ig".into()
}

fn fifty() -> usize {
    ExplainOptions::default().steps
}

/// `POST /explain`'s body: `albert explain`'s options.
#[derive(Debug, Deserialize)]
pub(crate) struct ExplainRequest {
    /// The text to explain (with `question`: the context).
    inputs: String,
    /// The second text of a sentence-pair classifier.
    #[serde(default)]
    pair: Option<String>,
    /// The question: the model is then a question-answering one, and the answer's start and end are explained.
    #[serde(default)]
    question: Option<String>,
    /// `ig`, `grad-x-input` or `attention-rollout`.
    #[serde(default = "ig")]
    method: String,
    /// The label to explain (name or index; the predicted one by default); token classification: the entity type
    /// or tag to keep.
    #[serde(default)]
    target: Option<String>,
    /// Integrated Gradients: points of the Gauss-Legendre rule.
    #[serde(default = "fifty")]
    steps: usize,
    /// Word pieces merged into words, a word scoring its pieces' sum.
    #[serde(default)]
    words: bool,
    /// Explain a text over the model's length cut to it (refused otherwise).
    #[serde(default)]
    truncate: Option<bool>,
    /// The served model: a sequence classifier (the default), a token classifier, or a question-answering model.
    #[serde(default)]
    model: Option<String>,
}

/// One target's scores, as `albert explain --json` gives them.
#[derive(Debug, Serialize)]
pub(crate) struct Explained {
    label: String,
    probability: f32,
    target: Target,
    scores: Vec<f32>,
    output: f32,
    delta: Option<f32>,
}

/// `POST /explain`'s answer: the units (`tokens`, or `words` when asked) with their spans, the prediction, and one
/// row of scores per target.
#[derive(Debug, Serialize)]
pub(crate) struct ExplainResponse {
    method: Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    words: Option<Vec<String>>,
    offsets: Vec<(usize, usize)>,
    prediction: Option<Prediction>,
    truncated: bool,
    targets: Vec<Explained>,
}

impl ExplainResponse {
    /// `e` over tokens, or over words of `sources` (the texts its offsets index).
    fn of(e: Explanation, sources: &[&str], words: bool) -> Self {
        let (tokens, words, offsets, scores) = match words {
            true => {
                let w = e.words(sources);
                (None, Some(w.words), w.offsets, w.scores)
            }
            false => (Some(e.tokens), None, e.offsets, e.targets.iter().map(|t| t.attribution.scores.clone()).collect()),
        };
        let targets = e
            .targets
            .into_iter()
            .zip(scores)
            .map(|(t, scores)| Explained {
                label: t.label,
                probability: t.probability,
                target: t.attribution.target,
                scores,
                output: t.attribution.output,
                delta: t.attribution.delta,
            })
            .collect();
        Self { method: e.method, tokens, words, offsets, prediction: e.prediction, truncated: e.truncated, targets }
    }
}

/// The task a request explains: a question's answer, else the named model's head (a sequence or a token
/// classifier), else a sequence classifier's label.
fn task_of(state: &crate::state::AppState, req: &ExplainRequest) -> Result<Task, ApiError> {
    let Some(name) = req.model.as_deref().filter(|_| req.question.is_none()) else {
        return Ok(if req.question.is_some() { Task::QuestionAnswering } else { Task::Classify });
    };
    let model = state.model(name)?;
    [Task::Classify, Task::Ner].into_iter().find(|&t| model.pipeline(t).is_some()).ok_or_else(|| {
        ApiError::validation(format!(
            "model `{name}` ({}) is not explained without `question`: /explain needs a sequence classifier, a token \
             classifier, or a question-answering model and a `question`",
            model.architecture.hf_name()
        ))
    })
}

/// `POST /explain`: the explanation of one text's prediction, as `albert explain --json` gives it.
pub(crate) async fn explain(AxumState(state): State, Body(req): Body<ExplainRequest>) -> Result<Json<ExplainResponse>, ApiError> {
    let method: Method = req.method.parse().map_err(|e: String| ApiError::validation(format!("`method`: {e}")))?;
    if req.steps == 0 || req.steps > MAX_STEPS {
        return Err(ApiError::validation(format!("`steps` should be between 1 and {MAX_STEPS}")));
    }
    if req.inputs.trim().is_empty() || req.question.as_deref().is_some_and(|q| q.trim().is_empty()) {
        return Err(ApiError::new(ErrorType::Empty, "`inputs` and `question` cannot be empty"));
    }
    let task = task_of(&state, &req)?;
    if task != Task::Classify && req.pair.is_some() {
        return Err(ApiError::validation("`pair` is for sentence-pair classifiers"));
    }
    if task == Task::QuestionAnswering && req.target.is_some() {
        return Err(ApiError::validation("`target` does not apply to question answering: the answer's start and end are explained"));
    }
    let (_, pipeline) = state.pipeline(task, req.model.as_deref())?;
    let opts = ExplainOptions { steps: req.steps, ..ExplainOptions::default() };
    let shared = state.clone();
    state
        .compute(move || {
            let (text, pair, target) = (req.inputs.as_str(), req.pair.as_deref(), req.target.as_deref());
            let (request, sources) = match (task, req.question.as_deref()) {
                (Task::QuestionAnswering, Some(question)) => (Request::Answer { question, context: text }, vec![question, text]),
                (Task::Ner, _) => (Request::Entities { text, label: target }, vec![text]),
                _ => (Request::Classify { text, pair, label: target }, std::iter::once(text).chain(pair).collect()),
            };
            let explained = shared.on_compute_pool(|| explain::explain(&pipeline, &request, method, &opts, &mut |_| {}))?;
            // A QA context read in several windows is not cut: the explained window is the answer's.
            if explained.truncated && task != Task::QuestionAnswering && req.truncate != Some(true) {
                let max = pipeline.max_length(None)?;
                return Err(ApiError::validation(format!(
                    "the input is longer than the model's {max} tokens; pass \"truncate\": true to explain it cut"
                )));
            }
            Ok(Json(ExplainResponse::of(explained, &sources, req.words)))
        })
        .await
}
