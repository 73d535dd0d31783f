//! Data augmentation: the WordNet reader against NLTK over the same database, EDA's operations, and masked-LM
//! replacement with a model.

mod common;

use albert::AlbertRng;
use albert_train::augment::eda::{eda, only_chars, EdaConfig};
use albert_train::augment::wordnet::{WordNet, DEBIAN_WORDNET_DIR};

/// Debian's WordNet, which `.ci/run` installs; missing, it fails under CI=true and skips elsewhere.
fn wordnet() -> Option<WordNet> {
    albert_testkit::required_path(std::path::Path::new(DEBIAN_WORDNET_DIR).join("index.noun"), "WordNet (apt-get install wordnet-base)")?;
    Some(WordNet::locate(None).unwrap())
}

#[test]
fn synonyms_equal_nltk_over_the_same_database() {
    let Some(wn) = wordnet() else { return };
    let reference: serde_json::Value = serde_json::from_str(include_str!("fixtures/wordnet_synonyms.json")).unwrap();
    for (word, expected) in reference["lemmas"].as_object().unwrap() {
        let expected: Vec<String> = serde_json::from_value(expected.clone()).unwrap();
        assert_eq!(wn.synonyms(word), expected, "synonyms of {word:?}");
    }
}

#[test]
fn eda_makes_the_asked_number_of_clean_variants_from_the_sentence() {
    let Some(wn) = wordnet() else { return };
    let sentence = "A gorgeous, witty, seductive movie about children who watched the geese.";
    let cfg = EdaConfig { num_aug: 9, alpha_sr: 0.2, alpha_ri: 0.2, alpha_rs: 0.2, p_rd: 0.2 };
    let mut rng = AlbertRng::new(7);
    let variants = eda(sentence, &cfg, &wn, &mut rng);
    assert_eq!(variants.len(), 9);
    let original = only_chars(sentence);
    for v in &variants {
        assert_eq!(v, &only_chars(v), "variants are lowercase letters and spaces");
        assert_ne!(v, &original);
    }
    // The same seed gives the same variants; another seed others.
    assert_eq!(eda(sentence, &cfg, &wn, &mut AlbertRng::new(7)), variants);
    assert_ne!(eda(sentence, &cfg, &wn, &mut AlbertRng::new(8)), variants);
    // Synonym replacement alone keeps the length in words unless a multi-word synonym came in, and every new word
    // is a synonym of a word of the sentence.
    let sr = EdaConfig { num_aug: 4, alpha_sr: 0.3, alpha_ri: 0.0, alpha_rs: 0.0, p_rd: 0.0 };
    let words: Vec<&str> = original.split(' ').collect();
    for v in eda(sentence, &sr, &wn, &mut rng) {
        for w in v.split(' ').filter(|w| !words.contains(w)) {
            assert!(words.iter().any(|o| wn.synonyms(o).iter().any(|s| s.split(' ').any(|p| only_chars(p) == w))), "{w} in {v}");
        }
    }
}

#[test]
fn masked_lm_replacement_changes_only_content_words_into_vocabulary_words() {
    use albert::tokenizer::AlbertTokenizer;
    use albert::{AlbertConfig, AlbertForAny, Architecture, Pretrained};
    use albert_train::augment::is_stop_word;
    use albert_train::augment::mlm::{MlmAugmenter, MlmConfig};
    let Some(spm) = common::shared_data("spm/spiece.model") else { return };
    let tokenizer = AlbertTokenizer::from_path(spm).unwrap();
    let cfg = AlbertConfig { vocab_size: tokenizer.vocab_size(), embedding_size: 8, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, ..AlbertConfig::default() };
    let lm = Pretrained::init(&cfg, Architecture::MaskedLM, 4, candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    let AlbertForAny::MaskedLM(model) = &lm.model else { unreachable!() };
    let augmenter = MlmAugmenter { model, tokenizer: &tokenizer, config: MlmConfig { alpha: 0.3, top_k: 5, num_aug: 6 } };
    let sentence = "the acting is wonderful and the story moves along at a lively pace";
    let words: Vec<&str> = sentence.split(' ').collect();
    let variants = augmenter.augment(sentence, &mut AlbertRng::new(1)).unwrap();
    assert!(!variants.is_empty() && variants.len() <= 6);
    for v in &variants {
        let new: Vec<&str> = v.split(' ').collect();
        assert_eq!(new.len(), words.len(), "{v}");
        let changed: Vec<usize> = (0..words.len()).filter(|&i| new[i] != words[i]).collect();
        assert!(!changed.is_empty() && changed.len() <= 4, "{v}: at most round(0.3 x 13) words change");
        for i in changed {
            assert!(!is_stop_word(words[i]), "stop word {:?} replaced in {v}", words[i]);
            assert!(tokenizer.token_to_id(&format!("▁{}", new[i])).is_some(), "{:?} is a whole vocabulary word", new[i]);
        }
    }
    assert_eq!(augmenter.augment(sentence, &mut AlbertRng::new(1)).unwrap(), variants, "seeded");
}
