//! Named entities, as transformers' `token-classification` pipeline: each token takes its most probable label
//! (softmax over the labels); with a word-level [`Aggregation`] the pieces of a word first agree on one label;
//! consecutive tokens (or words) of the same entity type are grouped unless a `B-` tag starts a new entity; a group's
//! score is the mean of its members' scores, its word the members joined back into text, its span from the first
//! one's start to the last one's end (code points); groups labeled `O` are dropped.

use candle_core::DType;
use serde::Serialize;

use super::{all, argmax, finite, softmax, PerInput, PipelineModel, PipelineOptions, Task};
use crate::error::Result;
use crate::tokenizer::Encoding;

/// One entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// The entity type (the label without its `B-`/`I-` prefix).
    pub entity_group: String,
    /// Mean of the tokens' label probabilities.
    pub score: f32,
    /// The entity's tokens joined into text (normalized as the tokenizer normalizes, e.g. lowercased).
    pub word: String,
    /// Code-point offset of the first token's start in the text.
    pub start: usize,
    /// Code-point offset of the last token's end.
    pub end: usize,
}

impl Entity {
    /// The entity as written in `text` (the text it was found in), case and accents kept.
    ///
    /// ```
    /// use albert::pipeline::ner::Entity;
    /// let e = Entity { entity_group: "LOC".into(), score: 0.9, word: "zurich".into(), start: 3, end: 9 };
    /// assert_eq!(e.span("In Zürich."), "Zürich");
    /// ```
    pub fn span(&self, text: &str) -> String {
        text.chars().skip(self.start).take(self.end.saturating_sub(self.start)).collect()
    }
}

/// The entities of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entities {
    /// Entities in text order.
    pub entities: Vec<Entity>,
    /// Whether the text was truncated to the maximum length (entities past the cut are not found).
    pub truncated: bool,
}

/// How word pieces become entities: transformers' `aggregation_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregation {
    /// Each piece keeps its own label; pieces of one word may fall into different entities.
    #[default]
    Simple,
    /// A word takes the label of its first piece.
    First,
    /// A word takes the label of its pieces' mean probabilities.
    Average,
    /// A word takes the label of its most confident piece.
    Max,
}

impl std::str::FromStr for Aggregation {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "simple" => Ok(Self::Simple),
            "first" => Ok(Self::First),
            "average" => Ok(Self::Average),
            "max" => Ok(Self::Max),
            other => Err(format!("unknown aggregation {other:?}; expected simple, first, average or max")),
        }
    }
}

/// A token (or, after word aggregation, a word) with its predicted label.
struct Tagged {
    label: String,
    score: f32,
    /// Probabilities of every label.
    scores: Vec<f32>,
    word: String,
    start: usize,
    end: usize,
    /// Continues the previous token's word: transformers' fallback for tokenizers without a subword prefix, a
    /// token whose start is neither the text's start nor next to a space.
    is_subword: bool,
}

/// Finds the entities of `texts`; the first bad input fails the call (see [`ner_each`]).
pub fn ner(model: &PipelineModel, texts: &[&str], aggregation: Aggregation, opts: &PipelineOptions) -> Result<Vec<Entities>> {
    all(ner_each(model, texts, aggregation, opts)?)
}

/// Finds the entities of each text as [`ner`] does; an empty text, or one whose logits are not finite, gets its
/// own error and the others their entities.
pub fn ner_each(
    model: &PipelineModel,
    texts: &[&str],
    aggregation: Aggregation,
    opts: &PipelineOptions,
) -> Result<Vec<PerInput<Entities>>> {
    model.require(Task::Ner)?;
    let cfg = model.config();
    let encoded = model.encode_each(texts, opts.max_length)?;
    model.run_each(encoded, opts.batch_size, |o, row, i, t| {
        // (seq, num_labels)
        let logits: Vec<Vec<f32>> = o.head.logits()?.get(row)?.to_dtype(DType::F32)?.to_vec2()?;
        let real = &logits[..t.encoding.len()];
        if let Err(e) = finite(&real.concat()) {
            return Ok(Err(e));
        }
        let tokens = tag_tokens(model, texts[i], &t.encoding, real, |l| cfg.label_name(l));
        let tokens = match aggregation {
            Aggregation::Simple => tokens,
            word_level => aggregate_words(model, tokens, word_level, |l| cfg.label_name(l))?,
        };
        Ok(Ok(Entities { entities: group(model, tokens)?, truncated: t.truncated }))
    })
}

fn tag_tokens(
    model: &PipelineModel,
    text: &str,
    e: &Encoding,
    logits: &[Vec<f32>],
    label_name: impl Fn(usize) -> String,
) -> Vec<Tagged> {
    let unk = model.tokenizer.token_to_id("<unk>");
    let chars: Vec<char> = text.chars().collect();
    (0..e.len())
        .filter(|&i| e.special_tokens_mask[i] == 0)
        .map(|i| {
            let scores = softmax(&logits[i]);
            let best = argmax(&scores);
            let (start, end) = e.offsets[i];
            let beside_space = |k: usize| chars.get(k).is_some_and(|c| *c == ' ');
            let mut is_subword = start > 0 && !beside_space(start - 1) && !beside_space(start);
            // An unknown token stands for its text and starts a word, as in transformers.
            let word = match chars.get(start..end) {
                Some(span) if Some(e.ids[i]) == unk => {
                    is_subword = false;
                    span.iter().collect()
                }
                _ => e.tokens[i].clone(),
            };
            Tagged { label: label_name(best), score: scores[best], scores, word, start, end, is_subword }
        })
        .collect()
}

/// Fuses each word's pieces into one tagged word (transformers' `aggregate_words`).
fn aggregate_words(
    model: &PipelineModel,
    tokens: Vec<Tagged>,
    aggregation: Aggregation,
    label_name: impl Fn(usize) -> String,
) -> Result<Vec<Tagged>> {
    let mut words: Vec<Vec<Tagged>> = Vec::new();
    for t in tokens {
        match words.last_mut() {
            Some(word) if t.is_subword => word.push(t),
            _ => words.push(vec![t]),
        }
    }
    words
        .into_iter()
        .map(|pieces| {
            let scores = match aggregation {
                Aggregation::Average => {
                    let n = pieces.len() as f32;
                    (0..pieces[0].scores.len()).map(|l| pieces.iter().map(|p| p.scores[l]).sum::<f32>() / n).collect()
                }
                Aggregation::Max => {
                    let top = |p: &Tagged| p.scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    // The first of equally confident pieces, as Python's max().
                    let mut best = &pieces[0];
                    for p in &pieces[1..] {
                        if top(p) > top(best) {
                            best = p;
                        }
                    }
                    best.scores.clone()
                }
                Aggregation::First | Aggregation::Simple => pieces[0].scores.clone(),
            };
            let best = argmax(&scores);
            let texts: Vec<&str> = pieces.iter().map(|p| p.word.as_str()).collect();
            Ok(Tagged {
                label: label_name(best),
                score: scores[best],
                word: model.tokenizer.tokens_to_string(&texts)?,
                start: pieces[0].start,
                end: pieces[pieces.len() - 1].end,
                scores,
                is_subword: false,
            })
        })
        .collect()
}

/// `B-X` → (true, X); `I-X` → (false, X); any other label continues (false, label).
fn split_tag(label: &str) -> (bool, &str) {
    match label.split_at_checked(2) {
        Some(("B-", tag)) => (true, tag),
        Some(("I-", tag)) => (false, tag),
        _ => (false, label),
    }
}

/// Runs of consecutive labels that form one entity (transformers' `group_entities`): a label joins the previous
/// one when both have the same type and it is not a `B-` tag.
fn group_runs<S: AsRef<str>>(labels: &[S]) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let (begin, tag) = split_tag(label.as_ref());
        match runs.last_mut() {
            Some(r) if !begin && split_tag(labels[i - 1].as_ref()).1 == tag => r.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

fn group(model: &PipelineModel, tokens: Vec<Tagged>) -> Result<Vec<Entity>> {
    let labels: Vec<&str> = tokens.iter().map(|t| t.label.as_str()).collect();
    let mut out = Vec::new();
    for run in group_runs(&labels) {
        let g = &tokens[run];
        let first = &g[0];
        let entity_group = first.label.split_once('-').map_or(first.label.as_str(), |(_, t)| t).to_string();
        if entity_group == "O" {
            continue;
        }
        let words: Vec<&str> = g.iter().map(|t| t.word.as_str()).collect();
        out.push(Entity {
            score: g.iter().map(|t| t.score).sum::<f32>() / g.len() as f32,
            word: model.tokenizer.tokens_to_string(&words)?,
            start: first.start,
            end: g[g.len() - 1].end,
            entity_group,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{group_runs, split_tag};

    #[test]
    fn tags_split_as_transformers_get_tag() {
        assert_eq!(split_tag("B-PER"), (true, "PER"));
        assert_eq!(split_tag("I-LOC"), (false, "LOC"));
        assert_eq!(split_tag("O"), (false, "O"));
        assert_eq!(split_tag("MISC"), (false, "MISC"));
    }

    // By hand, following transformers' group_entities: B-PER I-PER | B-PER (a B- splits even after PER) | I-LOC
    // (another type) | O O (grouped, dropped later) | I-ORG B-ORG (a B- splits) | MISC I-MISC (a bare label reads
    // as I-).
    #[test]
    fn runs_split_at_b_tags_and_type_changes() {
        let labels = ["B-PER", "I-PER", "B-PER", "I-LOC", "O", "O", "I-ORG", "B-ORG", "MISC", "I-MISC"];
        assert_eq!(group_runs(&labels), [0..2, 2..3, 3..4, 4..6, 6..7, 7..8, 8..10]);
        assert!(group_runs::<&str>(&[]).is_empty());
    }
}
