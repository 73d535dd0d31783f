//! Multiple choice (RACE): each option is scored as the pair `[CLS] passage [SEP] question-with-option [SEP]`
//! (the option fills a cloze question's `_`, else follows the question, as transformers' RACE processor builds it),
//! the passage truncated so that the question and option always fit; the loss is cross-entropy over the options.

use std::collections::HashMap;
use std::path::Path;

use albert::model::{AlbertForMultipleChoice, LogitsOutput};
use albert::pipeline::task_head::{predict_items, rows_input, EncodedItems};
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use albert::{AlbertConfig, AlbertInput, Architecture, Pretrained};
use candle_core::{Device, Tensor};

use super::task::{json_bytes, HeadLabels, LabeledItems, PredictOptions, PredictionFile, ReadOptions, TaskFamily, TaskFile, Training, TrainingSource};
use super::FinetuneError;
use crate::tasks::multiple_choice::{read_choice_predictions, read_race, score_multiple_choice, Choice, MultipleChoiceExample, RACE_OPTIONS};
use crate::tasks::{EvalOptions, EvaluationReport, Task, TaskError};

/// Encoded questions, each with all its options.
#[derive(Debug, Clone)]
pub struct ChoiceFeatures {
    /// Per question, per option: token ids.
    pub ids: Vec<Vec<Vec<u32>>>,
    /// Per question, per option: segment ids.
    pub type_ids: Vec<Vec<Vec<u32>>>,
    /// Index of the right option, when known.
    pub labels: Vec<Option<usize>>,
    /// Id that pads rows to the longest of a batch.
    pub pad_id: u32,
}

/// The second text of an option: the question with the option in its blank, or the question and the option.
pub fn option_text(question: &str, option: &str) -> String {
    if question.contains('_') {
        question.replace('_', option)
    } else {
        format!("{question} {option}")
    }
}

impl ChoiceFeatures {
    /// Encodes `examples`, every question with the same number of options (a batch is a dense tensor).
    pub fn encode(tokenizer: &AlbertTokenizer, examples: &[MultipleChoiceExample], max_seq_length: usize) -> Result<Self, FinetuneError> {
        let options = examples.first().map_or(0, |e| e.options.len());
        if let Some(e) = examples.iter().find(|e| e.options.len() != options || options == 0) {
            return Err(FinetuneError::Invalid(format!(
                "question {} has {} options, the first has {options}; every question needs the same number",
                e.id,
                e.options.len()
            )));
        }
        let opts = EncodeOptions::truncating(max_seq_length, TruncationStrategy::OnlyFirst);
        let pairs: Vec<(String, String)> =
            examples.iter().flat_map(|e| e.options.iter().map(|o| (e.context.clone(), option_text(&e.question, o)))).collect();
        let inputs: Vec<(&str, Option<&str>)> = pairs.iter().map(|(a, b)| (a.as_str(), Some(b.as_str()))).collect();
        let encodings = tokenizer.encode_batch(&inputs, &opts)?;
        let group = |f: &dyn Fn(&albert::tokenizer::Encoding) -> Vec<u32>| -> Vec<Vec<Vec<u32>>> {
            encodings.chunks(options).map(|c| c.iter().map(f).collect()).collect()
        };
        Ok(Self {
            ids: group(&|e| e.ids.clone()),
            type_ids: group(&|e| e.type_ids.clone()),
            labels: examples.iter().map(|e| e.label).collect(),
            pad_id: tokenizer.token_to_id("<pad>").unwrap_or(0),
        })
    }

}

impl EncodedItems for ChoiceFeatures {
    fn count(&self) -> usize {
        self.ids.len()
    }

    /// (batch, options, seq)
    fn input(&self, items: &[usize], device: &Device) -> albert::Result<AlbertInput> {
        let options = items.first().map_or(1, |&r| self.ids[r].len());
        fn flat<'a>(t: &'a [Vec<Vec<u32>>], items: &[usize]) -> Vec<&'a [u32]> {
            items.iter().flat_map(|&r| t[r].iter().map(Vec::as_slice)).collect()
        }
        rows_input(&flat(&self.ids, items), Some(&flat(&self.type_ids, items)), options, self.pad_id, device)
    }
}

super::task::train_head!(AlbertForMultipleChoice, LogitsOutput);

impl LabeledItems for ChoiceFeatures {
    type Head = AlbertForMultipleChoice;

    fn item_len(&self, item: usize) -> usize {
        self.ids[item].iter().map(Vec::len).max().unwrap_or(0)
    }

    fn labels(&self, items: &[usize], device: &Device) -> Result<Tensor, FinetuneError> {
        let labels = items
            .iter()
            .map(|&r| self.labels[r].map(|l| l as u32).ok_or_else(|| FinetuneError::Invalid(format!("question {r} has no answer"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Tensor::new(labels, device)?)
    }
}

/// The chosen option of every question.
pub fn predict(model: &Pretrained, features: &ChoiceFeatures, batch_size: usize) -> Result<Vec<usize>, FinetuneError> {
    Ok(predict_items::<AlbertForMultipleChoice>(model, features, batch_size)?.into_iter().map(|c| c as usize).collect())
}

/// Predictions as RACE's letters `{id: "A".."D"}` (option indices past D as numbers), the file
/// `albert evaluate --task race --predictions` reads.
pub fn prediction_file(examples: &[MultipleChoiceExample], chosen: &[usize]) -> HashMap<String, serde_json::Value> {
    examples
        .iter()
        .zip(chosen)
        .map(|(e, &c)| (e.id.clone(), option_letter(c)))
        .collect()
}

/// RACE's letter of option `c`, or the index past D.
fn option_letter(c: usize) -> serde_json::Value {
    RACE_OPTIONS.get(c).map_or(serde_json::json!(c), |l| serde_json::json!(l))
}

/// Multiple choice in RACE's format, scored by accuracy.
#[derive(Debug, Clone, Copy)]
pub struct ChoiceTask;

impl TaskFamily for ChoiceTask {
    type Data = TaskFile<Vec<MultipleChoiceExample>>;
    type Features = ChoiceFeatures;
    /// The chosen option of each question, by id.
    type Predictions = HashMap<String, Choice>;

    const EVAL_BATCH: usize = 8;

    fn task(&self) -> Task {
        Task::Race
    }

    fn architecture(&self) -> Architecture {
        Architecture::MultipleChoice
    }

    /// Reads a RACE directory (or a JSON Lines file of articles).
    fn read(&self, path: &Path, opts: &ReadOptions) -> Result<Self::Data, TaskError> {
        opts.no_articles(self.task(), path)?;
        Ok(TaskFile { path: path.to_owned(), items: read_race(path)? })
    }

    /// The dev data selects the checkpoint, else the last 10% of the training questions (at least one).
    fn training(&self, source: &TrainingSource) -> Result<Training<Self::Data>, FinetuneError> {
        source.no_holdout_fraction(self.task())?;
        let mut train = self.read(&source.data, &ReadOptions::default())?;
        train.items.truncate(source.limit.unwrap_or(usize::MAX));
        let select = match &source.dev {
            Some(dev) => self.read(dev, &ReadOptions::default())?,
            None => {
                let n = train.items.len();
                let keep = n - (n / 10).max(usize::from(n >= 2));
                TaskFile { path: source.data.clone(), items: train.items.split_off(keep) }
            }
        };
        Ok(Training { train, select: Some(select) })
    }

    fn size(&self, data: &Self::Data) -> usize {
        data.items.len()
    }

    fn head_labels(&self, _train: &Self::Data) -> HeadLabels {
        HeadLabels::Unlabeled
    }

    fn features(&self, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<ChoiceFeatures, FinetuneError> {
        ChoiceFeatures::encode(tokenizer, &data.items, max_seq_length)
    }

    fn predict(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &Self::Data, opts: &PredictOptions) -> Result<Self::Predictions, FinetuneError> {
        let chosen = predict(model, &self.features(tokenizer, data, opts.max_seq_length)?, opts.batch_size)?;
        Ok(data.items.iter().zip(chosen).map(|(e, c)| (e.id.clone(), Choice::Index(c))).collect())
    }

    /// A JSON object `{example id: "A".."D" or option index}`.
    fn read_predictions(&self, _data: &Self::Data, path: &Path) -> Result<Self::Predictions, TaskError> {
        read_choice_predictions(path)
    }

    fn evaluate(&self, data: &Self::Data, predictions: &Self::Predictions, _opts: &EvalOptions) -> Result<EvaluationReport, TaskError> {
        Ok(EvaluationReport::Scores(score_multiple_choice(&data.items, &data.path, predictions, &data.path)?))
    }

    /// RACE's letters `{id: "A".."D"}` (option indices past D as numbers).
    fn prediction_files(&self, data: &Self::Data, predictions: &Self::Predictions, _model: &AlbertConfig) -> Result<Vec<PredictionFile>, FinetuneError> {
        let letters: HashMap<&String, serde_json::Value> = data
            .items
            .iter()
            .filter_map(|e| predictions.get(&e.id).map(|c| (&e.id, c)))
            .map(|(id, c)| (id, match c {
                Choice::Index(i) => option_letter(*i),
                Choice::Letter(l) => serde_json::json!(l),
            }))
            .collect();
        Ok(vec![PredictionFile { companion: None, bytes: json_bytes(&letters)? }])
    }
}
