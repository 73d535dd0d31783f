//! Named entities, as transformers' `token-classification` pipeline with `aggregation_strategy="simple"`: each
//! token takes its most probable label (softmax over the labels); consecutive tokens of the same entity type are
//! grouped unless a `B-` tag starts a new entity; a group's score is the mean of its tokens' scores, its word the
//! tokens joined back into text, its span from the first token's start to the last token's end (code points);
//! groups labeled `O` are dropped.

use candle_core::DType;
use serde::Serialize;

use super::{argmax, head, InOrder, softmax, PipelineModel, PipelineOptions, Task};
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

/// A token with its predicted label.
struct Tagged {
    label: String,
    score: f32,
    word: String,
    start: usize,
    end: usize,
}

/// Finds the entities of `texts`.
pub fn ner(model: &PipelineModel, texts: &[&str], opts: &PipelineOptions) -> Result<Vec<Entities>> {
    model.require(Task::Ner)?;
    let cfg = model.config();
    let encoded = model.encode(texts, opts.max_length)?;
    let encodings: Vec<_> = encoded.iter().map(|t| &t.encoding).collect();
    let mut tagged: InOrder<Vec<Tagged>> = InOrder::new(texts.len());
    model.run_batches(&encodings, opts.batch_size, |o, batch| {
        // (batch, seq, num_labels)
        let logits: Vec<Vec<Vec<f32>>> = head(o, "logits")?.to_dtype(DType::F32)?.to_vec3()?;
        for (rows, &(i, e)) in logits.iter().zip(batch) {
            tagged.set(i, tag_tokens(model, texts[i], e, rows, |l| cfg.label_name(l)));
        }
        Ok(())
    })?;
    tagged
        .finish()?
        .into_iter()
        .zip(&encoded)
        .map(|(tokens, e)| Ok(Entities { entities: group(model, tokens)?, truncated: e.truncated }))
        .collect()
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
            // An unknown token stands for its text, as in transformers.
            let word = match chars.get(start..end) {
                Some(span) if Some(e.ids[i]) == unk => span.iter().collect(),
                _ => e.tokens[i].clone(),
            };
            Tagged { label: label_name(best), score: scores[best], word, start, end }
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
