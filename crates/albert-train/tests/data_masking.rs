//! Statistics and invariants of n-gram whole-word masking over many draws, against the rules of
//! create_pretraining_data.py's create_masked_lm_predictions: 15% of tokens, p(n) ∝ 1/n for
//! n ≤ 3, 80% [MASK] / 10% random / 10% kept, whole words, never [CLS]/[SEP].

use albert_train::data::{
    mask_tokens, sub_rng, MaskedLm, MaskingConfig, MaskingVocab, Purpose, SpecialIds, WordStarts,
};
use rand::Rng;

const SPECIAL: SpecialIds = SpecialIds {
    pad: 0,
    cls: 2,
    sep: 3,
    mask: 4,
};
const VOCAB: usize = 1000;
/// Ids 5..300 start words, 300..1000 continue them.
const FIRST_CONTINUATION: u32 = 300;

fn vocab() -> MaskingVocab {
    let flags = (0..VOCAB as u32)
        .map(|id| id < FIRST_CONTINUATION)
        .collect();
    MaskingVocab {
        word_starts: WordStarts::from_flags(flags),
        special: SPECIAL,
    }
}

/// `[CLS] A [SEP] B [SEP]` of `len` tokens, words of 1-`max_pieces` pieces.
fn sequence(len: usize, max_pieces: usize, seed: u64) -> Vec<u32> {
    let mut rng = sub_rng(seed, Purpose::Pairing, 99, 0);
    let mut body = Vec::new();
    while body.len() < len - 3 {
        body.push(rng.random_range(5..FIRST_CONTINUATION));
        for _ in 1..rng.random_range(1..=max_pieces) {
            body.push(rng.random_range(FIRST_CONTINUATION..VOCAB as u32));
        }
    }
    body.truncate(len - 3);
    let half = body.len() / 2;
    [SPECIAL.cls]
        .into_iter()
        .chain(body[..half].iter().copied())
        .chain([SPECIAL.sep])
        .chain(body[half..].iter().copied())
        .chain([SPECIAL.sep])
        .collect()
}

fn draw(tokens: &[u32], cfg: &MaskingConfig, epoch: u64, index: u64) -> MaskedLm {
    let max = cfg.max_predictions(512);
    mask_tokens(
        tokens,
        &vocab(),
        cfg,
        max,
        &mut sub_rng(5, Purpose::Masking, epoch, index),
    )
}

#[test]
fn fifteen_percent_predicted_with_80_10_10_replacement() {
    let cfg = MaskingConfig::default();
    let (mut predicted, mut total, mut as_mask, mut kept, mut other) = (0, 0, 0, 0, 0);
    for i in 0..400 {
        let tokens = sequence(512, 3, i);
        let out = draw(&tokens, &cfg, 0, i);
        predicted += out.positions.len();
        total += tokens.len();
        for (&p, &label) in out.positions.iter().zip(&out.labels) {
            assert_eq!(label, tokens[p]);
            match out.input_ids[p] {
                id if id == SPECIAL.mask => as_mask += 1,
                id if id == label => kept += 1,
                _ => other += 1,
            }
        }
        // Positions not predicted are untouched.
        for (p, (&t, &i)) in tokens.iter().zip(&out.input_ids).enumerate() {
            assert!(out.positions.binary_search(&p).is_ok() || t == i);
        }
    }
    let frac = predicted as f64 / total as f64;
    eprintln!("predicted {frac:.4}; mask/kept/random {as_mask}/{kept}/{other} of {predicted}");
    assert!((frac - 0.15).abs() < 0.003, "predicted fraction {frac}");
    let n = predicted as f64;
    // A random replacement hits [MASK] or the original with probability 1/1000: within tolerance.
    for (name, count, expected) in [
        ("mask", as_mask, 0.8),
        ("kept", kept, 0.1),
        ("random", other, 0.1),
    ] {
        let f = count as f64 / n;
        assert!((f - expected).abs() < 0.01, "{name}: {f} vs {expected}");
    }
}

#[test]
fn ngram_lengths_follow_one_over_n() {
    // Single-piece words and a sparse budget; only spans drawn while 3 more tokens still fit the
    // budget count, since near the cap the original shortens n-grams on purpose.
    let cfg = MaskingConfig {
        masked_lm_prob: 0.03,
        ..MaskingConfig::default()
    };
    let mut counts = [0usize; 3];
    for i in 0..1500 {
        let tokens = sequence(1000, 1, 1000 + i);
        let budget = (1000.0f64 * 0.03).round() as usize;
        let out = mask_tokens(
            &tokens,
            &vocab(),
            &cfg,
            budget,
            &mut sub_rng(6, Purpose::Masking, 0, i),
        );
        let mut used = 0;
        for span in &out.spans {
            if used + 3 <= budget {
                counts[span.len() - 1] += 1;
            }
            used += span.len();
        }
    }
    let total: usize = counts.iter().sum();
    eprintln!("n-gram lengths 1/2/3: {counts:?}");
    let harmonic = 1.0 + 0.5 + 1.0 / 3.0;
    for (n, &c) in counts.iter().enumerate() {
        let expected = 1.0 / (n + 1) as f64 / harmonic;
        let f = c as f64 / total as f64;
        assert!(
            (f - expected).abs() < 0.015,
            "n = {}: {f} vs {expected} ({counts:?})",
            n + 1
        );
    }
}

#[test]
fn spans_are_whole_words_and_never_touch_cls_or_sep() {
    let v = vocab();
    let cfg = MaskingConfig::default();
    for i in 0..300 {
        let tokens = sequence(200, 4, 5000 + i);
        let out = draw(&tokens, &cfg, 0, i);
        let boundary = |p: usize| {
            p == tokens.len()
                || v.word_starts.is_start(tokens[p])
                || SPECIAL.is_structural(tokens[p])
        };
        let after_special = |p: usize| SPECIAL.is_structural(tokens[p - 1]);
        for span in &out.spans {
            assert!(
                v.word_starts.is_start(tokens[span.start]) || after_special(span.start),
                "{span:?} starts mid-word"
            );
            assert!(boundary(span.end), "{span:?} ends mid-word");
            assert!(
                span.clone().all(|p| !SPECIAL.is_structural(tokens[p])),
                "{span:?} covers [CLS]/[SEP]"
            );
        }
        let mut covered: Vec<usize> = out.spans.iter().flat_map(|s| s.clone()).collect();
        covered.sort_unstable();
        assert_eq!(covered, out.positions, "spans overlap or miss positions");
        assert!(out.positions.len() <= cfg.max_predictions(512));
    }
}

#[test]
fn same_key_same_masks_other_epoch_other_masks() {
    let cfg = MaskingConfig::default();
    let mut differing = 0;
    for i in 0..20 {
        let tokens = sequence(128, 2, 9000 + i);
        assert_eq!(draw(&tokens, &cfg, 3, i), draw(&tokens, &cfg, 3, i));
        if draw(&tokens, &cfg, 3, i).positions != draw(&tokens, &cfg, 4, i).positions {
            differing += 1;
        }
    }
    assert!(
        differing >= 19,
        "only {differing}/20 sequences got new masks in a new epoch"
    );
}

#[test]
fn max_predictions_caps_and_defaults_to_rounded_fraction() {
    // round() as Python 3's: halves to even. 0.15 × 30 = 4.5 → 4, 0.15 × 50 = 7.5 → 8.
    let cfg = MaskingConfig::default();
    assert_eq!(cfg.max_predictions(30), 4);
    assert_eq!(cfg.max_predictions(50), 8);
    let tokens = sequence(512, 2, 1);
    let capped = mask_tokens(
        &tokens,
        &vocab(),
        &cfg,
        20,
        &mut sub_rng(1, Purpose::Masking, 0, 0),
    );
    assert!(capped.positions.len() <= 20 && capped.positions.len() >= 18);
}
