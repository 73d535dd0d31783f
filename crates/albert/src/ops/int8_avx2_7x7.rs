//! The int8 product on AVX2 with 7-bit weights and 7-bit activations: two `vpmaddubsw` per `vpmaddwd`.
//!
//! The 7-bit kernel ([`super::int8_avx2_7bit`]) spends one `vpmaddwd` (by ones, to widen the i16 pair sums into
//! i32) per `vpmaddubsw`: 2 multiplier instructions per 32 multiply-adds, on the two ports Zen 3 gives them. With the
//! activations quantized to 7 bits as well ([`ACTIVATIONS`], 0..=127, zero point 64) and the weights in [`WEIGHTS`]
//! (-64..=63), a `vpmaddubsw` pair sums to at most 2 x 127 x 64 = 16,256 in magnitude, so the pair sums of two
//! groups of 4 inputs add in i16 (`vpaddw`) to at most 32,512 < 32,767: exact, and one `vpmaddwd` widens both. That
//! is 3 multiplier instructions per 64 multiply-adds instead of 4. On those operands the kernel gives the portable
//! kernel's integers.
//!
//! The tile is 4 rows x 16 channels over 8 inputs a step ([`tile4`], in assembly): 8 accumulators, 2 broadcasts, the
//! ones and 2 temporaries in registers, each weight (two groups of 4 inputs x 16 channels, 4 registers' worth) read
//! as the memory operand of its `vpmaddubsw`. Rows past the last multiple of 4 take [`tile`] with fewer rows (the
//! layers pad their rows to 16, so none do there).

#[cfg(target_arch = "x86_64")]
use super::int8::LANES;

/// The weights on which every product is exact (as the 7-bit kernel's).
#[cfg(any(target_arch = "x86_64", test))]
pub(super) const WEIGHTS: std::ops::RangeInclusive<i8> = -64..=63;
/// The activations on which every product is exact: two pair sums of 127 x 64 x 2 stay inside i16.
#[cfg(any(target_arch = "x86_64", test))]
pub(super) const ACTIVATIONS: std::ops::RangeInclusive<u8> = 0..=127;

/// Rows per micro-kernel tile. (3-row tiles with the weights in registers, as the compiler builds them from
/// [`tile`], took 2-4% more time per layer on Zen 3; 4 rows there spill an accumulator.)
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 4;
/// Most inputs: each i32 lane sums depth / 8 `vpmaddwd` results of at most 2 x 32,512, below 2^31 up to here.
#[cfg(target_arch = "x86_64")]
const MAX_DEPTH: usize = 65_536;

/// c (m x out64) = a (m x depth) x w (the packed weight, out64 x depth), every weight in [`WEIGHTS`] and every
/// activation in [`ACTIVATIONS`].
///
/// # Safety
/// The CPU has AVX2. (The sizes are checked here.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn product(a: &[u8], m: usize, w: &[i8], depth: usize, out64: usize, c: &mut [i32]) {
    // Outside the ranges a sum would saturate or wrap: wrong numbers, not unsafe memory. The layers quantize within
    // them, so the full pass over the operands on every call is left to debug builds (the tests).
    debug_assert!(
        w.iter().take(out64 * depth).all(|v| WEIGHTS.contains(v)),
        "a weight outside {WEIGHTS:?} reached the 7x7-bit kernel"
    );
    debug_assert!(
        a.iter().take(m * depth).all(|v| ACTIVATIONS.contains(v)),
        "an activation outside {ACTIVATIONS:?} reached the 7x7-bit kernel"
    );
    assert!(
        depth.is_multiple_of(8) && depth <= MAX_DEPTH && out64.is_multiple_of(LANES),
        "AVX2 7x7-bit int8 product of {m} rows x {depth} inputs x {out64} channels: needs inputs in 8s (at most \
         {MAX_DEPTH}) and channels in blocks of {LANES}"
    );
    assert!(
        a.len() >= m * depth && w.len() >= out64 * depth && c.len() >= m * out64,
        "int8 product operands out of bounds"
    );
    for block in 0..out64 / LANES {
        let wb = w.as_ptr().add(block * LANES * depth);
        let mut row = 0;
        while row < m {
            let (ap, cp) = (a.as_ptr().add(row * depth), c.as_mut_ptr().add(row * out64 + block * LANES));
            // SAFETY (all three): rows row.. of `a` (m x depth, asserted), the block's 16 x depth weights and those
            // rows' 16 outputs of the block in `c` (m x out64, asserted); the CPU has AVX2 (this function's
            // contract).
            match m - row {
                1 => tile::<1>(ap, wb, depth, cp, out64),
                2 => tile::<2>(ap, wb, depth, cp, out64),
                3 => tile::<3>(ap, wb, depth, cp, out64),
                _ => tile4(ap, wb, depth, cp, out64),
            }
            row += ROWS.min(m - row);
        }
    }
}

/// R rows of activations (`a`, `depth` apart) times one packed block `w` into `c` (rows `out64` apart, 16 channels
/// each).
///
/// # Safety
/// AVX2; `a` holds R x depth values, `w` 16 x depth and `c` R rows of 16, depth a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile<const R: usize>(a: *const u8, w: *const i8, depth: usize, c: *mut i32, out64: usize) {
    use std::arch::x86_64::*;
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for k8 in 0..depth / 8 {
        // Two groups of 4 inputs: [group][channels 0-7, 8-15], each lane 4 weight bytes.
        let w = w.add(k8 * 8 * LANES);
        let w0 = [0, 1].map(|j| _mm256_loadu_si256(w.add(j * 32) as *const __m256i));
        let w1 = [2, 3].map(|j| _mm256_loadu_si256(w.add(j * 32) as *const __m256i));
        for (r, acc) in acc.iter_mut().enumerate() {
            let x = a.add(r * depth + k8 * 8);
            let x0 = _mm256_set1_epi32((x as *const i32).read_unaligned());
            let x1 = _mm256_set1_epi32((x.add(4) as *const i32).read_unaligned());
            for (j, acc) in acc.iter_mut().enumerate() {
                let pairs = _mm256_add_epi16(_mm256_maddubs_epi16(x0, w0[j]), _mm256_maddubs_epi16(x1, w1[j]));
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

/// [`tile`] for 4 rows, written out in assembly: the compiler's version of it keeps the 4 weight registers and
/// spills an accumulator, where reading each weight as the memory operand of its `vpmaddubsw` leaves the 8
/// accumulators, the 2 broadcasts, the ones and 2 temporaries in registers (a microbenchmark on Zen 3: 51 multiply-adds
/// a cycle against the 3-row tile's 50).
///
/// # Safety
/// AVX2; `a` holds 4 x depth values, `w` 16 x depth and `c` 4 rows of 16, depth a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile4(a: *const u8, w: *const i8, depth: usize, c: *mut i32, out64: usize) {
    use std::arch::asm;
    use std::arch::x86_64::*;
    let mut acc = [_mm256_setzero_si256(); 8];
    if depth > 0 {
        // SAFETY: reads rows 0..4 of `a` at offsets 0..depth and the block's depth x 16 weights (depth / 8 steps of
        // 128 bytes), inside what the caller guarantees; writes only registers.
        asm!(
            "vpcmpeqw ymm15, ymm15, ymm15",
            "vpsrlw ymm15, ymm15, 15",
            "2:",
            "vpbroadcastd ymm14, [{a0} + {k}]",
            "vpbroadcastd ymm13, [{a0} + {k} + 4]",
            "vpmaddubsw ymm10, ymm14, [{w}]",
            "vpmaddubsw ymm11, ymm13, [{w} + 64]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm0, ymm0, ymm10",
            "vpmaddubsw ymm10, ymm14, [{w} + 32]",
            "vpmaddubsw ymm11, ymm13, [{w} + 96]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm1, ymm1, ymm10",
            "vpbroadcastd ymm14, [{a1} + {k}]",
            "vpbroadcastd ymm13, [{a1} + {k} + 4]",
            "vpmaddubsw ymm10, ymm14, [{w}]",
            "vpmaddubsw ymm11, ymm13, [{w} + 64]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm2, ymm2, ymm10",
            "vpmaddubsw ymm10, ymm14, [{w} + 32]",
            "vpmaddubsw ymm11, ymm13, [{w} + 96]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm3, ymm3, ymm10",
            "vpbroadcastd ymm14, [{a2} + {k}]",
            "vpbroadcastd ymm13, [{a2} + {k} + 4]",
            "vpmaddubsw ymm10, ymm14, [{w}]",
            "vpmaddubsw ymm11, ymm13, [{w} + 64]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm4, ymm4, ymm10",
            "vpmaddubsw ymm10, ymm14, [{w} + 32]",
            "vpmaddubsw ymm11, ymm13, [{w} + 96]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm5, ymm5, ymm10",
            "vpbroadcastd ymm14, [{a3} + {k}]",
            "vpbroadcastd ymm13, [{a3} + {k} + 4]",
            "vpmaddubsw ymm10, ymm14, [{w}]",
            "vpmaddubsw ymm11, ymm13, [{w} + 64]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm6, ymm6, ymm10",
            "vpmaddubsw ymm10, ymm14, [{w} + 32]",
            "vpmaddubsw ymm11, ymm13, [{w} + 96]",
            "vpaddw ymm10, ymm10, ymm11",
            "vpmaddwd ymm10, ymm10, ymm15",
            "vpaddd ymm7, ymm7, ymm10",
            "add {k}, 8",
            "sub {w}, -128",
            "cmp {k}, {end}",
            "jb 2b",
            a0 = in(reg) a,
            a1 = in(reg) a.add(depth),
            a2 = in(reg) a.add(2 * depth),
            a3 = in(reg) a.add(3 * depth),
            k = inout(reg) 0usize => _,
            end = in(reg) depth,
            w = inout(reg) w => _,
            inout("ymm0") acc[0],
            inout("ymm1") acc[1],
            inout("ymm2") acc[2],
            inout("ymm3") acc[3],
            inout("ymm4") acc[4],
            inout("ymm5") acc[5],
            inout("ymm6") acc[6],
            inout("ymm7") acc[7],
            out("ymm10") _,
            out("ymm11") _,
            out("ymm13") _,
            out("ymm14") _,
            out("ymm15") _,
            options(nostack, readonly),
        );
    }
    for (r, pair) in acc.chunks_exact(2).enumerate() {
        let dst = c.add(r * out64) as *mut __m256i;
        _mm256_storeu_si256(dst, pair[0]);
        _mm256_storeu_si256(dst.add(1), pair[1]);
    }
}
