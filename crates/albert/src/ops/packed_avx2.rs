//! The packed f32 micro-kernel on AVX2 + FMA, for CPUs without AVX-512: the same weight panels and the same tile
//! (8 rows x 48 channels) as the AVX-512 kernel in [`super::packed`], computed as six 4 x 16 sub-tiles: 8
//! accumulators, 2 weight vectors and the broadcast inputs fit AVX2's 16 registers (4 x 24 needs all 16, and the
//! compiler spilled an accumulator to the stack on every input, which halved the speed). The
//! depth goes in chunks whose slice of the panel stays in L1 while the four sub-tiles read it; between chunks the
//! partial sums wait in `dst`.

use super::packed::{MR, NR};

/// Rows and 8-lane registers of channels per sub-tile.
const SUB_ROWS: usize = 4;
const SUB_REGS: usize = 2;
/// Inputs per chunk: 128 x 48 weights are 24 KiB, inside a 32 KiB L1.
const CHUNK: usize = 128;

/// Whether the CPU has AVX2 and FMA.
pub(super) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// dst (MR x NR) = init + rows (MR x depth) x panel (depth x NR), as [`super::packed`]'s AVX-512 kernel.
///
/// # Safety
/// The CPU has AVX2 and FMA ([`has_avx2_fma`]); each `rows` pointer addresses `depth` values, `panel` depth x NR,
/// each `init` and `dst` row NR (a `dst` row may be its `init` row: each sub-tile reads its part before writing it).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn kernel(
    rows: [*const f32; MR],
    panel: *const f32,
    depth: usize,
    init: [*const f32; MR],
    dst: [*mut f32; MR],
) {
    use std::arch::x86_64::*;
    const COLS: usize = SUB_REGS * 8;
    for k0 in (0..depth).step_by(CHUNK) {
        let start = if k0 == 0 { init } else { dst.map(|d| d.cast_const()) };
        for col in (0..NR).step_by(COLS) {
            for row in (0..MR).step_by(SUB_ROWS) {
                let mut acc = [[_mm256_setzero_ps(); SUB_REGS]; SUB_ROWS];
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    for (j, v) in acc_r.iter_mut().enumerate() {
                        *v = _mm256_loadu_ps(start[row + r].add(col + j * 8));
                    }
                }
                for k in k0..(k0 + CHUNK).min(depth) {
                    let w = panel.add(k * NR + col);
                    let mut wv = [_mm256_setzero_ps(); SUB_REGS];
                    for (j, v) in wv.iter_mut().enumerate() {
                        *v = _mm256_loadu_ps(w.add(j * 8));
                    }
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let x = _mm256_broadcast_ss(&*rows[row + r].add(k));
                        for (acc, &w) in acc_r.iter_mut().zip(&wv) {
                            *acc = _mm256_fmadd_ps(x, w, *acc);
                        }
                    }
                }
                for (r, acc_r) in acc.iter().enumerate() {
                    for (j, v) in acc_r.iter().enumerate() {
                        _mm256_storeu_ps(dst[row + r].add(col + j * 8), *v);
                    }
                }
            }
        }
    }
}
