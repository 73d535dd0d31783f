//! Token classification (named entities): words are joined by spaces and encoded; the label of each word goes on
//! its first sub-token and every other position gets -100, which the loss skips. Predictions are read back at the
//! first sub-tokens; words cut off by `max_seq_length` are predicted `O`.

use std::path::Path;

use albert::model::loss::IGNORE_INDEX;
use albert::model::{AlbertForTokenClassification, LogitsOutput};
use albert::pipeline::task_head::{predict_items, rows_input, EncodedItems};
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, TruncationStrategy};
use albert::{AlbertConfig, AlbertInput, Architecture, Pretrained};
use candle_core::{Device, Tensor};

use super::task::{HeadLabels, LabeledItems, PredictOptions, PredictionFile, ReadOptions, TaskFamily, TaskFile, Training, TrainingSource};
use super::FinetuneError;
use crate::tasks::ner::{read_conll2003, read_predicted_tags, score_ner, NerSentence, CONLL2003_LABELS};
use crate::tasks::{EvalOptions, EvaluationReport, Task, TaskError};

/// Encoded sentences with word-aligned labels.
#[derive(Debug, Clone)]
pub struct TokenFeatures {
    /// Token ids, one row per sentence, without padding.
    pub ids: Vec<Vec<u32>>,
    /// Per token: the index of the word it starts, if it is that word's first sub-token.
    pub word_starts: Vec<Vec<Option<usize>>>,
    /// Per token: the class id of the word it starts, -100 elsewhere (absent for unlabeled sentences).
    pub labels: Vec<Option<Vec<i64>>>,
    /// Words per sentence.
    pub num_words: Vec<usize>,
    /// Id that pads rows to the longest of a batch.
    pub pad_id: u32,
}

/// For each token of an encoding of `words` joined by single spaces, the word whose first sub-token it is.
/// Offsets are in code points; a token that starts on the space before a word (SentencePiece's `▁`) belongs to it.
pub fn first_subtokens(words: &[String], offsets: &[(usize, usize)], special: &[u32]) -> Vec<Option<usize>> {
    // Code-point end of each word in the joined text.
    let mut ends = Vec::with_capacity(words.len());
    let mut pos = 0;
    for w in words {
        pos += w.chars().count();
        ends.push(pos);
        pos += 1;
    }
    let mut seen = vec![false; words.len()];
    offsets
        .iter()
        .zip(special)
        .map(|(&(start, end), &is_special)| {
            if is_special == 1 || end <= start {
                return None;
            }
            let word = ends.iter().position(|&e| e > start)?;
            (!std::mem::replace(&mut seen[word], true)).then_some(word)
        })
        .collect()
}

impl TokenFeatures {
    /// Encodes `sentences`; `label_names` gives the class id of each tag (an unknown tag is an error).
    pub fn encode(
        tokenizer: &AlbertTokenizer,
        sentences: &[NerSentence],
        label_names: &[String],
        max_seq_length: usize,
    ) -> Result<Self, FinetuneError> {
        let opts = EncodeOptions::truncating(max_seq_length, TruncationStrategy::LongestFirst);
        let texts: Vec<(String, Option<String>)> = sentences.iter().map(|s| (s.tokens.join(" "), None)).collect();
        let encodings = tokenizer.encode_batch(&texts, &opts)?;
        let mut out = Self {
            ids: Vec::new(),
            word_starts: Vec::new(),
            labels: Vec::new(),
            num_words: Vec::new(),
            pad_id: tokenizer.token_to_id("<pad>").unwrap_or(0),
        };
        for (s, e) in sentences.iter().zip(encodings) {
            let starts = first_subtokens(&s.tokens, &e.offsets, &e.special_tokens_mask);
            let labels = if !s.tags.is_empty() && s.tags.len() == s.tokens.len() {
                let class = |tag: &String| {
                    label_names
                        .iter()
                        .position(|l| l == tag)
                        .map(|c| c as i64)
                        .ok_or_else(|| {
                            FinetuneError::Invalid(format!(
                                "tag {tag:?} (sentence at line {}) is not one of {label_names:?}",
                                s.line
                            ))
                        })
                };
                Some(
                    starts
                        .iter()
                        .map(|w| w.map_or(Ok(IGNORE_INDEX), |w| class(&s.tags[w])))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            } else {
                None
            };
            out.ids.push(e.ids);
            out.word_starts.push(starts);
            out.labels.push(labels);
            out.num_words.push(s.tokens.len());
        }
        Ok(out)
    }

    /// Encodes `sentences` for prediction only: their tags, if any, are not read.
    pub fn encode_unlabeled(
        tokenizer: &AlbertTokenizer,
        sentences: &[NerSentence],
        max_seq_length: usize,
    ) -> Result<Self, FinetuneError> {
        let bare: Vec<NerSentence> = sentences
            .iter()
            .map(|s| NerSentence {
                tags: Vec::new(),
                ..s.clone()
            })
            .collect();
        Self::encode(tokenizer, &bare, &[], max_seq_length)
    }

}

impl EncodedItems for TokenFeatures {
    fn count(&self) -> usize {
        self.ids.len()
    }

    fn input(&self, items: &[usize], device: &Device) -> albert::Result<AlbertInput> {
        let ids: Vec<&[u32]> = items.iter().map(|&r| self.ids[r].as_slice()).collect();
        rows_input(&ids, None, 1, self.pad_id, device)
    }
}

super::task::train_head!(AlbertForTokenClassification, LogitsOutput);

impl LabeledItems for TokenFeatures {
    type Head = AlbertForTokenClassification;

    fn item_len(&self, item: usize) -> usize {
        self.ids[item].len()
    }

    /// (batch, seq) class ids, -100 on every token but the first of a word and on padding.
    fn labels(&self, items: &[usize], device: &Device) -> Result<Tensor, FinetuneError> {
        let seq = items.iter().map(|&r| self.ids[r].len()).max().unwrap_or(0);
        let mut labels = Vec::with_capacity(items.len() * seq);
        for &r in items {
            let row = self.labels[r]
                .as_ref()
                .ok_or_else(|| FinetuneError::Invalid(format!("sentence {r} has no tags")))?;
            labels.extend(row.iter().copied().chain(std::iter::repeat_n(IGNORE_INDEX, seq - row.len())));
        }
        Ok(Tensor::from_vec(labels, (items.len(), seq), device)?)
    }
}

/// Predicts a class id for every word of every sentence (`O`, class 0 of `CONLL2003_LABELS`, for words past the
/// truncation point).
pub fn predict(model: &Pretrained, features: &TokenFeatures, batch_size: usize) -> Result<Vec<Vec<usize>>, FinetuneError> {
    let classes = predict_items::<AlbertForTokenClassification>(model, features, batch_size)?;
    Ok(classes
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let mut words = vec![0; features.num_words[r]];
            for (t, w) in features.word_starts[r].iter().enumerate() {
                if let Some(w) = w {
                    words[*w] = row[t] as usize;
                }
            }
            words
        })
        .collect())
}

/// Writes predicted tags as a CoNLL file (`word tag` lines, blank lines between sentences), which
/// `albert evaluate --task conll2003 --predictions` reads.
pub fn write_conll(
    path: &Path,
    sentences: &[NerSentence],
    predictions: &[Vec<usize>],
    label_names: &[String],
) -> Result<(), FinetuneError> {
    let tags = tag_names(predictions, label_names);
    albert::fsio::write_atomic(path, &conll_text(sentences, &tags)).map_err(|e| FinetuneError::io(path, e))
}

/// Class ids as tag names (`O` for an id without a name).
fn tag_names(predictions: &[Vec<usize>], label_names: &[String]) -> Vec<Vec<String>> {
    predictions
        .iter()
        .map(|p| p.iter().map(|&c| label_names.get(c).cloned().unwrap_or_else(|| "O".into())).collect())
        .collect()
}

/// `word tag` lines, a blank line after each sentence.
fn conll_text(sentences: &[NerSentence], tags: &[Vec<String>]) -> Vec<u8> {
    let mut text = String::new();
    for (s, t) in sentences.iter().zip(tags) {
        for (word, tag) in s.tokens.iter().zip(t) {
            text.push_str(&format!("{word} {tag}\n"));
        }
        text.push('\n');
    }
    text.into_bytes()
}

/// CoNLL-2003's tags, by class id.
fn conll_labels() -> Vec<String> {
    CONLL2003_LABELS.iter().map(|s| s.to_string()).collect()
}

/// Named entities in CoNLL-2003's English files (IOB1 tags), scored with conlleval.
#[derive(Debug, Clone, Copy)]
pub struct TokenTask;

impl TaskFamily for TokenTask {
    type Data = TaskFile<Vec<NerSentence>>;
    type Features = TokenFeatures;
    /// Tags of every word of every sentence.
    type Predictions = Vec<Vec<String>>;

    const EVAL_BATCH: usize = 64;

    fn task(&self) -> Task {
        Task::Conll2003
    }

    fn architecture(&self) -> Architecture {
        Architecture::TokenClassification
    }

    fn read(&self, path: &Path, opts: &ReadOptions) -> Result<Self::Data, TaskError> {
        opts.no_articles(self.task(), path)?;
        Ok(TaskFile { path: path.to_owned(), items: read_conll2003(path)? })
    }

    /// `data` is the CoNLL-2003 folder: trained on eng.train, the checkpoint selected on eng.testa.
    fn training(&self, source: &TrainingSource) -> Result<Training<Self::Data>, FinetuneError> {
        source.no_holdout_fraction(self.task())?;
        if !source.data.is_dir() {
            return Err(FinetuneError::Invalid(format!(
                "the CoNLL-2003 data must be the folder holding eng.train, got {}",
                source.data.display()
            )));
        }
        let read = |name: &str| self.read(&source.data.join(name), &ReadOptions::default());
        let mut train = read("eng.train")?;
        train.items.truncate(source.limit.unwrap_or(usize::MAX));
        Ok(Training { train, select: Some(read("eng.testa")?) })
    }

    fn size(&self, data: &Self::Data) -> usize {
        data.items.len()
    }

    fn head_labels(&self, _train: &Self::Data) -> HeadLabels {
        HeadLabels::Classes(conll_labels())
    }

    fn features(&self, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<TokenFeatures, FinetuneError> {
        TokenFeatures::encode(tokenizer, &data.items, &conll_labels(), max_seq_length)
    }

    /// Tags by the model's label names.
    fn predict(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &Self::Data, opts: &PredictOptions) -> Result<Self::Predictions, FinetuneError> {
        let labels: Vec<String> = (0..model.config.num_labels()).map(|i| model.config.label_name(i)).collect();
        let features = TokenFeatures::encode_unlabeled(tokenizer, &data.items, opts.max_seq_length)?;
        Ok(tag_names(&predict(model, &features, opts.batch_size)?, &labels))
    }

    /// A CoNLL-style file whose last column is the predicted tag.
    fn read_predictions(&self, data: &Self::Data, path: &Path) -> Result<Self::Predictions, TaskError> {
        read_predicted_tags(path, &data.items)
    }

    fn evaluate(&self, data: &Self::Data, predictions: &Self::Predictions, _opts: &EvalOptions) -> Result<EvaluationReport, TaskError> {
        Ok(EvaluationReport::Conll(score_ner(&data.items, predictions)?))
    }

    fn prediction_files(&self, data: &Self::Data, predictions: &Self::Predictions, _model: &AlbertConfig) -> Result<Vec<PredictionFile>, FinetuneError> {
        Ok(vec![PredictionFile { companion: None, bytes: conll_text(&data.items, predictions) }])
    }
}

#[cfg(test)]
mod tests {
    use super::first_subtokens;

    #[test]
    fn first_subtokens_follow_code_point_offsets() {
        // "Köln ist schön" split by hand as SentencePiece would: [CLS] ▁Kö ln ▁ist ▁ sch ön [SEP].
        let words: Vec<String> = ["Köln", "ist", "schön"].iter().map(|s| s.to_string()).collect();
        let offsets = [(0, 0), (0, 2), (2, 4), (4, 8), (8, 9), (9, 12), (12, 14), (0, 0)];
        let special = [1, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            first_subtokens(&words, &offsets, &special),
            [None, Some(0), None, Some(1), Some(2), None, None, None]
        );
    }
}
