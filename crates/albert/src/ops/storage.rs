//! Reading tensors' CPU storage: the f32/f64 dispatch of the kernels, contiguous slices of a storage, and the f32
//! rows and bias values that the prepared (int8, packed f32) layers take.

use candle_core::{DType, Tensor};

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


/// The elements of a contiguous CPU tensor's storage, or an error naming `what` is strided.
pub(super) fn contiguous<'a, T>(s: &'a [T], l: &candle_core::Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("{what} must be contiguous"),
    }
}

/// The contiguous elements of a CPU tensor's storage (from `Tensor::storage_and_layout`), or an error naming `what`:
/// for backward passes, which get tensors rather than storages.
pub(super) fn cpu_slice<'a, T: candle_core::WithDType>(storage: &'a candle_core::Storage, layout: &candle_core::Layout, what: &str) -> candle_core::Result<&'a [T]> {
    match storage {
        candle_core::Storage::Cpu(s) => contiguous(T::cpu_storage_as_slice(s)?, layout, what),
        _ => candle_core::bail!("{what} must be on the CPU"),
    }
}

/// Whether the fused CPU kernels handle `x` (f32 or f64 on the CPU).
pub(crate) fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// A prepared layer's bias as f32 values: `out` of them, zeros without a bias.
pub(super) fn bias_values(bias: Option<&Tensor>, out: usize) -> crate::error::Result<Vec<f32>> {
    let bias: Vec<f32> = match bias {
        Some(b) => b.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
        None => vec![0.0; out],
    };
    if bias.len() != out {
        return Err(crate::error::Error::Input(format!("a bias of {out} values was expected, not {}", bias.len())));
    }
    Ok(bias)
}

/// The f32 values of `t`, row-major: moved out of its storage with no copy where `t` is a contiguous f32 CPU
/// tensor that spans its whole storage, copied otherwise. A moved storage is left empty, so `t` and every tensor
/// sharing its storage (clones, detached tensors) can no longer be read: for a caller that holds the only one, and
/// would otherwise keep the weight beside what it is turned into.
pub(crate) fn take_f32(t: Tensor) -> crate::error::Result<Vec<f32>> {
    let take = TakeF32(std::sync::Mutex::new(None));
    if t.device().is_cpu() {
        t.inplace_op1(&take)?;
    }
    match take.0.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(values) => Ok(values),
        None => Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?),
    }
}

/// The in-place operation of [`take_f32`]: takes the storage's values where they are exactly the tensor's.
struct TakeF32(std::sync::Mutex<Option<Vec<f32>>>);

impl candle_core::InplaceOp1 for TakeF32 {
    fn name(&self) -> &'static str {
        "albert-take-f32"
    }

    fn cpu_fwd(&self, storage: &mut candle_core::CpuStorage, layout: &candle_core::Layout) -> candle_core::Result<()> {
        if let (candle_core::CpuStorage::F32(values), Some((0, end))) = (storage, layout.contiguous_offsets()) {
            if end == values.len() {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::mem::take(values));
            }
        }
        Ok(())
    }
}

/// `f` over the values of `x` in f32, row-major, which the prepared (int8, packed f32) layers read; they run on
/// the CPU only, and `what` names the layer in the error elsewhere.
pub(super) fn with_f32_rows<R>(x: &Tensor, what: &str, f: impl FnOnce(&[f32]) -> R) -> crate::error::Result<R> {
    let x = x.to_dtype(DType::F32)?.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)), Some((start, end))) => Ok(f(&v[start..end])),
        _ => Err(crate::error::Error::Input(format!("{what} runs on the CPU only"))),
    }
}
