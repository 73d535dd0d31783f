//! Extractive question answering (SQuAD v1.1 / v2.0, XQuAD): every question becomes overlapping windows of
//! `[CLS] question [SEP] context [SEP]` ([`albert::decode::qa::encode_qa_windows`]); a training window is labeled
//! with the answer's first and last token, or `[CLS]` when the answer is not inside it (and for unanswerable
//! questions). Predictions decode all windows of a question together ([`albert::decode::qa::decode_answer`]).

use std::collections::HashMap;
use std::path::Path;

use albert::decode::qa::{decode_answer, encode_qa_windows, QaEncodedWindow, QaPrediction, QaWindow, QaWindowOptions, SpanDecodeOptions};
use albert::model::{AlbertForQuestionAnswering, QuestionAnsweringOutput};
use albert::pipeline::task_head::{predict_items, rows_input, EncodedItems};
use albert::tokenizer::AlbertTokenizer;
use albert::{AlbertConfig, AlbertInput, Architecture, ForwardOptions, Pretrained};
use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::task::{json_bytes, HeadLabels, LabeledItems, PredictOptions, PredictionFile, ReadOptions, TaskFamily, TaskFile, TrainHead, Training, TrainingSource};
use super::FinetuneError;
use crate::metrics::squad::NaProbs;
use crate::tasks::squad::{
    hold_out_articles, read_na_probs, read_squad, read_squad_predictions, score_squad_v1, score_squad_v2, ArticlePart,
    ArticleSplit, SquadDataset,
};
use crate::tasks::{EvalOptions, EvaluationReport, Task, TaskError, TaskScores};

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

}

impl EncodedItems for QaFeatures {
    fn count(&self) -> usize {
        self.windows.len()
    }

    fn input(&self, items: &[usize], device: &Device) -> albert::Result<AlbertInput> {
        let ids: Vec<&[u32]> = items.iter().map(|&r| self.windows[r].encoding.ids.as_slice()).collect();
        let types: Vec<&[u32]> = items.iter().map(|&r| self.windows[r].encoding.type_ids.as_slice()).collect();
        rows_input(&ids, Some(&types), 1, self.pad_id, device)
    }
}

impl TrainHead for AlbertForQuestionAnswering {
    type Output = QuestionAnsweringOutput;
    /// Start and end positions, (batch) each.
    type Labels = (Tensor, Tensor);

    fn forward(&self, input: &AlbertInput, opts: &ForwardOptions) -> albert::Result<QuestionAnsweringOutput> {
        AlbertForQuestionAnswering::forward(self, input, opts)
    }

    fn loss(&self, output: &Self::Output, (starts, ends): &(Tensor, Tensor)) -> albert::Result<Tensor> {
        AlbertForQuestionAnswering::loss(self, output, starts, ends)
    }
}

impl LabeledItems for QaFeatures {
    type Head = AlbertForQuestionAnswering;

    fn item_len(&self, item: usize) -> usize {
        self.windows[item].encoding.ids.len()
    }

    fn labels(&self, items: &[usize], device: &Device) -> Result<(Tensor, Tensor), FinetuneError> {
        if self.positions.len() != self.windows.len() {
            return Err(FinetuneError::Invalid("the question-answering features carry no answer positions".into()));
        }
        let (starts, ends): (Vec<u32>, Vec<u32>) = items.iter().map(|&r| self.positions[r]).unzip();
        Ok((Tensor::new(starts, device)?, Tensor::new(ends, device)?))
    }
}

/// Decodes an answer for every question of `features`, in question order (id, prediction).
pub fn predict(model: &Pretrained, features: &QaFeatures, batch_size: usize, decode: &SpanDecodeOptions) -> Result<Vec<(String, QaPrediction)>, FinetuneError> {
    let logits = predict_items::<AlbertForQuestionAnswering>(model, features, batch_size)?;
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

/// The companion file of SQuAD v2.0 predictions: the no-answer odds.
pub const NA_ODDS: &str = "na_odds";

/// Answers to a file's questions: from a model, or a predictions file and its no-answer probabilities.
#[derive(Debug, Clone, Default)]
pub struct QaAnswers {
    /// `{question id: answer text}`, "" for no answer.
    pub texts: HashMap<String, String>,
    /// SQuAD v2.0: the odds of no answer, `{question id: null score - best span score}`, in question order.
    pub na_odds: Option<NaProbs>,
}

/// Extractive question answering: SQuAD v1.1 ([`Task::SquadV1`]), v2.0 with unanswerable questions
/// ([`Task::SquadV2`]), or XQuAD ([`Task::Xquad`], v1.1's format and metrics, with a committed article split).
#[derive(Debug, Clone, Copy)]
pub struct QaTask(pub Task);

impl QaTask {
    fn v2(self) -> bool {
        self.0 == Task::SquadV2
    }

    fn windows(max_seq_length: usize) -> QaWindowOptions {
        QaWindowOptions { max_seq_length, ..QaWindowOptions::default() }
    }
}

/// Only this many questions, the first of the file.
fn first_questions(dataset: &SquadDataset, n: usize) -> SquadDataset {
    let mut left = n;
    let mut out = SquadDataset { version: dataset.version.clone(), data: Vec::new() };
    for article in &dataset.data {
        let mut article = article.clone();
        for p in &mut article.paragraphs {
            p.qas.truncate(left);
            left -= p.qas.len();
        }
        article.paragraphs.retain(|p| !p.qas.is_empty());
        if !article.paragraphs.is_empty() {
            out.data.push(article);
        }
    }
    out
}

impl TaskFamily for QaTask {
    type Data = TaskFile<SquadDataset>;
    type Features = QaFeatures;
    type Predictions = QaAnswers;

    const EVAL_BATCH: usize = 32;

    fn task(&self) -> Task {
        self.0
    }

    fn architecture(&self) -> Architecture {
        Architecture::QuestionAnswering
    }

    /// Reads a SQuAD-format file; XQuAD can be restricted to one part of its article split.
    fn read(&self, path: &Path, opts: &ReadOptions) -> Result<Self::Data, TaskError> {
        let dataset = read_squad(path)?;
        let items = match opts.articles {
            Some(part) if self.0 == Task::Xquad => ArticleSplit::xquad().part(&dataset, path, part)?,
            Some(_) => return Err(TaskError::invalid(path, format!("the article split applies to XQuAD only, not {}", self.0))),
            None => dataset,
        };
        Ok(TaskFile { path: path.to_owned(), items })
    }

    /// XQuAD: the training articles of the committed split, the last 10% of them selecting the checkpoint. SQuAD:
    /// the dev file selects, else the last 10% of the training articles.
    fn training(&self, source: &TrainingSource) -> Result<Training<Self::Data>, FinetuneError> {
        source.no_holdout_fraction(self.0)?;
        let (train, select) = match (self.0, &source.dev) {
            (Task::Xquad, _) => {
                let part = self.read(&source.data, &ReadOptions { articles: Some(ArticlePart::Train), ..ReadOptions::default() })?;
                let (train, held) = hold_out_articles(&part.items, 0.1);
                (train, TaskFile { path: source.data.clone(), items: held })
            }
            (_, Some(dev)) => (self.read(&source.data, &ReadOptions::default())?.items, self.read(dev, &ReadOptions::default())?),
            (_, None) => {
                let (train, held) = hold_out_articles(&self.read(&source.data, &ReadOptions::default())?.items, 0.1);
                (train, TaskFile { path: source.data.clone(), items: held })
            }
        };
        let train = match source.limit {
            Some(n) => first_questions(&train, n),
            None => train,
        };
        Ok(Training { train: TaskFile { path: source.data.clone(), items: train }, select: Some(select) })
    }

    fn size(&self, data: &Self::Data) -> usize {
        data.items.questions().count()
    }

    fn head_labels(&self, _train: &Self::Data) -> HeadLabels {
        HeadLabels::Unlabeled
    }

    fn features(&self, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<QaFeatures, FinetuneError> {
        QaFeatures::encode(tokenizer, &data.items, &Self::windows(max_seq_length), true)
    }

    /// Answers, with the no-answer odds for SQuAD v2.0.
    fn predict(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &Self::Data, opts: &PredictOptions) -> Result<QaAnswers, FinetuneError> {
        let features = QaFeatures::encode(tokenizer, &data.items, &Self::windows(opts.max_seq_length), false)?;
        let decode = SpanDecodeOptions { with_null_answer: self.v2(), ..SpanDecodeOptions::default() };
        let mut answers = QaAnswers { texts: HashMap::new(), na_odds: self.v2().then(NaProbs::default) };
        for (id, p) in predict(model, &features, opts.batch_size, &decode)? {
            if let Some(odds) = &mut answers.na_odds {
                odds.insert(id.clone(), p.null_score_diff.map_or(0.0, f64::from));
            }
            answers.texts.insert(id, p.answer.map_or(String::new(), |a| a.text));
        }
        Ok(answers)
    }

    /// A JSON object `{question id: answer text}`.
    fn read_predictions(&self, _data: &Self::Data, path: &Path) -> Result<QaAnswers, TaskError> {
        Ok(QaAnswers { texts: read_squad_predictions(path)?, na_odds: None })
    }

    /// The official scripts' scores; SQuAD v2.0 with the no-answer probabilities of `opts.na_prob_file`, else
    /// the predictions' own odds.
    fn evaluate(&self, data: &Self::Data, predictions: &QaAnswers, opts: &EvalOptions) -> Result<EvaluationReport, TaskError> {
        if !self.v2() {
            return Ok(EvaluationReport::SquadV1(score_squad_v1(&data.items, &data.path, &predictions.texts)?));
        }
        let na_probs = match &opts.na_prob_file {
            Some(path) => Some(read_na_probs(path)?),
            None => predictions.na_odds.clone(),
        };
        Ok(EvaluationReport::SquadV2(score_squad_v2(
            &data.items,
            &data.path,
            &predictions.texts,
            na_probs.as_ref(),
            opts.na_prob_thresh,
        )?))
    }

    /// Fine-tuning selects on the answers alone (no no-answer threshold).
    fn select(&self, model: &Pretrained, tokenizer: &AlbertTokenizer, data: &Self::Data, max_seq_length: usize) -> Result<TaskScores, FinetuneError> {
        let opts = PredictOptions { max_seq_length, batch_size: Self::EVAL_BATCH };
        let answers = QaAnswers { na_odds: None, ..self.predict(model, tokenizer, data, &opts)? };
        Ok(self.evaluate(data, &answers, &EvalOptions::new())?.selection_scores())
    }

    fn companions(&self) -> &'static [&'static str] {
        if self.v2() {
            &[NA_ODDS]
        } else {
            &[]
        }
    }

    /// The official predictions file and, for SQuAD v2.0, the no-answer odds beside it (`STEM.na_odds.json`) that
    /// `evaluate-v2.0.py --na-prob-file` reads.
    fn prediction_files(&self, _data: &Self::Data, predictions: &QaAnswers, _model: &AlbertConfig) -> Result<Vec<PredictionFile>, FinetuneError> {
        let mut files = vec![PredictionFile { companion: None, bytes: json_bytes(&predictions.texts)? }];
        if let Some(odds) = &predictions.na_odds {
            let odds: serde_json::Map<String, serde_json::Value> =
                odds.ids.iter().zip(&odds.probs).map(|(id, p)| (id.clone(), serde_json::json!(p))).collect();
            files.push(PredictionFile { companion: Some(NA_ODDS), bytes: json_bytes(&odds)? });
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::first_questions;
    use crate::tasks::squad::SquadDataset;

    /// A limit keeps the file's first questions, across paragraphs and articles, and drops what is left empty.
    #[test]
    fn first_questions_cut_across_paragraphs_and_articles() {
        let q = |id: &str| serde_json::json!({"id": id, "question": "?", "answers": []});
        let dataset: SquadDataset = serde_json::from_value(serde_json::json!({"version": "1.1", "data": [
            {"title": "a", "paragraphs": [{"context": "x", "qas": [q("1"), q("2")]}, {"context": "y", "qas": [q("3")]}]},
            {"title": "b", "paragraphs": [{"context": "z", "qas": [q("4")]}]}]}))
        .unwrap();
        let ids = |d: &SquadDataset| d.questions().map(|q| q.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first_questions(&dataset, 3)), ["1", "2", "3"]);
        assert_eq!(first_questions(&dataset, 3).data.len(), 1);
        assert_eq!(ids(&first_questions(&dataset, 1)), ["1"]);
        assert_eq!(first_questions(&dataset, 1).data[0].paragraphs.len(), 1);
        assert_eq!(ids(&first_questions(&dataset, 9)), ids(&dataset));
    }
}
