//! Entity (chunk) level precision, recall and F1 exactly as `conlleval.pl` (CoNLL-2000/2003)
//! computes them.
//!
//! A tag is split at its first `-` into a chunk tag (`B`, `I`, `O`, `E`, `[`, `]`, `.`) and a
//! type (`PER`, ...). Chunk starts and ends follow conlleval's `startOfChunk`/`endOfChunk`, so
//! IOB1 (the original CoNLL-2003 files: `I-` opens a chunk unless it continues one of the same
//! type, `B-` only separates adjacent chunks of one type) and IOB2 tags are both scored as the
//! official script scores them, and an ill-formed `I-` after `O` opens a chunk. Sentence breaks
//! end every chunk.

use std::collections::BTreeMap;

use serde::Serialize;

use super::MetricError;

/// Precision, recall and F1 (percentages, as conlleval prints them) with their counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkScores {
    /// `100 * correct / found`, 0 when nothing was found.
    pub precision: f64,
    /// `100 * correct / phrases`, 0 when the reference has no chunk.
    pub recall: f64,
    /// Harmonic mean of precision and recall (conlleval's `FB1`), 0 when both are 0.
    #[serde(rename = "FB1")]
    pub f1: f64,
    /// Chunks in the reference.
    pub phrases: usize,
    /// Chunks in the predictions.
    pub found: usize,
    /// Predicted chunks matching a reference chunk in span and type.
    pub correct: usize,
}

impl ChunkScores {
    fn new(phrases: usize, found: usize, correct: usize) -> Self {
        let precision = if found > 0 {
            100.0 * correct as f64 / found as f64
        } else {
            0.0
        };
        let recall = if phrases > 0 {
            100.0 * correct as f64 / phrases as f64
        } else {
            0.0
        };
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
            phrases,
            found,
            correct,
        }
    }
}

/// Everything `conlleval.pl` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConllevalReport {
    /// Tokens processed (sentence breaks excluded).
    pub processed_tokens: usize,
    /// Token-level accuracy in percent (tag and type both equal).
    pub accuracy: f64,
    /// Scores over all chunk types.
    #[serde(flatten)]
    pub overall: ChunkScores,
    /// Scores per chunk type, sorted by type name.
    pub per_type: BTreeMap<String, ChunkScores>,
}

/// A tag split as conlleval's `/^([^-]*)-(.*)$/` does.
#[derive(Clone, Copy)]
struct Tag<'a> {
    chunk: &'a str,
    kind: &'a str,
}

impl<'a> Tag<'a> {
    const OUTSIDE: Tag<'static> = Tag {
        chunk: "O",
        kind: "",
    };

    fn parse(tag: &'a str) -> Self {
        match tag.split_once('-') {
            Some((chunk, kind)) => Tag { chunk, kind },
            None => Tag {
                chunk: tag,
                kind: "",
            },
        }
    }
}

/// conlleval's `endOfChunk`: did a chunk end between `prev` and `cur`?
fn end_of_chunk(prev: Tag, cur: Tag) -> bool {
    matches!(
        (prev.chunk, cur.chunk),
        ("B", "B") | ("B", "O") | ("I", "B") | ("I", "O") | ("E", "E") | ("E", "I") | ("E", "O")
    ) || (prev.chunk != "O" && prev.chunk != "." && prev.kind != cur.kind)
        || prev.chunk == "]"
        || prev.chunk == "["
}

/// conlleval's `startOfChunk`: did a chunk start between `prev` and `cur`?
fn start_of_chunk(prev: Tag, cur: Tag) -> bool {
    matches!(
        (prev.chunk, cur.chunk),
        ("B", "B") | ("I", "B") | ("O", "B") | ("O", "I") | ("E", "E") | ("E", "I") | ("O", "E")
    ) || (cur.chunk != "O" && cur.chunk != "." && prev.kind != cur.kind)
        || cur.chunk == "["
        || cur.chunk == "]"
}

#[derive(Default)]
struct Counts {
    phrases: usize,
    found: usize,
    correct: usize,
}

/// Scores predicted tag sequences against reference ones, sentence by sentence, with
/// `conlleval.pl`'s exact semantics.
///
/// ```
/// use albert_train::metrics::conlleval;
/// // IOB1 reference: "I-PER I-PER" is one chunk; the prediction (IOB2) splits differently.
/// let gold = vec![vec!["I-PER", "I-PER", "O", "I-LOC"]];
/// let pred = vec![vec!["B-PER", "I-PER", "O", "B-ORG"]];
/// let report = conlleval(&gold, &pred).unwrap();
/// assert_eq!((report.overall.phrases, report.overall.found, report.overall.correct), (2, 2, 1));
/// assert_eq!(report.overall.f1, 50.0);
/// assert_eq!(report.per_type["PER"].f1, 100.0);
/// ```
pub fn conlleval<S: AsRef<str>>(
    references: &[Vec<S>],
    predictions: &[Vec<S>],
) -> Result<ConllevalReport, MetricError> {
    super::check_lengths(predictions, references)?;
    let mut overall = Counts::default();
    let mut per_type: BTreeMap<String, Counts> = BTreeMap::new();
    let (mut tokens, mut correct_tags) = (0usize, 0usize);
    let (mut last_gold, mut last_guess) = (Tag::OUTSIDE, Tag::OUTSIDE);
    let mut in_correct = false;

    for (sentence, (gold_tags, guess_tags)) in references.iter().zip(predictions).enumerate() {
        if gold_tags.len() != guess_tags.len() {
            return Err(MetricError::SentenceLengthMismatch {
                sentence,
                predictions: guess_tags.len(),
                references: gold_tags.len(),
            });
        }
        let pairs = gold_tags
            .iter()
            .zip(guess_tags)
            .map(|(g, p)| (Tag::parse(g.as_ref()), Tag::parse(p.as_ref()), false));
        // A sentence break is conlleval's boundary line, read as two `O` tags.
        let boundary = (sentence > 0).then_some((Tag::OUTSIDE, Tag::OUTSIDE, true));
        for (gold, guess, is_boundary) in boundary.into_iter().chain(pairs) {
            if in_correct {
                let gold_end = end_of_chunk(last_gold, gold);
                let guess_end = end_of_chunk(last_guess, guess);
                if gold_end && guess_end && last_guess.kind == last_gold.kind {
                    in_correct = false;
                    overall.correct += 1;
                    per_type
                        .entry(last_gold.kind.to_owned())
                        .or_default()
                        .correct += 1;
                } else if gold_end != guess_end || guess.kind != gold.kind {
                    in_correct = false;
                }
            }
            let gold_start = start_of_chunk(last_gold, gold);
            let guess_start = start_of_chunk(last_guess, guess);
            if gold_start && guess_start && guess.kind == gold.kind {
                in_correct = true;
            }
            if gold_start {
                overall.phrases += 1;
                per_type.entry(gold.kind.to_owned()).or_default().phrases += 1;
            }
            if guess_start {
                overall.found += 1;
                per_type.entry(guess.kind.to_owned()).or_default().found += 1;
            }
            if !is_boundary {
                if gold.chunk == guess.chunk && gold.kind == guess.kind {
                    correct_tags += 1;
                }
                tokens += 1;
            }
            last_gold = gold;
            last_guess = guess;
        }
    }
    if in_correct {
        overall.correct += 1;
        per_type
            .entry(last_gold.kind.to_owned())
            .or_default()
            .correct += 1;
    }
    Ok(ConllevalReport {
        processed_tokens: tokens,
        accuracy: if tokens > 0 {
            100.0 * correct_tags as f64 / tokens as f64
        } else {
            0.0
        },
        overall: ChunkScores::new(overall.phrases, overall.found, overall.correct),
        per_type: per_type
            .into_iter()
            .map(|(k, c)| (k, ChunkScores::new(c.phrases, c.found, c.correct)))
            .collect(),
    })
}
