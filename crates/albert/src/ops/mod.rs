//! Fused CPU kernels for the memory-bound steps around the matrix products, each with its backward pass so that
//! training goes through them. On other devices and dtypes they fall back to the composed candle operations.

mod activation;
mod layer_norm;
mod linear;
mod softmax;

pub use activation::bias_act;
pub use layer_norm::layer_norm;
pub use linear::linear;
pub use softmax::{log_softmax_last_dim, softmax_last_dim};

use candle_core::{DType, Tensor};

/// Whether the fused CPU kernels handle `x` (f32 or f64 on the CPU).
fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}
