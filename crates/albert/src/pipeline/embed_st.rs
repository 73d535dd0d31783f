//! sentence-transformers model directories: `modules.json` lists a Transformer (the ALBERT checkpoint, in the
//! directory itself or a subfolder), then a Pooling module (`1_Pooling/config.json`: one or more pooling modes,
//! concatenated) and optionally a Normalize module; `sentence_bert_config.json` (or, as the library's own saves
//! since v5 write it, the tokenizer's `model_max_length`) caps the input length. [`SentenceHead`] reads them and
//! pools a text's token vectors as the library does (sentence-transformers 6.3, `Pooling._forward_padded`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::AlbertConfig;
use crate::error::{Error, Result};
use crate::tokenizer::AlbertTokenizer;

/// One way of pooling token vectors into a sentence vector (sentence-transformers' `pooling_mode` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingMode {
    /// The first token's vector (`[CLS]`).
    Cls,
    /// The element-wise maximum over the tokens.
    Max,
    /// The mean over the tokens.
    Mean,
    /// The sum over the tokens divided by the square root of their number.
    MeanSqrtLen,
    /// The mean weighted by position (1 for the first token, 2 for the second, ...).
    WeightedMean,
    /// The last token's vector (`[SEP]` for ALBERT).
    LastToken,
}

impl PoolingMode {
    /// The modes in the order the library's legacy `pooling_mode_*` keys concatenate them.
    const LEGACY: [(&'static str, PoolingMode); 6] = [
        ("pooling_mode_cls_token", PoolingMode::Cls),
        ("pooling_mode_max_tokens", PoolingMode::Max),
        ("pooling_mode_mean_tokens", PoolingMode::Mean),
        ("pooling_mode_mean_sqrt_len_tokens", PoolingMode::MeanSqrtLen),
        ("pooling_mode_weightedmean_tokens", PoolingMode::WeightedMean),
        ("pooling_mode_lasttoken", PoolingMode::LastToken),
    ];

    /// The mode the library names `name`.
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "cls" => Self::Cls,
            "max" => Self::Max,
            "mean" => Self::Mean,
            "mean_sqrt_len_tokens" => Self::MeanSqrtLen,
            "weightedmean" => Self::WeightedMean,
            "lasttoken" => Self::LastToken,
            _ => return None,
        })
    }

    /// Pools `tokens` (len rows of `hidden` values, every token real: padding is never passed) into `hidden`
    /// values.
    fn pool(self, tokens: &[Vec<f32>], hidden: usize) -> Vec<f32> {
        let n = tokens.len();
        match self {
            Self::Cls => tokens[0].clone(),
            Self::LastToken => tokens[n - 1].clone(),
            Self::Max => (0..hidden).map(|j| tokens.iter().map(|t| t[j]).fold(f32::NEG_INFINITY, f32::max)).collect(),
            Self::Mean | Self::MeanSqrtLen => {
                let denominator = if self == Self::Mean { n as f32 } else { (n as f32).sqrt() };
                (0..hidden).map(|j| tokens.iter().map(|t| t[j]).sum::<f32>() / denominator).collect()
            }
            Self::WeightedMean => {
                // Weights 1..=n: the library counts positions from the first real token (right padding here).
                let total: f32 = (1..=n).map(|w| w as f32).sum();
                (0..hidden)
                    .map(|j| tokens.iter().enumerate().map(|(i, t)| t[j] * (i + 1) as f32).sum::<f32>() / total)
                    .collect()
            }
        }
    }
}

/// What a sentence-transformers directory does after its transformer: pooling, normalization, input length.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceHead {
    /// The pooling modes, their vectors concatenated in this order (one mode: a `hidden_size` vector).
    pub modes: Vec<PoolingMode>,
    /// Whether a Normalize module divides the vector by its L2 norm (at least 1e-12, as torch's `F.normalize`).
    pub normalize: bool,
    /// The longest input in tokens, special tokens included (`max_seq_length`, else the tokenizer's
    /// `model_max_length`); `None`: the pipeline's default.
    pub max_seq_length: Option<usize>,
    /// Whether texts are lowercased before tokenization (`do_lower_case`; see [`SentenceHead::check_tokenizer`]).
    pub lowercase: bool,
    /// Where the transformer's checkpoint lies: the directory itself, or the subfolder `modules.json` names
    /// (older saves used `0_Transformer/`).
    pub transformer_dir: PathBuf,
    /// The width of a token vector (the transformer's `hidden_size`); the sentence vector is
    /// `modes.len() * hidden_size` wide.
    pub hidden_size: usize,
}

/// One entry of `modules.json`.
#[derive(Debug, Deserialize)]
struct ModuleEntry {
    /// Folder of the module's files, relative to the model directory (`""`: the directory itself).
    path: String,
    /// The module's Python class, e.g. `sentence_transformers.models.Pooling`.
    #[serde(rename = "type")]
    class: String,
}

/// `sentence_bert_config.json` (the Transformer module's settings); both fields may be absent.
#[derive(Debug, Default, Deserialize)]
struct TransformerSettings {
    max_seq_length: Option<usize>,
    #[serde(default)]
    do_lower_case: bool,
}

/// `tokenizer_config.json`'s length limit, what the library's Transformer falls back to.
#[derive(Debug, Default, Deserialize)]
struct TokenizerLimit {
    model_max_length: Option<f64>,
}

/// The file name of the module list.
pub const MODULES_JSON: &str = "modules.json";

impl SentenceHead {
    /// Reads the modules of the sentence-transformers directory `dir`; `Ok(None)` when `dir` has no
    /// `modules.json` (a plain checkpoint). A module this implementation does not run (Dense, LSTM, ...), a pooling
    /// mode it does not know, or a Pooling dimension other than the transformer's `hidden_size` is refused, naming
    /// the file.
    pub fn from_dir(dir: &Path) -> Result<Option<Self>> {
        let modules_path = dir.join(MODULES_JSON);
        if !modules_path.is_file() {
            return Ok(None);
        }
        let modules: Vec<ModuleEntry> = read_json(&modules_path)?;
        let class = |m: &ModuleEntry| m.class.rsplit('.').next().unwrap_or_default().to_string();
        let Some(first) = modules.first().filter(|m| class(m) == "Transformer") else {
            return Err(Error::Input(format!(
                "{}: the first module should be a Transformer (the ALBERT encoder)",
                modules_path.display()
            )));
        };
        let transformer_dir = dir.join(&first.path);
        let settings: TransformerSettings = read_json_or_default(&transformer_dir.join("sentence_bert_config.json"))?;
        let max_seq_length = match settings.max_seq_length {
            Some(n) => Some(n),
            None => read_json_or_default::<TokenizerLimit>(&transformer_dir.join("tokenizer_config.json"))?
                .model_max_length
                // transformers writes a huge number for "no limit".
                .filter(|&n| n >= 1.0 && n < 1e9)
                .map(|n| n as usize),
        };
        let hidden = AlbertConfig::from_file(transformer_dir.join("config.json"))?.hidden_size;
        let mut head = Self {
            modes: Vec::new(),
            normalize: false,
            max_seq_length,
            lowercase: settings.do_lower_case,
            hidden_size: hidden,
            transformer_dir,
        };
        for module in &modules[1..] {
            let folder = dir.join(&module.path);
            match class(module).as_str() {
                "Pooling" if head.modes.is_empty() && !head.normalize => {
                    head.modes = read_pooling(&folder.join("config.json"), hidden)?;
                }
                "Normalize" if !head.modes.is_empty() => head.normalize = true,
                other => {
                    return Err(Error::Input(format!(
                        "{}: module `{}` ({other}) is not supported here; albert runs Transformer, Pooling, then \
                         an optional Normalize",
                        modules_path.display(),
                        module.class
                    )))
                }
            }
        }
        if head.modes.is_empty() {
            return Err(Error::Input(format!("{}: no Pooling module after the Transformer", modules_path.display())));
        }
        Ok(Some(head))
    }

    /// Refuses a directory that asks for lowercased input (`do_lower_case`) over a tokenizer that keeps case: the
    /// library lowercases the text before tokenizing, which albert does through the tokenizer's own setting only
    /// (ALBERT's tokenizers lowercase by default).
    pub fn check_tokenizer(&self, tokenizer: &AlbertTokenizer) -> Result<()> {
        if self.lowercase && !tokenizer.config().do_lower_case {
            return Err(Error::Input(format!(
                "{}: sentence_bert_config.json sets do_lower_case but the tokenizer keeps case; set do_lower_case \
                 in tokenizer_config.json instead",
                self.transformer_dir.display()
            )));
        }
        Ok(())
    }

    /// The sentence vector of one text from its token vectors (`tokens`: the real tokens' rows of the last hidden
    /// state, `[CLS]` and `[SEP]` included, each `hidden_size` wide): each mode's vector, concatenated, then
    /// normalized if the directory says so.
    pub fn pool(&self, tokens: &[Vec<f32>]) -> Result<Vec<f32>> {
        if tokens.is_empty() || tokens.iter().any(|t| t.len() != self.hidden_size) {
            return Err(Error::Input(format!("pooling needs at least one token vector of {} values", self.hidden_size)));
        }
        let mut vector: Vec<f32> = self.modes.iter().flat_map(|m| m.pool(tokens, self.hidden_size)).collect();
        if self.normalize {
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(vector)
    }
}

/// The modes of a Pooling module's `config.json`: `pooling_mode` (a name or a list of names, sentence-transformers
/// 5 and later), else the legacy `pooling_mode_*` booleans (mean when none is set, as the library reads them).
fn read_pooling(path: &Path, hidden: usize) -> Result<Vec<PoolingMode>> {
    let config: serde_json::Map<String, serde_json::Value> = read_json(path)?;
    let bad = |message: String| Error::Input(format!("{}: {message}", path.display()));
    let dimension = config.get("embedding_dimension").or_else(|| config.get("word_embedding_dimension"));
    if let Some(d) = dimension {
        if d.as_u64() != Some(hidden as u64) {
            return Err(bad(format!("the pooled dimension is {d} but the transformer's hidden_size is {hidden}")));
        }
    }
    let names: Vec<String> = match config.get("pooling_mode") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(format!("pooling_mode holds {v}, not a name"))))
            .collect::<Result<_>>()?,
        Some(other) => return Err(bad(format!("pooling_mode should be a name or a list of names, not {other}"))),
        None => {
            let legacy: Vec<PoolingMode> = PoolingMode::LEGACY
                .iter()
                .filter(|(key, _)| config.get(*key).and_then(|v| v.as_bool()).unwrap_or(false))
                .map(|&(_, mode)| mode)
                .collect();
            return Ok(if legacy.is_empty() { vec![PoolingMode::Mean] } else { legacy });
        }
    };
    if names.is_empty() {
        return Err(bad("pooling_mode is an empty list".into()));
    }
    names
        .iter()
        .map(|n| {
            PoolingMode::from_name(n).ok_or_else(|| {
                bad(format!("unknown pooling mode {n:?} (known: cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken)"))
            })
        })
        .collect()
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}

/// The file's settings, the defaults when it is absent.
fn read_json_or_default<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    if path.is_file() {
        read_json(path)
    } else {
        Ok(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The modes on three tokens of width 2, worked by hand.
    #[test]
    fn each_mode_pools_as_the_library_defines_it() {
        let t = vec![vec![1.0, -2.0], vec![3.0, 0.0], vec![-1.0, 4.0]];
        assert_eq!(PoolingMode::Cls.pool(&t, 2), vec![1.0, -2.0]);
        assert_eq!(PoolingMode::LastToken.pool(&t, 2), vec![-1.0, 4.0]);
        assert_eq!(PoolingMode::Max.pool(&t, 2), vec![3.0, 4.0]);
        assert_eq!(PoolingMode::Mean.pool(&t, 2), vec![1.0, 2.0 / 3.0]);
        let s = 3f32.sqrt();
        assert_eq!(PoolingMode::MeanSqrtLen.pool(&t, 2), vec![3.0 / s, 2.0 / s]);
        // (1*1 + 2*3 + 3*-1) / 6, (1*-2 + 2*0 + 3*4) / 6
        assert_eq!(PoolingMode::WeightedMean.pool(&t, 2), vec![4.0 / 6.0, 10.0 / 6.0]);
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A directory with the transformer's config.json (hidden 32) and `modules.json`.
    fn st_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "config.json", r#"{"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 37}"#);
        write(dir.path(), "modules.json", MODULES);
        dir
    }

    const MODULES: &str = r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
        {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#;

    #[test]
    fn a_directory_without_modules_is_a_plain_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SentenceHead::from_dir(dir.path()).unwrap(), None);
    }

    #[test]
    fn legacy_keys_concatenate_in_the_library_order_and_default_to_mean() {
        let dir = st_dir();
        write(dir.path(), "1_Pooling/config.json", r#"{"word_embedding_dimension": 32, "pooling_mode_mean_tokens": true, "pooling_mode_cls_token": true}"#);
        let head = SentenceHead::from_dir(dir.path()).unwrap().unwrap();
        assert_eq!(head.modes, vec![PoolingMode::Cls, PoolingMode::Mean]);
        assert!(!head.normalize);
        write(dir.path(), "1_Pooling/config.json", r#"{"word_embedding_dimension": 32}"#);
        assert_eq!(SentenceHead::from_dir(dir.path()).unwrap().unwrap().modes, vec![PoolingMode::Mean]);
    }

    #[test]
    fn unsupported_modules_modes_and_dimensions_are_named() {
        let dir = st_dir();
        let modules = MODULES.replace("]", r#",{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#);
        write(dir.path(), "modules.json", &modules);
        write(dir.path(), "1_Pooling/config.json", r#"{"embedding_dimension": 32, "pooling_mode": "mean"}"#);
        let err = SentenceHead::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sentence_transformers.models.Dense") && err.contains("not supported"), "{err}");

        write(dir.path(), "modules.json", MODULES);
        write(dir.path(), "1_Pooling/config.json", r#"{"embedding_dimension": 32, "pooling_mode": ["mean", "median"]}"#);
        let err = SentenceHead::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("\"median\"") && err.contains("1_Pooling"), "{err}");

        write(dir.path(), "1_Pooling/config.json", r#"{"embedding_dimension": 768, "pooling_mode": "mean"}"#);
        let err = SentenceHead::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("768") && err.contains("hidden_size is 32"), "{err}");

        write(dir.path(), "modules.json", "[{\"path\": \"1_Pooling\", \"type\": \"Pooling\"}]");
        let err = SentenceHead::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("first module should be a Transformer"), "{err}");
    }
}
