//! Token attributions: which tokens a prediction rests on, as Captum computes them for transformers models.
//!
//! - [`Method::IntegratedGradients`]: Captum's `LayerIntegratedGradients` on the output of the embedding layer
//!   (`albert.embeddings`: word + position + token type, after its LayerNorm). The layer's output is interpolated
//!   from a baseline's, `[CLS] <pad>... [SEP]` of the same length (special tokens kept, every other token the pad id),
//!   to the input's at Captum's default Gauss-Legendre points; the gradients of the target at those points, weighted,
//!   times (input - baseline), summed over the hidden dimension, give one score per token. Their sum equals
//!   `F(input) - F(baseline)` up to the convergence delta, which is reported.
//! - [`Method::GradientXInput`]: Captum's `LayerGradientXActivation` on the same layer: the gradient of the target at
//!   the input times the layer's output, summed over the hidden dimension.
//! - [`Method::AttentionRollout`]: Abnar & Zuidema (2020) over the layers as run (ALBERT shares weights, not
//!   attention maps): per layer the mean over heads `A`, then `0.5 A + 0.5 I` with rows renormalized, multiplied
//!   through the layers (`R = A_l R`); a target's scores are the row of the position its head reads ([CLS] for a
//!   sequence label).
//!
//! Targets ([`Target`]) are a head's logits: a sequence label, a question-answering start or end position, a token's
//! label. Gradients come from the model's autodiff (the fused layer's backward pass), so the model must be the
//! trainable one ([`Pretrained::model`](crate::pretrained::Pretrained)), not one prepared for inference.
//!
//! [`explain`] runs a [`PipelineModel`] end to end: it picks the targets (the predicted label, the answer's start and
//! end, every entity) and returns tokens, offsets and scores per target; [`attribute`] is the method on one encoding
//! for given targets.

use candle_core::{DType, Device, Tensor, Var, D};
use serde::Serialize;

use super::{argmax, softmax, PipelineModel, Task};
use crate::error::{Error, Result};
use crate::model::{AlbertForAny, AlbertInput, AlbertModel, ForwardOptions, HeadOutput};
use crate::tokenizer::{EncodeOptions, Encoding, TruncationStrategy};

/// An attribution method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Integrated Gradients on the embedding layer's output (Captum's `LayerIntegratedGradients`).
    #[serde(rename = "ig")]
    IntegratedGradients,
    /// Gradient times the embedding layer's output (Captum's `LayerGradientXActivation`).
    GradXInput,
    /// Attention rollout (Abnar & Zuidema 2020).
    AttentionRollout,
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "ig" | "integrated-gradients" => Ok(Self::IntegratedGradients),
            "grad-x-input" | "gradient-x-input" => Ok(Self::GradXInput),
            "attention-rollout" | "rollout" => Ok(Self::AttentionRollout),
            other => Err(format!("unknown method {other:?}; expected ig, grad-x-input or attention-rollout")),
        }
    }
}

impl Method {
    /// The method's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::IntegratedGradients => "ig",
            Self::GradXInput => "grad-x-input",
            Self::AttentionRollout => "attention-rollout",
        }
    }

    /// Forward passes (of `steps` rows for Integrated Gradients, one row otherwise) one input costs: the unit of
    /// the `progress` callbacks.
    pub fn work(self, opts: &ExplainOptions) -> usize {
        match self {
            Self::IntegratedGradients => opts.steps.div_ceil(opts.internal_batch_size.max(1)) + 1,
            Self::GradXInput | Self::AttentionRollout => 1,
        }
    }
}

/// The output a score explains: one logit of the model's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// Sequence classification: the logit of `label`.
    Label {
        /// Label index.
        label: usize,
    },
    /// Question answering: the start logit at `position` (a token index).
    Start {
        /// Token index.
        position: usize,
    },
    /// Question answering: the end logit at `position`.
    End {
        /// Token index.
        position: usize,
    },
    /// Token classification: the logit of `label` at `position`.
    Token {
        /// Token index.
        position: usize,
        /// Label index.
        label: usize,
    },
}

impl Target {
    /// The token whose representation the head reads: [CLS] (through the pooler) for a sequence label.
    fn position(self) -> usize {
        match self {
            Self::Label { .. } => 0,
            Self::Start { position } | Self::End { position } | Self::Token { position, .. } => position,
        }
    }
}

/// How attributions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplainOptions {
    /// Integrated Gradients: points of the Gauss-Legendre rule (Captum's `n_steps`, 50).
    pub steps: usize,
    /// Integrated Gradients: points per forward pass (Captum's `internal_batch_size`; 16).
    pub internal_batch_size: usize,
    /// Longest input in tokens, special tokens included; `None`: as the pipelines ([`PipelineModel::max_length`]).
    pub max_length: Option<usize>,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        Self { steps: 50, internal_batch_size: 16, max_length: None }
    }
}

/// One target's attributions over the tokens of an input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// What was explained.
    pub target: Target,
    /// One score per token, signed: what the token adds to the target (for rollout, its share of the target
    /// position's attention, all positive).
    pub scores: Vec<f32>,
    /// The target's value on the input, `F(input)`.
    pub output: f32,
    /// Integrated Gradients: `sum(scores) - (F(input) - F(baseline))`, Captum's convergence delta; `None` for the
    /// other methods.
    pub delta: Option<f32>,
}

/// The Gauss-Legendre rule of `n` points scaled to [0, 1], as Captum's `gauss_legendre_builders` takes it from
/// numpy's `leggauss`: (alphas, step sizes), alphas ascending.
pub fn gauss_legendre(n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if n == 0 {
        return Err(Error::Input("Integrated Gradients needs at least one step".into()));
    }
    let (mut nodes, mut weights) = (vec![0.0; n], vec![0.0; n]);
    // Newton's iteration on P_n from the Chebyshev-like guess, one root of each symmetric pair at a time.
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 0.0;
        for _ in 0..100 {
            // P_n(z) by the three-term recurrence, and P_n'(z) from P_n and P_{n-1}.
            let (mut p1, mut p2) = (1.0, 0.0);
            for j in 1..=n {
                let p3 = p2;
                p2 = p1;
                p1 = ((2 * j - 1) as f64 * z * p2 - (j - 1) as f64 * p3) / j as f64;
            }
            derivative = n as f64 * (z * p1 - p2) / (z * z - 1.0);
            let previous = z;
            z = previous - p1 / derivative;
            if (z - previous).abs() < 1e-15 {
                break;
            }
        }
        let w = 2.0 / ((1.0 - z * z) * derivative * derivative);
        (nodes[i], nodes[n - 1 - i]) = (-z, z);
        (weights[i], weights[n - 1 - i]) = (w, w);
    }
    Ok((nodes.iter().map(|x| 0.5 * (1.0 + x)).collect(), weights.iter().map(|w| 0.5 * w).collect()))
}

/// The baseline of `encoding`: special tokens kept, every other token `pad_id`.
pub fn baseline_ids(encoding: &Encoding, pad_id: u32) -> Vec<u32> {
    encoding.ids.iter().zip(&encoding.special_tokens_mask).map(|(&id, &special)| if special == 1 { id } else { pad_id }).collect()
}

/// The encoder under a head `explain` reads, or an error naming the class.
fn encoder(model: &AlbertForAny) -> Result<&AlbertModel> {
    match model {
        AlbertForAny::SequenceClassification(m) => Ok(&m.albert),
        AlbertForAny::TokenClassification(m) => Ok(&m.albert),
        AlbertForAny::QuestionAnswering(m) => Ok(&m.albert),
        other => Err(Error::Input(format!(
            "explain reads sequence-classification, token-classification and question-answering heads; this model is {}",
            other.architecture().hf_name()
        ))),
    }
}

/// The head's output on `embedded` (rows, seq, E) in place of the embedding layer's output (eval mode).
fn head(model: &AlbertForAny, embedded: &Tensor, mask: &Tensor, opts: &ForwardOptions) -> Result<(HeadOutput, Option<Vec<Tensor>>)> {
    let base = encoder(model)?.forward_embedded(embedded, Some(mask), opts)?;
    let head = match model {
        AlbertForAny::SequenceClassification(m) => {
            let pooled = base.pooler_output.as_ref().ok_or_else(|| Error::Input("this class has no pooler".into()))?;
            HeadOutput::Logits(m.classifier.forward(pooled, false)?)
        }
        AlbertForAny::TokenClassification(m) => HeadOutput::Logits(m.classifier.forward(&base.last_hidden_state, false)?),
        AlbertForAny::QuestionAnswering(m) => {
            // (rows, seq, 2)
            let logits = m.qa_outputs.forward(&base.last_hidden_state)?;
            HeadOutput::Span {
                start_logits: logits.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?,
                end_logits: logits.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?,
            }
        }
        _ => unreachable!("encoder() accepted the class"),
    };
    Ok((head, base.attentions))
}

/// The target's value in each row: (rows,).
fn pick(head: &HeadOutput, target: Target) -> Result<Tensor> {
    Ok(match target {
        Target::Label { label } => head.logits()?.narrow(1, label, 1)?.squeeze(1)?,
        Target::Start { position } => head.span_logits()?.0.narrow(1, position, 1)?.squeeze(1)?,
        Target::End { position } => head.span_logits()?.1.narrow(1, position, 1)?.squeeze(1)?,
        Target::Token { position, label } => head.logits()?.narrow(1, position, 1)?.narrow(2, label, 1)?.flatten_all()?,
    })
}

/// Refuses a target the model's head does not have, naming it.
fn check_target(model: &AlbertForAny, target: Target, seq: usize) -> Result<()> {
    let labels = encoder(model)?.config().num_labels();
    let fits = match (model, target) {
        (AlbertForAny::SequenceClassification(_), Target::Label { label }) => label < labels,
        (AlbertForAny::QuestionAnswering(_), Target::Start { position } | Target::End { position }) => position < seq,
        (AlbertForAny::TokenClassification(_), Target::Token { position, label }) => position < seq && label < labels,
        _ => false,
    };
    if !fits {
        return Err(Error::Input(format!(
            "target {target:?} does not fit a {} over {seq} tokens ({labels} labels)",
            model.architecture().hf_name()
        )));
    }
    Ok(())
}

/// One input's tensors: (1, seq) each.
fn input_of(ids: &[u32], encoding: &Encoding, device: &Device) -> Result<AlbertInput> {
    let row = |v: &[u32]| Tensor::from_vec(v.to_vec(), (1, v.len()), device);
    Ok(AlbertInput {
        input_ids: row(ids)?,
        token_type_ids: Some(row(&encoding.type_ids)?),
        attention_mask: Some(row(&encoding.attention_mask)?),
        position_ids: None,
    })
}

/// Attributions of `targets` over the tokens of `encoding` by `method`, on `model` (a trainable, unprepared model:
/// gradients are needed). `pad_id` fills the Integrated Gradients baseline. `progress` is called with the work done
/// after each forward pass (see [`Method::work`]).
pub fn attribute(
    model: &AlbertForAny,
    encoding: &Encoding,
    targets: &[Target],
    method: Method,
    pad_id: u32,
    opts: &ExplainOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Attribution>> {
    let seq = encoding.len();
    if seq == 0 || encoding.type_ids.len() != seq || encoding.attention_mask.len() != seq || encoding.special_tokens_mask.len() != seq {
        return Err(Error::Input("the encoding is empty or its ids, type ids, masks differ in length".into()));
    }
    for &t in targets {
        check_target(model, t, seq)?;
    }
    let albert = encoder(model)?;
    let device = albert.embeddings().word_embeddings().device().clone();
    let input = input_of(&encoding.ids, encoding, &device)?;
    // (1, seq, E), detached: the attributions start at this layer.
    let x = albert.embed(&input, false)?.detach();
    let mask = input.attention_mask.clone().expect("input_of sets the mask");
    match method {
        Method::IntegratedGradients => {
            let baseline = input_of(&baseline_ids(encoding, pad_id), encoding, &device)?;
            let x0 = albert.embed(&baseline, false)?.detach();
            integrated_gradients(model, &x, &x0, &mask, targets, opts, progress)
        }
        Method::GradXInput => {
            let (grads, outputs) = gradients(model, &x, &mask, targets)?;
            progress(1);
            grads
                .into_iter()
                .zip(outputs)
                .zip(targets)
                .map(|((g, output), &target)| {
                    // (1, seq, E) -> (seq)
                    let scores = (g * &x)?.sum(D::Minus1)?.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?;
                    Ok(Attribution { target, scores, output: output[0], delta: None })
                })
                .collect()
        }
        Method::AttentionRollout => {
            let opts = ForwardOptions { output_attentions: true, ..ForwardOptions::default() };
            let (head_out, attentions) = head(model, &x, &mask, &opts)?;
            progress(1);
            let maps = attention_maps(attentions)?;
            let rolled = rollout(&maps);
            targets
                .iter()
                .map(|&target| {
                    let output = pick(&head_out, target)?.to_dtype(DType::F32)?.to_vec1::<f32>()?[0];
                    let scores = rolled[target.position()].iter().map(|&v| v as f32).collect();
                    Ok(Attribution { target, scores, output, delta: None })
                })
                .collect()
        }
    }
}

/// Gradients of each target at `points` (rows, seq, E), with each target's values per row.
fn gradients(model: &AlbertForAny, points: &Tensor, mask: &Tensor, targets: &[Target]) -> Result<(Vec<Tensor>, Vec<Vec<f32>>)> {
    let rows = points.dim(0)?;
    let var = Var::from_tensor(points)?;
    let mask = mask.broadcast_as((rows, mask.dim(1)?))?.contiguous()?;
    let (out, _) = head(model, var.as_tensor(), &mask, &ForwardOptions::default())?;
    let mut grads = Vec::with_capacity(targets.len());
    let mut values = Vec::with_capacity(targets.len());
    for &t in targets {
        // Rows are independent, so the gradient of the sum is each row's gradient.
        let picked = pick(&out, t)?;
        let store = picked.sum_all()?.backward()?;
        let g = store.get(var.as_tensor()).ok_or_else(|| {
            Error::Input("no gradient reached the embeddings: the model was prepared for inference (use the trainable model)".into())
        })?;
        grads.push(g.clone());
        values.push(picked.to_dtype(DType::F32)?.to_vec1()?);
    }
    Ok((grads, values))
}

/// Captum's `IntegratedGradients._attribute` on the layer output: points `x0 + alpha (x - x0)`, gradients weighted
/// by the step sizes and summed, times `x - x0`; then the convergence delta from one more forward pass.
fn integrated_gradients(
    model: &AlbertForAny,
    x: &Tensor,
    x0: &Tensor,
    mask: &Tensor,
    targets: &[Target],
    opts: &ExplainOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Attribution>> {
    let (alphas, step_sizes) = gauss_legendre(opts.steps)?;
    // (1, seq, E)
    let diff = (x - x0)?;
    let mut total: Vec<Option<Tensor>> = vec![None; targets.len()];
    let chunk = opts.internal_batch_size.max(1);
    for (alpha_chunk, step_chunk) in alphas.chunks(chunk).zip(step_sizes.chunks(chunk)) {
        let rows = alpha_chunk.len();
        let device = x.device();
        // (rows, 1, 1) in the model's dtype, as Captum casts its float32 step sizes.
        let column = |v: &[f64]| Tensor::from_vec(v.to_vec(), (rows, 1, 1), device)?.to_dtype(x.dtype());
        // (rows, seq, E)
        let points = x0.broadcast_add(&column(alpha_chunk)?.broadcast_mul(&diff)?)?;
        let (grads, _) = gradients(model, &points, mask, targets)?;
        let weights = column(step_chunk)?;
        for (sum, g) in total.iter_mut().zip(grads) {
            // (rows, seq, E) -> (1, seq, E)
            let part = g.broadcast_mul(&weights)?.sum_keepdim(0)?;
            *sum = Some(match sum.take() {
                Some(s) => (s + part)?,
                None => part,
            });
        }
        progress(1);
    }
    // F(input) and F(baseline) in one pass: (2, seq, E).
    let both = Tensor::cat(&[x, x0], 0)?;
    let mask2 = mask.broadcast_as((2, mask.dim(1)?))?.contiguous()?;
    let (ends, _) = head(model, &both, &mask2, &ForwardOptions::default())?;
    progress(1);
    targets
        .iter()
        .zip(total)
        .map(|(&target, sum)| {
            let sum = sum.expect("at least one step");
            // (1, seq, E) -> (seq)
            let scores: Vec<f32> = (sum * &diff)?.sum(D::Minus1)?.squeeze(0)?.to_dtype(DType::F32)?.to_vec1()?;
            let f: Vec<f32> = pick(&ends, target)?.to_dtype(DType::F32)?.to_vec1()?;
            let attributed: f64 = scores.iter().map(|&s| s as f64).sum();
            let delta = (attributed - (f[0] as f64 - f[1] as f64)) as f32;
            Ok(Attribution { target, scores, output: f[0], delta: Some(delta) })
        })
        .collect()
}

/// Attention probabilities of every layer run, one input: [layer][head][query][key].
pub type AttentionMaps = Vec<Vec<Vec<Vec<f32>>>>;

fn attention_maps(attentions: Option<Vec<Tensor>>) -> Result<AttentionMaps> {
    let attentions = attentions.ok_or_else(|| Error::Input("the model returned no attention probabilities".into()))?;
    // (1, heads, seq, seq) per layer
    attentions.iter().map(|a| Ok(a.squeeze(0)?.to_dtype(DType::F32)?.to_vec3()?)).collect()
}

/// The attention probabilities of every layer run on `encoding`, for plotting.
pub fn attention(model: &AlbertForAny, encoding: &Encoding) -> Result<AttentionMaps> {
    let albert = encoder(model).or_else(|_| match model {
        AlbertForAny::Model(m) => Ok(m),
        AlbertForAny::MaskedLM(m) => Ok(&m.albert),
        AlbertForAny::PreTraining(m) => Ok(&m.albert),
        other => Err(Error::Input(format!("no attention maps for {}", other.architecture().hf_name()))),
    })?;
    let device = albert.embeddings().word_embeddings().device().clone();
    let input = input_of(&encoding.ids, encoding, &device)?;
    let opts = ForwardOptions { output_attentions: true, ..ForwardOptions::default() };
    attention_maps(albert.forward(&input, &opts)?.attentions)
}

/// Abnar & Zuidema's rollout of `maps`: per layer the mean over heads, `0.5 A + 0.5 I`, rows renormalized,
/// multiplied through the layers in the order run. (seq, seq), in f64.
pub fn rollout(maps: &AttentionMaps) -> Vec<Vec<f64>> {
    let mut result: Option<Vec<Vec<f64>>> = None;
    for layer in maps {
        let seq = layer.first().map_or(0, Vec::len);
        let heads = layer.len() as f64;
        let mut a = vec![vec![0.0f64; seq]; seq];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let mean = layer.iter().map(|h| h[i][j] as f64).sum::<f64>() / heads;
                *v = 0.5 * mean + if i == j { 0.5 } else { 0.0 };
            }
            let total: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= total);
        }
        result = Some(match result {
            None => a,
            Some(r) => a.iter().map(|ai| (0..seq).map(|j| ai.iter().zip(&r).map(|(aik, rk)| aik * rk[j]).sum()).collect()).collect(),
        });
    }
    result.unwrap_or_default()
}

/// What one target of an explained input is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explained {
    /// What the scores explain, in words: the label's name; `start of "Paris"`; `B-LOC at "Paris"`.
    pub label: String,
    /// The model's probability of it: softmax over the labels, or over the positions for an answer's start or end.
    pub probability: f32,
    /// The attributions.
    #[serde(flatten)]
    pub attribution: Attribution,
}

/// One input explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The method that made the scores.
    pub method: Method,
    /// The tokens of the input as run (special tokens included).
    pub tokens: Vec<String>,
    /// Code-point spans of the tokens in the text they came from (`(0, 0)` for special tokens).
    pub offsets: Vec<(usize, usize)>,
    /// Which text each token came from: 0 the first (the question for QA), 1 the second (`--pair`, the context).
    pub segments: Vec<u32>,
    /// Whether each token is a special token.
    pub special: Vec<bool>,
    /// The model's prediction: the top label, the answer; `None` for entities (each target is one).
    pub prediction: Option<Prediction>,
    /// One entry per target.
    pub targets: Vec<Explained>,
    /// Whether the input was truncated to the maximum length.
    pub truncated: bool,
}

/// A prediction and its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The label's name or the answer's text.
    pub label: String,
    /// Its probability (an answer: `p_start * p_end`).
    pub probability: f32,
}

/// What [`explain`] explains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// A text (and, for a pair task, its second text) under a sequence classifier; `label` names the label to
    /// explain (its name or index), the predicted one when `None`.
    Classify {
        /// The text.
        text: &'a str,
        /// The second text of a pair.
        pair: Option<&'a str>,
        /// The label to explain.
        label: Option<&'a str>,
    },
    /// The answer to `question` from `context`: its start and end logits, in the window that holds it.
    Answer {
        /// The question.
        question: &'a str,
        /// The context.
        context: &'a str,
    },
    /// Each entity of `text` (token classification): the entity's label at its first token; `label` keeps the
    /// entities of one type (`PER`) or tag (`B-PER`).
    Entities {
        /// The text.
        text: &'a str,
        /// The entity type or tag to keep.
        label: Option<&'a str>,
    },
}

impl Request<'_> {
    /// The task whose model the request needs.
    pub fn task(&self) -> Task {
        match self {
            Self::Classify { .. } => Task::Classify,
            Self::Answer { .. } => Task::QuestionAnswering,
            Self::Entities { .. } => Task::Ner,
        }
    }
}

/// Explains one request on `model` by `method`: the targets are picked from the model's own prediction (or the
/// label asked for), then attributed with [`attribute`].
pub fn explain(
    model: &PipelineModel,
    request: &Request,
    method: Method,
    opts: &ExplainOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Explanation> {
    model.require(request.task())?;
    let cfg = model.config();
    let trainable = model.trainable()?;
    let trainable = &trainable.model;
    let pad_id = model.tokenizer.token_to_id("<pad>").or(cfg.pad_token_id).unwrap_or(0);
    let max_length = model.max_length(opts.max_length)?;
    let (encoding, truncated, prediction, targets) = match *request {
        Request::Classify { text, pair, label } => {
            let (encoding, truncated) = classify_encoding(model, text, pair, max_length)?;
            let probs = softmax(&logits_row(trainable, &encoding)?);
            let best = argmax(&probs);
            let wanted = match label {
                None => best,
                Some(name) => label_index(cfg, name)?,
            };
            let explained = (Target::Label { label: wanted }, cfg.label_name(wanted), probs[wanted]);
            (encoding, truncated, Some(Prediction { label: cfg.label_name(best), probability: probs[best] }), vec![explained])
        }
        Request::Answer { question, context } => answer_targets(model, question, context, max_length)?,
        Request::Entities { text, label } => entity_targets(model, text, label, max_length)?,
    };
    let plain: Vec<Target> = targets.iter().map(|t| t.0).collect();
    let attributions = attribute(trainable, &encoding, &plain, method, pad_id, opts, progress)?;
    Ok(Explanation {
        method,
        tokens: encoding.tokens.clone(),
        offsets: encoding.offsets.clone(),
        segments: encoding.type_ids.clone(),
        special: encoding.special_tokens_mask.iter().map(|&s| s == 1).collect(),
        prediction,
        targets: targets
            .into_iter()
            .zip(attributions)
            .map(|((_, label, probability), attribution)| Explained { label, probability, attribution })
            .collect(),
        truncated,
    })
}

type Picked = (Encoding, bool, Option<Prediction>, Vec<(Target, String, f32)>);

/// The encoding [`explain`] runs a classification request on: `text` (and `pair`) cut to `max_length` tokens, with
/// whether it was cut.
pub(crate) fn classify_encoding(model: &PipelineModel, text: &str, pair: Option<&str>, max_length: usize) -> Result<(Encoding, bool)> {
    if text.trim().is_empty() || pair.is_some_and(|p| p.trim().is_empty()) {
        return Err(Error::Input("the text is empty".into()));
    }
    let mut encoding = model.tokenizer.encode(text, pair, &EncodeOptions::truncating(max_length, TruncationStrategy::LongestFirst))?;
    let truncated = !std::mem::take(&mut encoding.overflowing).is_empty();
    Ok((encoding, truncated))
}

/// A label given by name or index.
fn label_index(cfg: &crate::config::AlbertConfig, name: &str) -> Result<usize> {
    let n = cfg.num_labels();
    if let Some(i) = (0..n).find(|&i| cfg.label_name(i) == name) {
        return Ok(i);
    }
    match name.parse::<usize>() {
        Ok(i) if i < n => Ok(i),
        _ => Err(Error::Input(format!(
            "unknown label {name:?}; the model's labels are {}",
            (0..n).map(|i| cfg.label_name(i)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The head's logits for one encoding: (labels) for a sequence, (seq x labels) flattened for tokens.
fn logits_row(model: &AlbertForAny, encoding: &Encoding) -> Result<Vec<f32>> {
    let albert = encoder(model)?;
    let device = albert.embeddings().word_embeddings().device().clone();
    let input = input_of(&encoding.ids, encoding, &device)?;
    let x = albert.embed(&input, false)?.detach();
    let (out, _) = head(model, &x, input.attention_mask.as_ref().expect("input_of sets the mask"), &ForwardOptions::default())?;
    let values: Vec<f32> = out.logits()?.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::Input(format!("the model's output holds {bad}; the checkpoint's weights are likely corrupt")));
    }
    Ok(values)
}

/// The answer of the QA pipeline, found again in the first window that holds it: its start and end targets.
fn answer_targets(model: &PipelineModel, question: &str, context: &str, max_length: usize) -> Result<Picked> {
    let qa_opts = super::qa::QaOptions { max_length, ..super::qa::QaOptions::default() };
    let answer = super::qa::answer(model, question, context, &qa_opts)?;
    let window = crate::decode::qa::QaWindowOptions { max_seq_length: max_length, doc_stride: qa_opts.stride, max_query_length: usize::MAX };
    let windows = crate::decode::qa::qa_windows(&model.tokenizer, question, context, &window)?;
    for w in windows {
        let w = crate::decode::qa::QaEncodedWindow::new(w?);
        let Some((start, end)) = w.answer_positions(answer.start, answer.end) else { continue };
        let trainable = model.trainable()?;
        let albert = encoder(&trainable.model)?;
        let device = albert.embeddings().word_embeddings().device().clone();
        let input = input_of(&w.encoding.ids, &w.encoding, &device)?;
        let x = albert.embed(&input, false)?.detach();
        let (out, _) = head(&trainable.model, &x, input.attention_mask.as_ref().expect("input_of sets the mask"), &ForwardOptions::default())?;
        let (s, e) = out.span_logits()?;
        let (ps, pe) = (softmax(&s.flatten_all()?.to_vec1()?), softmax(&e.flatten_all()?.to_vec1()?));
        let text = &answer.answer;
        let targets = vec![
            (Target::Start { position: start }, format!("start of {text:?}"), ps[start]),
            (Target::End { position: end }, format!("end of {text:?}"), pe[end]),
        ];
        let truncated = answer.windows > 1;
        return Ok((w.encoding, truncated, Some(Prediction { label: answer.answer.clone(), probability: answer.score }), targets));
    }
    Err(Error::Input("the answer lies in no single window (raise --max-length)".into()))
}

/// Every entity the NER pipeline finds in `text` (of type or tag `label` when given): its first token's label.
fn entity_targets(model: &PipelineModel, text: &str, label: Option<&str>, max_length: usize) -> Result<Picked> {
    let cfg = model.config();
    let popts = super::PipelineOptions { max_length: Some(max_length), batch_size: 1 };
    let found = super::ner::ner(model, &[text], super::ner::Aggregation::First, &popts)?.remove(0);
    let encoded = model.encode(&[text], Some(max_length))?.remove(0);
    let labels = cfg.num_labels();
    let logits = logits_row(&model.trainable()?.model, &encoded.encoding)?;
    let mut targets = Vec::new();
    for entity in &found.entities {
        let position = (0..encoded.encoding.len())
            .find(|&i| encoded.encoding.special_tokens_mask[i] == 0 && encoded.encoding.offsets[i].0 == entity.start)
            .ok_or_else(|| Error::Input(format!("no token starts entity {:?}", entity.word)))?;
        let probs = softmax(&logits[position * labels..(position + 1) * labels]);
        let best = argmax(&probs);
        let tag = cfg.label_name(best);
        if label.is_some_and(|l| l != tag && l != entity.entity_group) {
            continue;
        }
        let described = format!("{tag} at {:?}", entity.span(text));
        targets.push((Target::Token { position, label: best }, described, probs[best]));
    }
    if targets.is_empty() {
        return Err(Error::Input(match label {
            Some(l) => format!("the model finds no {l} entity in the text"),
            None => "the model finds no entity in the text".into(),
        }));
    }
    Ok((encoded.encoding, encoded.truncated, None, targets))
}

/// Tokens merged into words: a word runs over word pieces whose spans touch in the same text, so that it ends
/// at whitespace; special tokens stand alone. Scores of a word are its pieces' sums (attributions add up).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Words {
    /// The words, as written in the text (special tokens as their token).
    pub words: Vec<String>,
    /// Code-point spans of the words in their text.
    pub offsets: Vec<(usize, usize)>,
    /// Which text each word came from (as [`Explanation::segments`]).
    pub segments: Vec<u32>,
    /// Per target, one score per word.
    pub scores: Vec<Vec<f32>>,
}

impl Explanation {
    /// The explanation over words instead of word pieces; `texts` are the inputs (the text, then the second text:
    /// the pair or the context).
    pub fn words(&self, texts: &[&str]) -> Words {
        let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
        for i in 0..self.tokens.len() {
            let joins = i > 0
                && !self.special[i]
                && !self.special[i - 1]
                && self.segments[i] == self.segments[i - 1]
                && self.offsets[i].0 == self.offsets[i - 1].1;
            match groups.last_mut() {
                Some(g) if joins => g.end = i + 1,
                _ => groups.push(i..i + 1),
            }
        }
        let text_of = |g: &std::ops::Range<usize>| -> String {
            let (start, end) = (self.offsets[g.start].0, self.offsets[g.end - 1].1);
            match texts.get(self.segments[g.start] as usize) {
                Some(t) if !self.special[g.start] => t.chars().skip(start).take(end.saturating_sub(start)).collect(),
                _ => self.tokens[g.clone()].concat(),
            }
        };
        Words {
            words: groups.iter().map(text_of).collect(),
            offsets: groups.iter().map(|g| (self.offsets[g.start].0, self.offsets[g.end - 1].1)).collect(),
            segments: groups.iter().map(|g| self.segments[g.start]).collect(),
            scores: self.targets.iter().map(|t| groups.iter().map(|g| t.attribution.scores[g.clone()].iter().sum()).collect()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed forms of the 2- and 3-point rules (nodes ±1/√3; 0, ±√(3/5); weights 1, 1; 8/9, 5/9, 5/9), scaled to
    /// [0, 1] as Captum scales numpy's.
    #[test]
    fn gauss_legendre_matches_the_closed_forms() {
        let (a, w) = gauss_legendre(2).unwrap();
        let r = 1.0 / 3f64.sqrt();
        assert!((a[0] - 0.5 * (1.0 - r)).abs() < 1e-14 && (a[1] - 0.5 * (1.0 + r)).abs() < 1e-14);
        assert!((w[0] - 0.5).abs() < 1e-14 && (w[1] - 0.5).abs() < 1e-14);
        let (a, w) = gauss_legendre(3).unwrap();
        let r = (3.0f64 / 5.0).sqrt();
        for (got, want) in a.iter().zip([0.5 * (1.0 - r), 0.5, 0.5 * (1.0 + r)]) {
            assert!((got - want).abs() < 1e-14, "{a:?}");
        }
        for (got, want) in w.iter().zip([5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0]) {
            assert!((got - want).abs() < 1e-14, "{w:?}");
        }
        assert!(gauss_legendre(0).is_err());
    }

    /// Two layers of one head over two tokens, by hand: A1 = [[1, 0], [0.5, 0.5]] -> 0.5 A + 0.5 I =
    /// [[1, 0], [0.25, 0.75]]; A2 = [[0, 1], [0, 1]] -> [[0.5, 0.5], [0, 1]]; R = A2' A1' = [[0.625, 0.375],
    /// [0.25, 0.75]].
    #[test]
    fn rollout_multiplies_the_layers_in_order() {
        let maps: AttentionMaps = vec![vec![vec![vec![1.0, 0.0], vec![0.5, 0.5]]], vec![vec![vec![0.0, 1.0], vec![0.0, 1.0]]]];
        let r = rollout(&maps);
        let want = [[0.625, 0.375], [0.25, 0.75]];
        for (row, w) in r.iter().zip(want) {
            for (v, w) in row.iter().zip(w) {
                assert!((v - w).abs() < 1e-12, "{r:?}");
            }
        }
    }

    #[test]
    fn methods_parse_by_their_command_line_names() {
        for m in [Method::IntegratedGradients, Method::GradXInput, Method::AttentionRollout] {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        assert!("saliency".parse::<Method>().unwrap_err().contains("expected ig"));
    }
}
