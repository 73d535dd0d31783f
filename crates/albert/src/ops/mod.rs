//! Fused CPU kernels for the memory-bound steps around the matrix products, each with its backward pass so that
//! training goes through them. On other devices and dtypes they fall back to the composed candle operations.

/// Runs `$body` on the slices of CPU storages that are all f32 or all f64 (the body is written once, compiled for
/// both), or fails naming `$what`.
macro_rules! f32_or_f64 {
    ($what:expr, ($($s:expr),+), |$($v:ident),+| $body:expr) => {
        // One storage makes the tuples single parenthesized values.
        #[allow(unused_parens)]
        match ($($s),+) {
            ($(candle_core::CpuStorage::F32($v)),+) => $body,
            ($(candle_core::CpuStorage::F64($v)),+) => $body,
            _ => candle_core::bail!("{} takes f32 or f64 tensors of one dtype", $what),
        }
    };
}

pub(crate) mod activation;
mod attention;
mod cross_entropy;
mod int8;
mod layer;
mod layer_norm;
mod linear;
mod packed;
mod simd;
mod softmax;

pub use activation::bias_act;
pub use attention::{attention, fused_attention_applies};
pub(crate) use cross_entropy::cross_entropy;
pub use int8::{int8_kernel, Int8Kernel, QuantizedLinear};
pub use layer::{layer, layer_applies, LayerDims};
pub use layer_norm::{add_layer_norm, layer_norm};
pub use linear::{column_major, linear};
pub use packed::{packed_f32_available, PackedLinear, F32_KERNEL_ENV};
pub use softmax::{log_softmax_last_dim, softmax_last_dim};

use candle_core::{DType, Tensor};

/// The elements of a contiguous CPU tensor's storage, or an error naming `what` is strided.
fn contiguous<'a, T>(s: &'a [T], l: &candle_core::Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("{what} must be contiguous"),
    }
}

/// The contiguous elements of a CPU tensor's storage (from `Tensor::storage_and_layout`), or an error naming `what`:
/// for backward passes, which get tensors rather than storages.
fn cpu_slice<'a, T: candle_core::WithDType>(storage: &'a candle_core::Storage, layout: &candle_core::Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match storage {
        candle_core::Storage::Cpu(s) => contiguous(T::cpu_storage_as_slice(s)?, layout, what),
        _ => candle_core::bail!("{what} must be on the CPU"),
    }
}

/// A vector of `n` values that `fill` writes, without zeroing them first: zero-filling large outputs that are
/// overwritten anyway was 8% of int8 inference.
///
/// # Safety
/// `fill` must write every element of the slice it is given.
unsafe fn filled<T>(n: usize, fill: impl FnOnce(&mut [std::mem::MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    fill(&mut v.spare_capacity_mut()[..n]);
    // SAFETY: the caller's `fill` wrote all n elements.
    unsafe { v.set_len(n) };
    v
}

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

/// A buffer of `n` values that `fill` overwrites entirely.
pub(super) fn written<T>(n: usize, fill: impl FnOnce(&mut [T])) -> Vec<T> {
    // SAFETY: every caller's `fill` is a `product` without `accumulate`, which writes all n elements.
    unsafe { filled(n, |dst| fill(&mut *(dst as *mut [std::mem::MaybeUninit<T>] as *mut [T]))) }
}

/// Values that start on a 64-byte boundary: AMX tile rows and AVX-512 loads that straddle two cache lines run
/// slower, and a `Vec`'s own alignment varies with allocation history (10% of int8 batch-16 time between two
/// builds that differed only in it).
#[derive(Debug)]
pub(crate) struct CacheAligned<T> {
    buf: Vec<T>,
    offset: usize,
    len: usize,
}

impl<T: Copy> CacheAligned<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let mut buf = Vec::new();
        let offset = aligned_in(&mut buf, len, value).as_ptr() as usize - buf.as_ptr() as usize;
        Self { buf, offset: offset / std::mem::size_of::<T>().max(1), len }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        &self.buf[self.offset..self.offset + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.buf[self.offset..self.offset + self.len]
    }
}

// A derived clone would copy the values to an allocation of another alignment.
impl<T: Copy> Clone for CacheAligned<T> {
    fn clone(&self) -> Self {
        match self.as_slice().first() {
            Some(&v) => {
                let mut copy = Self::filled(self.len, v);
                copy.as_mut_slice().copy_from_slice(self.as_slice());
                copy
            }
            None => Self { buf: Vec::new(), offset: 0, len: 0 },
        }
    }
}

/// `len` values of `buf` that start on a 64-byte boundary, `buf` grown (new values `fill`) as needed: scratch space
/// kept between calls.
pub(crate) fn aligned_in<T: Copy>(buf: &mut Vec<T>, len: usize, fill: T) -> &mut [T] {
    let spare = 64 / std::mem::size_of::<T>().max(1);
    buf.resize(len + spare, fill);
    let offset = buf.as_ptr().align_offset(64).min(spare);
    &mut buf[offset..offset + len]
}

/// A prepared layer's bias as f32 values: `out` of them, zeros without a bias.
fn bias_values(bias: Option<&Tensor>, out: usize) -> crate::error::Result<Vec<f32>> {
    let bias: Vec<f32> = match bias {
        Some(b) => b.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
        None => vec![0.0; out],
    };
    if bias.len() != out {
        return Err(crate::error::Error::Input(format!("a bias of {out} values was expected, not {}", bias.len())));
    }
    Ok(bias)
}

/// `f` over the values of `x` in f32, row-major, which the prepared (int8, packed f32) layers read; they run on
/// the CPU only, and `what` names the layer in the error elsewhere.
fn with_f32_rows<R>(x: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> R) -> crate::error::Result<R> {
    let x = x.to_dtype(DType::F32)?.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)), Some((start, end))) => Ok(f(&v[start..end])),
        _ => Err(crate::error::Error::Input(format!("{what} runs on the CPU only"))),
    }
}

/// Deterministic test values in [-scale, scale]: `((i * mul % modulo) / (modulo / 2) - 1) * scale`, for the
/// prepared kernels' tests.
#[cfg(test)]
fn pattern(n: usize, mul: usize, modulo: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((i * mul % modulo) as f32 / (modulo / 2) as f32 - 1.0) * scale).collect()
}

/// The largest absolute difference between two tensors of one shape and dtype: what the kernels' tests compare
/// with the composed operations.
#[cfg(test)]
fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

/// Whether the fused CPU kernels handle `x` (f32 or f64 on the CPU).
pub(crate) fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// Rows per block of a column sum: blocks are summed in parallel, then added in a fixed order, so that the result
/// does not depend on how threads split the work (a resumed run must repeat its losses exactly).
const ROWS_PER_BLOCK: usize = 64;

/// Column sums of a contiguous (rows, cols) tensor: each block of rows is added row by row (contiguous, vectorized
/// additions) on its own thread. Candle's `sum(0)` walks the columns one strided scalar at a time.
struct SumRows;

fn sum_rows_of<T: candle_core::WithDType + num_traits::Float + Send + Sync>(
    src: &[T],
    layout: &candle_core::Layout,
) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
    let src = contiguous(src, layout, "the input of a sum over rows")?;
    let (_, cols) = layout.shape().dims2()?;
    Ok((candle_core::WithDType::to_cpu_storage_owned(column_sums(src, cols)), candle_core::Shape::from(cols)))
}

/// Column sums of `src` as rows of `cols` values, blocks of rows summed in parallel and then in a fixed order.
fn column_sums<T: num_traits::Float + Send + Sync>(src: &[T], cols: usize) -> Vec<T> {
    use rayon::prelude::*;
    let partials: Vec<Vec<T>> = src
        .par_chunks(cols.max(1) * ROWS_PER_BLOCK)
        .map(|block| {
            let mut acc = vec![T::zero(); cols];
            for row in block.chunks(cols.max(1)) {
                acc.iter_mut().zip(row).for_each(|(s, &v)| *s = *s + v);
            }
            acc
        })
        .collect();
    let mut total = vec![T::zero(); cols];
    for p in partials {
        total.iter_mut().zip(p).for_each(|(s, v)| *s = *s + v);
    }
    total
}

impl candle_core::CustomOp1 for SumRows {
    fn name(&self) -> &'static str {
        "albert-sum-rows"
    }

    fn cpu_fwd(&self, storage: &candle_core::CpuStorage, layout: &candle_core::Layout) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        f32_or_f64!("sum over rows", (storage), |s| sum_rows_of(s, layout))
    }
}

/// Column sums of `x` viewed as (rows, last dim): the gradient of a bias broadcast over rows. Not differentiable
/// itself (it serves backward passes).
pub(crate) fn sum_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    let cols = x.dim(candle_core::D::Minus1)?;
    let flat = x.reshape(((), cols))?;
    if fused(x) {
        flat.contiguous()?.apply_op1_no_bwd(&SumRows)
    } else {
        flat.sum(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Buffers start on a cache line, after growth and after a clone, and keep their values.
    #[test]
    fn cache_aligned_buffers_start_on_a_line() {
        let mut scratch: Vec<u8> = Vec::new();
        for len in [1, 100, 5000, 3] {
            let s = aligned_in(&mut scratch, len, 7u8);
            assert_eq!((s.len(), s.as_ptr() as usize % 64), (len, 0));
        }
        let mut a = CacheAligned::filled(1000, 0i32);
        a.as_mut_slice().iter_mut().enumerate().for_each(|(i, v)| *v = i as i32);
        for b in [a.clone(), a.clone().clone()] {
            assert_eq!(b.as_slice().as_ptr() as usize % 64, 0);
            assert_eq!(b.as_slice(), a.as_slice());
        }
    }

    #[test]
    fn sum_rows_equals_candle_sum_over_many_blocks() {
        let v: Vec<f64> = (0..200 * 7).map(|i| ((i as f64) * 0.37).sin()).collect();
        let x = Tensor::from_vec(v, (2, 100, 7), &Device::Cpu).unwrap();
        let ours = sum_rows(&x).unwrap();
        let reference = x.reshape((200, 7)).unwrap().sum(0).unwrap();
        let diff = max_diff(&ours, &reference);
        assert!(diff < 1e-12, "differs by {diff}");
    }
}
