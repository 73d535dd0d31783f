//! Test values and comparisons shared by the kernels' tests.

use candle_core::{DType, Tensor};

/// Deterministic test values in [-scale, scale]: `((i * mul % modulo) / (modulo / 2) - 1) * scale`, for the
/// prepared kernels' tests.
pub(super) fn pattern(n: usize, mul: usize, modulo: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|i| ((i * mul % modulo) as f32 / (modulo / 2) as f32 - 1.0) * scale).collect()
}

/// The largest absolute difference between two tensors of one shape and dtype: what the kernels' tests compare
/// with the composed operations.
pub(super) fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}
