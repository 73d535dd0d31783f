//! How a packed window of queued rows is run: sorted by length and cut into forward passes that waste little on
//! padding.
//!
//! TEI's packing takes rows first come, first served up to the token budget, whatever their lengths; run as one
//! pass, every row is padded to the longest. On a CPU the padding is paid in full (a 256-row window of SST-2
//! sentences, 5 to 60 tokens, costs about 2.5 times its real tokens), so throughput fell as concurrency rose. The
//! window is still taken first come, first served (no row waits behind later ones), but it runs as passes over its
//! rows sorted by length, cut where one more pass costs less than the padding it saves. A row's outputs do not
//! depend on what shares its pass, so only the time changes.

use std::ops::Range;

/// The fixed cost of one forward pass, in tokens' worth of compute: what a pass costs beyond its rows x longest.
/// Measured with `albert bench --texts` on one 12-token sentence, alone and 32 times in one pass (1 thread, AMD EPYC
/// Zen 3, 2026-12-07): 13 tokens' worth for the built-in sentiment model, 27 for the base shape. Rounded up: a cut
/// that saves less padding than this is not worth a pass.
pub const PASS_OVERHEAD_TOKENS: usize = 32;

/// Cuts rows of `lengths` (sorted shortest first) into consecutive passes that minimize the estimated time, the sum
/// over passes of `overhead` + rows x longest, with at most `max_rows` rows a pass (at least 1). Exact (dynamic
/// programming over the cut points), in O(rows x max_rows).
pub fn cut(lengths: &[usize], overhead: usize, max_rows: usize) -> Vec<Range<usize>> {
    debug_assert!(lengths.windows(2).all(|w| w[0] <= w[1]), "lengths sorted");
    let max_rows = max_rows.max(1);
    let n = lengths.len();
    // best[j]: the least cost of the first j rows; from[j]: where its last pass starts.
    let mut best = vec![0usize; n + 1];
    let mut from = vec![0usize; n + 1];
    for j in 1..=n {
        let longest = lengths[j - 1];
        (best[j], from[j]) = (j.saturating_sub(max_rows)..j)
            .map(|i| (best[i] + overhead + (j - i) * longest, i))
            .min()
            .expect("at least one start");
    }
    let mut passes = Vec::new();
    let mut end = n;
    while end > 0 {
        passes.push(from[end]..end);
        end = from[end];
    }
    passes.reverse();
    passes
}

/// The passes of a window whose rows have `lengths` (in the window's order): each pass's rows as positions in the
/// window, in the window's order (so that each request's rows in a pass stay contiguous and in its own order).
pub fn plan(lengths: &[usize], overhead: usize, max_rows: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // Stable: a request's rows come shortest first, so they keep their order.
    order.sort_by_key(|&i| lengths[i]);
    let sorted: Vec<usize> = order.iter().map(|&i| lengths[i]).collect();
    cut(&sorted, overhead, max_rows)
        .into_iter()
        .map(|range| {
            let mut rows = order[range].to_vec();
            rows.sort_unstable();
            rows
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Costs worked by hand with an overhead of 32.
    #[test]
    fn cuts_where_a_pass_costs_less_than_the_padding_it_saves() {
        // One pass: 32 + 4 x 50 = 232; [5, 5, 5] [50]: 32 + 15 + 32 + 50 = 129, the least.
        assert_eq!(cut(&[5, 5, 5, 50], 32, 64), [0..3, 3..4]);
        // One pass: 32 + 4 x 13 = 84; any cut adds 32 and saves at most 2 x 2.
        assert_eq!(cut(&[10, 11, 12, 13], 32, 64), [0..4]);
        // Two clusters: 32 + 3 x 9 + 32 + 3 x 41 = 214 against 32 + 6 x 41 = 278 in one.
        assert_eq!(cut(&[7, 8, 9, 40, 40, 41], 32, 64), [0..3, 3..6]);
        // No overhead: every distinct length its own pass costs exactly the real tokens.
        assert_eq!(cut(&[3, 3, 4, 6], 0, 64), [0..2, 2..3, 3..4]);
        // The row cap holds even where one pass would be cheaper.
        assert_eq!(cut(&[4; 5], 32, 2), [0..1, 1..3, 3..5]);
        assert!(cut(&[], 32, 8).is_empty());
    }

    /// Rows come back in the window's order within each pass, every row exactly once.
    #[test]
    fn a_plan_keeps_each_pass_in_the_windows_order() {
        // A request of rows 0..3 (shortest first) and single rows after it.
        let lengths = [5, 5, 50, 48, 5, 49];
        let passes = plan(&lengths, 32, 64);
        assert_eq!(passes, [vec![0, 1, 4], vec![2, 3, 5]]);
        let mut all: Vec<usize> = passes.concat();
        all.sort_unstable();
        assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>());
    }
}
