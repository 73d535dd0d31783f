//! Multiple choice (RACE): each option is scored as the pair `[CLS] passage [SEP] question-with-option [SEP]`
//! (the option fills a cloze question's `_`, else follows the question, as transformers' RACE processor builds it),
//! the passage truncated so that the question and option always fit; the loss is cross-entropy over the options.

use std::collections::HashMap;
use std::path::Path;

use albert::model::AlbertForMultipleChoice;
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, Truncation, TruncationStrategy};
use albert::{AlbertForAny, AlbertInput, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor};

use super::{FinetuneError, TrainFeatures};
use crate::tasks::multiple_choice::{score_multiple_choice, Choice, MultipleChoiceExample, RACE_OPTIONS};
use crate::tasks::TaskScores;

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
        let opts = EncodeOptions {
            truncation: Some(Truncation { max_length: max_seq_length, stride: 0, strategy: TruncationStrategy::OnlyFirst }),
            ..EncodeOptions::default()
        };
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

    /// (batch, options, seq) inputs of the questions `rows`.
    fn input(&self, rows: &[usize], device: &Device) -> Result<AlbertInput, FinetuneError> {
        let options = self.ids[rows[0]].len();
        let flat = |t: &Vec<Vec<Vec<u32>>>| -> Vec<Vec<u32>> { rows.iter().flat_map(|&r| t[r].iter().cloned()).collect() };
        let input = AlbertInput::from_rows(&flat(&self.ids), Some(&flat(&self.type_ids)), self.pad_id, device)?;
        let seq = input.input_ids.dim(1)?;
        let shape = (rows.len(), options, seq);
        let reshape = |t: Option<Tensor>| t.map(|t| t.reshape(shape)).transpose();
        Ok(AlbertInput {
            input_ids: input.input_ids.reshape(shape)?,
            token_type_ids: reshape(input.token_type_ids)?,
            attention_mask: reshape(input.attention_mask)?,
            position_ids: reshape(input.position_ids)?,
        })
    }
}

fn head(model: &AlbertForAny) -> Result<&AlbertForMultipleChoice, FinetuneError> {
    super::require_head(model, albert::Architecture::MultipleChoice, |m| match m {
        AlbertForAny::MultipleChoice(h) => Some(h),
        _ => None,
    })
}

impl TrainFeatures for ChoiceFeatures {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn row_len(&self, row: usize) -> usize {
        self.ids[row].iter().map(Vec::len).max().unwrap_or(0)
    }

    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError> {
        let head = head(model)?;
        let labels = batch
            .iter()
            .map(|&r| self.labels[r].map(|l| l as u32).ok_or_else(|| FinetuneError::Invalid(format!("question {r} has no answer"))))
            .collect::<Result<Vec<_>, _>>()?;
        let out = head.forward(&self.input(batch, device)?, forward)?;
        Ok(head.loss(&out, &Tensor::new(labels, device)?)?)
    }
}

/// The chosen option of every question.
pub fn predict(model: &Pretrained, features: &ChoiceFeatures, batch_size: usize) -> Result<Vec<usize>, FinetuneError> {
    let detached = model.detached()?;
    let head = head(&detached)?;
    let device = head.albert.embeddings().word_embeddings().device().clone();
    let rows: Vec<usize> = (0..features.ids.len()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for batch in rows.chunks(batch_size.max(1)) {
        // (batch, options) -> (batch)
        let chosen: Vec<u32> = head.forward(&features.input(batch, &device)?, &ForwardOptions::default())?.logits.argmax(1)?.to_vec1()?;
        out.extend(chosen.into_iter().map(|c| c as usize));
    }
    Ok(out)
}

/// Predictions as RACE's letters `{id: "A".."D"}` (option indices past D as numbers), the file
/// `albert evaluate --task race --predictions` reads.
pub fn prediction_file(examples: &[MultipleChoiceExample], chosen: &[usize]) -> HashMap<String, serde_json::Value> {
    examples
        .iter()
        .zip(chosen)
        .map(|(e, &c)| (e.id.clone(), RACE_OPTIONS.get(c).map_or(serde_json::json!(c), |l| serde_json::json!(l))))
        .collect()
}

/// Predicts `examples` and scores them: accuracy (`acc`, 0-100).
pub fn score_examples(
    model: &Pretrained,
    tokenizer: &AlbertTokenizer,
    examples: &[MultipleChoiceExample],
    path: &Path,
    max_seq_length: usize,
) -> Result<TaskScores, FinetuneError> {
    let features = ChoiceFeatures::encode(tokenizer, examples, max_seq_length)?;
    let chosen = predict(model, &features, 8)?;
    let predictions: HashMap<String, Choice> = examples.iter().zip(&chosen).map(|(e, &c)| (e.id.clone(), Choice::Index(c))).collect();
    Ok(score_multiple_choice(examples, path, &predictions, path)?)
}
