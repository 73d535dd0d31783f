//! Seeded randomness for the data pipeline.
//!
//! Every random decision is drawn from a ChaCha8 generator whose 256-bit key is
//! `(seed, purpose, epoch, index)`. No generator state has to be saved for resume: the position
//! `(epoch, batch)` fully determines every draw, and independent keys give independent streams.

use rand::RngCore;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a derived generator is used for; part of its key, so uses never share a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Segment pairing of one document (index = document).
    Pairing = 1,
    /// Shuffling an epoch's examples (index = 0).
    Shuffle = 2,
    /// Masking one example (index = position of the example in its epoch).
    Masking = 3,
    /// Choosing the held-out documents (epoch = index = 0).
    HeldOut = 4,
    /// Cloze question drawing (index = paragraph; `u64::MAX`: the paragraph order).
    Cloze = 5,
    /// Dropout masks of one training sample (index = position of the example in its epoch, or of the item in the
    /// data set): a key for [`albert::AlbertRng::set_sample_keys`].
    Dropout = 6,
}

/// The generator for `(seed, purpose, epoch, index)`.
///
/// ```
/// use albert_train::data::{sub_rng, Draw, Purpose};
/// let mut a = sub_rng(42, Purpose::Masking, 3, 7);
/// let mut b = sub_rng(42, Purpose::Masking, 3, 7);
/// assert_eq!(a.uniform(), b.uniform());
/// let mut c = sub_rng(42, Purpose::Masking, 4, 7);
/// assert_ne!(sub_rng(42, Purpose::Masking, 3, 7).uniform(), c.uniform());
/// ```
pub fn sub_rng(seed: u64, purpose: Purpose, epoch: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, word) in key
        .chunks_exact_mut(8)
        .zip([seed, purpose as u64, epoch, index])
    {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// The random draws the pipeline makes, in the forms Python's `random.Random` offers them.
///
/// Implemented for every [`RngCore`]; tests implement it with scripted values to check
/// hand-worked examples draw by draw.
pub trait Draw {
    /// Uniform in `[0, 1)`, as `random.random()`.
    fn uniform(&mut self) -> f64;
    /// Uniform integer in `lo..=hi`, as `random.randint(lo, hi)`.
    fn int_inclusive(&mut self, lo: usize, hi: usize) -> usize;

    /// Fisher-Yates shuffle, as `random.shuffle`.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.int_inclusive(0, i);
            items.swap(i, j);
        }
    }
}

impl<R: RngCore + ?Sized> Draw for R {
    fn uniform(&mut self) -> f64 {
        // 53 random bits, as CPython's random().
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn int_inclusive(&mut self, lo: usize, hi: usize) -> usize {
        assert!(lo <= hi, "int_inclusive({lo}, {hi}): empty range");
        rand::Rng::random_range(self, lo..=hi)
    }
}

/// The dropout key of sample `index` of `epoch` (see [`Purpose::Dropout`]).
pub fn dropout_key(seed: u64, epoch: u64, index: u64) -> u64 {
    use rand::RngCore;
    sub_rng(seed, Purpose::Dropout, epoch, index).next_u64()
}
