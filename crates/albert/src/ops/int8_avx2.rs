//! The int8 product on AVX2, for CPUs without VNNI (AMD Zen 2 and 3, Intel before Ice Lake): the same integers as
//! the portable kernel, from the same packed weights.
//!
//! Both sides are widened to i16 and multiplied with `vpmaddwd`, whose pair sums land in i32: every product is
//! exact for any u8 activation and any i8 weight, with no zero-point correction. (AVX2's byte product `vpmaddubsw`
//! saturates its i16 pair sums, which our activations reach; the previous kernel avoided that with `vpsignb` on
//! every weight register, one more instruction per 32 multiply-adds on the multiplier's ports.) Widening is a sign
//! extension of the packed layout in place: a 16-channel block's [4 inputs x 16 channels] bytes become four
//! registers of 4 channels x 4 inputs, and the row's 4 inputs, broadcast as one 64-bit value, meet each in one
//! `vpmaddwd`; every channel collects two partial sums (inputs 0-1 and 2-3), added when the tile is stored.
//! Per row and 16 channels the inner loop is one broadcast, 4 `vpmaddwd` and 4 additions for 64 multiply-adds.
//! The weights are widened once, when the layer is quantized ([`widen_weights`], twice the bytes of the packed
//! ones), and each task's activations once for all its panels ([`widen_activations`]).

#[cfg(target_arch = "x86_64")]
use super::int8::LANES;
use super::CacheAligned;

/// Rows per micro-kernel tile: 2 rows x 16 channels keep 8 accumulators, the block's 4 weight registers and the 2
/// broadcasts in the 16 registers (3 rows spilled, and reading the weights from memory instead made the tile
/// load-bound).
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 2;
/// Most inputs: each i32 lane sums depth / 2 products of at most 255 x 128, which stays below 2^31 up to here.
#[cfg(target_arch = "x86_64")]
const MAX_DEPTH: usize = 65_536;

/// The packed weight (blocks of 16 channels, [depth / 4][16][4] i8 each) sign-extended to i16 in the same layout.
pub(super) fn widen_weights(packed: &[i8]) -> CacheAligned<i16> {
    let mut wide = CacheAligned::filled(packed.len(), 0i16);
    for (w, &p) in wide.as_mut_slice().iter_mut().zip(packed) {
        *w = p as i16;
    }
    wide
}

/// The u8 activations zero-extended to i16 into `wide` (as long as `a`).
#[inline(always)]
pub(super) fn widen_activations(a: &[u8], wide: &mut [i16]) {
    assert_eq!(a.len(), wide.len(), "widened activations");
    for (w, &a) in wide.iter_mut().zip(a) {
        *w = a as i16;
    }
}

/// c (m x out64) = a (m x depth, widened) x w (the widened packed weight, out64 x depth).
///
/// # Safety
/// The CPU has AVX2. (The sizes are checked here.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn product(a: &[i16], m: usize, w: &[i16], depth: usize, out64: usize, c: &mut [i32]) {
    for_each_tile("int8", ROWS, MAX_DEPTH, (a, w, c), (m, depth, out64), |a, w, c| {
        // SAFETY: 2 rows of `a`, one block of `w` (16 x depth) and 2 rows of 16 outputs of `c`, inside the sizes
        // for_each_tile asserted; the CPU has AVX2 (this function's contract).
        unsafe { tile(a, w, depth, c, out64) }
    });
}

/// Runs `tile(a, w, c)` on every `rows`-row x 16-channel tile of an AVX2 int8 product c (m x out64) = a (m x depth)
/// x w (out64 x depth, packed in blocks of 16 channels), given the pointers to the tile's first row of `a`, its
/// block of `w` and its first output, after asserting the sizes the tiles' raw pointers rely on and the kernel's `max_depth` (both AVX2 kernels:
/// this one and [`super::int8_avx2_7bit`]; `what` names the kernel in the error). Inlined, so that the tile inlines
/// into the caller's AVX2 code.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn for_each_tile<A, W>(
    what: &str,
    rows: usize,
    max_depth: usize,
    (a, w, c): (&[A], &[W], &mut [i32]),
    (m, depth, out64): (usize, usize, usize),
    mut tile: impl FnMut(*const A, *const W, *mut i32),
) {
    assert!(
        m.is_multiple_of(rows) && depth.is_multiple_of(4) && depth <= max_depth && out64.is_multiple_of(LANES),
        "AVX2 {what} product of {m} rows x {depth} inputs x {out64} channels: needs rows in {rows}s, inputs in 4s \
         (at most {max_depth}) and channels in blocks of {LANES}"
    );
    assert!(
        a.len() >= m * depth && w.len() >= out64 * depth && c.len() >= m * out64,
        "int8 product operands out of bounds"
    );
    for block in 0..out64 / LANES {
        for row in (0..m).step_by(rows) {
            // Pointer arithmetic only; what `tile` reads and writes through them is inside the sizes asserted above.
            tile(
                a.as_ptr().wrapping_add(row * depth),
                w.as_ptr().wrapping_add(block * LANES * depth),
                c.as_mut_ptr().wrapping_add(row * out64 + block * LANES),
            );
        }
    }
}

/// 2 rows of widened activations (`a`, `depth` apart) times one widened block `w` into `c` (rows `out64` apart,
/// 16 channels each).
///
/// # Safety
/// AVX2; `a` holds 2 x depth values, `w` 16 x depth and `c` 2 rows of 16, depth a multiple of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile(a: *const i16, w: *const i16, depth: usize, c: *mut i32, out64: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); 4]; ROWS];
    for k4 in 0..depth / 4 {
        let w = w.add(k4 * 4 * LANES);
        let w = [0, 1, 2, 3].map(|j| _mm256_loadu_si256(w.add(j * 16) as *const __m256i));
        for (r, acc) in acc.iter_mut().enumerate() {
            // The row's 4 inputs in every 64-bit lane: 0-1 meet each channel's first two weights, 2-3 the others.
            let x = _mm256_set1_epi64x((a.add(r * depth + k4 * 4) as *const i64).read_unaligned());
            for (acc, &w) in acc.iter_mut().zip(&w) {
                *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(x, w));
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        // Lanes hold (channel, half): [0a 0b 1a 1b | 2a 2b 3a 3b]. Adding neighbours across two registers gives
        // channels [0 1 4 5 | 2 3 6 7]; the 64-bit permute puts them in order.
        let lo = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(acc[0], acc[1]));
        let hi = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(acc[2], acc[3]));
        let dst = c.add(r * out64) as *mut __m256i;
        _mm256_storeu_si256(dst, lo);
        _mm256_storeu_si256(dst.add(1), hi);
    }
}
