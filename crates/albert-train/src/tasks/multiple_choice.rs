//! RACE-style multiple choice: each JSON object is one article with parallel lists of
//! questions, options and answer letters:
//! `{"id": "high123.txt", "article": "...", "questions": [...], "options": [[4 strings], ...],
//! "answers": ["B", ...]}`. The RACE distribution stores one object per `.txt` file in
//! directories; a path may be such a file, a JSON Lines file of objects, or a directory
//! (read recursively in name order).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{read_text, TaskError, TaskScores};
use crate::metrics::accuracy;

/// RACE's option letters, indexed by option.
pub const RACE_OPTIONS: [&str; 4] = ["A", "B", "C", "D"];

/// One question with its options.
#[derive(Debug, Clone, PartialEq)]
pub struct MultipleChoiceExample {
    /// `{article id}-{question index}`, e.g. `high123.txt-0`.
    pub id: String,
    /// The passage.
    pub context: String,
    /// The question (RACE writes cloze questions with `_` for the blank).
    pub question: String,
    /// Candidate answers.
    pub options: Vec<String>,
    /// Index of the correct option; `None` when the file gives no answers.
    pub label: Option<usize>,
}

#[derive(Deserialize)]
struct RaceArticle {
    id: String,
    article: String,
    questions: Vec<String>,
    options: Vec<Vec<String>>,
    answers: Option<Vec<String>>,
}

fn letter_index(answer: &str, options: usize) -> Option<usize> {
    let mut chars = answer.trim().chars();
    match (chars.next(), chars.next()) {
        (Some(c @ 'A'..='Z'), None) => Some(c as usize - 'A' as usize).filter(|&i| i < options),
        _ => None,
    }
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), TaskError> {
    let io = |source| TaskError::Io {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for entry in entries {
            collect_files(&entry, files)?;
        }
    } else {
        files.push(path.to_owned());
    }
    Ok(())
}

fn article_examples(
    article: RaceArticle,
    path: &Path,
    line: usize,
) -> Result<Vec<MultipleChoiceExample>, TaskError> {
    let n = article.questions.len();
    if article.options.len() != n || article.answers.as_ref().is_some_and(|a| a.len() != n) {
        return Err(TaskError::parse(
            path,
            line,
            format!(
                "article {}: questions, options and answers differ in length",
                article.id
            ),
        ));
    }
    let mut out = Vec::with_capacity(n);
    for (i, (question, options)) in article
        .questions
        .into_iter()
        .zip(article.options)
        .enumerate()
    {
        let label = match &article.answers {
            Some(answers) => Some(letter_index(&answers[i], options.len()).ok_or_else(|| {
                TaskError::parse(
                    path,
                    line,
                    format!(
                        "article {} question {i}: answer {:?} is not a letter among {} options",
                        article.id,
                        answers[i],
                        options.len()
                    ),
                )
            })?),
            None => None,
        };
        out.push(MultipleChoiceExample {
            id: format!("{}-{i}", article.id),
            context: article.article.clone(),
            question,
            options,
            label,
        });
    }
    Ok(out)
}

/// Reads RACE-style multiple choice data from a file or a directory.
pub fn read_race(path: &Path) -> Result<Vec<MultipleChoiceExample>, TaskError> {
    let mut files = Vec::new();
    collect_files(path, &mut files)?;
    let mut examples = Vec::new();
    for file in &files {
        let text = read_text(file)?;
        // One object per file (RACE), or one per line (JSON Lines).
        let json_error = |source| TaskError::Json {
            path: file.clone(),
            source,
        };
        let mut stream = serde_json::Deserializer::from_str(&text).into_iter::<RaceArticle>();
        while let Some(article) = stream.next() {
            let line = text[..stream.byte_offset()].lines().count();
            examples.extend(article_examples(article.map_err(json_error)?, file, line)?);
        }
    }
    if examples.is_empty() {
        return Err(TaskError::invalid(path, "no questions"));
    }
    Ok(examples)
}

/// A predicted option: a letter (`"A"`) or a zero-based index.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Choice {
    /// Zero-based option index.
    Index(usize),
    /// Option letter, `A` for the first.
    Letter(String),
}

/// Reads predictions `{example id: "A" | 0, ...}`.
pub fn read_choice_predictions(path: &Path) -> Result<HashMap<String, Choice>, TaskError> {
    super::read_json(path)
}

/// Accuracy (`acc`, 0-100) of predictions; every example needs one.
pub fn score_multiple_choice(
    examples: &[MultipleChoiceExample],
    data: &Path,
    predictions: &HashMap<String, Choice>,
    predictions_path: &Path,
) -> Result<TaskScores, TaskError> {
    let (mut pred, mut gold) = (Vec::new(), Vec::new());
    for e in examples {
        let label = e.label.ok_or_else(|| TaskError::Unlabeled {
            path: data.to_owned(),
            task: "race".into(),
        })?;
        let choice = predictions.get(&e.id).ok_or_else(|| {
            TaskError::invalid(predictions_path, format!("no prediction for {}", e.id))
        })?;
        let index = match choice {
            Choice::Index(i) => Some(*i).filter(|&i| i < e.options.len()),
            Choice::Letter(l) => letter_index(l, e.options.len()),
        };
        let index = index.ok_or_else(|| {
            TaskError::invalid(
                predictions_path,
                format!(
                    "prediction {choice:?} for {} is not one of its {} options",
                    e.id,
                    e.options.len()
                ),
            )
        })?;
        pred.push(index);
        gold.push(label);
    }
    let mut scores = TaskScores::default();
    scores.push("acc", 100.0 * accuracy(&pred, &gold)?);
    Ok(scores)
}
