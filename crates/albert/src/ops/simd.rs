//! Runs a loop compiled for the widest vector instructions the level in force allows. The crate is built for
//! baseline x86-64 (SSE2, 4 f32 lanes) so that it runs anywhere; the elementwise loops around the matrix products
//! (GELU, the int8 quantization) are compiled a second and third time, for AVX2 + FMA (8 lanes) and AVX-512 (16
//! lanes), and the level ([`super::cpu`]) picks one when the loop runs. The closure passed in is inlined into a
//! function compiled with those features, so it must be small and marked `#[inline(always)]` along with what it
//! calls.

/// `f()`, compiled for AVX-512 or AVX2 + FMA where the level in force allows ([`super::cpu`]: the CPU's, or the
/// cap's where that is lower).
#[inline(always)]
pub(crate) fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match super::cpu::chosen().level {
        // SAFETY: the level is at most the CPU's (CpuFeatures::level), which has these features.
        super::cpu::CpuLevel::Avx512 => return unsafe { avx512(f) },
        // SAFETY: as above.
        super::cpu::CpuLevel::Avx2 => return unsafe { avx2(f) },
        super::cpu::CpuLevel::Portable => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `map` of each value of `x` folded with `f` in 16 independent lanes, then the lanes together: the loop
/// vectorizes, where one running value would keep it scalar (the compiler may not reorder a float fold). `f` must
/// be associative (a sum, a maximum).
#[inline(always)]
pub(crate) fn lane_fold<T: Copy>(x: &[T], init: T, map: impl Fn(T) -> T, f: impl Fn(T, T) -> T) -> T {
    let mut lanes = [init; 16];
    let chunks = x.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(init, |a, &v| f(a, map(v)));
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l = f(*l, map(v));
        }
    }
    lanes.iter().fold(tail, |a, &v| f(a, v))
}
