//! Synonyms from Princeton WordNet 3.0's database files (Debian's `wordnet-base`: /usr/share/wordnet), looked up as
//! NLTK's `wordnet.synsets(word)` does: every part of speech, the word's base forms found by WordNet's `morphy`
//! (exception lists, then suffix rules), every lemma of every synset.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::AugmentError;

/// Where Debian's `wordnet-base` installs the database.
pub const DEBIAN_WORDNET_DIR: &str = "/usr/share/wordnet";

const POS: [(&str, char); 4] = [("noun", 'n'), ("verb", 'v'), ("adj", 'a'), ("adv", 'r')];

/// WordNet's detachment rules (`morphy`): suffix, replacement, per part of speech.
fn suffix_rules(pos: char) -> &'static [(&'static str, &'static str)] {
    match pos {
        'n' => &[("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")],
        'v' => &[("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
        'a' => &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
        _ => &[],
    }
}

/// The synonym dictionary.
#[derive(Debug, Clone, Default)]
pub struct WordNet {
    /// (part of speech, lemma) -> synset offsets.
    index: HashMap<(char, String), Vec<u64>>,
    /// (part of speech, offset) -> the synset's lemmas.
    synsets: HashMap<(char, u64), Vec<String>>,
    /// (part of speech, inflected form) -> base forms (the `.exc` files).
    exceptions: HashMap<(char, String), Vec<String>>,
}

impl WordNet {
    /// Reads `index.*`, `data.*` and `*.exc` under `dir`.
    pub fn load(dir: &Path) -> Result<Self, AugmentError> {
        let read = |name: &str| -> Result<String, AugmentError> {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| AugmentError::WordNet { path: path.clone(), message: e.to_string() })
        };
        let mut wn = WordNet::default();
        for (name, pos) in POS {
            for line in read(&format!("index.{name}"))?.lines().filter(|l| !l.starts_with(' ')) {
                let f: Vec<&str> = line.split_whitespace().collect();
                // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
                let Some(count) = f.get(2).and_then(|c| c.parse::<usize>().ok()) else { continue };
                let offsets = f[f.len().saturating_sub(count)..].iter().filter_map(|o| o.parse().ok()).collect();
                wn.index.insert((pos, f[0].to_string()), offsets);
            }
            for line in read(&format!("data.{name}"))?.lines().filter(|l| !l.starts_with(' ')) {
                let f: Vec<&str> = line.split_whitespace().collect();
                // offset lex_filenum ss_type w_cnt(hex) word lex_id [word lex_id]...
                let (Some(offset), Some(count)) = (f.first().and_then(|o| o.parse().ok()), f.get(3).and_then(|c| usize::from_str_radix(c, 16).ok())) else {
                    continue;
                };
                let words = (0..count)
                    .filter_map(|k| f.get(4 + 2 * k))
                    // adjectives carry a syntactic marker: `able(a)`
                    .map(|w| w.split('(').next().unwrap_or(w).to_lowercase())
                    .collect();
                wn.synsets.insert((pos, offset), words);
            }
            for line in read(&format!("{name}.exc"))?.lines() {
                let mut f = line.split_whitespace();
                if let Some(form) = f.next() {
                    wn.exceptions.insert((pos, form.to_string()), f.map(str::to_string).collect());
                }
            }
        }
        if wn.index.is_empty() {
            return Err(AugmentError::WordNet { path: dir.to_owned(), message: "no WordNet index entries".into() });
        }
        Ok(wn)
    }

    /// [`WordNet::load`] from `dir`, else from [`DEBIAN_WORDNET_DIR`], with an error saying how to install it.
    pub fn locate(dir: Option<&Path>) -> Result<Self, AugmentError> {
        let dir = dir.map_or_else(|| PathBuf::from(DEBIAN_WORDNET_DIR), Path::to_path_buf);
        if !dir.join("index.noun").is_file() {
            return Err(AugmentError::WordNet {
                path: dir,
                message: "WordNet is not there: install Debian's wordnet-base (apt-get install wordnet-base) or pass its directory".into(),
            });
        }
        Self::load(&dir)
    }

    /// Base forms of `word` as a part of speech, as `morphy`: the word itself when it is a lemma, its exceptions,
    /// and the suffix rules' results that are lemmas.
    fn base_forms(&self, word: &str, pos: char) -> Vec<String> {
        let mut forms = Vec::new();
        let mut push = |w: String| {
            if self.index.contains_key(&(pos, w.clone())) && !forms.contains(&w) {
                forms.push(w);
            }
        };
        push(word.to_string());
        for e in self.exceptions.get(&(pos, word.to_string())).into_iter().flatten() {
            push(e.clone());
        }
        for (suffix, replacement) in suffix_rules(pos) {
            if let Some(stem) = word.strip_suffix(suffix) {
                push(format!("{stem}{replacement}"));
            }
        }
        forms
    }

    /// Synonyms of `word` (lowercased), in a fixed order, the word itself left out; multi-word lemmas joined by
    /// spaces.
    pub fn synonyms(&self, word: &str) -> Vec<String> {
        let word = word.to_lowercase();
        let mut out = BTreeSet::new();
        for (_, pos) in POS {
            for base in self.base_forms(&word, pos) {
                for offset in self.index.get(&(pos, base)).into_iter().flatten() {
                    for lemma in self.synsets.get(&(pos, *offset)).into_iter().flatten() {
                        let lemma = lemma.replace('_', " ");
                        if lemma != word {
                            out.insert(lemma);
                        }
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}
