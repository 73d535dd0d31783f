//! The heads on top of `AlbertModel` and the Hugging Face classes that combine them, each with its loss.

use candle_core::{DType, Module, Tensor, D};
use candle_nn::VarBuilder;

use super::albert::{AlbertInput, AlbertModel, AlbertOutput, ForwardOptions, Precision};
use super::blocks::{linear, Dropout, Linear, LayerNorm};
use super::loss::{bce_with_logits, cross_entropy, mse, IGNORE_INDEX};
use crate::config::{AlbertConfig, Architecture, HiddenAct, ProblemType};
use crate::error::{Error, Result};
use crate::rng::SharedRng;

/// Masked-LM head (`predictions`): dense H -> E, activation, LayerNorm, then the decoder tied to the word embeddings.
#[derive(Debug, Clone)]
pub struct AlbertMLMHead {
    dense: Linear,
    activation: HiddenAct,
    layer_norm: LayerNorm,
    bias: Tensor,
    decoder_weight: Tensor,
}

impl AlbertMLMHead {
    /// `decoder_weight` is the word-embedding matrix (vocab x E), shared as Hugging Face ties it.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, decoder_weight: Tensor) -> Result<Self> {
        Ok(Self {
            dense: linear(cfg.hidden_size, cfg.embedding_size, vb.pp("dense"))?,
            activation: cfg.hidden_act,
            layer_norm: LayerNorm::new(cfg.embedding_size, cfg.layer_norm_eps, vb.pp("LayerNorm"))?,
            bias: vb.get_with_hints(cfg.vocab_size, "bias", candle_nn::Init::Const(0.0))?,
            decoder_weight,
        })
    }

    /// The head's hidden state before the vocabulary projection: (..., H) -> (..., E).
    pub fn transform(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.layer_norm.forward(&self.dense.forward_act(hidden, self.activation)?)?)
    }

    /// (..., H) -> (..., vocab) logits.
    pub fn forward(&self, hidden: &Tensor) -> Result<Tensor> {
        // (..., E) x (E, vocab), the decoder tied to the word embeddings
        Ok(crate::ops::linear(&self.transform(hidden)?, &self.decoder_weight, Some(&self.bias))?)
    }

    /// The masked-LM loss of `hidden` (batch, seq, H) against `labels` (batch, seq; -100 where nothing is
    /// predicted), with the logits it read. Only the predicted positions go through the head, as Google's ALBERT
    /// gathers `masked_lm_positions`: the same loss and gradients as scoring every position with -100 ignored
    /// (transformers), at a fraction of the (positions x vocabulary) cost.
    pub fn predicted_loss(&self, hidden: &Tensor, labels: &Tensor) -> Result<PredictedLoss> {
        let values: Vec<i64> = labels.to_dtype(DType::I64)?.flatten_all()?.to_vec1()?;
        let (rows, targets): (Vec<u32>, Vec<i64>) =
            values.iter().enumerate().filter(|(_, &l)| l != IGNORE_INDEX).map(|(i, &l)| (i as u32, l)).unzip();
        // (batch·seq, H) -> (predicted, H) -> (predicted, vocab)
        let hidden = hidden.flatten_to(hidden.rank().saturating_sub(2))?;
        if hidden.dim(0)? != values.len() {
            return Err(Error::Input(format!("{} labels for {} positions", values.len(), hidden.dim(0)?)));
        }
        let device = hidden.device();
        let picked = hidden.index_select(&Tensor::new(rows.as_slice(), device)?, 0)?;
        let logits = self.forward(&picked)?;
        let loss = cross_entropy(&logits, &Tensor::new(targets.as_slice(), device)?, IGNORE_INDEX)?;
        Ok(PredictedLoss { loss, logits, targets })
    }
}

/// [`AlbertMLMHead::predicted_loss`]'s result.
#[derive(Debug, Clone)]
pub struct PredictedLoss {
    /// Mean cross-entropy over the predicted positions (a scalar with its graph; NaN when none is predicted).
    pub loss: Tensor,
    /// (predicted, vocab): the logits at the predicted positions, in row-major position order.
    pub logits: Tensor,
    /// The predicted positions' labels, in the same order.
    pub targets: Vec<i64>,
}

/// Dropout then a linear layer: the classifier of every classification head.
#[derive(Debug, Clone)]
pub struct ClassifierHead {
    dropout: Dropout,
    classifier: Linear,
}

impl ClassifierHead {
    /// `classifier` under `vb`, mapping H to `out` outputs after dropout `p`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, out: usize, p: f64, rng: SharedRng) -> Result<Self> {
        Ok(Self { dropout: Dropout::new(p, rng), classifier: linear(cfg.hidden_size, out, vb)? })
    }

    /// (..., H) -> (..., out)
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.classifier.forward(&self.dropout.forward(x, train)?)
    }
}

fn pooled(base: &AlbertOutput) -> Result<&Tensor> {
    base.pooler_output.as_ref().ok_or_else(|| Error::Input("this class has no pooler".into()))
}

fn classifier_dropout(cfg: &AlbertConfig) -> f64 {
    cfg.classifier_dropout_prob.unwrap_or(cfg.hidden_dropout_prob)
}

/// Outputs of [`AlbertForPreTraining`].
#[derive(Debug, Clone)]
pub struct PreTrainingOutput {
    /// (batch, seq, vocab)
    pub prediction_logits: Tensor,
    /// (batch, 2)
    pub sop_logits: Tensor,
    /// The encoder's outputs.
    pub base: AlbertOutput,
}

/// Masked LM plus sentence-order prediction (Hugging Face `AlbertForPreTraining`).
#[derive(Debug, Clone)]
pub struct AlbertForPreTraining {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// The MLM head (`predictions`).
    pub predictions: AlbertMLMHead,
    /// The sentence-order head (`sop_classifier.classifier`).
    pub sop_classifier: ClassifierHead,
}

impl AlbertForPreTraining {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let albert = AlbertModel::new(cfg, vb.pp("albert"), true, rng.clone())?;
        let decoder = albert.embeddings().word_embeddings().clone();
        Ok(Self {
            predictions: AlbertMLMHead::new(cfg, vb.pp("predictions"), decoder)?,
            sop_classifier: ClassifierHead::new(
                cfg,
                vb.pp("sop_classifier").pp("classifier"),
                cfg.num_labels(),
                classifier_dropout(cfg),
                rng,
            )?,
            albert,
        })
    }

    /// Runs the model and both heads.
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<PreTrainingOutput> {
        let base = self.albert.forward(input, opts)?;
        Ok(PreTrainingOutput {
            prediction_logits: self.predictions.forward(&base.last_hidden_state)?,
            sop_logits: self.sop_classifier.forward(pooled(&base)?, opts.train)?,
            base,
        })
    }

    /// MLM cross-entropy over `labels` (batch, seq; -100 where nothing is predicted) plus SOP cross-entropy over
    /// `sentence_order_label` (batch), as transformers sums them.
    pub fn loss(&self, out: &PreTrainingOutput, labels: &Tensor, sentence_order_label: &Tensor) -> Result<Tensor> {
        let mlm = mlm_loss(&out.prediction_logits, labels)?;
        let sop = cross_entropy(&out.sop_logits, sentence_order_label, IGNORE_INDEX)?;
        Ok((mlm + sop)?)
    }
}

fn mlm_loss(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let vocab = logits.dim(D::Minus1)?;
    cross_entropy(&logits.reshape(((), vocab))?, labels, IGNORE_INDEX)
}

/// Outputs of a head with one logits tensor.
#[derive(Debug, Clone)]
pub struct LogitsOutput {
    /// The head's logits (shape documented on each class).
    pub logits: Tensor,
    /// The encoder's outputs.
    pub base: AlbertOutput,
}

/// Masked language model (Hugging Face `AlbertForMaskedLM`; no pooler).
#[derive(Debug, Clone)]
pub struct AlbertForMaskedLM {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// The MLM head (`predictions`).
    pub predictions: AlbertMLMHead,
}

impl AlbertForMaskedLM {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let albert = AlbertModel::new(cfg, vb.pp("albert"), false, rng)?;
        let decoder = albert.embeddings().word_embeddings().clone();
        Ok(Self { predictions: AlbertMLMHead::new(cfg, vb.pp("predictions"), decoder)?, albert })
    }

    /// `logits`: (batch, seq, vocab).
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<LogitsOutput> {
        let base = self.albert.forward(input, opts)?;
        Ok(LogitsOutput { logits: self.predictions.forward(&base.last_hidden_state)?, base })
    }

    /// Cross-entropy over `labels` (batch, seq), -100 where nothing is predicted.
    pub fn loss(&self, out: &LogitsOutput, labels: &Tensor) -> Result<Tensor> {
        mlm_loss(&out.logits, labels)
    }
}

/// Sequence classification or regression on the pooled output (Hugging Face `AlbertForSequenceClassification`).
#[derive(Debug, Clone)]
pub struct AlbertForSequenceClassification {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// `classifier` (after dropout).
    pub classifier: ClassifierHead,
    num_labels: usize,
    problem_type: Option<ProblemType>,
}

impl AlbertForSequenceClassification {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        let n = cfg.num_labels();
        Ok(Self {
            albert: AlbertModel::new(cfg, vb.pp("albert"), true, rng.clone())?,
            classifier: ClassifierHead::new(cfg, vb.pp("classifier"), n, cfg.classifier_dropout_prob.unwrap_or(0.1), rng)?,
            num_labels: n,
            problem_type: cfg.problem_type,
        })
    }

    /// `logits`: (batch, num_labels).
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<LogitsOutput> {
        let base = self.albert.forward(input, opts)?;
        Ok(LogitsOutput { logits: self.classifier.forward(pooled(&base)?, opts.train)?, base })
    }

    /// The loss transformers picks: `problem_type` if set, else regression for one label, single-label
    /// cross-entropy for integer labels (batch), multi-label BCE for float labels (batch, num_labels).
    pub fn loss(&self, out: &LogitsOutput, labels: &Tensor) -> Result<Tensor> {
        let problem = self.problem_type.unwrap_or(if self.num_labels == 1 {
            ProblemType::Regression
        } else if matches!(labels.dtype(), DType::I64 | DType::U32 | DType::U8) {
            ProblemType::SingleLabelClassification
        } else {
            ProblemType::MultiLabelClassification
        });
        match problem {
            ProblemType::Regression => mse(&out.logits, labels),
            ProblemType::SingleLabelClassification => cross_entropy(&out.logits, labels, IGNORE_INDEX),
            ProblemType::MultiLabelClassification => bce_with_logits(&out.logits, labels),
        }
    }
}

/// Per-token classification (Hugging Face `AlbertForTokenClassification`; no pooler).
#[derive(Debug, Clone)]
pub struct AlbertForTokenClassification {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// `classifier` (after dropout).
    pub classifier: ClassifierHead,
}

impl AlbertForTokenClassification {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        Ok(Self {
            albert: AlbertModel::new(cfg, vb.pp("albert"), false, rng.clone())?,
            classifier: ClassifierHead::new(cfg, vb.pp("classifier"), cfg.num_labels(), classifier_dropout(cfg), rng)?,
        })
    }

    /// `logits`: (batch, seq, num_labels).
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<LogitsOutput> {
        let base = self.albert.forward(input, opts)?;
        Ok(LogitsOutput { logits: self.classifier.forward(&base.last_hidden_state, opts.train)?, base })
    }

    /// Cross-entropy over `labels` (batch, seq), -100 on tokens that carry no label.
    pub fn loss(&self, out: &LogitsOutput, labels: &Tensor) -> Result<Tensor> {
        mlm_loss(&out.logits, labels)
    }
}

/// Outputs of [`AlbertForQuestionAnswering`].
#[derive(Debug, Clone)]
pub struct QuestionAnsweringOutput {
    /// (batch, seq)
    pub start_logits: Tensor,
    /// (batch, seq)
    pub end_logits: Tensor,
    /// The encoder's outputs.
    pub base: AlbertOutput,
}

/// Extractive question answering (Hugging Face `AlbertForQuestionAnswering`; no pooler).
#[derive(Debug, Clone)]
pub struct AlbertForQuestionAnswering {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// `qa_outputs`: H -> 2 (start, end).
    pub qa_outputs: Linear,
}

impl AlbertForQuestionAnswering {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        if cfg.num_labels() != 2 {
            return Err(Error::config("num_labels", "question answering needs 2 outputs (start, end)"));
        }
        Ok(Self {
            albert: AlbertModel::new(cfg, vb.pp("albert"), false, rng)?,
            qa_outputs: linear(cfg.hidden_size, 2, vb.pp("qa_outputs"))?,
        })
    }

    /// Start and end logits over the sequence.
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<QuestionAnsweringOutput> {
        let base = self.albert.forward(input, opts)?;
        // (batch, seq, 2)
        let logits = self.qa_outputs.forward(&base.last_hidden_state)?;
        Ok(QuestionAnsweringOutput {
            start_logits: logits.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?,
            end_logits: logits.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?,
            base,
        })
    }

    /// Mean of the start and end cross-entropies; positions outside the sequence are clamped and ignored, as
    /// transformers does for answers cut off by a window.
    pub fn loss(&self, out: &QuestionAnsweringOutput, start_positions: &Tensor, end_positions: &Tensor) -> Result<Tensor> {
        let seq = out.start_logits.dim(1)? as i64;
        let part = |logits: &Tensor, positions: &Tensor| -> Result<Tensor> {
            let p = positions.to_dtype(DType::I64)?.clamp(0i64, seq)?;
            // torch's ignore_index here is seq itself; out-of-range labels are that value after the clamp.
            let labels: Vec<i64> = p.to_vec1()?;
            let labels: Vec<i64> = labels.into_iter().map(|l| if l == seq { IGNORE_INDEX } else { l }).collect();
            cross_entropy(logits, &Tensor::new(labels, logits.device())?, IGNORE_INDEX)
        };
        Ok(((part(&out.start_logits, start_positions)? + part(&out.end_logits, end_positions)?)? / 2.0)?)
    }
}

/// Multiple choice: one score per (question, choice) pair (Hugging Face `AlbertForMultipleChoice`).
#[derive(Debug, Clone)]
pub struct AlbertForMultipleChoice {
    /// The encoder (`albert`).
    pub albert: AlbertModel,
    /// `classifier`: H -> 1 (after dropout).
    pub classifier: ClassifierHead,
}

impl AlbertForMultipleChoice {
    /// Creates the class's parameters under `vb`.
    pub fn new(cfg: &AlbertConfig, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        Ok(Self {
            albert: AlbertModel::new(cfg, vb.pp("albert"), true, rng.clone())?,
            classifier: ClassifierHead::new(cfg, vb.pp("classifier"), 1, cfg.classifier_dropout_prob.unwrap_or(0.1), rng)?,
        })
    }

    /// `input` tensors are (batch, num_choices, seq); `logits`: (batch, num_choices).
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<LogitsOutput> {
        let (batch, choices, seq) = input
            .input_ids
            .dims3()
            .map_err(|_| Error::Input(format!("multiple choice input_ids must be (batch, choices, seq), got {:?}", input.input_ids.dims())))?;
        let flat = |t: &Option<Tensor>| -> Result<Option<Tensor>> {
            t.as_ref().map(|t| t.reshape((batch * choices, seq))).transpose().map_err(Error::from)
        };
        let flat_input = AlbertInput {
            input_ids: input.input_ids.reshape((batch * choices, seq))?,
            token_type_ids: flat(&input.token_type_ids)?,
            attention_mask: flat(&input.attention_mask)?,
            position_ids: flat(&input.position_ids)?,
        };
        let base = self.albert.forward(&flat_input, opts)?;
        let logits = self.classifier.forward(pooled(&base)?, opts.train)?.reshape((batch, choices))?;
        Ok(LogitsOutput { logits, base })
    }

    /// Cross-entropy over the index of the right choice (batch).
    pub fn loss(&self, out: &LogitsOutput, labels: &Tensor) -> Result<Tensor> {
        cross_entropy(&out.logits, labels, IGNORE_INDEX)
    }
}

/// Any of the implemented classes, chosen at run time (e.g. from a checkpoint's `architectures`).
#[derive(Debug, Clone)]
pub enum AlbertForAny {
    /// `AlbertModel`
    Model(AlbertModel),
    /// `AlbertForPreTraining`
    PreTraining(AlbertForPreTraining),
    /// `AlbertForMaskedLM`
    MaskedLM(AlbertForMaskedLM),
    /// `AlbertForSequenceClassification`
    SequenceClassification(AlbertForSequenceClassification),
    /// `AlbertForTokenClassification`
    TokenClassification(AlbertForTokenClassification),
    /// `AlbertForQuestionAnswering`
    QuestionAnswering(AlbertForQuestionAnswering),
    /// `AlbertForMultipleChoice`
    MultipleChoice(AlbertForMultipleChoice),
}

/// The outputs of any class ([`AlbertForAny::forward`]): the encoder's, and its head's.
#[derive(Debug, Clone)]
pub struct AnyOutput {
    /// The encoder's outputs.
    pub base: AlbertOutput,
    /// The head's outputs.
    pub head: HeadOutput,
}

/// What a class's head computes, by the shape of its answer.
#[derive(Debug, Clone)]
pub enum HeadOutput {
    /// `AlbertModel`: the encoder alone.
    None,
    /// `AlbertForPreTraining`: masked-LM logits (batch, seq, vocab) and sentence-order logits (batch, 2).
    PreTraining {
        /// (batch, seq, vocab)
        prediction_logits: Tensor,
        /// (batch, 2)
        sop_logits: Tensor,
    },
    /// One logits tensor: masked LM (batch, seq, vocab), sequence classification (batch, num_labels), token
    /// classification (batch, seq, num_labels), multiple choice (batch, num_choices).
    Logits(Tensor),
    /// `AlbertForQuestionAnswering`: span start and end logits, (batch, seq) each.
    Span {
        /// (batch, seq)
        start_logits: Tensor,
        /// (batch, seq)
        end_logits: Tensor,
    },
}

/// The kinds of [`HeadOutput`], named when a caller needs another kind than the model gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadKind {
    /// [`HeadOutput::None`]
    None,
    /// [`HeadOutput::PreTraining`]
    PreTraining,
    /// [`HeadOutput::Logits`]
    Logits,
    /// [`HeadOutput::Span`]
    Span,
}

impl std::fmt::Display for HeadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "no head (the bare encoder)",
            Self::PreTraining => "masked-LM and sentence-order logits",
            Self::Logits => "logits",
            Self::Span => "span start and end logits",
        })
    }
}

impl HeadOutput {
    /// Which kind of output this is.
    pub fn kind(&self) -> HeadKind {
        match self {
            Self::None => HeadKind::None,
            Self::PreTraining { .. } => HeadKind::PreTraining,
            Self::Logits(_) => HeadKind::Logits,
            Self::Span { .. } => HeadKind::Span,
        }
    }

    /// The logits of a one-tensor head; an error naming this head's kind otherwise.
    pub fn logits(&self) -> Result<&Tensor> {
        match self {
            Self::Logits(t) => Ok(t),
            other => Err(Error::Head { needs: HeadKind::Logits, has: other.kind() }),
        }
    }

    /// The (start, end) logits of a question-answering head; an error naming this head's kind otherwise.
    pub fn span_logits(&self) -> Result<(&Tensor, &Tensor)> {
        match self {
            Self::Span { start_logits, end_logits } => Ok((start_logits, end_logits)),
            other => Err(Error::Head { needs: HeadKind::Span, has: other.kind() }),
        }
    }

    /// The head's tensors under transformers' output names (`logits`, `start_logits`, ...), in the order
    /// transformers returns them: for printing them, or comparing them with transformers' outputs.
    pub fn named(&self) -> Vec<(&'static str, &Tensor)> {
        match self {
            Self::None => vec![],
            Self::PreTraining { prediction_logits, sop_logits } => {
                vec![("prediction_logits", prediction_logits), ("sop_logits", sop_logits)]
            }
            Self::Logits(t) => vec![("logits", t)],
            Self::Span { start_logits, end_logits } => vec![("start_logits", start_logits), ("end_logits", end_logits)],
        }
    }
}

impl AlbertForAny {
    /// Creates the parameters of class `arch` under `vb`.
    pub fn new(cfg: &AlbertConfig, arch: Architecture, vb: VarBuilder, rng: SharedRng) -> Result<Self> {
        Ok(match arch {
            Architecture::Model => Self::Model(AlbertModel::new(cfg, vb, true, rng)?),
            Architecture::PreTraining => Self::PreTraining(AlbertForPreTraining::new(cfg, vb, rng)?),
            Architecture::MaskedLM => Self::MaskedLM(AlbertForMaskedLM::new(cfg, vb, rng)?),
            Architecture::SequenceClassification => {
                Self::SequenceClassification(AlbertForSequenceClassification::new(cfg, vb, rng)?)
            }
            Architecture::TokenClassification => Self::TokenClassification(AlbertForTokenClassification::new(cfg, vb, rng)?),
            Architecture::QuestionAnswering => Self::QuestionAnswering(AlbertForQuestionAnswering::new(cfg, vb, rng)?),
            Architecture::MultipleChoice => Self::MultipleChoice(AlbertForMultipleChoice::new(cfg, vb, rng)?),
        })
    }

    /// Prepares the encoder's projections for inference ([`AlbertModel::prepare_inference`]): in int8 (heads
    /// stay f32), or copied into the layout the f32 product reads fastest. For inference only: the int8 path
    /// records no gradient, and the copies take none back to the parameters. The f32 weights are packed in their
    /// own memory, so the model's tensors must share their storage with no other tensor: the builders in
    /// [`crate::Pretrained`] (`detached`, `into_inference`) make such models, which is why this is not public.
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        match self {
            Self::Model(m) => m.prepare_inference(precision),
            Self::PreTraining(m) => m.albert.prepare_inference(precision),
            Self::MaskedLM(m) => m.albert.prepare_inference(precision),
            Self::SequenceClassification(m) => m.albert.prepare_inference(precision),
            Self::TokenClassification(m) => m.albert.prepare_inference(precision),
            Self::QuestionAnswering(m) => m.albert.prepare_inference(precision),
            Self::MultipleChoice(m) => m.albert.prepare_inference(precision),
        }
    }

    /// Which class this is.
    pub fn architecture(&self) -> Architecture {
        match self {
            Self::Model(_) => Architecture::Model,
            Self::PreTraining(_) => Architecture::PreTraining,
            Self::MaskedLM(_) => Architecture::MaskedLM,
            Self::SequenceClassification(_) => Architecture::SequenceClassification,
            Self::TokenClassification(_) => Architecture::TokenClassification,
            Self::QuestionAnswering(_) => Architecture::QuestionAnswering,
            Self::MultipleChoice(_) => Architecture::MultipleChoice,
        }
    }

    /// Runs the class: the encoder's outputs and its head's.
    pub fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> Result<AnyOutput> {
        Ok(match self {
            Self::Model(m) => AnyOutput { base: m.forward(input, opts)?, head: HeadOutput::None },
            Self::PreTraining(m) => {
                let o = m.forward(input, opts)?;
                let head = HeadOutput::PreTraining { prediction_logits: o.prediction_logits, sop_logits: o.sop_logits };
                AnyOutput { head, base: o.base }
            }
            Self::MaskedLM(m) => logits(m.forward(input, opts)?),
            Self::SequenceClassification(m) => logits(m.forward(input, opts)?),
            Self::TokenClassification(m) => logits(m.forward(input, opts)?),
            Self::MultipleChoice(m) => logits(m.forward(input, opts)?),
            Self::QuestionAnswering(m) => {
                let o = m.forward(input, opts)?;
                AnyOutput { head: HeadOutput::Span { start_logits: o.start_logits, end_logits: o.end_logits }, base: o.base }
            }
        })
    }
}

fn logits(o: LogitsOutput) -> AnyOutput {
    AnyOutput { head: HeadOutput::Logits(o.logits), base: o.base }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asking a head for an output it does not give names both kinds instead of failing on a missing string key.
    #[test]
    fn a_head_asked_for_another_output_names_both_kinds() {
        let t = Tensor::zeros((1, 4), DType::F32, &candle_core::Device::Cpu).unwrap();
        let head = HeadOutput::Logits(t.clone());
        assert!(head.logits().is_ok());
        let err = head.span_logits().unwrap_err();
        assert!(matches!(err, Error::Head { needs: HeadKind::Span, has: HeadKind::Logits }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "this needs a model whose head gives span start and end logits, but the model's head gives logits"
        );
        let span = HeadOutput::Span { start_logits: t.clone(), end_logits: t };
        assert_eq!(span.named().iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["start_logits", "end_logits"]);
        assert!(matches!(HeadOutput::None.logits(), Err(Error::Head { needs: HeadKind::Logits, has: HeadKind::None })));
    }
}
