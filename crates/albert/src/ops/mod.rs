//! Fused CPU kernels for the memory-bound steps around the matrix products, each with its backward pass so that
//! training goes through them. On other devices and dtypes they fall back to the composed candle operations.

// First: its `f32_or_f64!` macro serves the modules declared after it.
#[macro_use]
mod storage;

pub(crate) mod activation;
mod attention;
mod buffers;
mod cpu;
mod cross_entropy;
mod int8;
mod int8_avx2;
mod int8_avx2_7bit;
mod int8_avx2_7x7;
mod layer;
mod layer_norm;
mod linear;
mod matmul;
mod packed;
mod packed_avx2;
mod simd;
mod softmax;
mod sum_rows;
#[cfg(test)]
mod testing;

pub use activation::bias_act;
pub use attention::{attention, attention_of_sequences, fused_attention_applies};
pub use cpu::{kernels, CpuFeatures, CpuLevel, GemmIsa, KernelEnv, KernelEnvError, Kernels, ProductKernel, CPU_ENV, F32_KERNEL_ENV, INT8_KERNEL_ENV};
pub(crate) use cross_entropy::cross_entropy;
pub use int8::{int8_kernel, Int8Kernel, QuantizedLinear};
pub use layer::{layer, layer_applies, LayerDims};
pub use layer_norm::{add_layer_norm, layer_norm};
pub use linear::{column_major, linear};
pub(crate) use linear::column_major_owned;
pub use packed::{f32_kernel, packed_f32_available, F32Kernel, PackedLinear};
pub use softmax::{log_softmax_last_dim, softmax_last_dim};
pub(crate) use storage::{fused, take_f32};
pub(crate) use sum_rows::sum_rows;

// The kernels' shared helpers, reached from the kernel modules as `super::name`.
use buffers::{aligned_in, filled, written, CacheAligned};
use matmul::product;
use storage::{bias_values, contiguous, cpu_slice, with_f32_rows};
use sum_rows::{column_sums, ROWS_PER_BLOCK};
#[cfg(test)]
use testing::{max_diff, pattern};
