//! `AlbertConfig`: the Hugging Face `config.json` of an ALBERT checkpoint, its validation, and the published presets.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The feed-forward (and MLM head) activation, as Hugging Face's `ACT2FN` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HiddenAct {
    /// Exact GELU, `x * Φ(x)` (ALBERT v1 checkpoints).
    #[serde(rename = "gelu")]
    Gelu,
    /// Tanh-approximated GELU (ALBERT v2 checkpoints and the original TF code).
    #[serde(rename = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluNew,
    /// `max(0, x)`.
    #[serde(rename = "relu")]
    Relu,
    /// `x * sigmoid(x)`.
    #[serde(rename = "silu", alias = "swish")]
    Silu,
}

/// How `AlbertForSequenceClassification` computes its loss (Hugging Face's `problem_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemType {
    /// Mean squared error on `num_labels` real outputs.
    Regression,
    /// Cross-entropy over `num_labels` classes, one class per example.
    SingleLabelClassification,
    /// Binary cross-entropy with logits, one independent decision per label.
    MultiLabelClassification,
}

/// The configuration of an ALBERT model, field for field as Hugging Face's `AlbertConfig` writes `config.json`.
///
/// Fields the published checkpoints carry but this implementation does not use are kept in `extra` and written back
/// on save; settings that would change the architecture in ways not implemented are rejected by [`validate`].
///
/// A field missing from `config.json` takes the default of transformers' `AlbertConfig` class
/// ([`AlbertConfig::hf_class_defaults`]), as `from_pretrained` gives it.
///
/// [`validate`]: AlbertConfig::validate
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default = "AlbertConfig::hf_class_defaults")]
pub struct AlbertConfig {
    /// Number of SentencePiece pieces (rows of the word-embedding matrix).
    pub vocab_size: usize,
    /// Size E of the factorized vocabulary embeddings (128 in every published model).
    pub embedding_size: usize,
    /// Size H of the hidden states; the encoder projects E to H once.
    pub hidden_size: usize,
    /// How many times a layer group is applied (the depth of the network).
    pub num_hidden_layers: usize,
    /// Number of distinct parameter groups shared across the layers (1 in every published model).
    pub num_hidden_groups: usize,
    /// Number of attention heads; must divide `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Number of distinct layers inside each group, all run at every application of the group.
    pub inner_group_num: usize,
    /// Activation of the feed-forward layer and the MLM head.
    pub hidden_act: HiddenAct,
    /// Dropout on embeddings and on every residual branch.
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities.
    pub attention_probs_dropout_prob: f64,
    /// Number of learned positions (the longest input).
    pub max_position_embeddings: usize,
    /// Number of segment (token type) embeddings.
    pub type_vocab_size: usize,
    /// Standard deviation of the normal initializer.
    pub initializer_range: f64,
    /// Epsilon of every LayerNorm.
    pub layer_norm_eps: f64,
    /// Dropout before the classification heads; `None` falls back to `hidden_dropout_prob` for token classification.
    #[serde(default = "default_classifier_dropout")]
    pub classifier_dropout_prob: Option<f64>,
    /// Id of `<pad>`; its word-embedding row is zero at initialization.
    #[serde(default = "default_pad")]
    pub pad_token_id: Option<u32>,
    /// Id of `[CLS]`.
    #[serde(default = "default_bos")]
    pub bos_token_id: Option<u32>,
    /// Id of `[SEP]` (Hugging Face allows a list).
    #[serde(default = "default_eos")]
    pub eos_token_id: Option<Value>,
    /// Label names by class index, for the classification heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<String, String>>,
    /// Class index by label name (the inverse of `id2label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label2id: Option<BTreeMap<String, usize>>,
    /// Number of labels when `id2label` is absent (Hugging Face's default is 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    /// Loss of the sequence-classification head; inferred from the labels when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<ProblemType>,
    /// Hugging Face class names this checkpoint was saved from (the first one picks the head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architectures: Option<Vec<String>>,
    /// Always `"albert"`.
    #[serde(default = "default_model_type")]
    pub model_type: String,
    /// Every other field of config.json, kept as read so a save writes it back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_classifier_dropout() -> Option<f64> {
    Some(0.1)
}
fn default_pad() -> Option<u32> {
    Some(0)
}
fn default_bos() -> Option<u32> {
    Some(2)
}
fn default_eos() -> Option<Value> {
    Some(Value::from(3))
}
fn default_model_type() -> String {
    "albert".to_string()
}

/// The largest value [`AlbertConfig::validate`] accepts for each size, far above every published model (vocabularies
/// of 30k, H 4096, FFN 16384, 512 positions) yet small enough that [`AlbertConfig::parameter_count`] cannot overflow
/// and that a mistyped or hostile config is refused by name before anything is allocated.
pub const LIMITS: [(&str, usize); 11] = [
    ("vocab_size", 1 << 24),
    ("embedding_size", 1 << 16),
    ("hidden_size", 1 << 16),
    ("num_hidden_layers", 1 << 12),
    ("num_hidden_groups", 1 << 12),
    ("num_attention_heads", 1 << 16),
    ("intermediate_size", 1 << 18),
    ("inner_group_num", 1 << 10),
    ("max_position_embeddings", 1 << 20),
    ("type_vocab_size", 1 << 16),
    ("num_labels", 1 << 20),
];

/// The published ALBERT configurations, by their Hugging Face hub names.
pub const PRESETS: [&str; 8] = [
    "albert-base-v1",
    "albert-large-v1",
    "albert-xlarge-v1",
    "albert-xxlarge-v1",
    "albert-base-v2",
    "albert-large-v2",
    "albert-xlarge-v2",
    "albert-xxlarge-v2",
];

impl Default for AlbertConfig {
    /// `albert-base-v2`.
    fn default() -> Self {
        Self {
            vocab_size: 30000,
            embedding_size: 128,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_hidden_groups: 1,
            num_attention_heads: 12,
            intermediate_size: 3072,
            inner_group_num: 1,
            hidden_act: HiddenAct::GeluNew,
            hidden_dropout_prob: 0.0,
            attention_probs_dropout_prob: 0.0,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            initializer_range: 0.02,
            layer_norm_eps: 1e-12,
            classifier_dropout_prob: Some(0.1),
            pad_token_id: Some(0),
            bos_token_id: Some(2),
            eos_token_id: Some(Value::from(3)),
            id2label: None,
            label2id: None,
            num_labels: None,
            problem_type: None,
            architectures: None,
            model_type: default_model_type(),
            extra: Map::new(),
        }
    }
}

impl AlbertConfig {
    /// The defaults of transformers' `AlbertConfig()`, which fill the fields a `config.json` leaves out: the
    /// xxlarge shape (H 4096, 64 heads, intermediate 16384), the rest as `albert-base-v2`.
    pub fn hf_class_defaults() -> Self {
        Self { hidden_size: 4096, num_attention_heads: 64, intermediate_size: 16384, ..Self::default() }
    }

    /// A published configuration by name (`albert-base-v2`, `large`, `xxlarge-v1`, ...; a bare size means v2).
    ///
    /// ```
    /// let cfg = albert::AlbertConfig::preset("albert-base-v2").unwrap();
    /// assert_eq!(cfg.hidden_size, 768);
    /// assert_eq!(cfg.parameter_count(albert::Architecture::Model), 11_683_584);
    /// ```
    pub fn preset(name: &str) -> Result<Self> {
        let short = name.strip_prefix("albert/").unwrap_or(name);
        let short = short.strip_prefix("albert-").unwrap_or(short);
        let (size, version) = match short.rsplit_once('-') {
            Some((s, v)) => (s, v),
            None => (short, "v2"),
        };
        let (hidden, layers, heads) = match size {
            "base" => (768, 12, 12),
            "large" => (1024, 24, 16),
            "xlarge" => (2048, 24, 16),
            "xxlarge" => (4096, 12, 64),
            _ => return Err(unknown_preset(name)),
        };
        let mut cfg = Self {
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size: 4 * hidden,
            ..Self::default()
        };
        match version {
            "v2" => {}
            // v1 used exact GELU and dropout 0.1 (xxlarge-v1 already had no dropout).
            "v1" => {
                cfg.hidden_act = HiddenAct::Gelu;
                if size != "xxlarge" {
                    cfg.hidden_dropout_prob = 0.1;
                    cfg.attention_probs_dropout_prob = 0.1;
                }
            }
            _ => return Err(unknown_preset(name)),
        }
        Ok(cfg)
    }

    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json_str(&text).map_err(|e| match e {
            Error::Config { field, message } => Error::Config { field, message: format!("{message} (in {})", path.display()) },
            e => e,
        })
    }

    /// Parses and validates a config from JSON text; a field of the wrong type is named in the error.
    pub fn from_json_str(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let cfg: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            Error::config(if field == "." { "<json>" } else { &field }, e.into_inner().to_string())
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The config as Hugging Face writes it, with `model_type` and `architectures`.
    pub fn to_json_string(&self) -> String {
        let mut out = self.clone();
        if out.architectures.is_none() {
            out.architectures = Some(vec![Architecture::Model.hf_name().to_string()]);
        }
        out.model_type = default_model_type();
        // id2label decides num_labels on reload; write both only when they cannot disagree.
        if out.id2label.is_some() {
            out.num_labels = None;
        }
        serde_json::to_string_pretty(&out).expect("AlbertConfig always serializes")
    }

    /// Writes `config.json` into `dir` atomically.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let path = dir.as_ref().join("config.json");
        crate::fsio::write_atomic(&path, self.to_json_string().as_bytes()).map_err(|e| Error::io(&path, e))
    }

    /// Rejects values that the model cannot run, naming the field.
    pub fn validate(&self) -> Result<()> {
        for (field, limit) in LIMITS {
            let v = self.size(field);
            if v == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
            if v > limit {
                return Err(Error::config(
                    field,
                    format!("{v} is beyond this implementation's limit of {limit} (a corrupt or mistyped config?)"),
                ));
            }
        }
        if self.num_hidden_groups > self.num_hidden_layers {
            return Err(Error::config(
                "num_hidden_groups",
                format!("{} groups for {} layers: some groups would never run", self.num_hidden_groups, self.num_hidden_layers),
            ));
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::config(
                "num_attention_heads",
                format!("{} heads do not divide hidden_size {}", self.num_attention_heads, self.hidden_size),
            ));
        }
        for (field, p) in [
            ("hidden_dropout_prob", Some(self.hidden_dropout_prob)),
            ("attention_probs_dropout_prob", Some(self.attention_probs_dropout_prob)),
            ("classifier_dropout_prob", self.classifier_dropout_prob),
        ] {
            if let Some(p) = p {
                if !(0.0..1.0).contains(&p) {
                    return Err(Error::config(field, format!("{p} is not a probability in [0, 1)")));
                }
            }
        }
        if !(self.layer_norm_eps > 0.0) {
            return Err(Error::config("layer_norm_eps", "must be positive"));
        }
        if self.model_type != "albert" {
            return Err(Error::config("model_type", format!("`{}` is not an ALBERT checkpoint", self.model_type)));
        }
        if let (Some(pad), v) = (self.pad_token_id, self.vocab_size) {
            if pad as usize >= v {
                return Err(Error::config("pad_token_id", format!("{pad} is outside the vocabulary of {v}")));
            }
        }
        self.check_unimplemented()?;
        if let Some(id2label) = &self.id2label {
            for k in id2label.keys() {
                match k.parse::<usize>() {
                    Ok(i) if i < id2label.len() => {}
                    _ => {
                        return Err(Error::config(
                            "id2label",
                            format!("key `{k}` is not a class index in 0..{}", id2label.len()),
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Variants of ALBERT that transformers' config knows but this implementation (like transformers' model) does not run.
    fn check_unimplemented(&self) -> Result<()> {
        let get = |k: &str| self.extra.get(k).filter(|v| !v.is_null());
        if let Some(v) = get("position_embedding_type") {
            if v.as_str() != Some("absolute") {
                return Err(Error::config("position_embedding_type", format!("{v} is not implemented (only \"absolute\")")));
            }
        }
        for (field, inert) in [("net_structure_type", 0.0), ("gap_size", 0.0), ("down_scale_factor", 1.0), ("num_memory_blocks", 0.0)] {
            if let Some(v) = get(field) {
                if v.as_f64() != Some(inert) {
                    return Err(Error::config(field, format!("{v} is not implemented (only {inert})")));
                }
            }
        }
        Ok(())
    }

    /// The value of a size field of [`LIMITS`].
    fn size(&self, field: &str) -> usize {
        match field {
            "vocab_size" => self.vocab_size,
            "embedding_size" => self.embedding_size,
            "hidden_size" => self.hidden_size,
            "num_hidden_layers" => self.num_hidden_layers,
            "num_hidden_groups" => self.num_hidden_groups,
            "num_attention_heads" => self.num_attention_heads,
            "intermediate_size" => self.intermediate_size,
            "inner_group_num" => self.inner_group_num,
            "max_position_embeddings" => self.max_position_embeddings,
            "type_vocab_size" => self.type_vocab_size,
            "num_labels" => self.num_labels(),
            _ => unreachable!("`{field}` is not a size field"),
        }
    }

    /// Number of output labels of the classification heads (from `id2label`, else `num_labels`, else 2).
    pub fn num_labels(&self) -> usize {
        match (&self.id2label, self.num_labels) {
            (Some(m), _) => m.len(),
            (None, Some(n)) => n,
            (None, None) => 2,
        }
    }

    /// Sets the labels of a classification head, keeping `id2label` and `label2id` consistent.
    pub fn set_labels(&mut self, names: &[String]) {
        self.id2label = Some(names.iter().enumerate().map(|(i, n)| (i.to_string(), n.clone())).collect());
        self.label2id = Some(names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect());
        self.num_labels = None;
    }

    /// Label name of class `i` (`LABEL_i` when the config names none, as transformers does).
    pub fn label_name(&self, i: usize) -> String {
        self.id2label.as_ref().and_then(|m| m.get(&i.to_string()).cloned()).unwrap_or_else(|| format!("LABEL_{i}"))
    }

    /// Size of each attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The group that layer `i` runs, exactly as transformers computes it (`int(i / (layers / groups))`).
    pub fn group_of_layer(&self, i: usize) -> usize {
        (i as f64 / (self.num_hidden_layers as f64 / self.num_hidden_groups as f64)) as usize
    }

    /// The architecture named first in `architectures`, if it is one this library implements.
    pub fn architecture(&self) -> Option<Architecture> {
        self.architectures.as_ref()?.iter().find_map(|a| Architecture::from_hf_name(a))
    }

    /// Number of parameters of `arch` built from this config, counted as `sum(p.numel())` over the distinct
    /// parameters of the Hugging Face class (the tied MLM decoder counts once).
    ///
    /// Counted in 128 bits: sizes within [`LIMITS`] (every validated config) cannot overflow the result; an
    /// unvalidated config whose count does not fit a `usize` panics rather than returning a wrapped number.
    pub fn parameter_count(&self, arch: Architecture) -> usize {
        let n = |x: usize| x as u128;
        let (v, e, h, i) = (n(self.vocab_size), n(self.embedding_size), n(self.hidden_size), n(self.intermediate_size));
        let linear = |inp: u128, out: u128| inp * out + out;
        let embeddings = (v + n(self.max_position_embeddings) + n(self.type_vocab_size)) * e + 2 * e;
        let layer = 4 * linear(h, h) + 2 * h + linear(h, i) + linear(i, h) + 2 * h;
        let encoder = linear(e, h) + n(self.num_hidden_groups) * n(self.inner_group_num) * layer;
        let pooler = linear(h, h);
        let base = embeddings + encoder;
        let mlm = linear(h, e) + 2 * e + v;
        let labels = n(self.num_labels());
        let count = match arch {
            Architecture::Model => base + pooler,
            Architecture::PreTraining => base + pooler + mlm + linear(h, labels),
            Architecture::MaskedLM => base + mlm,
            Architecture::SequenceClassification => base + pooler + linear(h, labels),
            Architecture::TokenClassification => base + linear(h, labels),
            Architecture::QuestionAnswering => base + linear(h, labels),
            Architecture::MultipleChoice => base + pooler + linear(h, 1),
        };
        usize::try_from(count).expect("a parameter count beyond usize (validate() bounds the sizes)")
    }
}

fn unknown_preset(name: &str) -> Error {
    Error::config("preset", format!("unknown preset `{name}`; known: {}", PRESETS.join(", ")))
}

/// The Hugging Face model classes this library implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// `AlbertModel`: encoder and pooler, no head.
    Model,
    /// `AlbertForPreTraining`: masked LM and sentence-order prediction.
    PreTraining,
    /// `AlbertForMaskedLM`.
    MaskedLM,
    /// `AlbertForSequenceClassification` (single-label, multi-label or regression).
    SequenceClassification,
    /// `AlbertForTokenClassification`.
    TokenClassification,
    /// `AlbertForQuestionAnswering` (start and end logits).
    QuestionAnswering,
    /// `AlbertForMultipleChoice`.
    MultipleChoice,
}

impl Architecture {
    /// All architectures.
    pub const ALL: [Architecture; 7] = [
        Architecture::Model,
        Architecture::PreTraining,
        Architecture::MaskedLM,
        Architecture::SequenceClassification,
        Architecture::TokenClassification,
        Architecture::QuestionAnswering,
        Architecture::MultipleChoice,
    ];

    /// The transformers class name.
    pub fn hf_name(self) -> &'static str {
        match self {
            Architecture::Model => "AlbertModel",
            Architecture::PreTraining => "AlbertForPreTraining",
            Architecture::MaskedLM => "AlbertForMaskedLM",
            Architecture::SequenceClassification => "AlbertForSequenceClassification",
            Architecture::TokenClassification => "AlbertForTokenClassification",
            Architecture::QuestionAnswering => "AlbertForQuestionAnswering",
            Architecture::MultipleChoice => "AlbertForMultipleChoice",
        }
    }

    /// Parses a transformers class name.
    pub fn from_hf_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.hf_name() == name)
    }

    /// Whether the class's `AlbertModel` has the pooler (transformers builds some heads without it).
    pub fn has_pooler(self) -> bool {
        !matches!(self, Architecture::MaskedLM | Architecture::TokenClassification | Architecture::QuestionAnswering)
    }
}

impl std::str::FromStr for Architecture {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_hf_name(s).ok_or_else(|| {
            let known: Vec<_> = Self::ALL.iter().map(|a| a.hf_name()).collect();
            Error::config("architectures", format!("unknown class `{s}`; known: {}", known.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hugging Face's `sum(p.numel() for p in model.parameters())`, transformers 5.24 (scripts/reference/README.md).
    #[test]
    fn preset_parameter_counts_equal_hugging_face() {
        let expected = [
            ("albert-base-v2", 11_683_584, 11_813_810),
            ("albert-large-v2", 17_683_968, 17_847_474),
            ("albert-xlarge-v2", 58_724_864, 59_021_490),
            ("albert-xxlarge-v2", 222_595_584, 223_158_450),
            ("albert-base-v1", 11_683_584, 11_813_810),
            ("albert-xxlarge-v1", 222_595_584, 223_158_450),
        ];
        for (name, model, pretraining) in expected {
            let cfg = AlbertConfig::preset(name).unwrap();
            assert_eq!(cfg.parameter_count(Architecture::Model), model, "{name}");
            assert_eq!(cfg.parameter_count(Architecture::PreTraining), pretraining, "{name}");
        }
    }

    #[test]
    fn group_mapping_follows_transformers() {
        let cfg = AlbertConfig { num_hidden_layers: 12, num_hidden_groups: 5, ..AlbertConfig::default() };
        // Python: [int(i / (12 / 5)) for i in range(12)]
        let groups: Vec<_> = (0..12).map(|i| cfg.group_of_layer(i)).collect();
        assert_eq!(groups, [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]);
    }

    #[test]
    fn unimplemented_settings_name_the_field() {
        for (field, value) in [
            ("position_embedding_type", "\"relative_key\""),
            ("net_structure_type", "1"),
            ("gap_size", "2"),
            ("down_scale_factor", "2"),
            ("num_memory_blocks", "1"),
        ] {
            let mut v = serde_json::to_value(AlbertConfig::default()).unwrap();
            v[field] = serde_json::from_str(value).unwrap();
            let err = AlbertConfig::from_json_str(&v.to_string()).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        // The published configs carry the inert values; those load.
        let mut v = serde_json::to_value(AlbertConfig::default()).unwrap();
        for (field, value) in [("net_structure_type", 0), ("gap_size", 0), ("down_scale_factor", 1), ("num_memory_blocks", 0)] {
            v[field] = value.into();
        }
        v["position_embedding_type"] = "absolute".into();
        v["some_future_field"] = true.into();
        let cfg = AlbertConfig::from_json_str(&v.to_string()).unwrap();
        assert!(cfg.to_json_string().contains("some_future_field"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            ("hidden_act", "\"tanh\""),
            ("num_attention_heads", "5"),
            ("hidden_dropout_prob", "1.5"),
            ("num_hidden_groups", "13"),
            ("model_type", "\"bert\""),
            ("vocab_size", "\"many\""),
        ];
        for (field, value) in cases {
            let mut v = serde_json::to_value(AlbertConfig::default()).unwrap();
            v[field] = serde_json::from_str(value).unwrap();
            let err = AlbertConfig::from_json_str(&v.to_string()).unwrap_err().to_string();
            assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
        }
    }

    /// A config that gives only some fields loads as transformers loads it: the rest from `AlbertConfig()`, whose
    /// defaults (transformers 5.25.0, `AlbertConfig().to_dict()`) are written out here.
    #[test]
    fn missing_fields_take_the_transformers_class_defaults() {
        let cfg = AlbertConfig::from_json_str(r#"{"hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024}"#).unwrap();
        let expected = serde_json::json!({
            "vocab_size": 30000, "embedding_size": 128, "hidden_size": 256, "num_hidden_layers": 12,
            "num_hidden_groups": 1, "num_attention_heads": 4, "intermediate_size": 1024, "inner_group_num": 1,
            "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
            "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
            "classifier_dropout_prob": 0.1, "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3,
            "model_type": "albert",
        });
        assert_eq!(serde_json::to_value(&cfg).unwrap(), expected);
        let empty = AlbertConfig::from_json_str("{}").unwrap();
        assert_eq!((empty.hidden_size, empty.num_attention_heads, empty.intermediate_size), (4096, 64, 16384));
        assert!(empty.extra.is_empty());
    }

    /// Each size is refused one past its limit, naming the field and the limit, and accepted at it.
    #[test]
    fn sizes_beyond_the_limits_are_refused_by_name() {
        for (field, limit) in LIMITS {
            let mut v = serde_json::to_value(AlbertConfig::default()).unwrap();
            v["num_hidden_layers"] = (1 << 12).into();
            v["num_attention_heads"] = 1.into();
            v[field] = (limit + 1).into();
            let err = AlbertConfig::from_json_str(&v.to_string()).unwrap_err().to_string();
            assert!(err.contains(&format!("`{field}`")) && err.contains(&format!("limit of {limit}")), "{err}");
            v[field] = limit.into();
            if field == "num_attention_heads" {
                v["hidden_size"] = limit.into();
            }
            AlbertConfig::from_json_str(&v.to_string()).unwrap_or_else(|e| panic!("{field} at its limit: {e}"));
        }
        // 2^64 - 1 parses as a usize: refused by the limit rather than failing an allocation.
        let err = AlbertConfig::from_json_str(r#"{"vocab_size": 18446744073709551615}"#).unwrap_err().to_string();
        assert!(err.contains("`vocab_size`"), "{err}");
    }

    /// With every size at its limit the parameter count, and its bytes in f32, still fit.
    #[test]
    fn parameter_count_cannot_overflow_within_the_limits() {
        let mut cfg = AlbertConfig::default();
        for (field, limit) in LIMITS {
            let v = match field {
                "vocab_size" => &mut cfg.vocab_size,
                "embedding_size" => &mut cfg.embedding_size,
                "hidden_size" => &mut cfg.hidden_size,
                "num_hidden_layers" => &mut cfg.num_hidden_layers,
                "num_hidden_groups" => &mut cfg.num_hidden_groups,
                "num_attention_heads" => &mut cfg.num_attention_heads,
                "intermediate_size" => &mut cfg.intermediate_size,
                "inner_group_num" => &mut cfg.inner_group_num,
                "max_position_embeddings" => &mut cfg.max_position_embeddings,
                "type_vocab_size" => &mut cfg.type_vocab_size,
                "num_labels" => cfg.num_labels.get_or_insert(0),
                _ => unreachable!(),
            };
            *v = limit;
        }
        cfg.validate().unwrap();
        for arch in Architecture::ALL {
            let n = cfg.parameter_count(arch) as u128;
            assert!(n * 4 < u64::MAX as u128, "{arch:?}: {n}");
        }
    }

    #[test]
    fn labels_round_trip() {
        let mut cfg = AlbertConfig::default();
        assert_eq!(cfg.num_labels(), 2);
        cfg.set_labels(&["negative".into(), "positive".into(), "neutral".into()]);
        let back = AlbertConfig::from_json_str(&cfg.to_json_string()).unwrap();
        assert_eq!(back.num_labels(), 3);
        assert_eq!(back.label_name(1), "positive");
        assert_eq!(back.label2id.unwrap()["neutral"], 2);
    }
}
