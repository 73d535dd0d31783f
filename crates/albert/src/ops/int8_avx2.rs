//! The int8 product on AVX2, for CPUs without VNNI (AMD Zen 2 and 3, Intel before Ice Lake): the same integers as
//! the portable kernel, from the same packed weights.
//!
//! AVX2's byte product `vpmaddubsw` multiplies u8 by i8 and adds pairs into i16 with saturation: with the u8
//! activations (0..=255) a pair reaches 2 x 255 x 127 = 64,770 and would clip. So the kernel multiplies signed
//! activations instead, q = a - 128 (-128..=127), as |q| (at most 128) times the weight carrying q's sign
//! (`vpsignb`): a pair is at most 2 x 128 x 127 = 32,512, inside i16, and every sum is exact. That needs weights in
//! -127..=127 (negating -128 wraps), which quantization gives and the kernel asserts. The zero point comes back as
//! 128 x the channel's weight sum, added at the start: sum a w = sum q w + 128 sum w. The inner loop per row and
//! 16 channels is 2 broadcasts, 2 `vpsignb`, 2 `vpmaddubsw`, 2 `vpmaddwd` and 2 additions for 64 multiply-adds.

use super::int8::{LANES, ZERO};

/// Rows per micro-kernel tile: 4 rows x 16 channels take 8 of the 16 registers as accumulators.
const ROWS: usize = 4;

/// c (m x out64) = a (m x depth, u8) x the packed weight (blocks of 16 channels, [depth / 4][16][4] i8 each).
///
/// # Safety
/// The CPU has AVX2; `a` holds m x depth values, `packed` out64 x depth and `c` m x out64, with m a
/// multiple of 4 and out64 of 16 (what `int8::product` asserts, in coarser multiples).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn product(a: &[u8], m: usize, packed: &[i8], depth: usize, out64: usize, c: &mut [i32]) {
    use std::arch::x86_64::*;
    let block_len = depth * LANES;
    let min = _mm256_set1_epi8(i8::MIN);
    // Every input as q = a - 128 (the sign source) and |q|, once for all the blocks: preparing them in the inner
    // loop cost 4 of its 12 instructions per row.
    assert!(depth.is_multiple_of(32), "the AVX2 int8 kernel reads inputs 32 at a time");
    let (mut q, mut q_abs) = (vec![0i8; m * depth], vec![0u8; m * depth]);
    for ((src, q), abs) in a[..m * depth].chunks_exact(32).zip(q.chunks_exact_mut(32)).zip(q_abs.chunks_exact_mut(32)) {
        let v = _mm256_xor_si256(_mm256_loadu_si256(src.as_ptr() as *const __m256i), min);
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, v);
        _mm256_storeu_si256(abs.as_mut_ptr() as *mut __m256i, _mm256_abs_epi8(v));
    }
    for block in 0..out64 / LANES {
        let b = packed[block * block_len..(block + 1) * block_len].as_ptr();
        // The block's weight sums (for the zero point) and a check that no weight is -128, in one pass.
        let (ones8, ones16) = (_mm256_set1_epi8(1), _mm256_set1_epi16(1));
        let (mut sum0, mut sum1, mut bad) = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256());
        for k4 in 0..depth / 4 {
            let w0 = _mm256_loadu_si256(b.add(k4 * LANES * 4) as *const __m256i);
            let w1 = _mm256_loadu_si256(b.add(k4 * LANES * 4 + 32) as *const __m256i);
            bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpeq_epi8(w0, min), _mm256_cmpeq_epi8(w1, min)));
            sum0 = _mm256_add_epi32(sum0, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, w0), ones16));
            sum1 = _mm256_add_epi32(sum1, _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, w1), ones16));
        }
        assert!(_mm256_testz_si256(bad, bad) == 1, "the AVX2 int8 kernel needs weights in -127..=127");
        let zero = _mm256_set1_epi32(ZERO);
        let init = [_mm256_mullo_epi32(sum0, zero), _mm256_mullo_epi32(sum1, zero)];
        for row in (0..m).step_by(ROWS) {
            let mut acc = [init; ROWS];
            for k4 in 0..depth / 4 {
                let w = [
                    _mm256_loadu_si256(b.add(k4 * LANES * 4) as *const __m256i),
                    _mm256_loadu_si256(b.add(k4 * LANES * 4 + 32) as *const __m256i),
                ];
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    // Four consecutive inputs of the row in every lane, as q and |q|.
                    let at = (row + r) * depth + k4 * 4;
                    let xq = _mm256_set1_epi32((q.as_ptr().add(at) as *const i32).read_unaligned());
                    let x_abs = _mm256_set1_epi32((q_abs.as_ptr().add(at) as *const i32).read_unaligned());
                    for (acc, &w) in acc_r.iter_mut().zip(&w) {
                        let pairs = _mm256_maddubs_epi16(x_abs, _mm256_sign_epi8(w, xq));
                        *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones16));
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let at = (row + r) * out64 + block * LANES;
                let dst = c[at..at + LANES].as_mut_ptr() as *mut __m256i;
                _mm256_storeu_si256(dst, acc_r[0]);
                _mm256_storeu_si256(dst.add(1), acc_r[1]);
            }
        }
    }
}
