//! Extractive question answering (SQuAD v1.1 / v2.0, XQuAD): every question becomes overlapping windows of
//! `[CLS] question [SEP] context [SEP]` ([`albert::decode::qa::encode_qa_windows`]); a training window is labeled
//! with the answer's first and last token, or `[CLS]` when the answer is not inside it (and for unanswerable
//! questions). Predictions decode all windows of a question together ([`albert::decode::qa::decode_answer`]).

use std::collections::HashMap;
use std::path::Path;

use albert::decode::qa::{decode_answer, encode_qa_windows, QaEncodedWindow, QaPrediction, QaWindow, QaWindowOptions, SpanDecodeOptions};
use albert::model::AlbertForQuestionAnswering;
use albert::tokenizer::AlbertTokenizer;
use albert::{AlbertForAny, AlbertInput, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::{FinetuneError, TrainFeatures};
use crate::tasks::squad::{score_squad_v1, score_squad_v2, SquadDataset};
use crate::tasks::TaskScores;

/// The windows of a set of questions.
#[derive(Debug, Clone)]
pub struct QaFeatures {
    /// All windows, question by question.
    pub windows: Vec<QaEncodedWindow>,
    /// Per window, the index of its question.
    pub question: Vec<usize>,
    /// Per window, the (start, end) token labels; `(0, 0)` is `[CLS]`, "no answer here". Empty when unlabeled.
    pub positions: Vec<(u32, u32)>,
    /// Per question: its id and context.
    pub questions: Vec<(String, String)>,
    /// Id that pads rows to the longest of a batch.
    pub pad_id: u32,
}

impl QaFeatures {
    /// Encodes every question of `dataset`; with `labeled`, each window gets its answer positions (the first
    /// answer of a question, as run_qa.py trains; an unanswerable or unlabeled question points at `[CLS]`).
    pub fn encode(tokenizer: &AlbertTokenizer, dataset: &SquadDataset, opts: &QaWindowOptions, labeled: bool) -> Result<Self, FinetuneError> {
        let items: Vec<(&str, &crate::tasks::squad::SquadQuestion)> =
            dataset.data.iter().flat_map(|a| &a.paragraphs).flat_map(|p| p.qas.iter().map(move |q| (p.context.as_str(), q))).collect();
        let encoded = items
            .par_iter()
            .map(|(context, q)| encode_qa_windows(tokenizer, &q.question, context, opts))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Self {
            windows: Vec::new(),
            question: Vec::new(),
            positions: Vec::new(),
            questions: Vec::new(),
            pad_id: tokenizer.token_to_id("<pad>").unwrap_or(0),
        };
        for (i, ((context, q), windows)) in items.iter().zip(encoded).enumerate() {
            let answer = q.answers.iter().flatten().next().filter(|_| !q.is_impossible);
            for w in windows {
                if labeled {
                    let span = answer.and_then(|a| w.answer_positions(a.answer_start, a.answer_start + a.text.chars().count()));
                    out.positions.push(span.map_or((0, 0), |(s, e)| (s as u32, e as u32)));
                }
                out.windows.push(w);
                out.question.push(i);
            }
            out.questions.push((q.id.clone(), context.to_string()));
        }
        Ok(out)
    }

    /// Keeps only the first `n` questions and their windows.
    pub fn truncate_questions(&mut self, n: usize) {
        let keep = self.question.iter().take_while(|&&q| q < n).count();
        self.windows.truncate(keep);
        self.question.truncate(keep);
        self.positions.truncate(keep.min(self.positions.len()));
        self.questions.truncate(n);
    }

    fn input(&self, rows: &[usize], device: &Device) -> Result<AlbertInput, FinetuneError> {
        let ids: Vec<Vec<u32>> = rows.iter().map(|&r| self.windows[r].encoding.ids.clone()).collect();
        let types: Vec<Vec<u32>> = rows.iter().map(|&r| self.windows[r].encoding.type_ids.clone()).collect();
        Ok(AlbertInput::from_rows(&ids, Some(&types), self.pad_id, device)?)
    }
}

fn head(model: &AlbertForAny) -> Result<&AlbertForQuestionAnswering, FinetuneError> {
    super::require_head(model, albert::Architecture::QuestionAnswering, |m| match m {
        AlbertForAny::QuestionAnswering(h) => Some(h),
        _ => None,
    })
}

impl TrainFeatures for QaFeatures {
    fn len(&self) -> usize {
        self.windows.len()
    }

    fn row_len(&self, row: usize) -> usize {
        self.windows[row].encoding.ids.len()
    }

    fn loss(&self, model: &AlbertForAny, batch: &[usize], device: &Device, forward: &ForwardOptions) -> Result<Tensor, FinetuneError> {
        if self.positions.len() != self.windows.len() {
            return Err(FinetuneError::Invalid("the question-answering features carry no answer positions".into()));
        }
        let head = head(model)?;
        let (starts, ends): (Vec<u32>, Vec<u32>) = batch.iter().map(|&r| self.positions[r]).unzip();
        let out = head.forward(&self.input(batch, device)?, forward)?;
        let starts = Tensor::new(starts, device)?;
        let ends = Tensor::new(ends, device)?;
        Ok(head.loss(&out, &starts, &ends)?)
    }
}

/// Decodes an answer for every question of `features`, in question order (id, prediction).
pub fn predict(model: &Pretrained, features: &QaFeatures, batch_size: usize, decode: &SpanDecodeOptions) -> Result<Vec<(String, QaPrediction)>, FinetuneError> {
    let detached = model.detached()?;
    let head = head(&detached)?;
    let device = head.albert.embeddings().word_embeddings().device().clone();
    let rows: Vec<usize> = (0..features.windows.len()).collect();
    let mut logits: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(rows.len());
    for batch in rows.chunks(batch_size.max(1)) {
        let out = head.forward(&features.input(batch, &device)?, &ForwardOptions::default())?;
        // (batch, seq) each
        let (s, e): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (out.start_logits.to_vec2()?, out.end_logits.to_vec2()?);
        logits.extend(s.into_iter().zip(e));
    }
    let mut by_question: Vec<Vec<usize>> = vec![Vec::new(); features.questions.len()];
    for (w, &q) in features.question.iter().enumerate() {
        by_question[q].push(w);
    }
    Ok(by_question
        .iter()
        .zip(&features.questions)
        .map(|(windows, (id, context))| {
            let views: Vec<QaWindow> = windows
                .iter()
                .map(|&w| {
                    let n = features.windows[w].encoding.ids.len();
                    QaWindow { start_logits: &logits[w].0[..n], end_logits: &logits[w].1[..n], offsets: &features.windows[w].context_offsets }
                })
                .collect();
            (id.clone(), decode_answer(context, &views, decode))
        })
        .collect())
}

/// The official predictions file `{id: answer text}` ("" for no answer) and, for SQuAD v2.0, the no-answer
/// odds file `{id: null score - best span score}` that `evaluate-v2.0.py --na-prob-file` reads.
pub fn prediction_files(predictions: &[(String, QaPrediction)]) -> (HashMap<String, String>, HashMap<String, f64>) {
    let texts = predictions.iter().map(|(id, p)| (id.clone(), p.answer.as_ref().map_or(String::new(), |a| a.text.clone()))).collect();
    let odds = predictions.iter().map(|(id, p)| (id.clone(), p.null_score_diff.map_or(0.0, f64::from))).collect();
    (texts, odds)
}

/// Predicts `dataset` and scores it with the official script's metrics: v1.1 (and XQuAD) `f1` (the selection
/// metric) and `exact_match`; v2.0 `f1`, `exact` and the HasAns / NoAns parts.
pub fn score_dataset(
    model: &Pretrained,
    tokenizer: &AlbertTokenizer,
    dataset: &SquadDataset,
    path: &Path,
    opts: &QaWindowOptions,
    v2: bool,
) -> Result<TaskScores, FinetuneError> {
    let features = QaFeatures::encode(tokenizer, dataset, opts, false)?;
    let decode = SpanDecodeOptions { with_null_answer: v2, ..SpanDecodeOptions::default() };
    let (texts, _) = prediction_files(&predict(model, &features, 32, &decode)?);
    let mut scores = TaskScores::default();
    if v2 {
        let s = score_squad_v2(dataset, path, &texts, None, 1.0)?;
        scores.push("f1", s.f1);
        scores.push("exact", s.exact);
        for (name, v) in [("HasAns_f1", s.has_ans_f1), ("HasAns_exact", s.has_ans_exact), ("NoAns_f1", s.no_ans_f1)] {
            if let Some(v) = v {
                scores.push(name, v);
            }
        }
    } else {
        let s = score_squad_v1(dataset, path, &texts)?;
        scores.push("f1", s.f1);
        scores.push("exact_match", s.exact_match);
    }
    Ok(scores)
}
