//! Batches from prepared data: layout, reproducibility from (seed, epoch, batch), dynamic vs
//! static masks, length groups, the fixed held-out set.

mod common;

use albert_train::data::{
    prepare_corpus, BatchConfig, DataError, MaskMode, PrepareConfig, PretrainData, Split,
    IGNORE_INDEX,
};
use candle_core::{DType, Device};
use common::{WordVocab, SPECIAL};

/// 30 documents of 25 sentences of 3-9 words, in a fresh prepared directory.
fn prepared(max_seq_length: usize) -> (tempfile::TempDir, WordVocab) {
    let dir = tempfile::tempdir().unwrap();
    let words: Vec<String> = (0..200).map(|i| format!("W{i}")).collect();
    let mut text = String::new();
    for d in 0..30 {
        for s in 0..25 {
            let n = 3 + (d * 5 + s * 3) % 7;
            let sentence: Vec<&str> = (0..n)
                .map(|k| words[(d * 31 + s * 7 + k * 3) % 200].as_str())
                .collect();
            text.push_str(&sentence.join(" "));
            text.push_str(". ");
        }
        text.push_str("\n\n");
    }
    std::fs::write(dir.path().join("c.txt"), text).unwrap();
    let vocab = WordVocab::new(words.iter().flat_map(|w| [w.clone(), format!("{w}.")]));
    let mut cfg = PrepareConfig::new(
        vec![dir.path().join("c.txt")],
        dir.path().join("out"),
        "words",
    );
    cfg.max_seq_length = max_seq_length;
    cfg.heldout_fraction = 0.1;
    prepare_corpus(&cfg, &vocab).unwrap();
    (dir, vocab)
}

fn open(dir: &tempfile::TempDir, split: Split, cfg: BatchConfig) -> PretrainData {
    PretrainData::open(&dir.path().join("out"), split, cfg).unwrap()
}

#[test]
fn batches_have_the_documented_layout() {
    let (dir, _) = prepared(64);
    let data = open(&dir, Split::Train, BatchConfig::default());
    assert_eq!((data.max_seq_length(), data.max_predictions()), (64, 10));
    let plan = data.epoch(0);
    let b = data.batch(&plan, 1, 8).unwrap();
    assert_eq!(b.batch_size, 8);
    assert!(b.seq_len <= 64);
    for r in 0..8 {
        let row = |v: &[u32]| v[r * b.seq_len..(r + 1) * b.seq_len].to_vec();
        let (ids, types, mask) = (
            row(&b.input_ids),
            row(&b.token_type_ids),
            row(&b.attention_mask),
        );
        let labels = &b.labels[r * b.seq_len..(r + 1) * b.seq_len];
        let len = mask.iter().filter(|&&m| m == 1).count();
        assert!(
            mask[..len].iter().all(|&m| m == 1) && ids[len..].iter().all(|&i| i == SPECIAL.pad)
        );
        // Restore the originals at predicted positions: [CLS] A [SEP] B [SEP].
        let original: Vec<u32> = (0..len)
            .map(|p| {
                if labels[p] == IGNORE_INDEX {
                    ids[p]
                } else {
                    labels[p] as u32
                }
            })
            .collect();
        let seps: Vec<usize> = (0..len).filter(|&p| original[p] == SPECIAL.sep).collect();
        assert_eq!(original[0], SPECIAL.cls);
        assert_eq!(seps.len(), 2);
        assert_eq!(seps[1], len - 1);
        assert!(
            types[..=seps[0]].iter().all(|&t| t == 0)
                && types[seps[0] + 1..len].iter().all(|&t| t == 1)
        );
        assert!(types[len..].iter().all(|&t| t == 0));
        // Masked positions and labels agree; structural tokens are never predicted.
        let preds: Vec<usize> = (0..len).filter(|&p| labels[p] != IGNORE_INDEX).collect();
        let mp = &b.masked_positions[r * b.max_predictions..(r + 1) * b.max_predictions];
        let mw = &b.masked_weights[r * b.max_predictions..(r + 1) * b.max_predictions];
        let mi = &b.masked_ids[r * b.max_predictions..(r + 1) * b.max_predictions];
        assert_eq!(preds.len(), mw.iter().filter(|&&w| w == 1.0).count());
        for (k, &p) in preds.iter().enumerate() {
            assert_eq!((mp[k] as usize, mi[k] as i64), (p, labels[p]));
            assert!(p != 0 && !seps.contains(&p));
        }
        assert!(b.sentence_order_label[r] <= 1);
    }
    let t = b.to_tensors(&Device::Cpu).unwrap();
    assert_eq!(t.input_ids.dims(), [8, b.seq_len]);
    assert_eq!(
        (
            t.labels.dtype(),
            t.input_ids.dtype(),
            t.masked_weights.dtype()
        ),
        (DType::I64, DType::U32, DType::F32)
    );
    assert_eq!(t.masked_positions.dims(), [8, b.max_predictions]);
    assert_eq!(t.sentence_order_label.dims(), [8]);

    let padded = open(
        &dir,
        Split::Train,
        BatchConfig {
            pad_to_max_length: true,
            ..BatchConfig::default()
        },
    );
    assert_eq!(padded.batch(&padded.epoch(0), 0, 4).unwrap().seq_len, 64);
}

#[test]
fn in_order_pairs_are_consecutive_text_of_one_document() {
    let (dir, _) = prepared(64);
    let data = open(&dir, Split::Train, BatchConfig::default());
    let docs = data.split().documents();
    let doc_of = |pos: u64| {
        (0..docs.len()).find(|&d| {
            let s = docs.document(d);
            s[0].start <= pos && pos < s[s.len() - 1].end
        })
    };
    let plan = data.epoch(0);
    let mut ones = 0;
    for p in plan.pairs() {
        ones += p.sentence_order_label;
        if p.sentence_order_label == 0 {
            assert!(
                p.a.end <= p.b.start && doc_of(p.a.start) == doc_of(p.b.start),
                "{p:?}"
            );
        }
        assert!(p.a.len() + p.b.len() <= 61);
    }
    let frac = ones as f64 / plan.num_examples() as f64;
    assert!(
        (0.4..0.65).contains(&frac),
        "sentence-order label 1 fraction {frac}"
    );
}

#[test]
fn same_seed_same_batches_new_epoch_new_masks() {
    let (dir, _) = prepared(64);
    let a = open(&dir, Split::Train, BatchConfig::default());
    let b = open(&dir, Split::Train, BatchConfig::default()); // as after a restart
    let (pa, pb) = (a.epoch(3), b.epoch(3));
    assert_eq!(pa, pb);
    assert_eq!(a.batch(&pa, 2, 16).unwrap(), b.batch(&pb, 2, 16).unwrap());
    let e4 = a.epoch(4);
    assert_ne!(
        a.batch(&pa, 0, 16).unwrap().labels,
        a.batch(&e4, 0, 16).unwrap().labels
    );
    let other_seed = open(
        &dir,
        Split::Train,
        BatchConfig {
            seed: 7,
            ..BatchConfig::default()
        },
    );
    assert_ne!(other_seed.epoch(3).pairs(), pa.pairs());
}

#[test]
fn static_masks_repeat_every_dupe_factor_epochs() {
    let (dir, _) = prepared(64);
    let cfg = BatchConfig {
        mask_mode: MaskMode::Static { dupe_factor: 2 },
        ..BatchConfig::default()
    };
    let data = open(&dir, Split::Train, cfg);
    let batch = |e| data.batch(&data.epoch(e), 0, 16).unwrap();
    assert_eq!(batch(0), batch(2));
    assert_eq!(batch(1), batch(5));
    assert_ne!(batch(0).labels, batch(1).labels);
}

#[test]
fn length_groups_reorder_the_epoch_and_pad_less() {
    let (dir, _) = prepared(64);
    let plain = open(&dir, Split::Train, BatchConfig::default());
    let cfg = BatchConfig {
        length_groups: Some(4),
        ..BatchConfig::default()
    };
    let grouped = open(&dir, Split::Train, cfg);
    let (p, g) = (plain.epoch(1), grouped.epoch(1));
    assert_eq!(g, open(&dir, Split::Train, cfg).epoch(1));
    assert_ne!(p.pairs(), g.pairs());
    let key = |x: &albert_train::data::SegmentPair| {
        (x.a.start, x.a.end, x.b.start, x.b.end, x.sentence_order_label)
    };
    let sorted = |plan: &albert_train::data::EpochPlan| {
        let mut keys: Vec<_> = plan.pairs().iter().map(key).collect();
        keys.sort();
        keys
    };
    assert_eq!(sorted(&p), sorted(&g), "grouping only reorders the epoch's pairs");
    // Rows of the batches as padded, summed over the epoch.
    let padded = |data: &PretrainData, plan: &albert_train::data::EpochPlan| -> usize {
        (0..plan.num_batches(4))
            .map(|i| {
                let b = data.batch(plan, i, 4).unwrap();
                b.batch_size * b.seq_len
            })
            .sum()
    };
    let (before, after) = (padded(&plain, &p), padded(&grouped, &g));
    assert!(after < before, "{after} padded positions grouped, {before} shuffled");
}

#[test]
fn heldout_batches_are_fixed() {
    let (dir, _) = prepared(64);
    let a = open(&dir, Split::HeldOut, BatchConfig::default());
    let b = open(
        &dir,
        Split::HeldOut,
        BatchConfig {
            seed: 99,
            length_groups: Some(8),
            ..BatchConfig::default()
        },
    );
    assert_eq!(a.split().documents().len(), 3);
    let (p0, p7) = (a.epoch(0), b.epoch(7));
    assert_eq!(p0.pairs(), p7.pairs());
    for i in 0..p0.num_batches(8) {
        assert_eq!(a.batch(&p0, i, 8).unwrap(), b.batch(&p7, i, 8).unwrap());
    }
}

#[test]
fn sequence_length_checked_against_the_model() {
    let (dir, _) = prepared(64);
    let data = open(&dir, Split::Train, BatchConfig::default());
    let m = data.split().manifest();
    assert!(m.check_model_positions(512).is_ok());
    let err = m.check_model_positions(32).unwrap_err();
    assert!(matches!(
        err,
        DataError::SeqLengthExceedsModel {
            data: 64,
            model: 32
        }
    ));
    assert!(err.to_string().contains("--max-seq-length 32"));
    let plan = data.epoch(0);
    assert!(data.batch(&plan, plan.num_batches(8), 8).is_err());
}
