//! Questions answered from an index: retrieve (and rerank) passages, read the best ones with an extractive QA model,
//! answer with the source, or say that the documents do not contain the answer. What `albert ask`, `albert evaluate
//! --task retrieval` and the server's `/ask` run.

use albert::pipeline::qa;
use albert::pipeline::PipelineModel;
use serde::Serialize;

use crate::embedder::Embedder;
use crate::error::Result;
use crate::index::Index;
use crate::passage::Source;
use crate::rerank::Reranker;
use crate::search::{Hit, SearchOptions};

/// `ask`'s default threshold: the lowest reader score (its best span's `p_start * p_end`, softmax within the
/// passage) taken as an answer. Chosen for the built-in reader, albert-small-xquad, by SQuAD v2's best-F1 rule on
/// XQuAD English (`scripts/experiments/ask_threshold.sh`, docs/search/README.md): its scores stay below 0.034 and do
/// not tell questions the documents answer from those they do not (ROC AUC 0.52 in hybrid mode, 0.54 in BM25), and
/// its answers are rarely right, so every threshold above its highest score is best: it stays silent, and the reply
/// still carries its best span as a guess. 0.1 lies in that range. The scale is the same for any reader (a
/// probability), the calibration is not: measure another reader with the same script.
pub const DEFAULT_THRESHOLD: f32 = 0.1;

/// One answer found in a passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    /// The answer's text.
    pub answer: String,
    /// The reader's probability of the span (start x end, softmax within the passage).
    pub score: f32,
    /// The document it comes from.
    pub source: Source,
    /// Half-open code-point range of the answer in its document's text.
    pub span: (usize, usize),
    /// The passage's id in the index.
    pub passage: u64,
    /// The passage's rank in the retrieval (from 1).
    pub rank: usize,
}

/// What `ask` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// The question as asked.
    pub question: String,
    /// What the reader and the retrieval read (the question with the previous turns, in a chat).
    pub read_as: String,
    /// The answer, when its score reaches the threshold.
    pub answer: Option<Found>,
    /// The best span, even below the threshold (what `answer` would have been).
    pub best: Option<Found>,
    /// Other answers, best first, each text once.
    pub runner_ups: Vec<Found>,
    /// Passages read.
    pub passages_read: usize,
}

/// The question as read in a conversation: the last `history` turns, then the question, as "Q: ... A: ..." (CoQA's
/// baselines prepend the previous question-answer pairs to the question).
pub fn with_history(history: &[(String, String)], question: &str, turns: usize) -> String {
    let first = history.len().saturating_sub(turns);
    let mut text: String = history[first..].iter().map(|(q, a)| format!("Q: {q} A: {a} ")).collect();
    if text.is_empty() {
        return question.to_string();
    }
    text.push_str("Q: ");
    text.push_str(question);
    text
}

/// The answers of each passage, mapped onto their documents, best first; each normalized text kept once (its best
/// occurrence).
pub fn rank_answers(hits: &[Hit], answers: Vec<qa::Answer>) -> Vec<Found> {
    let mut found: Vec<Found> = hits
        .iter()
        .zip(answers)
        .filter(|(_, a)| !a.answer.trim().is_empty())
        .map(|(h, a)| Found {
            answer: a.answer,
            score: a.score,
            source: h.passage.source.clone(),
            span: (h.passage.span.0 + a.start, h.passage.span.0 + a.end),
            passage: h.passage.id,
            rank: h.rank,
        })
        .collect();
    // Stable: equal scores keep the retrieval's order.
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut seen = std::collections::HashSet::new();
    found.retain(|f| seen.insert(f.answer.trim().to_lowercase()));
    found
}

/// How a question is answered.
#[derive(Debug, Clone, Copy)]
pub struct AskSettings {
    /// The retrieval (its `k`: the passages read).
    pub search: SearchOptions,
    /// How each passage is read.
    pub qa: qa::QaOptions,
    /// Lowest reader score taken as an answer.
    pub threshold: f32,
    /// Runner-up answers kept.
    pub runner_ups: usize,
}

/// The models `ask` runs, loaded once for a session (or an evaluation).
pub struct Asker<'a> {
    /// The index searched.
    pub index: &'a Index,
    /// The index's embedder (dense and hybrid search).
    pub embedder: Option<&'a Embedder>,
    /// The reranker of candidates, if any.
    pub reranker: Option<&'a Reranker>,
    /// The extractive QA model.
    pub reader: &'a PipelineModel,
}

impl Asker<'_> {
    /// Answers `question`, retrieving and reading `read_as` (the question itself, or with a chat's turns).
    pub fn ask(&self, settings: &AskSettings, question: &str, read_as: String) -> Result<Reply> {
        let hits = self.index.search(&read_as, &settings.search, self.embedder, self.reranker)?;
        read(self.reader, settings, question, read_as, &hits)
    }
}

/// Answers `question` from `hits`, the retrieval of `read_as`: each passage read by `reader` on its own, all of them
/// in shared forward passes ([`qa::answer_in_contexts`]: the same answers as one passage at a time, one pass for a
/// few passages rather than one each, and one wait for a server's batcher), the answers ranked.
pub fn read(reader: &PipelineModel, settings: &AskSettings, question: &str, read_as: String, hits: &[Hit]) -> Result<Reply> {
    let passages: Vec<&str> = hits.iter().map(|h| h.passage.text.as_str()).collect();
    let answers = qa::answer_in_contexts(reader, &read_as, &passages, &settings.qa)?
        .into_iter()
        .map(|a| a.map_err(|e| albert::Error::Input(e.to_string())))
        .collect::<albert::Result<Vec<_>>>()?;
    let mut found = rank_answers(hits, answers).into_iter();
    let best = found.next();
    let answer = best.clone().filter(|b| b.score >= settings.threshold);
    Ok(Reply {
        question: question.to_string(),
        read_as,
        answer,
        best,
        runner_ups: found.take(settings.runner_ups).collect(),
        passages_read: hits.len(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn history_is_prepended_as_question_answer_pairs() {
        let history = vec![
            ("Who wrote Emma?".to_string(), "Jane Austen".to_string()),
            ("When?".to_string(), "1815".to_string()),
            ("Where did she live?".to_string(), "Chawton".to_string()),
        ];
        assert_eq!(with_history(&[], "Who wrote Emma?", 2), "Who wrote Emma?");
        assert_eq!(
            with_history(&history, "Was it published?", 2),
            "Q: When? A: 1815 Q: Where did she live? A: Chawton Q: Was it published?"
        );
        assert_eq!(with_history(&history, "And then?", 0), "And then?");
    }

    fn hit(rank: usize, id: u64, start: usize, text: &str) -> Hit {
        let source = Source { file: PathBuf::from("notes.md"), doc_id: "notes".into(), title: String::new() };
        let passage = crate::passage::Passage { id, source, span: (start, start + text.chars().count()), text: text.into() };
        Hit { rank, score: 1.0, scores: Default::default(), passage, snippet: String::new() }
    }

    /// The passages read in shared forward passes answer as each read alone (`qa::answer` on it, one window per
    /// pass): the same spans and the same scores, to the bit, whatever the batch; one passage long enough for
    /// several windows.
    #[test]
    fn passages_read_together_answer_as_each_read_alone() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pipelines/qa");
        let reader = PipelineModel::load_dir(&dir, albert::pipeline::Task::QuestionAnswering).unwrap();
        let long = "The tide turns twice a day and the boats wait for it in the outer basin. ".repeat(6);
        let texts = [
            "The harbour fills with ships at dawn; sailors mend the nets on the quay.",
            "A lighthouse guides the boats home.",
            long.as_str(),
            "A zebra sleeps standing up, and its stripes confuse biting flies.",
        ];
        let hits: Vec<Hit> = texts.iter().enumerate().map(|(i, t)| hit(i + 1, 10 + i as u64, 100 * i, t)).collect();
        let question = "When do the boats come home?";
        for batch_size in [1, 2, 3, 8] {
            let qa = qa::QaOptions { max_length: 48, stride: 16, max_answer_length: 30, batch_size, ..qa::QaOptions::default() };
            let settings = AskSettings { search: SearchOptions::default(), qa, threshold: 0.0, runner_ups: texts.len() };
            let reply = read(&reader, &settings, question, question.to_string(), &hits).unwrap();
            let alone: Vec<qa::Answer> = hits
                .iter()
                .map(|h| qa::answer(&reader, question, &h.passage.text, &qa::QaOptions { batch_size: 1, ..qa }).unwrap())
                .collect();
            assert!(alone[2].windows > 2, "the long passage takes several windows: {:?}", alone[2]);
            let expected = rank_answers(&hits, alone);
            let got: Vec<Found> = reply.best.into_iter().chain(reply.runner_ups).collect();
            assert_eq!(got, expected, "batch_size {batch_size}");
            assert_eq!(reply.passages_read, 4);
        }
    }

    fn answer(text: &str, score: f32, start: usize) -> qa::Answer {
        qa::Answer { answer: text.into(), score, start, end: start + text.chars().count(), windows: 1 }
    }

    /// Spans move from the passage to the document; the best of each text is kept, best first; an empty answer
    /// is no answer.
    #[test]
    fn answers_are_placed_in_their_documents_and_ranked() {
        let hits = [hit(1, 7, 100, "Jane Austen wrote Emma."), hit(2, 9, 500, "Emma is by jane austen."), hit(3, 4, 0, "x")];
        let answers = vec![answer("Jane Austen", 0.4, 0), answer("jane austen", 0.7, 11), answer("", 0.9, 0)];
        let found = rank_answers(&hits, answers);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].answer.as_str(), found[0].span, found[0].passage, found[0].rank), ("jane austen", (511, 522), 9, 2));
    }
}
