//! Token classification (named entities): words are joined by spaces and encoded; the label of each word goes on
//! its first sub-token and every other position gets -100, which the loss skips. Predictions are read back at the
//! first sub-tokens; words cut off by `max_seq_length` are predicted `O`.

use std::path::Path;

use albert::model::loss::IGNORE_INDEX;
use albert::model::AlbertForTokenClassification;
use albert::tokenizer::{AlbertTokenizer, EncodeOptions, Truncation, TruncationStrategy};
use albert::{AlbertForAny, AlbertInput, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor};

use super::{FinetuneError, TrainFeatures};
use crate::tasks::ner::NerSentence;

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
        let opts = EncodeOptions {
            truncation: Some(Truncation {
                max_length: max_seq_length,
                stride: 0,
                strategy: TruncationStrategy::LongestFirst,
            }),
            ..EncodeOptions::default()
        };
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

    fn input(&self, rows: &[usize], device: &Device) -> Result<AlbertInput, FinetuneError> {
        let ids: Vec<Vec<u32>> = rows.iter().map(|&r| self.ids[r].clone()).collect();
        Ok(AlbertInput::from_rows(&ids, None, self.pad_id, device)?)
    }
}

fn head(model: &AlbertForAny) -> Result<&AlbertForTokenClassification, FinetuneError> {
    super::require_head(model, albert::Architecture::TokenClassification, |m| match m {
        AlbertForAny::TokenClassification(h) => Some(h),
        _ => None,
    })
}

impl TrainFeatures for TokenFeatures {
    fn len(&self) -> usize {
        self.ids.len()
    }

    fn row_len(&self, row: usize) -> usize {
        self.ids[row].len()
    }

    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError> {
        let head = head(model)?;
        let seq = batch.iter().map(|&r| self.ids[r].len()).max().unwrap_or(0);
        let mut labels = Vec::with_capacity(batch.len() * seq);
        for &r in batch {
            let row = self.labels[r]
                .as_ref()
                .ok_or_else(|| FinetuneError::Invalid(format!("sentence {r} has no tags")))?;
            labels.extend(
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(IGNORE_INDEX, seq - row.len())),
            );
        }
        // (batch, seq)
        let labels = Tensor::from_vec(labels, (batch.len(), seq), device)?;
        let out = head.forward(
            &self.input(batch, device)?,
            forward,
        )?;
        Ok(head.loss(&out, &labels)?)
    }
}

/// Predicts a class id for every word of every sentence (`O`, class 0 of `CONLL2003_LABELS`, for words past the
/// truncation point).
pub fn predict(
    model: &Pretrained,
    features: &TokenFeatures,
    batch_size: usize,
) -> Result<Vec<Vec<usize>>, FinetuneError> {
    let detached = model.detached()?;
    let head = head(&detached)?;
    let device = head.albert.embeddings().word_embeddings().device().clone();
    let rows: Vec<usize> = (0..features.ids.len()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for batch in rows.chunks(batch_size.max(1)) {
        // (batch, seq, num_labels) -> (batch, seq)
        let classes: Vec<Vec<u32>> = head
            .forward(&features.input(batch, &device)?, &ForwardOptions::default())?
            .logits
            .argmax(2)?
            .to_vec2()?;
        for (&r, row) in batch.iter().zip(classes) {
            let mut words = vec![0; features.num_words[r]];
            for (t, w) in features.word_starts[r].iter().enumerate() {
                if let Some(w) = w {
                    words[*w] = row[t] as usize;
                }
            }
            out.push(words);
        }
    }
    Ok(out)
}

/// Writes predicted tags as a CoNLL file (`word tag` lines, blank lines between sentences), which
/// `albert evaluate --task conll2003 --predictions` reads.
pub fn write_conll(
    path: &Path,
    sentences: &[NerSentence],
    predictions: &[Vec<usize>],
    label_names: &[String],
) -> Result<(), FinetuneError> {
    let mut text = String::new();
    for (s, p) in sentences.iter().zip(predictions) {
        for (word, class) in s.tokens.iter().zip(p) {
            let tag = label_names.get(*class).map_or("O", String::as_str);
            text.push_str(&format!("{word} {tag}\n"));
        }
        text.push('\n');
    }
    albert::fsio::write_atomic(path, text.as_bytes()).map_err(|e| FinetuneError::io(path, e))
}

/// Predicts `sentences` and scores them with conlleval: `f1` (the selection metric), `precision`, `recall` and
/// token `accuracy`, 0-100.
pub fn score_sentences(
    model: &Pretrained,
    tokenizer: &AlbertTokenizer,
    sentences: &[NerSentence],
    max_seq_length: usize,
) -> Result<crate::tasks::TaskScores, FinetuneError> {
    let labels: Vec<String> = (0..model.config.num_labels())
        .map(|i| model.config.label_name(i))
        .collect();
    let features = TokenFeatures::encode_unlabeled(tokenizer, sentences, max_seq_length)?;
    let tags: Vec<Vec<String>> = predict(model, &features, 64)?
        .iter()
        .map(|p| {
            p.iter()
                .map(|&c| labels.get(c).cloned().unwrap_or_else(|| "O".into()))
                .collect()
        })
        .collect();
    let report = crate::tasks::ner::score_ner(sentences, &tags)?;
    let mut scores = crate::tasks::TaskScores::default();
    scores.push("f1", report.overall.f1);
    scores.push("precision", report.overall.precision);
    scores.push("recall", report.overall.recall);
    scores.push("accuracy", report.accuracy);
    Ok(scores)
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
