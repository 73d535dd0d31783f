//! The int8 product on AVX2 with 7-bit weights, as ONNX Runtime's MLAS runs `quantize_dynamic(reduce_range=True)`
//! models on CPUs without VNNI: u8 activations times i8 weights with `vpmaddubsw`, straight from the packed layout.
//!
//! `vpmaddubsw` multiplies 32 u8 bytes by 32 i8 bytes and adds neighbouring products into 16 i16 lanes, saturating
//! at +-32,767. With 8-bit weights our activations (0..=255) reach 2 x 255 x 127 = 64,770 and saturate; with
//! weights in [`WEIGHTS`] (-64..=63) a pair sums to at most 2 x 255 x 64 = 32,640 in magnitude, so every pair is
//! exact. A `vpmaddwd` by ones then adds the two pairs of each channel into i32 (exact), and those accumulate over
//! the depth. The layers quantize their weights to +-63 where this kernel runs ([`super::Int8Kernel::weight_max`]);
//! on those weights the kernel gives the portable kernel's integers.
//!
//! Why it is faster than the exact kernel on i16 ([`super::int8_avx2`]): 32 multiply-adds take one `vpmaddubsw`, one
//! `vpmaddwd` and one addition, where the i16 kernel needs two `vpmaddwd` and two additions; a microbenchmark of
//! the two inner loops on Zen 3 (docs/speed) runs about 40 multiply-adds a cycle against 33. The weights and
//! activations stay bytes: half the memory traffic of the widened ones, and no widening pass.
//!
//! A packed 16-channel block holds, for each group of 4 inputs, 16 lanes of 4 weight bytes: two 256-bit registers
//! of 8 channels. A row's 4 inputs, broadcast as one 32-bit value, meet each register in one `vpmaddubsw`; the
//! `vpmaddwd` leaves each channel's 4-input sum in its own i32 lane, in channel order.

#[cfg(target_arch = "x86_64")]
use super::int8::LANES;

/// The weights on which every product is exact: no `vpmaddubsw` pair sum leaves i16.
#[cfg(any(target_arch = "x86_64", test))]
pub(super) const WEIGHTS: std::ops::RangeInclusive<i8> = -64..=63;

/// Rows per micro-kernel tile: 4 rows x 16 channels keep 8 accumulators, the block's 2 weight registers, the
/// broadcast, the ones and the products in 14 of the 16 registers.
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 4;
/// Most inputs: each i32 lane sums depth / 4 groups of 4 products of at most 255 x 64, below 2^31 up to here.
#[cfg(target_arch = "x86_64")]
const MAX_DEPTH: usize = 65_536;

/// c (m x out64) = a (m x depth) x w (the packed weight, out64 x depth), every weight in [`WEIGHTS`].
///
/// # Safety
/// The CPU has AVX2. (The sizes are checked here.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn product(
    a: &[u8],
    m: usize,
    w: &[i8],
    depth: usize,
    out64: usize,
    c: &mut [i32],
) {
    // Outside the range a pair would saturate: wrong numbers, not unsafe memory. The layers quantize within it, so
    // the full pass over the weights on every call is left to debug builds (the tests).
    debug_assert!(
        w.iter().take(out64 * depth).all(|v| WEIGHTS.contains(v)),
        "a weight outside {WEIGHTS:?} reached the 7-bit kernel"
    );
    super::int8_avx2::for_each_tile("7-bit int8", ROWS, MAX_DEPTH, (a, w, c), (m, depth, out64), |a, w, c| {
        // SAFETY: 4 rows of `a`, one block of `w` (16 x depth) and 4 rows of 16 outputs of `c`, inside the sizes
        // for_each_tile asserted; the CPU has AVX2 (this function's contract).
        unsafe { tile(a, w, depth, c, out64) }
    });
}

/// 4 rows of activations (`a`, `depth` apart) times one packed block `w` into `c` (rows `out64` apart, 16 channels
/// each).
///
/// # Safety
/// AVX2; `a` holds 4 x depth values, `w` 16 x depth and `c` 4 rows of 16, depth a multiple of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile(a: *const u8, w: *const i8, depth: usize, c: *mut i32, out64: usize) {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; ROWS];
    for k4 in 0..depth / 4 {
        let w = w.add(k4 * 4 * LANES);
        let w = [0, 1].map(|j| _mm256_loadu_si256(w.add(j * 32) as *const __m256i));
        for (r, acc) in acc.iter_mut().enumerate() {
            // The row's 4 inputs in every 32-bit lane, against each channel's 4 weights.
            let x = _mm256_set1_epi32((a.add(r * depth + k4 * 4) as *const i32).read_unaligned());
            for (acc, &w) in acc.iter_mut().zip(&w) {
                let pairs = _mm256_maddubs_epi16(x, w);
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let dst = c.add(r * out64) as *mut __m256i;
        _mm256_storeu_si256(dst, acc[0]);
        _mm256_storeu_si256(dst.add(1), acc[1]);
    }
}
