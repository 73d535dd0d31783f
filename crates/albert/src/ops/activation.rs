//! Bias addition and activation in one pass, `act(x + bias)`, with a one-pass backward. Composed from candle
//! operations the feed-forward activation costs a dozen passes over (batch, seq, intermediate) per layer in training
//! (candle's GELU backward alone builds ten temporaries and two `powf`s, with rounded constants).

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, WithDType};
use num_traits::Float;
use rayon::prelude::*;

use crate::config::HiddenAct;

/// Rows per parallel task: large enough that scheduling costs nothing next to the work.
const ROWS_PER_TASK: usize = 16;

fn constant<T: Float>(v: f64) -> T {
    T::from(v).expect("constant fits the float type")
}

/// `tanh`, in f32 as a rational approximation (Eigen's `generic_fast_tanh_float`, the form XLA and PyTorch's
/// vectorized CPU kernels use: within 5e-7 of the exact value, 3e-7 relative below 1): glibc's `tanhf` took a seventh of
/// a training step through GELU.
pub(crate) trait Tanh: Copy {
    fn tanh_fast(self) -> Self;
}

impl Tanh for f32 {
    #[inline(always)]
    fn tanh_fast(self) -> f32 {
        const ALPHA: [f32; 7] = [
            4.893_524_6e-3,
            6.372_619_3e-4,
            1.485_722_4e-5,
            5.122_297e-8,
            -8.604_672e-11,
            2.000_188e-13,
            -2.760_768_5e-16,
        ];
        const BETA: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347e-4, 1.198_258_4e-6];
        let x = self.clamp(-7.905_311, 7.905_311);
        let x2 = x * x;
        let p = ALPHA
            .iter()
            .rev()
            .skip(1)
            .fold(ALPHA[6], |acc, &c| acc * x2 + c)
            * x;
        let q = BETA
            .iter()
            .rev()
            .skip(1)
            .fold(BETA[3], |acc, &c| acc * x2 + c);
        // A select rather than an early return, so that loops over it vectorize.
        if self.abs() < 4e-4 {
            self
        } else {
            p / q
        }
    }
}

/// `exp`, in f32 as Cephes' `expf` computes it (range reduction by ln 2 in two parts, a degree-6 polynomial, the
/// exponent set by bit arithmetic; within 2 ulp), in a form that vectorizes where glibc's `expf` is one call per
/// element. f64 keeps the exact `exp`.
pub(crate) trait Exp: Copy {
    fn exp_fast(self) -> Self;
}

impl Exp for f32 {
    #[inline(always)]
    fn exp_fast(self) -> f32 {
        // 1.5 x 2^23: adding it rounds to an integer held in the low mantissa bits.
        const MAGIC: f32 = 12_582_912.0;
        let x = self.clamp(-87.336_55, 88.376_26);
        let shifted = x * std::f32::consts::LOG2_E + MAGIC;
        let n = shifted - MAGIC;
        let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
        let p = [1.987_569_1e-4, 1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
        let poly = p.iter().skip(1).fold(p[0], |acc, &c| acc * r + c);
        let y = poly * r * r + r + 1.0;
        let exponent = (shifted.to_bits() as i32 - MAGIC.to_bits() as i32 + 127) << 23;
        // Below the normal range: zero, as flush-to-zero hardware gives. The clamped value (~1.2e-38) would turn
        // into denormals once divided by a softmax sum, and every product that reads denormals runs 10x slower.
        if self < -87.336_55 { 0.0 } else { y * f32::from_bits(exponent as u32) }
    }
}

impl Exp for f64 {
    #[inline(always)]
    fn exp_fast(self) -> f64 {
        self.exp()
    }
}

impl Tanh for f64 {
    #[inline(always)]
    fn tanh_fast(self) -> f64 {
        self.tanh()
    }
}

/// One activation: `act(z)` and `act'(z)`, as torch defines them. A type per activation, so that each loop over
/// one is compiled for it alone (and vectorizes) instead of choosing the activation at every element.
pub(crate) trait Activation {
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T);
}

/// No activation: `z`.
pub(crate) struct Identity;
pub(crate) struct GeluNew;
pub(crate) struct GeluErf;
pub(crate) struct Relu;
pub(crate) struct Silu;

impl Activation for Identity {
    #[inline(always)]
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T) {
        (z, T::one())
    }
}

impl Activation for GeluNew {
    #[inline(always)]
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T) {
        // 0.5 z (1 + tanh(c (z + 0.044715 z^3))), c = sqrt(2 / pi)
        let (half, c, k) = (
            constant::<T>(0.5),
            constant::<T>((2.0 / std::f64::consts::PI).sqrt()),
            constant::<T>(0.044715),
        );
        let z2 = z * z;
        let t = (c * z * (T::one() + k * z2)).tanh_fast();
        let du = c * (T::one() + constant::<T>(3.0) * k * z2);
        (
            half * z * (T::one() + t),
            half * (T::one() + t) + half * z * (T::one() - t * t) * du,
        )
    }
}

impl Activation for GeluErf {
    #[inline(always)]
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T) {
        // z Φ(z); Φ'(z) = φ(z) = exp(-z^2 / 2) / sqrt(2 pi)
        let zf = z.to_f64().expect("float converts to f64");
        let cdf = 0.5 * (1.0 + candle_core::cpu::erf::erf_f64(zf / std::f64::consts::SQRT_2));
        let pdf = (-0.5 * zf * zf).exp() / (2.0 * std::f64::consts::PI).sqrt();
        (z * constant::<T>(cdf), constant::<T>(cdf + zf * pdf))
    }
}

impl Activation for Relu {
    /// The derivative at 0 is 0, as torch's `threshold_backward`.
    #[inline(always)]
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T) {
        if z > T::zero() {
            (z, T::one())
        } else {
            (T::zero(), T::zero())
        }
    }
}

impl Activation for Silu {
    #[inline(always)]
    fn value_and_slope<T: Float + Tanh>(z: T) -> (T, T) {
        let s = T::one() / (T::one() + (-z).exp());
        (z * s, s * (T::one() + z * (T::one() - s)))
    }
}

/// `$body` with the type name `$A` standing for the [`Activation`] type of `$act` (a `HiddenAct`).
macro_rules! with_activation {
    ($act:expr, $A:ident => $body:expr) => {
        match $act {
            $crate::config::HiddenAct::GeluNew => {
                type $A = $crate::ops::activation::GeluNew;
                $body
            }
            $crate::config::HiddenAct::Gelu => {
                type $A = $crate::ops::activation::GeluErf;
                $body
            }
            $crate::config::HiddenAct::Relu => {
                type $A = $crate::ops::activation::Relu;
                $body
            }
            $crate::config::HiddenAct::Silu => {
                type $A = $crate::ops::activation::Silu;
                $body
            }
        }
    };
}
pub(crate) use with_activation;

struct BiasAct(HiddenAct);

pub(super) fn forward_rows<A: Activation, T: WithDType + Float + Tanh>(x: &[T], b: &[T]) -> Vec<T> {
    let fill = |dst: &mut [MaybeUninit<T>]| {
        dst.par_chunks_mut(b.len() * ROWS_PER_TASK)
            .zip(x.par_chunks(b.len() * ROWS_PER_TASK))
            .for_each(|(y, x)| {
                super::simd::vectorized(
                    #[inline(always)]
                    || {
                        for (y, x) in y.chunks_mut(b.len()).zip(x.chunks(b.len())) {
                            for ((o, &v), &bias) in y.iter_mut().zip(x).zip(b) {
                                o.write(A::value_and_slope(v + bias).0);
                            }
                        }
                    },
                )
            })
    };
    // SAFETY: y and x are chunked alike (x.len() is a multiple of b.len()), so every element of dst is written.
    unsafe { super::filled(x.len(), fill) }
}

fn forward<T: WithDType + Float + Tanh>(
    act: HiddenAct,
    (x, xl): (&[T], &Layout),
    (b, bl): (&[T], &Layout),
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (x, b) = (
        super::contiguous(x, xl, "bias activation input")?,
        super::contiguous(b, bl, "bias activation bias")?,
    );
    let dst = with_activation!(act, A => forward_rows::<A, T>(x, b));
    Ok((WithDType::to_cpu_storage_owned(dst), xl.shape().clone()))
}

impl CustomOp2 for BiasAct {
    fn name(&self) -> &'static str {
        "albert-bias-act"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused bias activation", (s1, s2), |x, b| forward(
            self.0,
            (x, l1),
            (b, l2)
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dz = grad
            .contiguous()?
            .apply_op3_no_bwd(x, bias, &BiasActGrad(self.0))?;
        let dbias = super::sum_rows(&dz)?;
        Ok((Some(dz), Some(dbias)))
    }
}

/// `grad * act'(x + bias)`.
struct BiasActGrad(HiddenAct);

pub(super) fn backward_rows<A: Activation, T: WithDType + Float + Tanh>(g: &[T], x: &[T], b: &[T]) -> Vec<T> {
    let chunk = b.len() * ROWS_PER_TASK;
    let fill = |dst: &mut [MaybeUninit<T>]| {
        dst.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk))
            .zip(g.par_chunks(chunk))
            .for_each(|((d, x), g)| {
                super::simd::vectorized(
                    #[inline(always)]
                    || {
                        for ((d, x), g) in d
                            .chunks_mut(b.len())
                            .zip(x.chunks(b.len()))
                            .zip(g.chunks(b.len()))
                        {
                            for (((o, &v), &gv), &bias) in d.iter_mut().zip(x).zip(g).zip(b) {
                                o.write(gv * A::value_and_slope(v + bias).1);
                            }
                        }
                    },
                )
            })
    };
    // SAFETY: dst, x and g are chunked alike (their lengths are equal multiples of b.len()), so every element of
    // dst is written.
    unsafe { super::filled(x.len(), fill) }
}

fn backward<T: WithDType + Float + Tanh>(
    act: HiddenAct,
    (g, gl): (&[T], &Layout),
    (x, xl): (&[T], &Layout),
    (b, bl): (&[T], &Layout),
) -> candle_core::Result<(CpuStorage, Shape)> {
    let (g, x, b) = (
        super::contiguous(g, gl, "bias activation gradient")?,
        super::contiguous(x, xl, "bias activation input")?,
        super::contiguous(b, bl, "bias activation bias")?,
    );
    let dst = with_activation!(act, A => backward_rows::<A, T>(g, x, b));
    Ok((WithDType::to_cpu_storage_owned(dst), xl.shape().clone()))
}

impl CustomOp3 for BiasActGrad {
    fn name(&self) -> &'static str {
        "albert-bias-act-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused bias activation gradient", (s1, s2, s3), |g, x, b| {
            backward(self.0, (g, l1), (x, l2), (b, l3))
        })
    }
}

/// `act(x + bias)` with `bias` broadcast over the rows of `x` (..., dim), fused into one pass on the CPU for f32 and
/// f64 (forward and backward), composed from candle operations elsewhere.
///
/// ```
/// use albert::HiddenAct;
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[-1f32, 2.0]], &Device::Cpu)?;
/// let b = Tensor::new(&[0.5f32, -0.5], &Device::Cpu)?;
/// assert_eq!(albert::ops::bias_act(&x, &b, HiddenAct::Relu)?.to_vec2::<f32>()?, [[0.0, 1.5]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn bias_act(x: &Tensor, bias: &Tensor, act: HiddenAct) -> candle_core::Result<Tensor> {
    let dim = x.dim(candle_core::D::Minus1)?;
    if bias.dims() != [dim] {
        candle_core::bail!(
            "bias activation over {dim} values got a bias of shape {:?}",
            bias.dims()
        );
    }
    if super::fused(x) && bias.dtype() == x.dtype() {
        return x.contiguous()?.apply_op2(&bias.contiguous()?, BiasAct(act));
    }
    composed(&x.broadcast_add(bias)?, act)
}

fn composed(z: &Tensor, act: HiddenAct) -> candle_core::Result<Tensor> {
    match act {
        HiddenAct::Gelu => z.gelu_erf(),
        HiddenAct::GeluNew => z.gelu(),
        HiddenAct::Relu => z.relu(),
        HiddenAct::Silu => z.silu(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn values(n: usize, k: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * k).sin() * 3.0).collect()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    }

    /// The fused forward equals the composed candle operations, and the fused gradients equal central finite
    /// differences of the fused forward (candle's own GELU gradient uses rounded constants, so it is no reference).
    #[test]
    fn matches_composed_forward_and_finite_difference_gradients() {
        let dev = Device::Cpu;
        for act in [
            HiddenAct::Gelu,
            HiddenAct::GeluNew,
            HiddenAct::Relu,
            HiddenAct::Silu,
        ] {
            let x = Var::from_vec(values(40, 0.7), (2, 4, 5), &dev).unwrap();
            let b = Var::from_vec(values(5, 1.3), 5, &dev).unwrap();
            let probe = Tensor::from_vec(values(40, 0.4), (2, 4, 5), &dev).unwrap();
            let fused = bias_act(&x, &b, act).unwrap();
            let reference = composed(&x.broadcast_add(&b).unwrap(), act).unwrap();
            assert!(max_diff(&fused, &reference) < 1e-12, "{act:?} forward");
            let grads = (fused * &probe)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let objective = |xv: &[f64], bv: &[f64]| {
                let x = Tensor::from_slice(xv, (2, 4, 5), &dev).unwrap();
                let b = Tensor::from_slice(bv, 5, &dev).unwrap();
                (bias_act(&x, &b, act).unwrap() * &probe)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let (xv, bv) = (values(40, 0.7), values(5, 1.3));
            let h = 1e-6;
            for (var, is_x) in [(&x, true), (&b, false)] {
                let analytic = grads
                    .get(var.as_tensor())
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f64>()
                    .unwrap();
                for (i, &a) in analytic.iter().enumerate() {
                    let (mut xp, mut bp, mut xm, mut bm) =
                        (xv.clone(), bv.clone(), xv.clone(), bv.clone());
                    if is_x {
                        xp[i] += h;
                        xm[i] -= h;
                    } else {
                        bp[i] += h;
                        bm[i] -= h;
                    }
                    let numeric = (objective(&xp, &bp) - objective(&xm, &bm)) / (2.0 * h);
                    assert!(
                        (a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
                        "{act:?} gradient {i}: {a} vs {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_f32_exp_is_within_2e7_of_the_exact_value() {
        for i in -87_000..=88_000 {
            let x = i as f32 * 1e-3 + 3.3e-4;
            let exact = (x as f64).exp();
            let rel = (x.exp_fast() as f64 - exact).abs() / exact;
            assert!(rel < 2e-7, "exp({x}): {} vs {exact}", x.exp_fast());
        }
        // Below the normal range (masked attention scores): exactly zero, never a denormal, NaN or infinity.
        for x in [f32::MIN, -1e30, -88.0, -87.34] {
            assert_eq!(x.exp_fast(), 0.0, "exp({x})");
        }
    }

    #[test]
    fn fast_f32_tanh_is_within_its_bound_of_the_exact_value() {
        for i in -240_000..=240_000 {
            let x = i as f32 * 5e-5;
            let err = (x.tanh_fast() as f64 - (x as f64).tanh()).abs();
            let relative_ok = x.abs() >= 1.0 || err <= 3e-7 * (x as f64).tanh().abs();
            assert!(err <= 5e-7 && relative_ok, "tanh({x}) off by {err}");
        }
        assert_eq!(30f32.tanh_fast(), (7.905_311f32).tanh_fast());
        assert!((30f32.tanh_fast() - 1.0).abs() < 4e-7);
    }

    #[test]
    fn wrong_bias_size_is_an_error() {
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::ones(3, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(bias_act(&x, &b, HiddenAct::GeluNew).is_err());
    }
}
