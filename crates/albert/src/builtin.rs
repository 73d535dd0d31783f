//! The project's built-in models: small ALBERTs trained by its own commands on `../shared/data` and shipped in the
//! repository's `models/` folder as f16 safetensors (Hugging Face format), each with a model card (`README.md`:
//! data, recipe, the commands that reproduce it) and the scores those commands measured (`scores.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variable naming the folder that holds the built-in models, for a binary used away from its clone.
pub const MODELS_ENV: &str = "ALBERT_MODELS";

/// The pretrained masked-LM checkpoint (fill-mask, embed, similarity).
pub const PRETRAINED: &str = "albert-small";
/// Its SST-2 fine-tune (sentiment classification).
pub const SENTIMENT: &str = "albert-small-sst2";
/// Its extractive question-answering fine-tune (XQuAD's training articles).
pub const QUESTION_ANSWERING: &str = "albert-small-xquad";
/// Its CoNLL-2003 fine-tune (named entities).
pub const NER: &str = "albert-small-conll03";

/// Where the built-in models lie: `$ALBERT_MODELS`, else the `models/` folder of the repository this was built in.
pub fn models_dir() -> PathBuf {
    match std::env::var_os(MODELS_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models")),
    }
}

/// The checkpoint directory of the built-in model `name`, or an error that says where it was looked for.
pub fn path(name: &str) -> Result<PathBuf> {
    let dir = models_dir().join(name);
    if dir.join("config.json").is_file() {
        return Ok(dir);
    }
    Err(Error::Input(format!(
        "the built-in model `{name}` is not at {} (set {MODELS_ENV} to the folder holding the repository's models/, \
         or pass --model)",
        dir.display()
    )))
}

/// What a built-in model scored, as its card's commands measured it (`scores.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The data scored, e.g. "SST-2 dev (872 sentences)".
    pub dataset: String,
    /// Metric name to value, on the 0-100 scale of `albert evaluate` (accuracy 83.5, SQuAD F1 61.2).
    pub metrics: BTreeMap<String, f64>,
}

impl Scores {
    /// Reads `scores.json` of the built-in model `name`.
    pub fn of(name: &str) -> Result<Self> {
        let file = path(name)?.join("scores.json");
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", file.display())))
    }

    /// One line for people: "accuracy 83.37 on SST-2 dev (872 sentences)".
    pub fn summary(&self) -> String {
        let metrics: Vec<String> = self.metrics.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
        format!("{} on {}", metrics.join(", "), self.dataset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_metrics_in_name_order() {
        let s = Scores {
            dataset: "SST-2 dev".into(),
            metrics: BTreeMap::from([("f1".to_string(), 71.234), ("exact_match".to_string(), 60.0)]),
        };
        assert_eq!(s.summary(), "exact_match 60.00, f1 71.23 on SST-2 dev");
    }

    #[test]
    fn missing_model_names_the_folder_and_the_way_out() {
        let err = path("no-such-model").unwrap_err().to_string();
        assert!(err.contains("no-such-model") && err.contains(MODELS_ENV), "{err}");
    }
}
