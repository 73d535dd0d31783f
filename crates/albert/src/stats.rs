//! The percentile bootstrap that the probes' intervals share (CrowS-Pairs' score, the faithfulness check's AOPC).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::rng::AlbertRng;

/// A percentile bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end, in the statistic's units (percent for CrowS-Pairs).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Its coverage (0.95).
    pub confidence: f64,
    /// Resamples drawn.
    pub resamples: usize,
    /// The generator's seed.
    pub seed: u64,
}

/// How the bootstrap interval is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    /// Resamples of the items, each as many items as the data, drawn with replacement.
    pub resamples: usize,
    /// Coverage of the interval, in (0, 1).
    pub confidence: f64,
    /// Seed of the project's generator ([`AlbertRng`]): the same seed gives the same interval.
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self { resamples: 1000, confidence: 0.95, seed: 0 }
    }
}

/// Percentile bootstrap intervals of the statistics `statistics` computes from a sample of `n` items (given the
/// items' indices, repeats included): `resamples` draws of `n` indices with replacement, every statistic computed on
/// the same draw (so differences between statistics are paired), each interval's ends the (1 - confidence) / 2 and
/// (1 + confidence) / 2 quantiles of its resampled values, interpolated linearly between order statistics as numpy's
/// `percentile` does. `statistics` must return as many values on every call.
pub fn percentile_bootstrap(
    n: usize,
    opts: &BootstrapOptions,
    mut statistics: impl FnMut(&[usize]) -> Vec<f64>,
) -> Result<Vec<Interval>> {
    if n == 0 || opts.resamples == 0 {
        return Err(Error::Input("a bootstrap interval needs at least one item and one resample".into()));
    }
    if !(opts.confidence > 0.0 && opts.confidence < 1.0) {
        return Err(Error::Input(format!("the confidence {} is not between 0 and 1", opts.confidence)));
    }
    let mut rng = AlbertRng::new(opts.seed);
    let mut draw = vec![0; n];
    // [statistic][resample]
    let mut values: Vec<Vec<f64>> = Vec::new();
    for r in 0..opts.resamples {
        draw.iter_mut().for_each(|i| *i = rng.below(n));
        let stats = statistics(&draw);
        if r == 0 {
            values = vec![Vec::with_capacity(opts.resamples); stats.len()];
        }
        if stats.len() != values.len() {
            return Err(Error::Input(format!("a bootstrap statistic gave {} values, then {}", values.len(), stats.len())));
        }
        values.iter_mut().zip(stats).for_each(|(v, s)| v.push(s));
    }
    Ok(values
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            let quantile = |q: f64| {
                let pos = q * (v.len() - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
            };
            Interval {
                low: quantile((1.0 - opts.confidence) / 2.0),
                high: quantile((1.0 + opts.confidence) / 2.0),
                confidence: opts.confidence,
                resamples: opts.resamples,
                seed: opts.seed,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A constant sample has a zero-width interval; the mean of a sample of 0s and 1s stays in [0, 1]; a difference of
    /// a statistic with itself is exactly 0 on every resample (the draws are shared); the seed makes it repeatable.
    #[test]
    fn intervals_are_paired_and_repeatable() {
        let x: Vec<f64> = (0..40).map(|i| f64::from(i % 2)).collect();
        let mean = |idx: &[usize]| idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
        let opts = BootstrapOptions::default();
        let got = percentile_bootstrap(x.len(), &opts, |idx| vec![mean(idx), mean(idx) - mean(idx), 3.0]).unwrap();
        assert!(got[0].low > 0.0 && got[0].low < 0.5 && got[0].high > 0.5 && got[0].high < 1.0, "{got:?}");
        assert_eq!((got[1].low, got[1].high), (0.0, 0.0));
        assert_eq!((got[2].low, got[2].high), (3.0, 3.0));
        assert_eq!(percentile_bootstrap(x.len(), &opts, |idx| vec![mean(idx), 0.0, 3.0]).unwrap()[0], got[0]);
        assert!(percentile_bootstrap(0, &opts, |_| vec![0.0]).is_err());
        assert!(percentile_bootstrap(3, &BootstrapOptions { confidence: 1.0, ..opts }, |_| vec![0.0]).is_err());
    }

    /// Numpy's linear interpolation by hand: with 5 resamples the 2.5% quantile sits at position 0.1 between the two
    /// smallest values, the 97.5% one at 3.9 between the two largest. One item, so every resample is that item:
    /// a statistic counting calls gives 0, 1, 2, 3, 4 -> 0.1 and 3.9.
    #[test]
    fn quantiles_interpolate_as_numpy() {
        let mut calls = 0.0;
        let opts = BootstrapOptions { resamples: 5, ..BootstrapOptions::default() };
        let got = percentile_bootstrap(1, &opts, |_| {
            calls += 1.0;
            vec![calls - 1.0]
        })
        .unwrap();
        assert!((got[0].low - 0.1).abs() < 1e-12 && (got[0].high - 3.9).abs() < 1e-12, "{got:?}");
    }
}
