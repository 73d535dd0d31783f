//! The strided matrix product (the `gemm` crate) that the kernels' forward and backward passes share.

/// dst (m, n) = lhs (m, k) x rhs (k, n), each operand read through its (row, column) strides, added to dst's values
/// when `accumulate`.
pub(super) fn product<T: candle_core::WithDType>(dst: &mut [T], (m, n, k): (usize, usize, usize), lhs: (&[T], usize, usize), rhs: (&[T], usize, usize), accumulate: bool) {
    let reach = |(s, rs, cs): (&[T], usize, usize), rows: usize, cols: usize| rows == 0 || cols == 0 || (rows - 1) * rs + (cols - 1) * cs < s.len();
    assert!(dst.len() == m * n && reach(lhs, m, k) && reach(rhs, k, n), "matrix product operands out of bounds");
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the assertion above keeps every element the strides reach inside its slice; without `accumulate`
    // the product writes every element of dst and reads none.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2 as isize,
            lhs.1 as isize,
            rhs.0.as_ptr(),
            rhs.2 as isize,
            rhs.1 as isize,
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        )
    }
}
