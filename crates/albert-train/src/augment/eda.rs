//! EDA, "Easy Data Augmentation" (Wei and Zou, EMNLP 2019), following the authors' `eda.py`: the sentence is
//! reduced to lowercase letters and spaces, then each operation makes `num_aug / 4 + 1` variants, of which
//! `num_aug` are kept at random.

use albert::AlbertRng;

use super::is_stop_word;
use super::wordnet::WordNet;

/// EDA's strengths (fractions of the sentence's words) and the number of variants per sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdaConfig {
    /// Synonym replacement: words replaced.
    pub alpha_sr: f64,
    /// Random insertion: synonyms inserted.
    pub alpha_ri: f64,
    /// Random swap: pairs swapped.
    pub alpha_rs: f64,
    /// Random deletion: probability of deleting each word.
    pub p_rd: f64,
    /// Variants per sentence.
    pub num_aug: usize,
}

impl Default for EdaConfig {
    /// The paper's recommendation for about 500 training sentences: alpha 0.05, 16 variants.
    fn default() -> Self {
        Self { alpha_sr: 0.05, alpha_ri: 0.05, alpha_rs: 0.05, p_rd: 0.05, num_aug: 16 }
    }
}

/// `get_only_chars`: lowercase letters and single spaces.
pub fn only_chars(text: &str) -> String {
    let cleaned: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            '’' | '\'' => '\0',
            c if c.is_ascii_lowercase() => c,
            _ => ' ',
        })
        .filter(|&c| c != '\0')
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn synonym_replacement(words: &[String], n: usize, wn: &WordNet, rng: &mut AlbertRng) -> Vec<String> {
    let mut new_words = words.to_vec();
    let mut candidates: Vec<&String> = Vec::new();
    for w in words.iter().filter(|w| !is_stop_word(w)) {
        if !candidates.contains(&w) {
            candidates.push(w);
        }
    }
    rng.shuffle(&mut candidates);
    let mut replaced = 0;
    for word in candidates {
        let synonyms = wn.synonyms(word);
        if synonyms.is_empty() {
            continue;
        }
        let synonym = &synonyms[rng.below(synonyms.len())];
        for w in new_words.iter_mut().filter(|w| *w == word) {
            *w = synonym.clone();
        }
        replaced += 1;
        if replaced >= n {
            break;
        }
    }
    // Multi-word synonyms become several words.
    new_words.join(" ").split(' ').map(str::to_string).collect()
}

fn random_deletion(words: &[String], p: f64, rng: &mut AlbertRng) -> Vec<String> {
    if words.len() <= 1 {
        return words.to_vec();
    }
    let kept: Vec<String> = words.iter().filter(|_| rng.uniform() > p).cloned().collect();
    if kept.is_empty() {
        return vec![words[rng.below(words.len())].clone()];
    }
    kept
}

fn random_swap(words: &[String], n: usize, rng: &mut AlbertRng) -> Vec<String> {
    let mut new_words = words.to_vec();
    for _ in 0..n {
        let a = rng.below(new_words.len());
        let mut b = a;
        for _ in 0..4 {
            b = rng.below(new_words.len());
            if b != a {
                break;
            }
        }
        new_words.swap(a, b);
    }
    new_words
}

fn random_insertion(words: &[String], n: usize, wn: &WordNet, rng: &mut AlbertRng) -> Vec<String> {
    let mut new_words = words.to_vec();
    for _ in 0..n {
        for _ in 0..10 {
            let synonyms = wn.synonyms(&new_words[rng.below(new_words.len())]);
            if !synonyms.is_empty() {
                let synonym = synonyms[rng.below(synonyms.len())].clone();
                new_words.insert(rng.below(new_words.len() + 1), synonym);
                break;
            }
        }
    }
    new_words
}

/// `num_aug` EDA variants of `sentence` (fewer when it has no words).
pub fn eda(sentence: &str, cfg: &EdaConfig, wn: &WordNet, rng: &mut AlbertRng) -> Vec<String> {
    let clean = only_chars(sentence);
    let words: Vec<String> = clean.split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect();
    if words.is_empty() || cfg.num_aug == 0 {
        return Vec::new();
    }
    let per_technique = cfg.num_aug / 4 + 1;
    let count = |alpha: f64| ((alpha * words.len() as f64) as usize).max(1);
    let mut out: Vec<Vec<String>> = Vec::new();
    if cfg.alpha_sr > 0.0 {
        (0..per_technique).for_each(|_| out.push(synonym_replacement(&words, count(cfg.alpha_sr), wn, rng)));
    }
    if cfg.alpha_ri > 0.0 {
        (0..per_technique).for_each(|_| out.push(random_insertion(&words, count(cfg.alpha_ri), wn, rng)));
    }
    if cfg.alpha_rs > 0.0 {
        (0..per_technique).for_each(|_| out.push(random_swap(&words, count(cfg.alpha_rs), rng)));
    }
    if cfg.p_rd > 0.0 {
        (0..per_technique).for_each(|_| out.push(random_deletion(&words, cfg.p_rd, rng)));
    }
    let mut sentences: Vec<String> = out.iter().map(|w| only_chars(&w.join(" "))).collect();
    rng.shuffle(&mut sentences);
    sentences.truncate(cfg.num_aug);
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chars_keeps_lowercase_letters_and_single_spaces() {
        assert_eq!(only_chars("It's a  GREAT film -- 10/10!"), "its a great film");
    }

    #[test]
    fn swap_and_deletion_keep_the_words() {
        let words: Vec<String> = "the film is a joy to watch".split(' ').map(str::to_string).collect();
        let mut rng = AlbertRng::new(3);
        let mut swapped = random_swap(&words, 2, &mut rng);
        swapped.sort();
        let mut sorted = words.clone();
        sorted.sort();
        assert_eq!(swapped, sorted);
        let kept = random_deletion(&words, 0.5, &mut rng);
        assert!(!kept.is_empty() && kept.iter().all(|w| words.contains(w)));
        assert_eq!(random_deletion(&words, 1.0, &mut rng).len(), 1, "one word survives");
    }
}
