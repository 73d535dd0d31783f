//! The packed f32 micro-kernel on AVX2 + FMA, for CPUs without AVX-512: the same weight panels (48 channels) as the
//! AVX-512 kernel in [`super::packed`], on tiles of 6 rows computed as up to three 6 x 16 sub-tiles (a panel's
//! channels past the weight's last are skipped where a whole sub-tile is past it). Twelve accumulators,
//! two weight vectors and one broadcast input fill 15 of AVX2's 16 registers; twelve independent sums cover FMA's
//! latency on both of its ports (Zen 3: 4 cycles x 2 ports = 8 in flight), where the previous 4 x 16 sub-tiles had
//! eight and ran 5-20% behind `gemm` on many rows (docs/speed). Every output is still one chain of fused
//! multiply-adds from its `init` value over the inputs in order, so the result is the AVX-512 kernel's bit for bit
//! and does not depend on how the rows were tiled.

use super::packed::NR;

/// Rows per tile.
pub(super) const MR: usize = 6;
/// 8-lane registers of channels per sub-tile.
const SUB_REGS: usize = 2;

/// Whether the CPU has AVX2 and FMA.
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// dst (MR x NR) = init + rows (MR x depth) x panel (depth x NR) for the sub-tiles that hold the first `cols`
/// channels ([`super::packed`]'s `Micro`).
///
/// # Safety
/// The CPU has AVX2 and FMA ([`has_avx2_fma`]); each `rows` pointer addresses `depth` values, `panel` depth x NR,
/// each `init` and `dst` row NR (a `dst` row may be its `init` row: each sub-tile reads its part before writing it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel(rows: [*const f32; MR], panel: *const f32, depth: usize, cols: usize, init: [*const f32; MR], dst: [*mut f32; MR]) {
    use std::arch::x86_64::*;
    const COLS: usize = SUB_REGS * 8;
    for col in (0..cols.min(NR)).step_by(COLS) {
        let mut acc = [[_mm256_setzero_ps(); SUB_REGS]; MR];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            for (j, v) in acc_r.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(init[r].add(col + j * 8));
            }
        }
        for k in 0..depth {
            let w = panel.add(k * NR + col);
            let wv: [__m256; SUB_REGS] = std::array::from_fn(|j| _mm256_loadu_ps(w.add(j * 8)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*rows[r].add(k));
                for (acc, &w) in acc_r.iter_mut().zip(&wv) {
                    *acc = _mm256_fmadd_ps(x, w, *acc);
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (j, v) in acc_r.iter().enumerate() {
                _mm256_storeu_ps(dst[r].add(col + j * 8), *v);
            }
        }
    }
}

/// Never called: [`super::packed::PackedLinear`] packs nothing for this kernel off x86-64.
#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn kernel(_: [*const f32; MR], _: *const f32, _: usize, _: usize, _: [*const f32; MR], _: [*mut f32; MR]) {
    unreachable!("the packed-avx2 f32 kernel needs x86-64")
}
