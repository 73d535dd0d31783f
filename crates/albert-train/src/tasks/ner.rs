//! CoNLL-2003 NER files: one token per line with space-separated `word POS chunk NER` columns,
//! blank lines between sentences, `-DOCSTART-` lines between documents. Tags are IOB1 in the
//! original files (`I-` opens a chunk; `B-` only separates two adjacent chunks of one type).

use std::path::Path;

use super::{numbered_lines, read_text, TaskError};
use crate::metrics::conlleval::{conlleval, ConllevalReport};

/// The CoNLL-2003 NER tags (IOB1 and IOB2 share them), in the Hugging Face `conll2003` order.
pub const CONLL2003_LABELS: [&str; 9] = [
    "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC",
];

/// One sentence of a CoNLL file; all vectors have one entry per token.
#[derive(Debug, Clone, PartialEq)]
pub struct NerSentence {
    /// Zero-based index of the `-DOCSTART-` document the sentence belongs to.
    pub document: usize,
    /// One-based line number of the sentence's first token.
    pub line: usize,
    /// The words.
    pub tokens: Vec<String>,
    /// Part-of-speech tags (second column; empty when the file has only word and tag).
    pub pos: Vec<String>,
    /// Syntactic chunk tags (third column; empty when the file has fewer than four columns).
    pub chunk: Vec<String>,
    /// NER tags (last column).
    pub tags: Vec<String>,
}

fn is_docstart(fields: &[&str]) -> bool {
    fields.first() == Some(&"-DOCSTART-")
}

/// Reads a CoNLL-2003 file (`eng.train`, `eng.testa`, `eng.testb`, or any file in that layout
/// with 2 to 4 columns: word first, NER tag last). Every line of a file must have as many
/// columns as the first.
///
/// ```no_run
/// use albert_train::tasks::ner::read_conll2003;
/// let dev = read_conll2003("conll2003/eng.testa".as_ref())?;
/// assert_eq!(dev.len(), 3250);
/// # Ok::<(), albert_train::tasks::TaskError>(())
/// ```
pub fn read_conll2003(path: &Path) -> Result<Vec<NerSentence>, TaskError> {
    let text = read_text(path)?;
    let mut sentences = Vec::new();
    let mut current: Option<NerSentence> = None;
    let mut columns = None;
    let mut document = 0usize;
    let mut seen_docstart = false;
    for (line, row) in numbered_lines(&text) {
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.is_empty() || is_docstart(&fields) {
            sentences.extend(current.take());
            if is_docstart(&fields) {
                document += usize::from(seen_docstart);
                seen_docstart = true;
            }
            continue;
        }
        let n = *columns.get_or_insert(fields.len());
        if fields.len() != n || !(2..=4).contains(&n) {
            return Err(TaskError::parse(
                path,
                line,
                format!(
                    "expected {} space-separated columns (word ... NER tag), found {}",
                    n.clamp(2, 4),
                    fields.len()
                ),
            ));
        }
        let s = current.get_or_insert_with(|| NerSentence {
            document,
            line,
            tokens: vec![],
            pos: vec![],
            chunk: vec![],
            tags: vec![],
        });
        s.tokens.push(fields[0].to_owned());
        if n >= 3 {
            s.pos.push(fields[1].to_owned());
        }
        if n == 4 {
            s.chunk.push(fields[2].to_owned());
        }
        s.tags.push(fields[n - 1].to_owned());
    }
    sentences.extend(current);
    if sentences.is_empty() {
        return Err(TaskError::invalid(path, "no sentences"));
    }
    Ok(sentences)
}

/// Reads predicted tags aligned with `sentences`: a CoNLL-style file with the same sentence
/// breaks whose last column is the predicted tag (any earlier columns are ignored except the
/// first, which, when there are two or more, must be the same word as the data file's).
/// `-DOCSTART-` lines are skipped.
pub fn read_predicted_tags(
    path: &Path,
    sentences: &[NerSentence],
) -> Result<Vec<Vec<String>>, TaskError> {
    let text = read_text(path)?;
    let mut out: Vec<Vec<String>> = Vec::with_capacity(sentences.len());
    let mut current: Vec<String> = Vec::new();
    let mut last_line = 0;
    for (line, row) in numbered_lines(&text) {
        last_line = line;
        let fields: Vec<&str> = row.split_whitespace().collect();
        if fields.is_empty() || is_docstart(&fields) {
            finish_sentence(path, line, sentences, &mut out, &mut current)?;
            continue;
        }
        if fields.len() >= 2 {
            let expected = sentences
                .get(out.len())
                .and_then(|s| s.tokens.get(current.len()));
            if let Some(word) = expected.filter(|w| *w != fields[0]) {
                return Err(TaskError::parse(
                    path,
                    line,
                    format!(
                        "word {:?} does not match the data file's {word:?}",
                        fields[0]
                    ),
                ));
            }
        }
        current.push(fields[fields.len() - 1].to_owned());
    }
    finish_sentence(path, last_line + 1, sentences, &mut out, &mut current)?;
    if out.len() != sentences.len() {
        return Err(TaskError::invalid(
            path,
            format!(
                "{} sentences of predictions for {} in the data file",
                out.len(),
                sentences.len()
            ),
        ));
    }
    Ok(out)
}

/// Closes the predicted sentence in `current` (if any) at the break on `line`, checking its
/// length against the data sentence it pairs with.
fn finish_sentence(
    path: &Path,
    line: usize,
    sentences: &[NerSentence],
    out: &mut Vec<Vec<String>>,
    current: &mut Vec<String>,
) -> Result<(), TaskError> {
    if current.is_empty() {
        return Ok(());
    }
    let i = out.len();
    let Some(s) = sentences.get(i) else {
        return Err(TaskError::parse(
            path,
            line,
            format!("more sentences than the data file's {}", sentences.len()),
        ));
    };
    if s.tokens.len() != current.len() {
        return Err(TaskError::parse(
            path,
            line,
            format!(
                "sentence {} has {} predicted tags but the data sentence (line {}) has {} tokens",
                i + 1,
                current.len(),
                s.line,
                s.tokens.len()
            ),
        ));
    }
    out.push(std::mem::take(current));
    Ok(())
}

/// Scores predicted tags against the sentences' tags with conlleval.
pub fn score_ner(
    sentences: &[NerSentence],
    predictions: &[Vec<String>],
) -> Result<ConllevalReport, TaskError> {
    let gold: Vec<&Vec<String>> = sentences.iter().map(|s| &s.tags).collect();
    let gold: Vec<Vec<&str>> = gold
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    let pred: Vec<Vec<&str>> = predictions
        .iter()
        .map(|t| t.iter().map(String::as_str).collect())
        .collect();
    Ok(conlleval(&gold, &pred)?)
}

/// Rewrites IOB1 tags as IOB2, where every chunk starts with `B-`: an `I-X` that does not
/// continue an `X` chunk becomes `B-X`.
///
/// ```
/// use albert_train::tasks::ner::iob1_to_iob2;
/// assert_eq!(
///     iob1_to_iob2(&["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]),
///     ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]
/// );
/// ```
pub fn iob1_to_iob2<S: AsRef<str>>(tags: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.as_ref();
        let converted = match tag.strip_prefix("I-") {
            Some(kind) if out.last().and_then(|p| p.get(2..)) != Some(kind) => format!("B-{kind}"),
            _ => tag.to_owned(),
        };
        out.push(converted);
    }
    out
}
