//! The project's own seeded random number generator.
//!
//! candle's CPU random ops draw from `thread_rng` and cannot be seeded, so every random draw of the project
//! (initialization, dropout, masking, shuffling) comes from here. Its state is three numbers that can be saved with a
//! checkpoint and restored, so a resumed run draws exactly what the uninterrupted run would have drawn.

use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Tensor};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A seeded, reproducible, saveable random number generator (ChaCha8).
#[derive(Debug, Clone)]
pub struct AlbertRng {
    seed: u64,
    inner: ChaCha8Rng,
    /// While set, dropout masks are drawn per sample instead of from the stream (see [`AlbertRng::set_sample_keys`]).
    samples: Option<SampleKeys>,
}

/// Per-sample dropout: one key per batch row, and the number of masks drawn so far in this forward pass.
#[derive(Debug, Clone)]
struct SampleKeys {
    keys: Vec<u64>,
    draws: u64,
}

/// Everything needed to continue an [`AlbertRng`] exactly where it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The seed the generator was created from.
    pub seed: u64,
    /// The ChaCha stream (0 unless derived with [`AlbertRng::fork`]).
    pub stream: u64,
    /// Position in the stream, in 32-bit words (a string, since JSON numbers cannot hold a u128 exactly).
    #[serde(with = "u128_string")]
    pub word_pos: u128,
}

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl AlbertRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, inner: ChaCha8Rng::seed_from_u64(seed), samples: None }
    }

    /// An independent generator for sub-task `stream` (e.g. one per epoch), unaffected by draws on `self`.
    pub fn fork(&self, stream: u64) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(self.seed);
        inner.set_stream(stream);
        Self { seed: self.seed, inner, samples: None }
    }

    /// The current state, to save with a checkpoint.
    pub fn state(&self) -> RngState {
        RngState { seed: self.seed, stream: self.inner.get_stream(), word_pos: self.inner.get_word_pos() }
    }

    /// A generator continuing exactly from a saved state.
    pub fn from_state(state: RngState) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(state.seed);
        inner.set_stream(state.stream);
        inner.set_word_pos(state.word_pos);
        Self { seed: state.seed, inner, samples: None }
    }

    /// A tensor of normal draws with mean 0 and standard deviation `std`.
    pub fn normal(&mut self, shape: &[usize], std: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let values: Vec<f64> =
            (0..n).map(|_| std * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut self.inner)).collect();
        Ok(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
    }

    /// Draws dropout masks per sample until called with `None`: row `r` of every mask (the batch is the outermost
    /// dimension) comes from a generator of its own, seeded with `keys[r]` on a stream numbered by the mask's place
    /// in the forward pass. A sample's masks then depend on its key alone, not on which batch or process it is in,
    /// so two processes of 8 samples draw what one process of 16 draws. The stream itself is left untouched.
    pub fn set_sample_keys(&mut self, keys: Option<Vec<u64>>) {
        self.samples = keys.map(|keys| SampleKeys { keys, draws: 0 });
    }

    /// A dropout mask: 0 with probability `p`, else `1 / (1 - p)` (inverted dropout, as torch does).
    pub fn dropout_mask(&mut self, shape: &[usize], p: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let keep = (1.0 / (1.0 - p)) as f32;
        let draw = |rng: &mut ChaCha8Rng| if rng.random::<f64>() < p { 0.0 } else { keep };
        let values: Vec<f32> = match &mut self.samples {
            None => (0..n).map(|_| draw(&mut self.inner)).collect(),
            Some(samples) => {
                let rows = samples.keys.len();
                if rows == 0 || n % rows != 0 {
                    return Err(crate::Error::Input(format!(
                        "a dropout mask of shape {shape:?} cannot be split into the batch's {rows} samples"
                    )));
                }
                let stream = samples.draws;
                samples.draws += 1;
                samples
                    .keys
                    .iter()
                    .flat_map(|&key| {
                        let mut rng = ChaCha8Rng::seed_from_u64(key);
                        rng.set_stream(stream);
                        (0..n / rows).map(move |_| draw(&mut rng)).collect::<Vec<_>>()
                    })
                    .collect()
            }
        };
        Ok(Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?)
    }

    /// A uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.inner.random_range(0..n)
    }

    /// A uniform float in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.inner.random::<f64>()
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

impl RngCore for AlbertRng {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest)
    }
}

/// A generator shared by the dropout layers of one model, so the trainer can save and restore its state.
pub type SharedRng = Arc<Mutex<AlbertRng>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip_continues_the_stream() {
        let mut a = AlbertRng::new(7);
        for _ in 0..13 {
            a.next_u32();
        }
        let saved = serde_json::to_string(&a.state()).unwrap();
        let expected: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let mut b = AlbertRng::from_state(serde_json::from_str(&saved).unwrap());
        let got: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(expected, got);
    }

    #[test]
    fn forks_are_independent_and_reproducible() {
        let base = AlbertRng::new(1);
        let (mut e0, mut e1) = (base.fork(0), base.fork(1));
        assert_ne!(e0.next_u64(), e1.next_u64());
        assert_eq!(AlbertRng::new(1).fork(1).next_u64(), AlbertRng::new(1).fork(1).next_u64());
    }

    #[test]
    fn sample_keyed_masks_depend_on_the_sample_alone() {
        let p = 0.5;
        let mask = |rng: &mut AlbertRng, shape: &[usize]| -> Vec<f32> {
            rng.dropout_mask(shape, p, DType::F32, &Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap()
        };
        // One batch of 4 samples against two batches of 2 with the same keys, two masks each.
        let mut whole = AlbertRng::new(1);
        whole.set_sample_keys(Some(vec![11, 12, 13, 14]));
        let (w1, w2) = (mask(&mut whole, &[4, 3, 5]), mask(&mut whole, &[4, 6]));
        let mut halves = (Vec::new(), Vec::new());
        for keys in [vec![11, 12], vec![13, 14]] {
            let mut part = AlbertRng::new(99);
            part.set_sample_keys(Some(keys));
            halves.0.extend(mask(&mut part, &[2, 3, 5]));
            halves.1.extend(mask(&mut part, &[2, 6]));
        }
        assert_eq!((w1.clone(), w2.clone()), halves);
        // Different samples and different places in the pass get different masks; the stream is not used.
        assert_ne!(w1[..15], w1[15..30]);
        assert_ne!(w1[..6], w2[..6]);
        let before = whole.state();
        whole.set_sample_keys(None);
        assert_eq!(before, whole.state());
        // A mask whose rows are not the batch's samples is an error, not a silent mismatch.
        whole.set_sample_keys(Some(vec![1, 2, 3]));
        assert!(whole.dropout_mask(&[4, 2], p, DType::F32, &Device::Cpu).is_err());
    }

    #[test]
    fn normal_draws_have_the_requested_spread() {
        let mut r = AlbertRng::new(3);
        let t = r.normal(&[200_000], 0.02, DType::F64, &Device::Cpu).unwrap();
        let v: Vec<f64> = t.to_vec1().unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(mean.abs() < 2e-4, "{mean}");
        assert!((std - 0.02).abs() < 2e-4, "{std}");
    }
}
