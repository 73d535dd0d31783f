//! Cloze questions from plain text: extractive question-answering data without annotation, for a
//! first stage before a small labeled QA set. A span of a sentence (a name, a number or a few
//! content words) is the answer; the question is its question word followed by the words around
//! it, some dropped and the rest shuffled locally: the "noisy cloze" of Lewis et al. 2019
//! ("Unsupervised Question Answering by Cloze Translation"). Span-selection pretraining (Glass et
//! al. 2020) showed that such questions teach a reader to match a question against its context,
//! the skill a few hundred labeled questions are too few to teach.

use crate::data::{split_sentences, sub_rng, Draw, Purpose};
use crate::tasks::squad::{SquadAnswer, SquadArticle, SquadDataset, SquadParagraph, SquadQuestion};

/// How cloze questions are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct ClozeOptions {
    /// Questions drawn from one paragraph at most, each from a different sentence.
    pub per_paragraph: usize,
    /// Paragraphs with fewer words are skipped: too little context to search.
    pub min_paragraph_words: usize,
    /// Words of the sentence kept on each side of the answer: real questions are short.
    pub window: usize,
    /// Probability of dropping each kept word other than the question word, so that matching
    /// cannot rely on every word being there.
    pub drop_prob: f64,
    /// A question's context is its sentence and the sentences around it, as many as fit in this
    /// many words (at least the sentence itself); 0 keeps the whole paragraph. Short contexts make
    /// short windows: more questions per second of training, and every window holds its answer.
    pub max_context_words: usize,
    /// Contexts per article of the output (articles are what fine-tuning holds out).
    pub paragraphs_per_article: usize,
    /// Seed of every draw: the same text and options give the same file.
    pub seed: u64,
}

impl Default for ClozeOptions {
    fn default() -> Self {
        Self {
            per_paragraph: 3,
            min_paragraph_words: 30,
            window: 8,
            drop_prob: 0.1,
            max_context_words: 0,
            paragraphs_per_article: 10,
            seed: 1,
        }
    }
}

/// A whitespace-separated word of a sentence: its byte range, and the range of its core
/// (without leading and trailing punctuation).
#[derive(Debug, Clone, Copy)]
struct Word {
    start: usize,
    end: usize,
    core_start: usize,
    core_end: usize,
}

fn words(sentence: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut offset = 0;
    for piece in sentence.split_whitespace() {
        let start = offset + sentence[offset..].find(piece).expect("a piece of the sentence");
        let end = start + piece.len();
        offset = end;
        let lead = piece.len() - piece.trim_start_matches(|c: char| !c.is_alphanumeric()).len();
        let core = piece.trim_matches(|c: char| !c.is_alphanumeric());
        out.push(Word { start, end, core_start: start + lead, core_end: start + lead + core.len() });
    }
    out
}

/// Words that do not make an answer on their own, and may join the words of a name
/// ("University of Chicago").
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "of", "and", "or", "but", "in", "on", "at", "to", "for", "from", "by", "with",
    "as", "is", "was", "are", "were", "be", "been", "it", "its", "he", "she", "his", "her", "they",
    "their", "this", "that", "which", "who", "not", "had", "has", "have", "also", "into", "after",
    "such", "than", "then", "when", "where", "there", "these", "those", "would", "could", "should",
    "about", "other", "some", "more", "most", "many", "very", "only", "over", "under", "while",
    "what", "them", "being", "upon", "before", "during", "through", "between", "will",
    "each", "every", "both", "either", "because", "although", "however", "against", "within",
    "without", "across", "since", "until", "among", "around", "said", "much", "well", "even",
];
const NAME_JOINERS: &[&str] = &["of", "the", "de", "von", "van", "and"];
const MAGNITUDES: &[&str] = &["hundred", "thousand", "million", "billion", "percent"];

/// What an answer span is, which decides its question word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Name,
    Year,
    Number,
    Phrase,
}

impl Kind {
    fn question_word(self) -> &'static str {
        match self {
            Kind::Name | Kind::Phrase => "what",
            Kind::Year => "when",
            Kind::Number => "how many",
        }
    }
}

/// Answer candidates of a sentence as word ranges `[first, last)`: names (runs of capitalized
/// words, not a lone sentence-initial one), numbers (with a following magnitude word) and
/// content words alone or in pairs.
fn candidates(sentence: &str, ws: &[Word]) -> Vec<(usize, usize, Kind)> {
    let core = |i: usize| &sentence[ws[i].core_start..ws[i].core_end];
    let function_word = |i: usize| FUNCTION_WORDS.contains(&core(i).to_lowercase().as_str());
    // A capital on a function word ("It", after a line break of verse) does not make a name.
    let capitalized =
        |i: usize| core(i).chars().next().is_some_and(char::is_uppercase) && core(i) != "I" && !function_word(i);
    // Quantities, not references such as a verse's "4:5".
    let numeric = |i: usize| {
        core(i).chars().any(|c| c.is_ascii_digit()) && core(i).chars().all(|c| c.is_ascii_digit() || ",.%".contains(c))
    };
    let usable = |i: usize| !core(i).is_empty() && !core(i).contains("unk");
    let content =
        |k: usize| usable(k) && core(k).chars().count() >= 4 && !function_word(k) && !capitalized(k) && !numeric(k);
    let mut out = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        if usable(i) && capitalized(i) {
            let mut j = i + 1;
            // A name does not run on across punctuation ("Meanwhile, Denver").
            let joined = |k: usize| ws[k - 1].core_end == ws[k - 1].end;
            loop {
                if j < ws.len() && joined(j) && usable(j) && capitalized(j) {
                    j += 1;
                } else if j + 1 < ws.len() && joined(j) && NAME_JOINERS.contains(&core(j)) && joined(j + 1) && capitalized(j + 1) {
                    j += 2;
                } else {
                    break;
                }
            }
            if i > 0 || j - i > 1 {
                out.push((i, j, Kind::Name));
            }
            i = j;
        } else if usable(i) && numeric(i) {
            let year = core(i).len() == 4 && core(i).parse::<u32>().is_ok_and(|y| (1000..2100).contains(&y));
            let j = if i + 1 < ws.len() && MAGNITUDES.contains(&core(i + 1)) { i + 2 } else { i + 1 };
            out.push((i, j, if year && j == i + 1 { Kind::Year } else { Kind::Number }));
            i = j;
        } else {
            if content(i) {
                out.push((i, i + 1, Kind::Phrase));
                if i + 1 < ws.len() && content(i + 1) && ws[i].core_end == ws[i].end {
                    out.push((i, i + 2, Kind::Phrase));
                }
            }
            i += 1;
        }
    }
    out
}

/// The question for answer words `[first, last)`: its question word first, then the window of
/// words around the answer with each dropped with `drop_prob` and the rest shuffled locally
/// (each moves at most `SHUFFLE_REACH` places), ending in `?`: Lewis et al.'s noisy cloze.
fn question(sentence: &str, ws: &[Word], (first, last, kind): (usize, usize, Kind), options: &ClozeOptions,
    rng: &mut impl Draw) -> String {
    const SHUFFLE_REACH: f64 = 3.0;
    let from = first.saturating_sub(options.window);
    let to = (last + options.window).min(ws.len());
    let mut kept: Vec<(f64, &str)> = Vec::new();
    for i in (from..first).chain(last..to) {
        if rng.uniform() >= options.drop_prob {
            let word = sentence[ws[i].start..ws[i].end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let key = i as f64 + rng.uniform() * SHUFFLE_REACH;
            if word.chars().any(char::is_alphanumeric) {
                kept.push((key, word));
            }
        }
    }
    kept.sort_by(|a, b| a.0.total_cmp(&b.0));
    let words: Vec<&str> = std::iter::once(kind.question_word()).chain(kept.into_iter().map(|k| k.1)).collect();
    let text = words.join(" ");
    let mut chars = text.chars();
    let first_char = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    format!("{first_char}{}?", chars.as_str())
}

/// Undoes WikiText's tokenization marks (`1 @,@ 000`, `well @-@ known`) so its text reads as
/// ordinary prose, as the questions users ask do.
fn clean(paragraph: &str) -> String {
    paragraph.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
}

/// Cloze questions on paragraphs of plain text, as a SQuAD v1.1 dataset. Paragraphs are visited
/// in a seeded order; each gives up to `per_paragraph` questions from different sentences, each
/// question with its own context (see [`ClozeOptions::max_context_words`]); `max_questions` stops
/// early. Answers are exact substrings of their contexts at code-point offsets, as SQuAD's are.
///
/// ```
/// use albert_train::tasks::cloze_qa::{cloze_questions, ClozeOptions};
/// let text = "The bridge over the Tyne was opened in 1928 by King George V after four years of work, \
///     and it carried the main road north from Newcastle to the Scottish border for many decades afterwards.";
/// let options = ClozeOptions { min_paragraph_words: 10, per_paragraph: 1, ..Default::default() };
/// let data = cloze_questions(&[text.to_string()], &options, None);
/// let p = &data.data[0].paragraphs[0];
/// let q = &p.qas[0];
/// let a = &q.answers.as_ref().unwrap()[0];
/// let start: String = p.context.chars().skip(a.answer_start).take(a.text.chars().count()).collect();
/// assert_eq!(start, a.text);
/// assert!(!q.question.contains(&a.text) && q.question.ends_with('?'));
/// ```
pub fn cloze_questions(paragraphs: &[String], options: &ClozeOptions, max_questions: Option<usize>) -> SquadDataset {
    let mut order: Vec<usize> = (0..paragraphs.len()).collect();
    sub_rng(options.seed, Purpose::Cloze, 0, u64::MAX).shuffle(&mut order);
    let limit = if options.max_context_words == 0 { usize::MAX } else { options.max_context_words };
    let mut made: Vec<SquadParagraph> = Vec::new();
    let mut total = 0;
    for &p in &order {
        if max_questions.is_some_and(|m| total >= m) {
            break;
        }
        let context = clean(&paragraphs[p]);
        if context.split_whitespace().count() < options.min_paragraph_words {
            continue;
        }
        let mut rng = sub_rng(options.seed, Purpose::Cloze, 0, p as u64);
        // Sentences with their byte offsets in the context.
        let sentences: Vec<(usize, &str)> = split_sentences(&context)
            .into_iter()
            .map(|s| (s.as_ptr() as usize - context.as_ptr() as usize, s))
            .collect();
        let mut picks: Vec<usize> = (0..sentences.len()).collect();
        rng.shuffle(&mut picks);
        let sentence_words: Vec<usize> = sentences.iter().map(|(_, t)| t.split_whitespace().count()).collect();
        let mut asked = 0;
        for s in picks {
            if asked >= options.per_paragraph || max_questions.is_some_and(|m| total >= m) {
                break;
            }
            let (offset, sentence) = sentences[s];
            let ws = words(sentence);
            let found = candidates(sentence, &ws);
            if found.is_empty() || ws.len() < 6 {
                continue;
            }
            // Names and numbers are what most reading-comprehension answers are; phrases fill in.
            let (named, phrases): (Vec<_>, Vec<_>) = found.into_iter().partition(|c| c.2 != Kind::Phrase);
            let pool = if !named.is_empty() && (phrases.is_empty() || rng.uniform() < 0.7) { named } else { phrases };
            let pick = pool[rng.int_inclusive(0, pool.len() - 1)];
            // The sentences [lo, hi] around this one that fit in the word budget, growing after, then before.
            let (mut lo, mut hi, mut budget) = (s, s, sentence_words[s]);
            loop {
                let grew_after = hi + 1 < sentences.len() && budget + sentence_words[hi + 1] <= limit;
                if grew_after {
                    hi += 1;
                    budget += sentence_words[hi];
                }
                let grew_before = lo > 0 && budget + sentence_words[lo - 1] <= limit;
                if grew_before {
                    lo -= 1;
                    budget += sentence_words[lo];
                }
                if !grew_after && !grew_before {
                    break;
                }
            }
            let from = sentences[lo].0;
            let own = &context[from..sentences[hi].0 + sentences[hi].1.len()];
            let (start, end) = (offset - from + ws[pick.0].core_start, offset - from + ws[pick.1 - 1].core_end);
            let qa = SquadQuestion {
                id: format!("cloze-{p}-{s}"),
                question: question(sentence, &ws, pick, options, &mut rng),
                answers: Some(vec![SquadAnswer {
                    text: own[start..end].to_string(),
                    answer_start: own[..start].chars().count(),
                }]),
                is_impossible: false,
                plausible_answers: Vec::new(),
            };
            made.push(SquadParagraph { context: own.to_string(), qas: vec![qa] });
            asked += 1;
            total += 1;
        }
    }
    let per = options.paragraphs_per_article.max(1);
    let data = made
        .chunks(per)
        .enumerate()
        .map(|(k, chunk)| SquadArticle { title: format!("cloze-{k}"), paragraphs: chunk.to_vec() })
        .collect();
    SquadDataset { version: "1.1".to_string(), data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(sentence: &str) -> Vec<(String, Kind)> {
        let ws = words(sentence);
        candidates(sentence, &ws)
            .into_iter()
            .map(|(a, b, k)| (sentence[ws[a].core_start..ws[b - 1].core_end].to_string(), k))
            .collect()
    }

    #[test]
    fn names_numbers_and_years_are_found_whole() {
        let found = spans("In 1977 the University of Chicago paid 3,000 dollars to Mr Smith.");
        let named: Vec<_> = found.iter().filter(|(_, k)| *k != Kind::Phrase).collect();
        assert_eq!(
            named,
            [
                &("1977".to_string(), Kind::Year),
                &("University of Chicago".to_string(), Kind::Name),
                &("3,000".to_string(), Kind::Number),
                &("Mr Smith".to_string(), Kind::Name),
            ]
        );
        assert!(found.contains(&("dollars".to_string(), Kind::Phrase)));
        // A lone capital at the start of a sentence is not a name.
        assert!(spans("Yesterday it rained in Paris.").iter().all(|(s, _)| s != "Yesterday"));
        assert!(spans("Prices rose by 2 million percent.").contains(&("2 million".to_string(), Kind::Number)));
        assert!(spans("Later, Denver won.").contains(&("Denver".to_string(), Kind::Name)), "no run across a comma");
        assert!(spans("And he said, It is 4:5 now.").iter().all(|(s, _)| s != "It" && s != "4:5"));
    }

    #[test]
    fn the_question_replaces_the_answer_by_its_question_word() {
        let sentence = "The city was founded in 1851 by settlers from the east.";
        let ws = words(sentence);
        let year = candidates(sentence, &ws).into_iter().find(|c| c.2 == Kind::Year).unwrap();
        let keep_all = ClozeOptions { drop_prob: 0.0, ..Default::default() };
        let mut rng = sub_rng(1, Purpose::Cloze, 0, 0);
        let q = question(sentence, &ws, year, &keep_all, &mut rng);
        assert!(q.starts_with("When ") && q.ends_with('?') && !q.contains("1851"), "{q}");
        let mut got: Vec<&str> = q["When ".len()..q.len() - 1].split(' ').collect();
        got.sort_unstable();
        let mut want = vec!["The", "city", "was", "founded", "in", "by", "settlers", "from", "the", "east"];
        want.sort_unstable();
        assert_eq!(got, want, "every other word of the window, shuffled");
        // Local shuffling moves a word at most 3 places: the first word still comes before the last.
        assert!(q.find("The ").unwrap() < q.find("east").unwrap(), "{q}");
        let narrow = ClozeOptions { window: 2, ..keep_all };
        let q = question(sentence, &ws, year, &narrow, &mut rng);
        let mut got: Vec<&str> = q["When ".len()..q.len() - 1].split(' ').collect();
        got.sort_unstable();
        assert_eq!(got, ["by", "founded", "in", "settlers"]);
    }

    #[test]
    fn wikitext_marks_are_undone_and_offsets_are_code_points() {
        let text = "Café owners in the well @-@ known Rue de Rivoli paid 1 @,@ 200 francs in 1880 , \
            when the Société Générale opened its first branch there after long talks with the city of Paris .";
        let options = ClozeOptions { min_paragraph_words: 5, per_paragraph: 5, ..Default::default() };
        let data = cloze_questions(&[text.to_string()], &options, None);
        let p = &data.data[0].paragraphs[0];
        assert!(p.context.contains("well-known") && p.context.contains("1,200"));
        for q in &p.qas {
            let a = &q.answers.as_ref().unwrap()[0];
            let at: String = p.context.chars().skip(a.answer_start).take(a.text.chars().count()).collect();
            assert_eq!(at, a.text);
        }
        assert_eq!(cloze_questions(&[text.to_string()], &options, None), data, "seeded: the same file twice");
        assert_eq!(cloze_questions(&[text.to_string()], &options, Some(0)).data.len(), 0);
    }

    #[test]
    fn a_context_is_the_sentences_around_the_question_within_the_word_budget() {
        let sentence = |k: usize| format!("Sentence number {k} was written by Anna Berg in {}.", 1900 + k);
        let paragraph: Vec<String> = (0..6).map(sentence).collect();
        let options = ClozeOptions { min_paragraph_words: 5, per_paragraph: 6, max_context_words: 20, ..Default::default() };
        let data = cloze_questions(&[paragraph.join(" ")], &options, None);
        let contexts: Vec<&SquadParagraph> = data.data.iter().flat_map(|a| &a.paragraphs).collect();
        assert_eq!(contexts.len(), 6, "one question per sentence, each with its own context");
        for p in contexts {
            // Each sentence has 9 words: two fit in 20, the question's own and the one after (before, for the last).
            let n = p.context.matches("Sentence number").count();
            assert_eq!(n, 2, "{}", p.context);
            let k: usize = p.qas[0].id.rsplit('-').next().unwrap().parse().unwrap();
            assert!(p.context.contains(&sentence(k)), "the question's own sentence is in its context");
            let neighbour = if k == 5 { 4 } else { k + 1 };
            assert!(p.context.contains(&sentence(neighbour)), "{}", p.context);
        }
    }
}
