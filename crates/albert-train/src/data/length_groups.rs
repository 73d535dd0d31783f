//! Length-grouped batches: batches pad to their longest row, so rows of similar length in one batch waste less
//! compute on padding (transformers' `group_by_length`).

use super::rng::Draw;

/// Batches per group sorted together; transformers' `LengthGroupedSampler` uses 50. Larger groups pad less but put
/// rows that were far apart in the shuffled order into one batch.
pub const GROUP_BATCHES: usize = 50;

/// Reorders shuffled `items` so that each run of `batch_size` holds rows of similar length.
///
/// Every [`GROUP_BATCHES`] × `batch_size` consecutive items are sorted by `len` (longest first) and cut into
/// batches, and the group's full batches are shuffled with `rng`, so that a run of steps does not go from long
/// rows to short ones. The order of groups is kept, the items are only permuted, and a last partial batch stays
/// last.
///
/// ```
/// use albert_train::data::{group_by_length, sub_rng, Purpose};
/// let mut rows = vec![9, 1, 8, 2, 7, 3];
/// group_by_length(&mut rows, |&n| n, 2, &mut sub_rng(0, Purpose::Shuffle, 0, 0));
/// let mut batches: Vec<Vec<usize>> = rows.chunks(2).map(|b| b.to_vec()).collect();
/// batches.sort();
/// assert_eq!(batches, [[2, 1], [7, 3], [9, 8]]);
/// ```
pub fn group_by_length<T: Clone, D: Draw>(
    items: &mut [T],
    len: impl Fn(&T) -> usize,
    batch_size: usize,
    rng: &mut D,
) {
    let batch_size = batch_size.max(1);
    for group in items.chunks_mut(GROUP_BATCHES * batch_size) {
        group.sort_by_key(|item| std::cmp::Reverse(len(item)));
        let full = group.len() / batch_size;
        let mut order: Vec<usize> = (0..full).collect();
        rng.shuffle(&mut order);
        let sorted = group.to_vec();
        for (slot, &b) in order.iter().enumerate() {
            group[slot * batch_size..(slot + 1) * batch_size]
                .clone_from_slice(&sorted[b * batch_size..(b + 1) * batch_size]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{sub_rng, Purpose};

    /// Rows padded to each batch's longest, summed over batches.
    fn padded(lens: &[usize], batch_size: usize) -> usize {
        lens.chunks(batch_size)
            .map(|b| b.iter().max().unwrap() * b.len())
            .sum()
    }

    #[test]
    fn permutes_and_keeps_groups_and_the_partial_batch() {
        // 2 groups of 50 batches of 3, then a partial batch of 2 in the second group.
        let n = 2 * GROUP_BATCHES * 3 + 2;
        let lens: Vec<usize> = (0..n).map(|i| (i * 37) % 101).collect();
        let mut rows: Vec<usize> = (0..n).collect();
        group_by_length(&mut rows, |&r| lens[r], 3, &mut sub_rng(7, Purpose::Shuffle, 0, 0));
        let mut seen = rows.clone();
        seen.sort();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // Each group holds the same rows as before.
        let group = GROUP_BATCHES * 3;
        for (g, chunk) in rows.chunks(group).enumerate() {
            assert!(chunk.iter().all(|&r| r / group == g), "group {g} mixes rows of other groups");
        }
        // The partial batch holds the two shortest rows of the last group.
        let mut shortest: Vec<usize> = (2 * group..n).map(|r| lens[r]).collect();
        shortest.sort();
        let mut tail: Vec<usize> = rows[n - 2..].iter().map(|&r| lens[r]).collect();
        tail.sort();
        assert_eq!(tail, shortest[..2]);
    }

    #[test]
    fn batches_pad_less_and_the_order_is_shuffled() {
        let lens: Vec<usize> = (0..GROUP_BATCHES * 4).map(|i| 1 + (i * 7919) % 128).collect();
        let mut rows: Vec<usize> = (0..lens.len()).collect();
        group_by_length(&mut rows, |&r| lens[r], 4, &mut sub_rng(1, Purpose::Shuffle, 0, 0));
        let grouped: Vec<usize> = rows.iter().map(|&r| lens[r]).collect();
        // One group: sorted batches of 4 pad by at most 3 x (longest - shortest) each, and those spans add up to at
        // most the range of lengths, 127.
        let total: usize = lens.iter().sum();
        assert!(padded(&grouped, 4) <= total + 3 * 127, "{}", padded(&grouped, 4));
        assert!(padded(&lens, 4) > total * 5 / 4);
        // Batches are not in longest-first order.
        let firsts: Vec<usize> = grouped.chunks(4).map(|b| b[0]).collect();
        assert!(firsts.windows(2).any(|w| w[0] < w[1]));
    }
}
