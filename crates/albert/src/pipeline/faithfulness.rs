//! Faithfulness of attributions: do the word pieces a method ranks highest matter to the model? Deletion curves and
//! AOPC (Samek et al. 2017, "Evaluating the visualization of what a deep neural network has learned"; on text as
//! DeYoung et al. 2020, ERASER, use it), for a single-label sequence classifier.
//!
//! For a text `x` the model predicts class `c` with probability `p(c | x)`. A [`Ranking`] orders its `n` word pieces
//! (special tokens never enter it): a [`Method`]'s attributions toward `c`, signed, highest first (ties: the earlier
//! piece first), or a uniformly random order. At each level `q` of [`LEVELS`] (10, 20, 30, 40, 50 %) the first
//! `k = ceil(q n / 100)` pieces of the order ([`deletion_counts`]) are deleted: removed from the token sequence, which
//! gets shorter ([CLS] and [SEP] stay; nothing is replaced by `<pad>`), and the drop `p(c | x) - p(c | x minus them)`
//! is measured. AOPC is Samek et al.'s average over the perturbation steps `0..=L`, the step 0 (nothing deleted)
//! having drop 0: `AOPC = (drop_1 + ... + drop_L) / (L + 1)`, so with the 5 levels the sum of the 5 drops over 6
//! ([`aopc`]). The higher, the more the top-ranked pieces matter.
//!
//! The random ranking is drawn `random_seeds` times per text, seed `r` being the project's generator
//! ([`AlbertRng`]) seeded with `seed + r` on the stream numbered by the text's index (so a text's orders do not
//! depend on the texts before it), and its drops are averaged over the seeds. [`summarize`] gives the mean curves and
//! AOPCs over texts with percentile bootstrap intervals over texts, and each method's AOPC minus the random one's
//! (paired: the same texts on every resample).

use serde::{Serialize, Serializer};

use super::classify::ScoreFunction;
use super::explain::{self, classify_encoding, ExplainOptions, Method, Request, Target};
use super::{softmax, PipelineModel, Task};
use crate::error::{Error, Result};
use crate::rng::AlbertRng;
use crate::stats::{percentile_bootstrap, BootstrapOptions};
use crate::tokenizer::Encoding;

/// The deletion levels, in percent of a text's word pieces.
pub const LEVELS: [u32; 5] = [10, 20, 30, 40, 50];

/// What orders the word pieces for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// An attribution method's scores toward the predicted class, highest first.
    Method(Method),
    /// Uniformly random orders, the drops averaged over `seeds` of them.
    Random {
        /// Orders drawn per text.
        seeds: usize,
    },
}

impl Ranking {
    /// The ranking's name: the method's command-line name, or `random`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Method(m) => m.name(),
            Self::Random { .. } => "random",
        }
    }
}

impl Serialize for Ranking {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How the check runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FaithfulnessOptions {
    /// How the methods' attributions are computed (Integrated Gradients' steps, the maximum length).
    pub explain: ExplainOptions,
    /// The methods compared.
    pub methods: Vec<Method>,
    /// Random orders per text; 0 leaves the random ranking out.
    pub random_seeds: usize,
    /// The first random order's seed.
    pub seed: u64,
    /// Token sequences (the text and its deleted copies) per forward pass.
    pub batch_size: usize,
}

impl Default for FaithfulnessOptions {
    fn default() -> Self {
        Self {
            explain: ExplainOptions::default(),
            methods: vec![Method::IntegratedGradients, Method::GradXInput, Method::AttentionRollout],
            random_seeds: 10,
            seed: 0,
            batch_size: 32,
        }
    }
}

/// One ranking's deletion curve on one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The ranking.
    pub ranking: Ranking,
    /// A method's order: the positions (token indices) deleted at the last level, first deleted first; `None` for
    /// the random ranking (one order per seed).
    pub order: Option<Vec<usize>>,
    /// The drop in the predicted class's probability at each level of [`LEVELS`].
    pub drops: Vec<f64>,
    /// Samek et al.'s AOPC of the drops ([`aopc`]).
    pub aopc: f64,
}

/// One text's deletion curves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextCurves {
    /// The text's index in its data set (it keys the random orders).
    pub index: usize,
    /// The text.
    pub text: String,
    /// The predicted class.
    pub label: String,
    /// Its probability on the whole text, `p(c | x)`.
    pub probability: f64,
    /// Word pieces of the text (special tokens excluded).
    pub pieces: usize,
    /// Pieces deleted at each level ([`deletion_counts`]).
    pub deleted: Vec<usize>,
    /// Whether the text was cut to the maximum length (the check then runs on the cut text).
    pub truncated: bool,
    /// One curve per ranking: the methods in the order asked, then random.
    pub curves: Vec<Curve>,
}

/// The pieces deleted at each level from a text of `pieces` word pieces: `ceil(q pieces / 100)`, computed in
/// integers (so 30 % of 10 is 3, not 4).
pub fn deletion_counts(pieces: usize) -> Vec<usize> {
    LEVELS.iter().map(|&q| (q as usize * pieces).div_ceil(100)).collect()
}

/// Samek et al.'s AOPC of a deletion curve: the mean drop over the steps `0..=drops.len()`, step 0 (nothing deleted)
/// having drop 0.
pub fn aopc(drops: &[f64]) -> f64 {
    drops.iter().sum::<f64>() / (drops.len() + 1) as f64
}

/// The non-special positions ordered by `scores`, highest first; ties keep the earlier position first. A
/// non-finite score is refused.
pub fn ranked(scores: &[f32], special: &[bool]) -> Result<Vec<usize>> {
    if scores.len() != special.len() {
        return Err(Error::Input(format!("{} scores for {} tokens", scores.len(), special.len())));
    }
    if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
        return Err(Error::Input(format!("an attribution is {bad}; the ranking needs finite scores")));
    }
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !special[i]).collect();
    // A stable sort: equal scores stay in position order.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    Ok(order)
}

/// A uniformly random order of the non-special positions: the generator seeded with `seed`, on stream `index`.
pub fn random_order(special: &[bool], seed: u64, index: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..special.len()).filter(|&i| !special[i]).collect();
    AlbertRng::new(seed).fork(index as u64).shuffle(&mut order);
    order
}

/// `encoding` with the tokens at `positions` removed (the sequence gets shorter; every field follows).
pub fn without(encoding: &Encoding, positions: &[usize]) -> Encoding {
    let keep: Vec<usize> = (0..encoding.len()).filter(|i| !positions.contains(i)).collect();
    let pick = |v: &[u32]| keep.iter().map(|&i| v[i]).collect();
    Encoding {
        ids: pick(&encoding.ids),
        type_ids: pick(&encoding.type_ids),
        tokens: keep.iter().map(|&i| encoding.tokens[i].clone()).collect(),
        offsets: keep.iter().map(|&i| encoding.offsets[i]).collect(),
        special_tokens_mask: pick(&encoding.special_tokens_mask),
        attention_mask: pick(&encoding.attention_mask),
        overflowing: Vec::new(),
    }
}

/// The deletion curves of one text (the `index`-th of its data set) under `model`, a single-label sequence
/// classifier: each method's attributions toward the predicted class ([`explain::explain`]) and the random orders
/// rank the word pieces; the text and every deleted copy run through the model's inference path.
pub fn text_curves(model: &PipelineModel, index: usize, text: &str, opts: &FaithfulnessOptions) -> Result<TextCurves> {
    model.require(Task::Classify)?;
    let cfg = model.config();
    if ScoreFunction::for_config(cfg.problem_type, cfg.num_labels()) != ScoreFunction::Softmax {
        return Err(Error::Input(
            "the faithfulness check measures a softmax probability; this model is a regression, multi-label or one-output classifier".into(),
        ));
    }
    if opts.methods.is_empty() && opts.random_seeds == 0 {
        return Err(Error::Input("no ranking to check: give a method or random seeds".into()));
    }
    let max_length = model.max_length(opts.explain.max_length)?;
    let (encoding, truncated) = classify_encoding(model, text, None, max_length)?;
    let special: Vec<bool> = encoding.special_tokens_mask.iter().map(|&s| s == 1).collect();
    let pieces = special.iter().filter(|s| !**s).count();
    if pieces == 0 {
        return Err(Error::Input("the text has no word piece to delete".into()));
    }
    let request = Request::Classify { text, pair: None, label: None };
    let mut label: Option<(usize, String)> = None;
    let mut orders = Vec::new();
    for &method in &opts.methods {
        let explained = explain::explain(model, &request, method, &opts.explain, &mut |_| {})?;
        if explained.tokens != encoding.tokens {
            return Err(Error::Input("the explanation ran on other tokens than the check".into()));
        }
        let target = &explained.targets[0];
        let Target::Label { label: class } = target.attribution.target else {
            return Err(Error::Input("a classification request explained no label".into()));
        };
        label.get_or_insert((class, target.label.clone()));
        orders.push((Ranking::Method(method), ranked(&target.attribution.scores, &special)?));
    }
    let seeds: Vec<Vec<usize>> =
        (0..opts.random_seeds).map(|r| random_order(&special, opts.seed.wrapping_add(r as u64), index)).collect();
    let deleted = deletion_counts(pieces);
    // Row 0 the text, then per order (methods', then each seed's) one copy per level.
    let mut copies = vec![encoding.clone()];
    for order in orders.iter().map(|(_, o)| o).chain(&seeds) {
        copies.extend(deleted.iter().map(|&k| without(&encoding, &order[..k])));
    }
    let logits = logits_of(model, &copies, opts.batch_size)?;
    let (class, label) = match label {
        Some(l) => l,
        None => {
            let best = super::argmax(&logits[0]);
            (best, cfg.label_name(best))
        }
    };
    let p: Vec<f64> = logits.iter().map(|l| f64::from(softmax(l)[class])).collect();
    let levels = LEVELS.len();
    let drops_of = |copy: usize| -> Vec<f64> { (0..levels).map(|l| p[0] - p[1 + copy * levels + l]).collect() };
    let mut curves: Vec<Curve> = orders
        .into_iter()
        .enumerate()
        .map(|(m, (ranking, order))| {
            let drops = drops_of(m);
            Curve { ranking, order: Some(order[..deleted[levels - 1]].to_vec()), aopc: aopc(&drops), drops }
        })
        .collect();
    if !seeds.is_empty() {
        let first = opts.methods.len();
        let per_seed: Vec<Vec<f64>> = (0..seeds.len()).map(|r| drops_of(first + r)).collect();
        let drops: Vec<f64> = (0..levels).map(|l| per_seed.iter().map(|d| d[l]).sum::<f64>() / seeds.len() as f64).collect();
        curves.push(Curve { ranking: Ranking::Random { seeds: seeds.len() }, order: None, aopc: aopc(&drops), drops });
    }
    Ok(TextCurves { index, text: text.to_string(), label, probability: p[0], pieces, deleted, truncated, curves })
}

/// The head's logits for each encoding, in order, through [`PipelineModel::run_batches`]; non-finite ones refused.
fn logits_of(model: &PipelineModel, encodings: &[Encoding], batch_size: usize) -> Result<Vec<Vec<f32>>> {
    let refs: Vec<&Encoding> = encodings.iter().collect();
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); encodings.len()];
    model.run_batches(&refs, batch_size.max(1), |o, rows| {
        let logits = o.head.logits()?;
        for (row, &(i, _)) in rows.iter().enumerate() {
            out[i] = logits.get(row)?.to_dtype(candle_core::DType::F32)?.to_vec1()?;
        }
        Ok(())
    })?;
    if out.iter().flatten().any(|v| !v.is_finite()) {
        return Err(Error::Input("the model's output is not finite; the checkpoint's weights are likely corrupt".into()));
    }
    Ok(out)
}

/// A mean over texts with its percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The mean over all texts.
    pub mean: f64,
    /// The interval's lower end.
    pub low: f64,
    /// The interval's upper end.
    pub high: f64,
}

/// One ranking over a data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingSummary {
    /// The ranking.
    pub ranking: Ranking,
    /// Mean AOPC.
    pub aopc: Estimate,
    /// Mean drop at each level of [`LEVELS`].
    pub drops: Vec<Estimate>,
    /// Mean of the per-text AOPC minus the random ranking's; `None` for random itself, or without it.
    pub versus_random: Option<Estimate>,
}

/// The check over a data set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Texts checked.
    pub texts: usize,
    /// The deletion levels, in percent.
    pub levels: Vec<u32>,
    /// Coverage of the intervals.
    pub confidence: f64,
    /// Bootstrap resamples of the texts.
    pub resamples: usize,
    /// The bootstrap generator's seed.
    pub seed: u64,
    /// One entry per ranking, as in each text's curves.
    pub rankings: Vec<RankingSummary>,
}

/// Means over `texts` of every ranking's AOPC and drops, and of each method's AOPC minus the random one's, with
/// percentile bootstrap intervals over texts (every statistic on the same resamples).
pub fn summarize(texts: &[TextCurves], bootstrap: &BootstrapOptions) -> Result<Summary> {
    let first = texts.first().ok_or_else(|| Error::Input("no text to summarize".into()))?;
    let rankings: Vec<Ranking> = first.curves.iter().map(|c| c.ranking).collect();
    if let Some(t) = texts.iter().find(|t| t.curves.iter().map(|c| c.ranking).ne(rankings.iter().copied())) {
        return Err(Error::Input(format!("text {} was checked with other rankings than text {}", t.index, first.index)));
    }
    let random = first.curves.iter().position(|c| matches!(c.ranking, Ranking::Random { .. }));
    // Per text, per ranking: AOPC, the drops, then (for a method, with random) AOPC minus random's.
    let row = |t: &TextCurves| -> Vec<f64> {
        let mut values = Vec::new();
        for (j, c) in t.curves.iter().enumerate() {
            values.push(c.aopc);
            values.extend(&c.drops);
            if let Some(r) = random.filter(|&r| r != j) {
                values.push(c.aopc - t.curves[r].aopc);
            }
        }
        values
    };
    let rows: Vec<Vec<f64>> = texts.iter().map(row).collect();
    let means = |draw: &[usize]| -> Vec<f64> {
        (0..rows[0].len()).map(|j| draw.iter().map(|&i| rows[i][j]).sum::<f64>() / draw.len() as f64).collect()
    };
    let all: Vec<usize> = (0..texts.len()).collect();
    let mut estimates = means(&all)
        .into_iter()
        .zip(percentile_bootstrap(texts.len(), bootstrap, means)?)
        .map(|(mean, i)| Estimate { mean, low: i.low, high: i.high });
    let mut next = || estimates.next().expect("one estimate per statistic");
    let summaries = rankings
        .iter()
        .enumerate()
        .map(|(j, &ranking)| RankingSummary {
            ranking,
            aopc: next(),
            drops: LEVELS.iter().map(|_| next()).collect(),
            versus_random: random.filter(|&r| r != j).map(|_| next()),
        })
        .collect();
    Ok(Summary {
        texts: texts.len(),
        levels: LEVELS.to_vec(),
        confidence: bootstrap.confidence,
        resamples: bootstrap.resamples,
        seed: bootstrap.seed,
        rankings: summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ceil(q n / 100) by hand: 10 pieces give 1..5; 7 give ceil(0.7, 1.4, 2.1, 2.8, 3.5) = 1, 2, 3, 3, 4; one piece is
    /// deleted at every level; 30 % of 10 is exactly 3 (0.3 * 10 in floating point would round up to 4).
    #[test]
    fn deletion_counts_round_up_in_integers() {
        assert_eq!(deletion_counts(10), [1, 2, 3, 4, 5]);
        assert_eq!(deletion_counts(7), [1, 2, 3, 3, 4]);
        assert_eq!(deletion_counts(1), [1, 1, 1, 1, 1]);
        assert_eq!(deletion_counts(20), [2, 4, 6, 8, 10]);
    }

    /// A toy curve: drops 0.1..0.5 sum to 1.5, over 6 steps (step 0's drop is 0): 0.25, not the plain mean 0.3.
    #[test]
    fn aopc_averages_over_the_steps_from_zero() {
        assert!((aopc(&[0.1, 0.2, 0.3, 0.4, 0.5]) - 0.25).abs() < 1e-12);
        assert_eq!(aopc(&[]), 0.0);
    }

    /// [CLS] a b c d [SEP] with scores 0, 0.5, -1, 0.5, 2, 9: d first, then a and c (tied: a, the earlier), then b;
    /// the specials never, whatever their scores. Deleting d and a from the ids keeps [CLS] b c [SEP].
    #[test]
    fn ranking_and_deletion_by_hand() {
        let special = [true, false, false, false, false, true];
        let order = ranked(&[0.0, 0.5, -1.0, 0.5, 2.0, 9.0], &special).unwrap();
        assert_eq!(order, [4, 1, 3, 2]);
        let encoding = Encoding {
            ids: vec![2, 10, 11, 12, 13, 3],
            type_ids: vec![0; 6],
            tokens: ["[CLS]", "a", "b", "c", "d", "[SEP]"].map(String::from).to_vec(),
            offsets: vec![(0, 0), (0, 1), (2, 3), (4, 5), (6, 7), (0, 0)],
            special_tokens_mask: vec![1, 0, 0, 0, 0, 1],
            attention_mask: vec![1; 6],
            overflowing: Vec::new(),
        };
        let cut = without(&encoding, &order[..2]);
        assert_eq!(cut.ids, [2, 11, 12, 3]);
        assert_eq!(cut.tokens, ["[CLS]", "b", "c", "[SEP]"]);
        assert_eq!(cut.offsets, [(0, 0), (2, 3), (4, 5), (0, 0)]);
        assert_eq!(cut.special_tokens_mask, [1, 0, 0, 1]);
        assert!(ranked(&[0.0, f32::NAN], &[false, false]).is_err());
        assert!(ranked(&[0.0], &[false, false]).is_err());
    }

    /// A random order is a permutation of the non-special positions, the same for the same seed and index, and
    /// differs across indices (with 8 pieces, the chance of two equal shuffles is 1 in 40320).
    #[test]
    fn random_orders_are_seeded_permutations() {
        let special = [true, false, false, false, false, false, false, false, false, true];
        let a = random_order(&special, 3, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (1..9).collect::<Vec<_>>());
        assert_eq!(random_order(&special, 3, 0), a);
        assert_ne!(random_order(&special, 3, 1), a);
    }

    fn text(index: usize, aopcs: [f64; 2]) -> TextCurves {
        let curve = |ranking, aopc| Curve { ranking, order: None, drops: vec![aopc * 1.2; 5], aopc };
        TextCurves {
            index,
            text: String::new(),
            label: "positive".into(),
            probability: 0.9,
            pieces: 10,
            deleted: deletion_counts(10),
            truncated: false,
            curves: vec![curve(Ranking::Method(Method::GradXInput), aopcs[0]), curve(Ranking::Random { seeds: 2 }, aopcs[1])],
        }
    }

    /// Two texts, method AOPCs 0.3 and 0.5, random 0.1 and 0.1: means 0.4 and 0.1, the paired difference 0.3; every
    /// resample holds texts of the two, so the method's interval lies in [0.3, 0.5] and random's is [0.1, 0.1]. The
    /// same seed gives the same intervals.
    #[test]
    fn summaries_by_hand_and_repeatable() {
        let texts = [text(0, [0.3, 0.1]), text(1, [0.5, 0.1])];
        let opts = BootstrapOptions { resamples: 200, ..BootstrapOptions::default() };
        let s = summarize(&texts, &opts).unwrap();
        let (m, r) = (&s.rankings[0], &s.rankings[1]);
        assert!((m.aopc.mean - 0.4).abs() < 1e-12 && (r.aopc.mean - 0.1).abs() < 1e-12);
        assert!((m.drops[4].mean - 0.48).abs() < 1e-12);
        let diff = m.versus_random.unwrap();
        assert!((diff.mean - 0.3).abs() < 1e-12 && diff.low >= 0.2 - 1e-12 && diff.high <= 0.4 + 1e-12);
        assert!(m.aopc.low >= 0.3 - 1e-12 && m.aopc.high <= 0.5 + 1e-12 && m.aopc.low < m.aopc.high);
        assert!((r.aopc.low - 0.1).abs() < 1e-12 && (r.aopc.high - 0.1).abs() < 1e-12 && r.versus_random.is_none());
        assert_eq!(summarize(&texts, &opts).unwrap(), s);
        assert!(summarize(&[], &opts).is_err());
        let mut other = text(2, [0.1, 0.1]);
        other.curves.pop();
        assert!(summarize(&[texts[0].clone(), other], &opts).is_err());
    }
}
