//! SQuAD v1.1 / v2.0 JSON (the official nested schema; XQuAD uses v1.1's), predictions files,
//! and the fixed article split of XQuAD used for QA experiments.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{read_json, TaskError};
use crate::metrics::squad::{
    evaluate_v1, evaluate_v2, NaProbs, SquadReference, SquadV1Scores, SquadV2Scores,
};

/// A SQuAD-format file: `{"version", "data": [article]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadDataset {
    /// `"1.1"` for SQuAD v1.1 and XQuAD, `"v2.0"` for SQuAD v2.0.
    #[serde(default)]
    pub version: String,
    /// Articles in file order.
    pub data: Vec<SquadArticle>,
}

/// One Wikipedia article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadArticle {
    /// Article title (e.g. `Super_Bowl_50`).
    pub title: String,
    /// Its paragraphs.
    pub paragraphs: Vec<SquadParagraph>,
}

/// A context paragraph and its questions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadParagraph {
    /// The paragraph text.
    pub context: String,
    /// Questions on it.
    pub qas: Vec<SquadQuestion>,
}

/// A question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadQuestion {
    /// Unique question id (shared by XQuAD's translations).
    pub id: String,
    /// The question text.
    pub question: String,
    /// Ground-truth answers; empty for unanswerable v2.0 questions, `None` when the file gives
    /// no answers at all (an unlabeled file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<SquadAnswer>>,
    /// v2.0: the question cannot be answered from the paragraph.
    #[serde(default)]
    pub is_impossible: bool,
    /// v2.0: answers that look right but are not, for unanswerable questions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plausible_answers: Vec<SquadAnswer>,
}

/// An answer span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SquadAnswer {
    /// The answer text.
    pub text: String,
    /// Offset of the answer in the context, in characters (Unicode code points).
    pub answer_start: usize,
}

impl SquadDataset {
    /// All questions in file order.
    pub fn questions(&self) -> impl Iterator<Item = &SquadQuestion> {
        self.data
            .iter()
            .flat_map(|a| &a.paragraphs)
            .flat_map(|p| &p.qas)
    }

    /// Whether the file gives answers (any question has an `answers` field).
    pub fn is_labeled(&self) -> bool {
        self.questions().any(|q| q.answers.is_some())
    }

    /// Refuses an answer (or plausible answer) that does not lie within its context, naming the question.
    fn check_answer_spans(&self, path: &Path) -> Result<(), TaskError> {
        for paragraph in self.data.iter().flat_map(|a| &a.paragraphs) {
            let context_chars = paragraph.context.chars().count();
            for q in &paragraph.qas {
                for a in q.answers.iter().flatten().chain(&q.plausible_answers) {
                    let end = a.answer_start.saturating_add(a.text.chars().count());
                    if end > context_chars {
                        return Err(TaskError::invalid(
                            path,
                            format!(
                                "question {}: the answer {:?} at answer_start {} runs past the end of its context ({context_chars} characters)",
                                q.id, a.text, a.answer_start
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The gold side for the metrics: each question's id and answer texts, in file order.
    pub fn references(&self) -> Vec<SquadReference> {
        self.questions()
            .map(|q| SquadReference {
                id: q.id.clone(),
                answers: q.answers.iter().flatten().map(|a| a.text.clone()).collect(),
            })
            .collect()
    }
}

/// Reads a SQuAD v1.1 / v2.0 / XQuAD JSON file.
///
/// ```no_run
/// use albert_train::tasks::squad::read_squad;
/// let xquad = read_squad("xquad/xquad.de.json".as_ref())?;
/// assert_eq!(xquad.data.len(), 48);
/// # Ok::<(), albert_train::tasks::TaskError>(())
/// ```
pub fn read_squad(path: &Path) -> Result<SquadDataset, TaskError> {
    // serde would read a struct from an array, element by element, and complain about the first element's type.
    let text = super::read_text(path)?;
    if text.trim_start().starts_with('[') {
        return Err(TaskError::invalid(
            path,
            "a SQuAD file is a JSON object {\"version\": ..., \"data\": [articles]}, not a JSON array",
        ));
    }
    let dataset: SquadDataset = super::parse_json(path, &text)?;
    dataset.check_answer_spans(path)?;
    Ok(dataset)
}

/// Reads a predictions file `{question id: answer text}` (an empty text means "no answer").
pub fn read_squad_predictions(path: &Path) -> Result<HashMap<String, String>, TaskError> {
    read_json(path)
}

/// Reads a SQuAD v2.0 no-answer probability file `{question id: probability}`, keeping its order.
pub fn read_na_probs(path: &Path) -> Result<NaProbs, TaskError> {
    read_json(path)
}

fn labeled_references(
    dataset: &SquadDataset,
    path: &Path,
    task: &str,
) -> Result<Vec<SquadReference>, TaskError> {
    if !dataset.is_labeled() {
        return Err(TaskError::Unlabeled {
            path: path.to_owned(),
            task: task.to_owned(),
        });
    }
    if let Some(q) = dataset.questions().find(|q| q.answers.is_none()) {
        return Err(TaskError::invalid(
            path,
            format!("question {} has no \"answers\" field", q.id),
        ));
    }
    Ok(dataset.references())
}

/// Scores predictions as `evaluate-v1.1.py` does (SQuAD v1.1, XQuAD). `path` names the data
/// file in errors.
pub fn score_squad_v1(
    dataset: &SquadDataset,
    path: &Path,
    predictions: &HashMap<String, String>,
) -> Result<SquadV1Scores, TaskError> {
    Ok(evaluate_v1(
        &labeled_references(dataset, path, "SQuAD v1.1")?,
        predictions,
    )?)
}

/// Scores predictions as `evaluate-v2.0.py` does. `path` names the data file in errors.
pub fn score_squad_v2(
    dataset: &SquadDataset,
    path: &Path,
    predictions: &HashMap<String, String>,
    na_probs: Option<&NaProbs>,
    na_prob_thresh: f64,
) -> Result<SquadV2Scores, TaskError> {
    Ok(evaluate_v2(
        &labeled_references(dataset, path, "SQuAD v2.0")?,
        predictions,
        na_probs,
        na_prob_thresh,
    )?)
}

/// One article of a split: its position in the file and its title.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitArticle {
    /// Zero-based article index in the file.
    pub index: usize,
    /// The article's title (as in `xquad.en.json`).
    pub title: String,
}

/// A train/test split of a SQuAD-format file by article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleSplit {
    /// How the split was drawn.
    pub rule: String,
    /// Number of articles of the file the split is for.
    pub num_articles: usize,
    /// Training articles, by increasing index.
    pub train: Vec<SplitArticle>,
    /// Test articles, by increasing index.
    pub test: Vec<SplitArticle>,
}

/// Which articles of a split file to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticlePart {
    /// The training articles.
    Train,
    /// The test articles.
    Test,
}

impl std::str::FromStr for ArticlePart {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(ArticlePart::Train),
            "test" => Ok(ArticlePart::Test),
            other => Err(format!("unknown article part {other:?}: use train or test")),
        }
    }
}

/// The two halves of a split dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitDatasets {
    /// Articles of the training part, in file order.
    pub train: SquadDataset,
    /// Articles of the test part, in file order.
    pub test: SquadDataset,
}

impl ArticleSplit {
    /// The committed XQuAD split (`data/splits/xquad_split.json`): 36 train / 12 test articles
    /// of the 48. XQuAD's languages are parallel translations with the same article order, so
    /// it applies to every language.
    ///
    /// ```
    /// use albert_train::tasks::squad::ArticleSplit;
    /// let split = ArticleSplit::xquad();
    /// assert_eq!((split.train.len(), split.test.len()), (36, 12));
    /// ```
    pub fn xquad() -> Self {
        serde_json::from_str(include_str!("../../../../data/splits/xquad_split.json"))
            .expect("committed split is valid JSON")
    }

    /// Splits `dataset` by article index. Titles must match the split's where they are the same
    /// language's (any XQuAD file keeps the English titles), which guards against applying the
    /// split to a different file.
    pub fn apply(&self, dataset: &SquadDataset, path: &Path) -> Result<SplitDatasets, TaskError> {
        if dataset.data.len() != self.num_articles {
            return Err(TaskError::invalid(
                path,
                format!(
                    "the split is for {} articles but the file has {}",
                    self.num_articles,
                    dataset.data.len()
                ),
            ));
        }
        let pick = |articles: &[SplitArticle]| -> Result<SquadDataset, TaskError> {
            let mut data = Vec::with_capacity(articles.len());
            for a in articles {
                let article = dataset
                    .data
                    .get(a.index)
                    .ok_or_else(|| TaskError::invalid(path, format!("no article {}", a.index)))?;
                if article.title != a.title {
                    return Err(TaskError::invalid(
                        path,
                        format!(
                            "article {} is {:?}, the split expects {:?}",
                            a.index, article.title, a.title
                        ),
                    ));
                }
                data.push(article.clone());
            }
            Ok(SquadDataset {
                version: dataset.version.clone(),
                data,
            })
        };
        Ok(SplitDatasets {
            train: pick(&self.train)?,
            test: pick(&self.test)?,
        })
    }

    /// One part of `dataset` under this split.
    pub fn part(&self, dataset: &SquadDataset, path: &Path, part: ArticlePart) -> Result<SquadDataset, TaskError> {
        let halves = self.apply(dataset, path)?;
        Ok(match part {
            ArticlePart::Train => halves.train,
            ArticlePart::Test => halves.test,
        })
    }
}

/// Splits off the last `fraction` of the articles (at least one when there are two or more) for checkpoint
/// selection: (kept for training, held out).
pub fn hold_out_articles(dataset: &SquadDataset, fraction: f64) -> (SquadDataset, SquadDataset) {
    let n = dataset.data.len();
    let k = if n >= 2 { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) } else { 0 };
    let part = |data: &[SquadArticle]| SquadDataset { version: dataset.version.clone(), data: data.to_vec() };
    (part(&dataset.data[..n - k]), part(&dataset.data[n - k..]))
}
