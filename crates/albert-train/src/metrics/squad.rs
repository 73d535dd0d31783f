//! SQuAD exact match and F1, ported line by line from the official evaluation scripts
//! `evaluate-v1.1.py` (also used for XQuAD) and `evaluate-v2.0.py`.
//!
//! Both scripts normalize answers the same way ([`normalize_answer`]); they differ on empty
//! answers, on missing predictions and in v2.0's no-answer handling.

use std::collections::HashMap;

use serde::Serialize;

use super::MetricError;

/// The gold side of one question: its id and its ground-truth answer texts (empty for an
/// unanswerable SQuAD v2.0 question).
#[derive(Debug, Clone, PartialEq)]
pub struct SquadReference {
    /// Question id, as in the dataset's `qas[].id`.
    pub id: String,
    /// Ground-truth answer texts, in file order.
    pub answers: Vec<String>,
}

/// Python's `str.isspace` (used by `str.split()`): Unicode White_Space plus the four ASCII
/// information separators U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` for `str` patterns: alphanumerics and underscore. Rust's `is_alphanumeric`
/// also counts the combining marks and circled letters that have the Other_Alphabetic property
/// (and characters newer than Python's Unicode tables); they can only matter when written right
/// against an article `a`/`an`/`the`, and the XQuAD fixtures in six scripts agree.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The official answer normalization: lowercase, drop ASCII punctuation (`string.punctuation`),
/// replace the whole words `a`, `an`, `the` by a space, then collapse whitespace.
///
/// ```
/// use albert_train::metrics::squad::normalize_answer;
/// assert_eq!(normalize_answer("The  Denver Broncos!"), "denver broncos");
/// assert_eq!(normalize_answer("an apple, a theory"), "apple theory");
/// ```
pub fn normalize_answer(text: &str) -> String {
    let no_punctuation: String = text
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    // `re.sub(r'\b(a|an|the)\b', ' ', text)` replaces exactly the maximal word runs equal to an
    // article, so split into word runs and the characters between them.
    let mut without_articles = String::with_capacity(no_punctuation.len());
    let mut rest = no_punctuation.as_str();
    while let Some(start) = rest.find(is_word_char) {
        without_articles.push_str(&rest[..start]);
        let word_len = rest[start..]
            .find(|c| !is_word_char(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + word_len];
        without_articles.push_str(if matches!(word, "a" | "an" | "the") {
            " "
        } else {
            word
        });
        rest = &rest[start + word_len..];
    }
    without_articles.push_str(rest);
    without_articles
        .split(is_python_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokens(text: &str) -> Vec<String> {
    normalize_answer(text)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Size of the multiset intersection (`Counter(a) & Counter(b)`).
fn common_tokens(a: &[String], b: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in a {
        *counts.entry(t).or_default() += 1;
    }
    let mut same = 0;
    for t in b {
        if let Some(c) = counts.get_mut(t.as_str()) {
            if *c > 0 {
                *c -= 1;
                same += 1;
            }
        }
    }
    same
}

fn token_f1(num_same: usize, prediction_len: usize, gold_len: usize) -> f64 {
    let precision = 1.0 * num_same as f64 / prediction_len as f64;
    let recall = 1.0 * num_same as f64 / gold_len as f64;
    (2.0 * precision * recall) / (precision + recall)
}

/// v1.1 `exact_match_score`: normalized strings are equal.
pub fn exact_match_v1(prediction: &str, ground_truth: &str) -> bool {
    normalize_answer(prediction) == normalize_answer(ground_truth)
}

/// v1.1 `f1_score`: token-level F1 of the normalized answers; 0 when nothing is shared (so also
/// when both are empty).
///
/// ```
/// use albert_train::metrics::squad::f1_v1;
/// assert_eq!(f1_v1("Denver Broncos", "the Denver Broncos team"), 0.8);
/// assert_eq!(f1_v1("", ""), 0.0);
/// ```
pub fn f1_v1(prediction: &str, ground_truth: &str) -> f64 {
    let prediction_tokens = tokens(prediction);
    let gold_tokens = tokens(ground_truth);
    let num_same = common_tokens(&prediction_tokens, &gold_tokens);
    if num_same == 0 {
        return 0.0;
    }
    token_f1(num_same, prediction_tokens.len(), gold_tokens.len())
}

/// v2.0 `compute_exact`: 1 when the normalized strings are equal, else 0.
pub fn compute_exact(gold: &str, prediction: &str) -> f64 {
    f64::from(u8::from(
        normalize_answer(gold) == normalize_answer(prediction),
    ))
}

/// v2.0 `compute_f1`: like [`f1_v1`], except that an empty answer on either side scores 1 when
/// both are empty (correct abstention) and 0 otherwise.
///
/// ```
/// use albert_train::metrics::squad::compute_f1;
/// assert_eq!(compute_f1("", ""), 1.0);
/// assert_eq!(compute_f1("Broncos", ""), 0.0);
/// ```
pub fn compute_f1(gold: &str, prediction: &str) -> f64 {
    let gold_tokens = tokens(gold);
    let prediction_tokens = tokens(prediction);
    let num_same = common_tokens(&gold_tokens, &prediction_tokens);
    if gold_tokens.is_empty() || prediction_tokens.is_empty() {
        return f64::from(u8::from(gold_tokens == prediction_tokens));
    }
    if num_same == 0 {
        return 0.0;
    }
    token_f1(num_same, prediction_tokens.len(), gold_tokens.len())
}

/// Result of the v1.1 script: `{"exact_match", "f1"}` on a 0-100 scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SquadV1Scores {
    /// Percentage of questions whose prediction matches a ground truth exactly.
    pub exact_match: f64,
    /// Mean over questions of the best token F1 against any ground truth, times 100.
    pub f1: f64,
    /// Questions without a prediction (scored 0, as the official script does), in dataset order.
    #[serde(skip)]
    pub unanswered: Vec<String>,
}

/// One question's v1.1 scores, each the best over its ground truths: exact match, and F1 in [0, 1]. A question
/// without ground truth is refused.
pub fn score_question_v1(reference: &SquadReference, prediction: &str) -> Result<(bool, f64), MetricError> {
    if reference.answers.is_empty() {
        return Err(MetricError::NoGroundTruth(reference.id.clone()));
    }
    let exact = reference.answers.iter().any(|g| exact_match_v1(prediction, g));
    let f1 = reference.answers.iter().map(|g| f1_v1(prediction, g)).fold(f64::NEG_INFINITY, f64::max);
    Ok((exact, f1))
}

/// Scores predictions as `evaluate-v1.1.py` does: max over ground truths per question, averaged
/// over all questions; questions without a prediction score 0.
///
/// ```
/// use std::collections::HashMap;
/// use albert_train::metrics::squad::{evaluate_v1, SquadReference};
/// let refs = vec![
///     SquadReference { id: "q1".into(), answers: vec!["Denver Broncos".into(), "Broncos".into()] },
///     SquadReference { id: "q2".into(), answers: vec!["Santa Clara".into()] },
/// ];
/// let preds = HashMap::from([("q1".to_string(), "the Broncos".to_string())]);
/// let scores = evaluate_v1(&refs, &preds).unwrap();
/// assert_eq!((scores.exact_match, scores.f1), (50.0, 50.0));
/// assert_eq!(scores.unanswered, vec!["q2".to_string()]);
/// ```
pub fn evaluate_v1(
    references: &[SquadReference],
    predictions: &HashMap<String, String>,
) -> Result<SquadV1Scores, MetricError> {
    if references.is_empty() {
        return Err(MetricError::Empty);
    }
    let (mut exact_match, mut f1) = (0usize, 0.0f64);
    let mut unanswered = Vec::new();
    for reference in references {
        let Some(prediction) = predictions.get(&reference.id) else {
            unanswered.push(reference.id.clone());
            continue;
        };
        let (em, f) = score_question_v1(reference, prediction)?;
        exact_match += usize::from(em);
        f1 += f;
    }
    let total = references.len() as f64;
    Ok(SquadV1Scores {
        exact_match: 100.0 * exact_match as f64 / total,
        f1: 100.0 * f1 / total,
        unanswered,
    })
}

/// Model estimates of the probability that a question has no answer (the v2.0 script's
/// `na_prob.json`), kept in file order because the official best-threshold search breaks ties
/// between equal probabilities by that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NaProbs {
    /// Question ids in file order (first occurrence of each key).
    pub ids: Vec<String>,
    /// Probabilities parallel to `ids` (last value of a repeated key, as Python's `json` keeps).
    pub probs: Vec<f64>,
    index: HashMap<String, usize>,
}

impl NaProbs {
    /// Sets `id`'s probability, keeping the position of its first insertion.
    pub fn insert(&mut self, id: String, prob: f64) {
        match self.index.get(&id) {
            Some(&i) => self.probs[i] = prob,
            None => {
                self.index.insert(id.clone(), self.ids.len());
                self.ids.push(id);
                self.probs.push(prob);
            }
        }
    }

    /// The probability of `id`, if present.
    pub fn get(&self, id: &str) -> Option<f64> {
        self.index.get(id).map(|&i| self.probs[i])
    }

    /// Parses a JSON object `{question id: probability}`, preserving key order.
    ///
    /// ```
    /// use albert_train::metrics::squad::NaProbs;
    /// let p = NaProbs::from_json_str(r#"{"b": 0.9, "a": 0.1}"#).unwrap();
    /// assert_eq!(p.ids, vec!["b", "a"]);
    /// assert_eq!(p.get("a"), Some(0.1));
    /// ```
    pub fn from_json_str(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

impl<'de> serde::Deserialize<'de> for NaProbs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = NaProbs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object mapping question ids to no-answer probabilities")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NaProbs, A::Error> {
                let mut probs = NaProbs::default();
                while let Some((id, prob)) = map.next_entry::<String, f64>()? {
                    probs.insert(id, prob);
                }
                Ok(probs)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// Result of the v2.0 script on a 0-100 scale, serialized under the official keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SquadV2Scores {
    /// Exact match over all questions.
    pub exact: f64,
    /// F1 over all questions.
    pub f1: f64,
    /// Number of questions.
    pub total: usize,
    /// Exact match over answerable questions (absent when there are none).
    #[serde(rename = "HasAns_exact", skip_serializing_if = "Option::is_none")]
    pub has_ans_exact: Option<f64>,
    /// F1 over answerable questions.
    #[serde(rename = "HasAns_f1", skip_serializing_if = "Option::is_none")]
    pub has_ans_f1: Option<f64>,
    /// Number of answerable questions.
    #[serde(rename = "HasAns_total", skip_serializing_if = "Option::is_none")]
    pub has_ans_total: Option<usize>,
    /// Exact match over unanswerable questions (absent when there are none).
    #[serde(rename = "NoAns_exact", skip_serializing_if = "Option::is_none")]
    pub no_ans_exact: Option<f64>,
    /// F1 over unanswerable questions.
    #[serde(rename = "NoAns_f1", skip_serializing_if = "Option::is_none")]
    pub no_ans_f1: Option<f64>,
    /// Number of unanswerable questions.
    #[serde(rename = "NoAns_total", skip_serializing_if = "Option::is_none")]
    pub no_ans_total: Option<usize>,
    /// Best exact match over no-answer thresholds (only with no-answer probabilities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_exact: Option<f64>,
    /// The threshold reaching `best_exact`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_exact_thresh: Option<f64>,
    /// Best F1 over no-answer thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_f1: Option<f64>,
    /// The threshold reaching `best_f1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_f1_thresh: Option<f64>,
}

/// `find_best_thresh`: sweep thresholds in increasing no-answer probability.
fn find_best_thresh(
    references: &[SquadReference],
    predictions: &HashMap<String, String>,
    scores: &HashMap<&str, f64>,
    na_probs: &NaProbs,
) -> (f64, f64) {
    let has_ans: HashMap<&str, bool> = references
        .iter()
        .map(|r| (r.id.as_str(), !r.answers.is_empty()))
        .collect();
    let num_no_ans = has_ans.values().filter(|&&h| !h).count();
    let mut cur_score = num_no_ans as f64;
    let mut best_score = cur_score;
    let mut best_thresh = 0.0;
    let mut order: Vec<usize> = (0..na_probs.ids.len()).collect();
    // Stable, like Python's `sorted`: ties keep file order.
    order.sort_by(|&a, &b| na_probs.probs[a].total_cmp(&na_probs.probs[b]));
    for i in order {
        let id = na_probs.ids[i].as_str();
        let Some(&score) = scores.get(id) else {
            continue;
        };
        let diff = if has_ans[id] {
            score
        } else if predictions[id].is_empty() {
            0.0
        } else {
            -1.0
        };
        cur_score += diff;
        if cur_score > best_score {
            best_score = cur_score;
            best_thresh = na_probs.probs[i];
        }
    }
    (100.0 * best_score / scores.len() as f64, best_thresh)
}

/// Scores predictions as `evaluate-v2.0.py` does. An empty prediction means "no answer".
///
/// With `na_probs`, questions whose no-answer probability exceeds `na_prob_thresh` are treated
/// as predicted unanswerable, and the best thresholds are searched (`best_exact`, `best_f1`).
/// Every question needs a prediction (the official script fails otherwise).
///
/// ```
/// use std::collections::HashMap;
/// use albert_train::metrics::squad::{evaluate_v2, SquadReference};
/// let refs = vec![
///     SquadReference { id: "q1".into(), answers: vec!["Broncos".into()] },
///     SquadReference { id: "q2".into(), answers: vec![] },
/// ];
/// let preds = HashMap::from([("q1".to_string(), "Broncos".to_string()), ("q2".to_string(), String::new())]);
/// let s = evaluate_v2(&refs, &preds, None, 1.0).unwrap();
/// assert_eq!((s.exact, s.f1, s.total), (100.0, 100.0, 2));
/// assert_eq!((s.has_ans_total, s.no_ans_total), (Some(1), Some(1)));
/// ```
pub fn evaluate_v2(
    references: &[SquadReference],
    predictions: &HashMap<String, String>,
    na_probs: Option<&NaProbs>,
    na_prob_thresh: f64,
) -> Result<SquadV2Scores, MetricError> {
    if references.is_empty() {
        return Err(MetricError::Empty);
    }
    let missing: Vec<&SquadReference> = references
        .iter()
        .filter(|r| !predictions.contains_key(&r.id))
        .collect();
    if let Some(first) = missing.first() {
        return Err(MetricError::MissingPredictions {
            count: missing.len(),
            first: first.id.clone(),
        });
    }
    let mut exact_raw: HashMap<&str, f64> = HashMap::new();
    let mut f1_raw: HashMap<&str, f64> = HashMap::new();
    let mut exact_thresh = Vec::with_capacity(references.len());
    let mut f1_thresh = Vec::with_capacity(references.len());
    for reference in references {
        let prediction = &predictions[&reference.id];
        let mut gold: Vec<&str> = reference
            .answers
            .iter()
            .map(String::as_str)
            .filter(|a| !normalize_answer(a).is_empty())
            .collect();
        if gold.is_empty() {
            gold.push("");
        }
        let exact = gold
            .iter()
            .map(|g| compute_exact(g, prediction))
            .fold(f64::NEG_INFINITY, f64::max);
        let f1 = gold
            .iter()
            .map(|g| compute_f1(g, prediction))
            .fold(f64::NEG_INFINITY, f64::max);
        exact_raw.insert(&reference.id, exact);
        f1_raw.insert(&reference.id, f1);
        // `apply_no_ans_threshold`; without a file every probability is 0.0.
        let prob = match na_probs {
            Some(p) => p
                .get(&reference.id)
                .ok_or_else(|| MetricError::MissingNaProb(reference.id.clone()))?,
            None => 0.0,
        };
        if prob > na_prob_thresh {
            let abstained = f64::from(u8::from(reference.answers.is_empty()));
            exact_thresh.push(abstained);
            f1_thresh.push(abstained);
        } else {
            exact_thresh.push(exact);
            f1_thresh.push(f1);
        }
    }
    // `make_eval_dict`: sums in dataset order, then 100 * sum / total.
    let subset = |keep: &dyn Fn(&SquadReference) -> bool| {
        let mut total = 0usize;
        let (mut exact, mut f1) = (0.0, 0.0);
        for (i, r) in references.iter().enumerate() {
            if keep(r) {
                total += 1;
                exact += exact_thresh[i];
                f1 += f1_thresh[i];
            }
        }
        (total > 0).then(|| {
            (
                100.0 * exact / total as f64,
                100.0 * f1 / total as f64,
                total,
            )
        })
    };
    let (exact, f1, total) = subset(&|_| true).expect("references are not empty");
    let has_ans = subset(&|r| !r.answers.is_empty());
    let no_ans = subset(&|r| r.answers.is_empty());
    let (best_exact, best_f1) = match na_probs {
        Some(p) => (
            Some(find_best_thresh(references, predictions, &exact_raw, p)),
            Some(find_best_thresh(references, predictions, &f1_raw, p)),
        ),
        None => (None, None),
    };
    Ok(SquadV2Scores {
        exact,
        f1,
        total,
        has_ans_exact: has_ans.map(|s| s.0),
        has_ans_f1: has_ans.map(|s| s.1),
        has_ans_total: has_ans.map(|s| s.2),
        no_ans_exact: no_ans.map(|s| s.0),
        no_ans_f1: no_ans.map(|s| s.1),
        no_ans_total: no_ans.map(|s| s.2),
        best_exact: best_exact.map(|b| b.0),
        best_exact_thresh: best_exact.map(|b| b.1),
        best_f1: best_f1.map(|b| b.0),
        best_f1_thresh: best_f1.map(|b| b.1),
    })
}
