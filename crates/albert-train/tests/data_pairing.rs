//! Segment pairing checked draw by draw against hand-worked runs of
//! create_pretraining_data.py's create_instances_from_document and truncate_seq_pair.

use std::collections::VecDeque;

use albert_train::data::{
    pairs_from_document, Documents, Draw, PairingConfig, SegmentPair, TokenSpan,
};

/// Replays scripted draws and records the integer ranges asked for.
struct Script {
    uniforms: VecDeque<f64>,
    ints: VecDeque<usize>,
    ranges: Vec<(usize, usize)>,
}

impl Script {
    fn new(uniforms: &[f64], ints: &[usize]) -> Self {
        Script {
            uniforms: uniforms.iter().copied().collect(),
            ints: ints.iter().copied().collect(),
            ranges: vec![],
        }
    }

    fn assert_spent(&self) {
        assert!(
            self.uniforms.is_empty() && self.ints.is_empty(),
            "unused draws: {:?} {:?}",
            self.uniforms,
            self.ints
        );
    }
}

impl Draw for Script {
    fn uniform(&mut self) -> f64 {
        self.uniforms
            .pop_front()
            .expect("more uniform draws than the hand-worked run")
    }

    fn int_inclusive(&mut self, lo: usize, hi: usize) -> usize {
        self.ranges.push((lo, hi));
        let v = self
            .ints
            .pop_front()
            .expect("more integer draws than the hand-worked run");
        assert!((lo..=hi).contains(&v), "scripted {v} outside {lo}..={hi}");
        v
    }
}

fn span(start: u64, end: u64) -> TokenSpan {
    TokenSpan {
        shard: 0,
        start,
        end,
    }
}

fn pair(a: (u64, u64), b: (u64, u64), label: u32) -> SegmentPair {
    SegmentPair {
        a: span(a.0, a.1),
        b: span(b.0, b.1),
        sentence_order_label: label,
    }
}

// Document 0: sentences of 3, 4, 5, 2 tokens at 0..3, 3..7, 7..12, 12..14;
// document 1: 6 and 1 tokens at 14..20, 20..21. max_seq_length 11: max_num_tokens 8.
fn docs() -> Documents {
    Documents::from_sentence_lengths(&[vec![3, 4, 5, 2], vec![6, 1]])
}

const CFG: PairingConfig = PairingConfig {
    max_seq_length: 11,
    short_seq_prob: 0.1,
};

#[test]
fn swapped_pair_truncation_and_single_sentence_chunk() {
    // random() = 0.5 ≥ 0.1: target 8. Sentences 0-2 reach 12 ≥ 8: a_end = randint(1, 2) = 2,
    // A = 0..7, B = 7..12; random() = 0.3 < 0.5 swaps them (label 1): A = 7..12 (5), B = 0..7 (7).
    // truncate to 8: B longer, 0.2 < 0.5 drops its front (1..7); B longer, 0.7 pops (1..6);
    // tie goes to B, 0.1 drops the front (2..6); A longer, 0.9 pops (7..11). 4 + 4 = 8.
    // Sentence 3 alone is the last chunk: one sentence, so B comes from another document:
    // target_b = 8 - 2 = 6; randint(0, 1) = 0 is this document, again: 1; random_start =
    // randint(0, 1) = 0; sentence 14..20 has 6 ≥ 6 tokens. 2 + 6 = 8 needs no truncation.
    let mut rng = Script::new(&[0.5, 0.3, 0.2, 0.7, 0.1, 0.9], &[2, 0, 1, 0]);
    let pairs = pairs_from_document(&docs(), 0, &CFG, &mut rng);
    assert_eq!(
        pairs,
        [pair((7, 11), (2, 6), 1), pair((12, 14), (14, 20), 1)]
    );
    assert_eq!(rng.ranges, [(1, 2), (0, 1), (0, 1), (0, 1)]);
    rng.assert_spent();
}

#[test]
fn short_target_and_random_document_segments() {
    // random() = 0.05 < 0.1: target = randint(2, 8) = 3. Sentence 14..20 (6 ≥ 3) alone: B from
    // document randint(0, 1) = 0, start randint(0, 3) = 2: 7..12 (5 ≥ 3 - 6). truncate 6 + 5:
    // A longer, 0.6 pops (14..19); tie to B, 0.4 drops front (8..12); A longer, 0.55 pops (14..18).
    // Sentence 20..21 is last: B from document 0 again, start 3: 12..14 (2 ≥ 3 - 1). 1 + 2 fits.
    let mut rng = Script::new(&[0.05, 0.6, 0.4, 0.55], &[3, 0, 2, 0, 3]);
    let pairs = pairs_from_document(&docs(), 1, &CFG, &mut rng);
    assert_eq!(
        pairs,
        [pair((14, 18), (8, 12), 1), pair((20, 21), (12, 14), 1)]
    );
    assert_eq!(rng.ranges, [(2, 8), (0, 1), (0, 3), (0, 1), (0, 3)]);
    rng.assert_spent();
}

#[test]
fn in_order_pair() {
    // One document of three 2-token sentences: target 8 never reached, the last sentence closes
    // the chunk; a_end = randint(1, 2) = 1; random() = 0.8 ≥ 0.5 keeps the order (label 0).
    let docs = Documents::from_sentence_lengths(&[vec![2, 2, 2]]);
    let mut rng = Script::new(&[0.9, 0.8], &[1]);
    let pairs = pairs_from_document(&docs, 0, &CFG, &mut rng);
    assert_eq!(pairs, [pair((0, 2), (2, 6), 0)]);
    rng.assert_spent();
}

#[test]
fn sentence_order_labels_are_balanced_and_pairs_fit() {
    // Long documents of many sentences: chunks of one sentence are rare, so labels are ~50/50.
    let lengths: Vec<Vec<usize>> = (0..200)
        .map(|d| (0..40).map(|s| 5 + (d * 7 + s * 13) % 20).collect())
        .collect();
    let docs = Documents::from_sentence_lengths(&lengths);
    let cfg = PairingConfig {
        max_seq_length: 128,
        short_seq_prob: 0.1,
    };
    let (mut ones, mut total) = (0, 0);
    for d in 0..docs.len() {
        let mut rng =
            albert_train::data::sub_rng(9, albert_train::data::Purpose::Pairing, 0, d as u64);
        for p in pairs_from_document(&docs, d, &cfg, &mut rng) {
            assert!(!p.a.is_empty() && !p.b.is_empty() && p.a.len() + p.b.len() <= 125);
            ones += p.sentence_order_label as usize;
            total += 1;
        }
    }
    let frac = ones as f64 / total as f64;
    assert!(
        total > 800 && (0.45..0.60).contains(&frac),
        "{ones}/{total}"
    );
}

#[test]
fn tiny_sequence_lengths_still_give_two_nonempty_segments() {
    use albert_train::data::{sub_rng, truncate_seq_pair, Purpose};
    for max_seq_length in [5, 6, 8, 16] {
        let cfg = PairingConfig {
            max_seq_length,
            short_seq_prob: 0.5,
        };
        for seed in 0..50u64 {
            let lengths: Vec<Vec<usize>> = (0..4)
                .map(|d| {
                    (0..1 + (seed as usize + d) % 5)
                        .map(|s| 1 + (s * 7 + d) % 9)
                        .collect()
                })
                .collect();
            let docs = Documents::from_sentence_lengths(&lengths);
            for d in 0..docs.len() {
                let mut rng = sub_rng(seed, Purpose::Pairing, 0, d as u64);
                for p in pairs_from_document(&docs, d, &cfg, &mut rng) {
                    assert!(
                        !p.a.is_empty()
                            && !p.b.is_empty()
                            && p.a.len() + p.b.len() <= max_seq_length - 3
                    );
                }
            }
        }
    }
    // Truncation alternates on the longer side only, so one token each survives.
    let (mut a, mut b) = (span(0, 9), span(9, 10));
    truncate_seq_pair(&mut a, &mut b, 2, &mut sub_rng(0, Purpose::Pairing, 0, 0));
    assert_eq!((a.len(), b.len()), (1, 1));
}
