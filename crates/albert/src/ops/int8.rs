//! Dynamic int8 quantization of a linear layer for inference, as ONNX Runtime's `quantize_dynamic` does it: the
//! weight is quantized once, symmetrically per output channel (int8, scale max|w| / 127); each input row is
//! quantized when the layer runs (scale max|x| / 127, stored as u8 with zero point 128), the product is taken in
//! integers and scaled back to f32, with the bias added.
//!
//! The integer product uses AVX-512 VNNI (`vpdpbusd`: 64 u8 x i8 products summed into 16 i32 lanes per instruction,
//! four times the multiply-adds of an f32 FMA) where the CPU has it, and portable code elsewhere; both give the
//! same integers. The weight is packed for the kernel: blocks of 16 output channels, and within a block, for each
//! group of 4 inputs, 16 lanes of 4 bytes (one 512-bit register).

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Output channels per packed block (one 512-bit register of i32 lanes).
const LANES: usize = 16;
/// Blocks per micro-kernel call: the kernel's columns are 4 x 16 = 64.
const BLOCKS: usize = 4;
/// Input rows per micro-kernel call.
const ROWS: usize = 4;
/// Zero point of the u8 activations.
const ZERO: i32 = 128;

/// A (out, in) weight quantized per output channel and packed for the integer kernel.
#[derive(Debug, Clone)]
pub struct QuantizedLinear {
    out: usize,
    inner: usize,
    /// `inner` rounded up to a multiple of 4.
    inner4: usize,
    /// `out` rounded up to a multiple of 64 (the padding channels are zero).
    out64: usize,
    /// [out64 / 16][inner4 / 4][16][4]
    packed: Vec<i8>,
    /// Per output channel: its scale, and the sum of its quantized weights (to remove the zero point).
    scales: Vec<f32>,
    sums: Vec<i32>,
}

impl QuantizedLinear {
    /// Quantizes `weight` (out, in).
    pub fn new(weight: &Tensor) -> Result<Self> {
        let (out, inner) = weight.dims2()?;
        let w: Vec<Vec<f32>> = weight.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        let (inner4, out64) = (inner.div_ceil(4) * 4, out.div_ceil(LANES * BLOCKS) * LANES * BLOCKS);
        let mut packed = vec![0i8; out64 * inner4];
        let (mut scales, mut sums) = (Vec::with_capacity(out), Vec::with_capacity(out));
        for (n, row) in w.iter().enumerate() {
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
            let mut sum = 0i32;
            for (k, v) in row.iter().enumerate() {
                let q = (v / scale).round().clamp(-127.0, 127.0) as i8;
                sum += q as i32;
                packed[pack_index(n, k, inner4)] = q;
            }
            scales.push(scale);
            sums.push(sum);
        }
        Ok(Self { out, inner, inner4, out64, packed, scales, sums })
    }

    /// Output channels.
    pub fn out_features(&self) -> usize {
        self.out
    }

    /// `x` (..., in) -> `x W^T + bias` (..., out), in f32.
    pub fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let bias: Vec<f32> = match bias {
            Some(b) => b.to_dtype(candle_core::DType::F32)?.to_vec1()?,
            None => vec![0.0; self.out],
        };
        if bias.len() != self.out {
            return Err(Error::Input(format!("a bias of {} values was expected", self.out)));
        }
        let dims = x.dims().to_vec();
        let inner = *dims.last().ok_or_else(|| Error::Input("a linear layer needs an input with dimensions".into()))?;
        if inner != self.inner {
            return Err(Error::Input(format!("input of width {inner} against an int8 weight of width {}", self.inner)));
        }
        let rows = x.elem_count() / inner.max(1);
        let xs: Vec<f32> = x.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1()?;
        let mut y = vec![0f32; rows * self.out];
        let vnni = has_vnni();
        // Each task: a tile of rows, quantized, multiplied and scaled back while it is in cache.
        const TILE: usize = 32;
        y.par_chunks_mut(TILE * self.out).zip(xs.par_chunks(TILE * inner)).for_each(|(y, x)| {
            let m = x.len() / inner;
            let mut a = vec![ZERO as u8; m * self.inner4];
            let mut row_scales = vec![0f32; m];
            for (i, row) in x.chunks(inner).enumerate() {
                row_scales[i] = quantize_row(row, &mut a[i * self.inner4..i * self.inner4 + inner]);
            }
            let mut c = vec![0i32; m * self.out64];
            self.product(&a, m, &mut c, vnni);
            for (i, yi) in y.chunks_mut(self.out).enumerate() {
                let (ci, rs) = (&c[i * self.out64..i * self.out64 + self.out], row_scales[i]);
                for ((((y, &c), &sum), &scale), &b) in yi.iter_mut().zip(ci).zip(&self.sums).zip(&self.scales).zip(&bias) {
                    *y = (c - ZERO * sum) as f32 * rs * scale + b;
                }
            }
        });
        let mut shape = dims;
        *shape.last_mut().expect("checked above") = self.out;
        Ok(Tensor::from_vec(y, shape, &Device::Cpu)?)
    }

    /// c (m, out64) = a (m, inner4) as u8 times the packed weight, in i32.
    fn product(&self, a: &[u8], m: usize, c: &mut [i32], vnni: bool) {
        #[cfg(target_arch = "x86_64")]
        if vnni {
            // SAFETY: the CPU has AVX-512 F and VNNI (checked by has_vnni); the slices have the sizes the kernel reads.
            unsafe { vnni_product(a, m, &self.packed, self.inner4, self.out64, c) };
            return;
        }
        let _ = vnni;
        portable_product(a, m, &self.packed, self.inner4, self.out64, c);
    }
}

/// Index of weight (n, k) in the packed layout.
fn pack_index(n: usize, k: usize, inner4: usize) -> usize {
    let (block, lane) = (n / LANES, n % LANES);
    block * inner4 * LANES + (k / 4) * LANES * 4 + lane * 4 + k % 4
}

/// Writes `row` quantized with zero point 128 into `dst` and returns its scale.
fn quantize_row(row: &[f32], dst: &mut [u8]) -> f32 {
    let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
    let inv = 1.0 / scale;
    for (d, v) in dst.iter_mut().zip(row) {
        *d = ((v * inv).round().clamp(-127.0, 127.0) as i32 + ZERO) as u8;
    }
    scale
}

fn has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn portable_product(a: &[u8], m: usize, packed: &[i8], inner4: usize, out64: usize, c: &mut [i32]) {
    for block in 0..out64 / LANES {
        let b = &packed[block * inner4 * LANES..(block + 1) * inner4 * LANES];
        for i in 0..m {
            let ai = &a[i * inner4..(i + 1) * inner4];
            let mut acc = [0i32; LANES];
            for (k4, group) in b.chunks_exact(LANES * 4).enumerate() {
                let x = &ai[k4 * 4..k4 * 4 + 4];
                for (lane, w) in group.chunks_exact(4).enumerate() {
                    acc[lane] += (0..4).map(|t| x[t] as i32 * w[t] as i32).sum::<i32>();
                }
            }
            c[i * out64 + block * LANES..i * out64 + (block + 1) * LANES].copy_from_slice(&acc);
        }
    }
}

/// The VNNI product: for each group of 64 output channels, every tile of 4 rows accumulates 4 x 4 registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_product(a: &[u8], m: usize, packed: &[i8], inner4: usize, out64: usize, c: &mut [i32]) {
    let block_len = inner4 * LANES;
    for group in 0..out64 / (LANES * BLOCKS) {
        let b = &packed[group * BLOCKS * block_len..(group + 1) * BLOCKS * block_len];
        let mut i = 0;
        while i + ROWS <= m {
            tile::<ROWS>(a, i, b, inner4, out64, group, c);
            i += ROWS;
        }
        match m - i {
            3 => tile::<3>(a, i, b, inner4, out64, group, c),
            2 => tile::<2>(a, i, b, inner4, out64, group, c),
            1 => tile::<1>(a, i, b, inner4, out64, group, c),
            _ => {}
        }
    }
}

/// R rows (from `row`) times one group of 64 output channels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile<const R: usize>(a: &[u8], row: usize, b: &[i8], inner4: usize, out64: usize, group: usize, c: &mut [i32]) {
    use std::arch::x86_64::*;
    let block_len = inner4 * LANES;
    let mut acc = [[_mm512_setzero_si512(); BLOCKS]; R];
    let bp = b.as_ptr();
    for k4 in 0..inner4 / 4 {
        let mut w = [_mm512_setzero_si512(); BLOCKS];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = _mm512_loadu_si512(bp.add(j * block_len + k4 * LANES * 4) as *const _);
        }
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // Four consecutive u8 inputs of the row, broadcast to every lane.
            let x = _mm512_set1_epi32((a.as_ptr().add((row + r) * inner4 + k4 * 4) as *const i32).read_unaligned());
            for j in 0..BLOCKS {
                acc_r[j] = _mm512_dpbusd_epi32(acc_r[j], x, w[j]);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (j, v) in acc_r.iter().enumerate() {
            let at = (row + r) * out64 + (group * BLOCKS + j) * LANES;
            _mm512_storeu_si512(c[at..at + LANES].as_mut_ptr() as *mut _, *v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact integer result: the kernel's output equals the quantized product computed in f64 from the same
    /// quantized values, and stays within the quantization error of the f32 product.
    #[test]
    fn matches_the_quantized_product_and_the_f32_product() {
        let (rows, inner, out) = (7, 37, 70); // tails everywhere: rows % 4, inner % 4 and out % 64 are not 0
        let xs: Vec<f32> = (0..rows * inner).map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.7).collect();
        let ws: Vec<f32> = (0..out * inner).map(|i| ((i * 53 % 97) as f32 / 48.0 - 1.0) * 0.2).collect();
        let bias: Vec<f32> = (0..out).map(|i| i as f32 * 0.01).collect();
        let x = Tensor::from_vec(xs.clone(), (rows, inner), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(ws.clone(), (out, inner), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(bias.clone(), out, &Device::Cpu).unwrap();
        let q = QuantizedLinear::new(&w).unwrap();
        let y: Vec<Vec<f32>> = q.forward(&x, Some(&b)).unwrap().to_vec2().unwrap();
        for i in 0..rows {
            let row = &xs[i * inner..(i + 1) * inner];
            let sx = row.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for n in 0..out {
                let wrow = &ws[n * inner..(n + 1) * inner];
                let sw = wrow.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                let dot: i64 = row
                    .iter()
                    .zip(wrow)
                    .map(|(a, b)| (a / sx).round().clamp(-127.0, 127.0) as i64 * (b / sw).round().clamp(-127.0, 127.0) as i64)
                    .sum();
                let want = dot as f64 * sx as f64 * sw as f64 + bias[n] as f64;
                assert!((y[i][n] as f64 - want).abs() < 1e-4, "({i}, {n}): {} vs {want}", y[i][n]);
                let exact: f32 = row.iter().zip(wrow).map(|(a, b)| a * b).sum::<f32>() + bias[n];
                // Rounding error: at most half a step per factor on each of the `inner` products.
                let bound = inner as f32 * (0.5 * sx * 0.2 + 0.5 * sw * 0.7 + 0.25 * sx * sw);
                assert!((y[i][n] - exact).abs() <= bound, "({i}, {n}): {} vs {exact}", y[i][n]);
            }
        }
    }

    #[test]
    fn portable_and_vnni_products_agree() {
        let (m, inner4, out64) = (9, 24, 128);
        let a: Vec<u8> = (0..m * inner4).map(|i| (i * 31 % 256) as u8).collect();
        let packed: Vec<i8> = (0..out64 * inner4).map(|i| ((i * 17 % 255) as i32 - 127) as i8).collect();
        let mut want = vec![0i32; m * out64];
        portable_product(&a, m, &packed, inner4, out64, &mut want);
        // The portable result against a direct reading of the layout.
        for i in 0..m {
            for n in 0..out64 {
                let direct: i32 = (0..inner4).map(|k| a[i * inner4 + k] as i32 * packed[pack_index(n, k, inner4)] as i32).sum();
                assert_eq!(want[i * out64 + n], direct);
            }
        }
        if has_vnni() {
            let mut got = vec![0i32; m * out64];
            #[cfg(target_arch = "x86_64")]
            // SAFETY: has_vnni checked the CPU.
            unsafe {
                vnni_product(&a, m, &packed, inner4, out64, &mut got)
            };
            assert_eq!(got, want);
        } else {
            eprintln!("note: no AVX-512 VNNI here; only the portable product was checked");
        }
    }
}
