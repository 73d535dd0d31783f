//! The strided matrix products that the kernels' forward and backward passes share: the `gemm` crate, on the
//! instruction set of the level in force ([`super::cpu`]).
//!
//! `gemm` picks its micro-kernels once per process from the CPU's features, with no way to cap them. Where the cap
//! is below that choice, the product calls `gemm`'s generic driver (`gemm_common::gemm::gemm_basic_generic`, what
//! `gemm` itself calls) with the micro-kernels of the capped level (`gemm_f32` / `gemm_f64`'s `fma` or `scalar`
//! tables): the same code an AVX2-only or a baseline CPU runs.

use super::cpu::GemmIsa;

/// A matrix operand: its first element and its (row, column) strides in elements.
pub(super) type Strided<P> = (P, isize, isize);

/// dst (m, n) = lhs (m, k) x rhs (k, n), each operand read through its (row, column) strides, added to dst's values
/// when `accumulate`.
pub(super) fn product<T: candle_core::WithDType>(dst: &mut [T], (m, n, k): (usize, usize, usize), lhs: (&[T], usize, usize), rhs: (&[T], usize, usize), accumulate: bool) {
    let reach = |(s, rs, cs): (&[T], usize, usize), rows: usize, cols: usize| rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < s.len();
    assert!(dst.len() == m * n && reach(lhs, m, k) && reach(rhs, k, n), "matrix product operands out of bounds");
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    let strided = |(s, rs, cs): (&[T], usize, usize)| (s.as_ptr(), rs as isize, cs as isize);
    // SAFETY: the assertion above keeps every element the strides reach inside its slice; without `accumulate`
    // the product writes every element of dst and reads none.
    unsafe { gemm_product((m, n, k), (dst.as_mut_ptr(), n as isize, 1), accumulate, strided(lhs), strided(rhs), parallelism) }
}

/// dst (m, n) = lhs (m, k) x rhs (k, n), plus dst's values where `read_dst`, on the level in force.
///
/// # Safety
/// Every pointer addresses the elements its strides reach; without `read_dst` dst may be uninitialized.
pub(super) unsafe fn gemm_product<T: 'static + num_traits::One>(
    mnk: (usize, usize, usize),
    dst: Strided<*mut T>,
    read_dst: bool,
    lhs: Strided<*const T>,
    rhs: Strided<*const T>,
    parallelism: gemm::Parallelism,
) {
    gemm_on(super::cpu::chosen().gemm, mnk, dst, read_dst, lhs, rhs, parallelism)
}

/// [`gemm_product`] on `isa`, which must be at most what `gemm` picks on this CPU (the level's, see
/// [`super::cpu::Kernels::choose`]).
///
/// # Safety
/// As [`gemm_product`].
unsafe fn gemm_on<T: 'static + num_traits::One>(
    isa: GemmIsa,
    (m, n, k): (usize, usize, usize),
    dst: Strided<*mut T>,
    read_dst: bool,
    lhs: Strided<*const T>,
    rhs: Strided<*const T>,
    parallelism: gemm::Parallelism,
) {
    #[cfg(target_arch = "x86_64")]
    if isa < gemm_own_isa() && capped((m, n, k), dst, read_dst, lhs, rhs, parallelism, isa) {
        return;
    }
    gemm::gemm(m, n, k, dst.0, dst.2, dst.1, read_dst, lhs.0, lhs.2, lhs.1, rhs.0, rhs.2, rhs.1, T::one(), T::one(), false, false, false, parallelism)
}

/// What `gemm` picks by itself on this CPU (its `init_gemm_fn`, with the x86-v4 feature on).
#[cfg(target_arch = "x86_64")]
fn gemm_own_isa() -> GemmIsa {
    if std::is_x86_feature_detected!("avx512f") {
        GemmIsa::Avx512
    } else if std::is_x86_feature_detected!("fma") {
        GemmIsa::Avx2
    } else {
        GemmIsa::Scalar
    }
}

/// The product through `gemm`'s generic driver with the f32 or f64 micro-kernels of `isa` (scalar or AVX2 + FMA);
/// false, having done nothing, for another type or where the CPU lacks `isa`.
///
/// # Safety
/// As [`gemm_product`].
#[cfg(target_arch = "x86_64")]
unsafe fn capped<T: 'static>(
    (m, n, k): (usize, usize, usize),
    dst: Strided<*mut T>,
    read_dst: bool,
    lhs: Strided<*const T>,
    rhs: Strided<*const T>,
    parallelism: gemm::Parallelism,
    isa: GemmIsa,
) -> bool {
    use std::any::TypeId;
    // As `gemm::gemm` does: the micro-kernels prefer a column-major destination, so a row-major product is
    // computed as its transpose, rhs^T x lhs^T.
    fn t<P>((p, rs, cs): Strided<P>) -> Strided<P> {
        (p, cs, rs)
    }
    let ((m, n), dst, lhs, rhs) = if dst.2.abs() < dst.1.abs() { ((n, m), t(dst), t(rhs), t(lhs)) } else { ((m, n), dst, lhs, rhs) };
    // `gemm`'s own per-level function (`gemm_def!`'s `gemm_basic`), with the level's micro-kernel tables; `$lanes`
    // is the tables' register width in values (their private `N`).
    macro_rules! basic {
        ($t:ty, $simd:expr, $($tables:ident)::+, $lanes:literal) => {{
            use $($tables)::+ as uk;
            gemm_common::gemm::gemm_basic_generic::<_, $t, $lanes, { uk::MR_DIV_N * $lanes }, { uk::NR }, { uk::MR_DIV_N }, { uk::H_M }, { uk::H_N }>(
                $simd, m, n, k, dst.0 as *mut $t, dst.2, dst.1, read_dst, lhs.0 as *const $t, lhs.2, lhs.1, rhs.0 as *const $t,
                rhs.2, rhs.1, 1.0, 1.0, false, false, false, |a, b, c| a * b + c, &uk::UKR, &uk::H_UKR, false, parallelism,
            );
            true
        }};
    }
    let (f32, f64) = (TypeId::of::<T>() == TypeId::of::<f32>(), TypeId::of::<T>() == TypeId::of::<f64>());
    let simd = gemm_common::simd::Scalar;
    match (isa, gemm_common::simd::V3::try_new()) {
        (GemmIsa::Scalar, _) if f32 => basic!(f32, simd, gemm_f32::microkernel::scalar::f32, 1),
        (GemmIsa::Scalar, _) if f64 => basic!(f64, simd, gemm_f64::microkernel::scalar::f64, 1),
        (GemmIsa::Avx2, Some(simd)) if f32 => basic!(f32, simd, gemm_f32::microkernel::fma::f32, 8),
        (GemmIsa::Avx2, Some(simd)) if f64 => basic!(f64, simd, gemm_f64::microkernel::fma::f64, 4),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::pattern;
    use super::*;

    /// Each instruction set `gemm` can run here, through the generic driver (the capped levels; AVX2 + FMA too
    /// where the CPU has it, although uncapped it goes through `gemm` itself) and through `gemm_on`, against the
    /// product summed in f64, for f32 and f64, row-major and transposed operands, serial and parallel, with and
    /// without accumulation; the shapes cross the micro-kernels' tiles and take `gemm`'s small-product paths.
    #[test]
    fn every_isa_here_matches_the_f64_product() {
        let mut isas = vec![GemmIsa::Scalar];
        #[cfg(target_arch = "x86_64")]
        isas.extend([GemmIsa::Avx2, GemmIsa::Avx512].into_iter().filter(|&i| i <= gemm_own_isa()));
        #[cfg(not(target_arch = "x86_64"))]
        isas.push(GemmIsa::Native);
        albert_testkit::ran_on(&isas.iter().map(|i| i.name()).collect::<Vec<_>>().join(", "));
        for isa in isas {
            for direct in [false, true] {
                // The generic driver runs the scalar and AVX2 + FMA tables only.
                if direct && !(cfg!(target_arch = "x86_64") && matches!(isa, GemmIsa::Scalar | GemmIsa::Avx2)) {
                    continue;
                }
                check::<f32>(isa, direct, 1e-5);
                check::<f64>(isa, direct, 1e-12);
            }
        }
    }

    /// The products of `isa` through `gemm_on`, or the generic driver itself where `direct`.
    fn check<T: candle_core::WithDType + num_traits::Float>(isa: GemmIsa, direct: bool, tolerance: f64) {
        for (m, n, k) in [(37, 53, 70), (8, 16, 300), (1, 1, 9), (130, 3, 5)] {
            let (a, b) = (pattern(m * k, 37, 101, 0.7), pattern(k * n, 53, 97, 0.2));
            let (a, b): (Vec<T>, Vec<T>) = (a.iter().map(|&v| T::from_f64(v as f64)).collect(), b.iter().map(|&v| T::from_f64(v as f64)).collect());
            for (transposed_lhs, parallelism, accumulate) in [(false, gemm::Parallelism::None, false), (true, gemm::Parallelism::Rayon(2), true)] {
                // lhs (m, k) row-major, or stored (k, m) and read transposed.
                let lhs: Vec<T> = if transposed_lhs { (0..k * m).map(|i| a[(i % m) * k + i / m]).collect() } else { a.clone() };
                let lhs_strides = if transposed_lhs { (1, m as isize) } else { (k as isize, 1) };
                let start = T::from_f64(0.25);
                let mut dst = vec![start; m * n];
                let (d, l, r) = ((dst.as_mut_ptr(), n as isize, 1), (lhs.as_ptr(), lhs_strides.0, lhs_strides.1), (b.as_ptr(), n as isize, 1));
                // SAFETY: the strides reach the (m, k), (k, n) and (m, n) elements of the vectors.
                match direct {
                    #[cfg(target_arch = "x86_64")]
                    true => assert!(unsafe { capped((m, n, k), d, accumulate, l, r, parallelism, isa) }, "{} ran nothing", isa.name()),
                    _ => unsafe { gemm_on(isa, (m, n, k), d, accumulate, l, r, parallelism) },
                }
                for i in 0..m {
                    for j in 0..n {
                        let sum: f64 = (0..k).map(|p| a[i * k + p].to_f64() * b[p * n + j].to_f64()).sum();
                        let want = sum + if accumulate { 0.25 } else { 0.0 };
                        let got = dst[i * n + j].to_f64();
                        assert!((got - want).abs() <= tolerance * (1.0 + want.abs()), "{} ({m}, {n}, {k}) at ({i}, {j}): {got} vs {want}", isa.name());
                    }
                }
            }
        }
    }
}
