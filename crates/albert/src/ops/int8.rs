//! Dynamic int8 quantization of a linear layer for inference, as ONNX Runtime's `quantize_dynamic` does it: the
//! weight is quantized once, symmetrically per output channel (int8, scale max|w| / 127); each input row is
//! quantized when the layer runs (scale max|x| / 127, stored as u8 with zero point 128), the product is taken in
//! integers and scaled back to f32, with the bias added.
//!
//! The integer product runs on the best kernel the CPU has within the cap ([`int8_kernel`], [`super::cpu`]): AMX tiles (`tdpbusd`: a 16 x 64 u8
//! tile times a 64 x 16 i8 tile per instruction), AVX-512 VNNI (`vpdpbusd`: 64 u8 x i8 products summed into 16
//! i32 lanes per instruction), AVX2 (`vpmaddubsw` on 7-bit weights and 7-bit activations, two of them per
//! `vpmaddwd`, in [`super::int8_avx2_7x7`]; on 7-bit weights, in [`super::int8_avx2_7bit`]; or exact on 8-bit weights
//! with `vpmaddwd` on both sides widened to i16, in [`super::int8_avx2`]), or portable code. Given the same weights
//! and activations all give the same integers; only the 7-bit kernels quantize them differently
//! ([`Int8Kernel::weight_max`], [`Int8Kernel::activation_range`]).
//! The weight is packed once for all of them: blocks of 16 output channels, and within a block, for each group of
//! 4 inputs, 16 lanes of 4 bytes (one 512-bit register, one row of an AMX weight tile).

use std::mem::MaybeUninit;

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use super::activation::{with_activation, Activation, Identity};
use crate::config::HiddenAct;
use crate::error::{Error, Result};

/// Output channels per packed block (one 512-bit register of i32 lanes).
pub(super) const LANES: usize = 16;
/// Blocks per micro-kernel call: the kernel's columns are 4 x 16 = 64.
const BLOCKS: usize = 4;
/// Output channels per panel: the unit the product is computed and scaled back in.
const PANEL: usize = LANES * BLOCKS;
/// Most input rows one parallel task takes.
const MAX_TASK_ROWS: usize = 256;
/// Input rows per micro-kernel call.
const ROWS: usize = 4;
/// Zero point of the u8 activations.
pub(super) const ZERO: i32 = 128;
/// Inputs per AMX tile row (64 bytes); the packed depth is a multiple of it so every kernel reads whole tiles.
const DEPTH_STEP: usize = 64;
/// Rows of an AMX tile; activation buffers are padded to a multiple of it.
const TILE_ROWS: usize = 16;

/// The integer kernel the int8 product runs on, chosen once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    /// Intel AMX tiles (Sapphire Rapids and later).
    Amx,
    /// AVX-512 VNNI registers (Ice Lake, Zen 4 and later).
    Vnni,
    /// AVX2 registers with 7-bit weights and 7-bit activations (two `vpmaddubsw` per `vpmaddwd`; Haswell, Zen 2
    /// and 3).
    Avx2SevenBySeven,
    /// AVX2 registers with 7-bit weights (`vpmaddubsw`).
    Avx2SevenBit,
    /// AVX2 registers, exact on 8-bit weights (`vpmaddwd` on operands widened to i16).
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Int8Kernel {
    /// Every int8 kernel, fastest first.
    pub const ALL: [Int8Kernel; 6] = [
        Int8Kernel::Amx,
        Int8Kernel::Vnni,
        Int8Kernel::Avx2SevenBySeven,
        Int8Kernel::Avx2SevenBit,
        Int8Kernel::Avx2,
        Int8Kernel::Portable,
    ];

    /// Lower-case name, as benchmarks and [`INT8_KERNEL_ENV`](super::INT8_KERNEL_ENV) name it.
    pub fn name(self) -> &'static str {
        match self {
            Int8Kernel::Amx => "amx",
            Int8Kernel::Vnni => "avx512-vnni",
            Int8Kernel::Avx2SevenBit => "avx2-7bit",
            Int8Kernel::Avx2SevenBySeven => "avx2-7x7",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Portable => "portable",
        }
    }

    /// The largest quantized weight magnitude: 127 (8 bits), or 63 (7 bits, ONNX Runtime's `reduce_range`) for the
    /// kernel whose `vpmaddubsw` would saturate on larger weights. Only where that kernel runs are the weights
    /// quantized to 7 bits: the others keep the finer steps, so results differ between it and them (docs/speed
    /// gives the accuracy of both).
    pub fn weight_max(self) -> i8 {
        match self {
            Int8Kernel::Avx2SevenBit | Int8Kernel::Avx2SevenBySeven => 63,
            _ => 127,
        }
    }

    /// The largest quantized activation magnitude and the activations' zero point: 127 and 128 (u8 activations
    /// 1..=255), or 63 and 64 (1..=127) for the kernel that adds two `vpmaddubsw` pair sums in i16.
    pub fn activation_range(self) -> (u8, u8) {
        match self {
            Int8Kernel::Avx2SevenBySeven => (63, 64),
            _ => (127, ZERO as u8),
        }
    }
}

/// The int8 kernel of this process ([`super::kernels`]): the fastest the CPU, the operating system and the cap
/// allow, unless [`INT8_KERNEL_ENV`](super::INT8_KERNEL_ENV) names another. AMX needs the kernel's permission to use
/// the tile registers (Linux `arch_prctl(ARCH_REQ_XCOMP_PERM)`), asked for once when the CPU's features are read.
pub fn int8_kernel() -> Int8Kernel {
    super::cpu::chosen().int8
}

/// A (out, in) weight quantized per output channel and packed for the integer kernel.
#[derive(Debug, Clone)]
pub struct QuantizedLinear {
    out: usize,
    inner: usize,
    /// `inner` rounded up to a multiple of 64 (the padding inputs have zero weights).
    depth: usize,
    /// The quantized weight, in the one form the kernel reads.
    weights: Packed,
    /// Per output channel: its scale, and the sum of its quantized weights (to remove the zero point).
    scales: Vec<f32>,
    sums: Vec<i32>,
}

/// A quantized weight packed as [out rounded up to 64 / 16][depth / 4][16][4], the padding channels zero.
#[derive(Debug, Clone)]
enum Packed {
    /// As bytes, which every kernel but the exact AVX2 one reads.
    Bytes(super::CacheAligned<i8>),
    /// Widened to i16, where the exact AVX2 kernel runs: it reads only these, and the bytes kept beside them held
    /// each weight twice.
    Wide(super::CacheAligned<i16>),
}

/// One task's view of the weight's panels and, for the widened weight, of its activations widened once.
#[derive(Clone, Copy)]
enum Panels<'a> {
    Bytes(&'a [i8]),
    Wide(&'a [i16], &'a [i16]),
}

impl QuantizedLinear {
    /// Quantizes `weight` (out, in). Fails where the kernel variables are invalid ([`super::kernels`]).
    pub fn new(weight: &Tensor) -> Result<Self> {
        let kernel = super::kernels()?.int8;
        let (out, inner) = weight.dims2()?;
        let (depth, out64) = (
            inner.div_ceil(DEPTH_STEP) * DEPTH_STEP,
            out.div_ceil(LANES * BLOCKS) * LANES * BLOCKS,
        );
        let mut packed = super::CacheAligned::filled(out64 * depth, 0i8);
        let (mut scales, mut sums) = (Vec::with_capacity(out), Vec::with_capacity(out));
        let qmax = kernel.weight_max() as f32;
        // Read in place: a copy of the f32 weight beside its int8 one would add the largest weight to the peak
        // memory (256 MiB for albert-xxlarge).
        super::with_f32_rows(weight, "quantizing a weight", |w| {
            for (n, row) in (0..out).map(|n| &w[n * inner..(n + 1) * inner]).enumerate() {
                let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = if amax > 0.0 { amax / qmax } else { 1.0 };
                let mut sum = 0i32;
                for (k, v) in row.iter().enumerate() {
                    let q = (v / scale).round_ties_even().clamp(-qmax, qmax) as i8;
                    sum += q as i32;
                    packed.as_mut_slice()[pack_index(n, k, depth)] = q;
                }
                scales.push(scale);
                sums.push(sum);
            }
        })?;
        let weights = match kernel {
            Int8Kernel::Avx2 => Packed::Wide(super::int8_avx2::widen_weights(packed.as_slice())),
            _ => Packed::Bytes(packed),
        };
        Ok(Self {
            out,
            inner,
            depth,
            weights,
            scales,
            sums,
        })
    }

    /// Output channels.
    pub fn out_features(&self) -> usize {
        self.out
    }

    /// `x` (..., in) -> `x W^T + bias` (..., out), in f32.
    pub fn forward(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        self.forward_act(x, bias, None)
    }

    /// `act(x W^T + bias)`: the activation is applied as each panel is scaled back, with no pass of its own.
    pub fn forward_act(
        &self,
        x: &Tensor,
        bias: Option<&Tensor>,
        act: Option<HiddenAct>,
    ) -> Result<Tensor> {
        let bias = super::bias_values(bias, self.out)?;
        let dims = x.dims().to_vec();
        let inner = *dims
            .last()
            .ok_or_else(|| Error::Input("a linear layer needs an input with dimensions".into()))?;
        if inner != self.inner {
            return Err(Error::Input(format!(
                "input of width {inner} against an int8 weight of width {}",
                self.inner
            )));
        }
        let rows = x.elem_count() / inner.max(1);
        let kernel = super::kernels()?.int8;
        let threads = rayon::current_num_threads();
        // SAFETY: both ways write all `out` columns of every row (the panels cover 0..out).
        let y = super::with_f32_rows(x, "the int8 linear layer", |xs| unsafe {
            super::filled(rows * self.out, |y| match act {
                None => self.forward_rows::<Identity>(xs, y, &bias, kernel, threads),
                Some(act) => with_activation!(act, A => self.forward_rows::<A>(xs, y, &bias, kernel, threads)),
            })
        })?;
        let mut shape = dims;
        *shape.last_mut().expect("checked above") = self.out;
        Ok(Tensor::from_vec(y, shape, &Device::Cpu)?)
    }

    /// `x` (rows, inner) into `y` (rows, out) on `threads` threads. Many rows: each task takes a tile of rows,
    /// quantized, multiplied and scaled back while it is in cache ([`Self::rows_forward`]). Few rows (at most one
    /// task's): the rows are quantized once and each task takes a share of the panels for all of them
    /// ([`Self::columns_forward`]), so that each weight is read once per call, where tasks of rows read all of it
    /// each (at 128 rows on 2 threads, four times).
    fn forward_rows<A: Activation>(
        &self,
        x: &[f32],
        y: &mut [MaybeUninit<f32>],
        bias: &[f32],
        kernel: Int8Kernel,
        threads: usize,
    ) {
        let rows = x.len() / self.inner.max(1);
        if let (Packed::Bytes(bytes), true) = (&self.weights, threads > 1 && rows <= MAX_TASK_ROWS) {
            return self.columns_forward::<A>(x, y, bias, bytes.as_slice(), kernel, 2 * threads);
        }
        // Large tiles let a task reuse each weight tile across many rows; at least two tasks per thread keep the
        // threads balanced.
        let per_task = rows.div_ceil(2 * threads).next_multiple_of(32).clamp(32, MAX_TASK_ROWS);
        y.par_chunks_mut(per_task * self.out).zip(x.par_chunks(per_task * self.inner)).for_each(|(y, x)| {
            SCRATCH.with_borrow_mut(|(a, a_wide, c)| self.rows_forward::<A>(x, y, bias, a, a_wide, c, kernel))
        })
    }

    /// [`Self::forward_rows`] for at most [`MAX_TASK_ROWS`] rows, in `tasks` tasks of whole panels: the rows are
    /// quantized once (in parallel, 32 at a time), then every task multiplies all of them by its panels.
    fn columns_forward<A: Activation>(
        &self,
        x: &[f32],
        y: &mut [MaybeUninit<f32>],
        bias: &[f32],
        bytes: &[i8],
        kernel: Int8Kernel,
        tasks: usize,
    ) {
        let (inner, m) = (self.inner, x.len() / self.inner);
        assert!(m <= MAX_TASK_ROWS && y.len() == m * self.out, "int8 columns of {m} rows into {} values", y.len());
        let m16 = m.next_multiple_of(TILE_ROWS);
        let (amax, zero) = kernel.activation_range();
        // Taken out of the calling thread's slot for the call, so that a nested call (another layer's work run by
        // this thread while it waits) finds it empty and allocates its own.
        let mut shared = SHARED.with_borrow_mut(std::mem::take);
        let a = super::aligned_in(&mut shared, m16 * self.depth, zero);
        let mut row_scales = [0f32; MAX_TASK_ROWS];
        let row_scales = &mut row_scales[..m];
        a.par_chunks_mut(32 * self.depth).zip(x.par_chunks(32 * inner)).zip(row_scales.par_chunks_mut(32)).for_each(
            |((a, x), scales)| {
                super::simd::vectorized(
                    #[inline(always)]
                    || {
                        for ((row, a), s) in x.chunks(inner).zip(a.chunks_mut(self.depth)).zip(scales.iter_mut()) {
                            *s = quantize_row(row, &mut a[..inner], amax, zero);
                        }
                    },
                )
            },
        );
        let (a, row_scales) = (&*a, &*row_scales);
        let panels = self.out.div_ceil(PANEL);
        let per_task = panels.div_ceil(tasks).max(1);
        let out = SharedRows(y.as_mut_ptr(), self.out);
        (0..panels.div_ceil(per_task)).into_par_iter().for_each(|t| {
            let out = &out;
            SCRATCH.with_borrow_mut(|(_, _, c)| {
                let c = super::aligned_in(c, m16 * PANEL, 0);
                super::simd::vectorized(
                    #[inline(always)]
                    || {
                        for p in t * per_task..((t + 1) * per_task).min(panels) {
                            let span = p * PANEL * self.depth..(p + 1) * PANEL * self.depth;
                            product(kernel, a, m16, &bytes[span], self.depth, PANEL, c);
                            let cols = p * PANEL..((p + 1) * PANEL).min(self.out);
                            // SAFETY: row i's columns `cols` lie inside y (m rows of `out`, asserted above), and only
                            // the task of panel p writes them; y outlives the loop.
                            let rows = (0..m).map(|i| unsafe {
                                std::slice::from_raw_parts_mut(out.0.add(i * out.1 + cols.start), cols.len())
                            });
                            self.scale_back::<A>(c, row_scales, cols.clone(), bias, zero, rows);
                        }
                    },
                )
            })
        });
        SHARED.with_borrow_mut(|slot| *slot = shared);
    }

    /// The integer panel `c` (rows of [`PANEL`]) of output columns `cols` scaled back into `rows` (each the
    /// columns `cols` of one output row), with the bias and the activation.
    #[inline(always)]
    fn scale_back<'y, A: Activation>(
        &self,
        c: &[i32],
        row_scales: &[f32],
        cols: std::ops::Range<usize>,
        bias: &[f32],
        zero: u8,
        rows: impl Iterator<Item = &'y mut [MaybeUninit<f32>]>,
    ) {
        let (sums, scales, bias) = (&self.sums[cols.clone()], &self.scales[cols.clone()], &bias[cols]);
        for ((yi, ci), &rs) in rows.zip(c.chunks(PANEL)).zip(row_scales.iter()) {
            for ((((y, &c), &sum), &scale), &b) in yi.iter_mut().zip(ci).zip(sums).zip(scales).zip(bias) {
                y.write(A::value_and_slope((c - zero as i32 * sum) as f32 * (rs * scale) + b).0);
            }
        }
    }

    /// One task's rows: `x` (m, inner) quantized into `a`, multiplied a panel of 64 output channels at a time into
    /// `c`, each panel scaled back into `y` (m, out) while it is in cache. Writes every element of `y`.
    fn rows_forward<A: Activation>(
        &self,
        x: &[f32],
        y: &mut [MaybeUninit<f32>],
        bias: &[f32],
        a: &mut Vec<u8>,
        a_wide: &mut Vec<i16>,
        c: &mut Vec<i32>,
        kernel: Int8Kernel,
    ) {
        let (inner, m) = (self.inner, x.len() / self.inner);
        let m16 = m.next_multiple_of(TILE_ROWS);
        // Stale values in the padding are harmless: padded inputs meet zero weights, padded rows are not read back.
        let (amax, zero) = kernel.activation_range();
        let a = super::aligned_in(a, m16 * self.depth, zero);
        let c = super::aligned_in(c, m16 * PANEL, 0);
        let mut row_scales = [0f32; MAX_TASK_ROWS];
        let row_scales = &mut row_scales[..m];
        super::simd::vectorized(
            #[inline(always)]
            || {
                for (i, row) in x.chunks(inner).enumerate() {
                    row_scales[i] =
                        quantize_row(row, &mut a[i * self.depth..i * self.depth + inner], amax, zero);
                }
                // The AVX2 kernel reads the task's activations widened, once for all the panels.
                let panels = match &self.weights {
                    Packed::Bytes(bytes) => Panels::Bytes(bytes.as_slice()),
                    Packed::Wide(wide) => {
                        let a_wide = super::aligned_in(a_wide, m16 * self.depth, 0);
                        super::int8_avx2::widen_activations(a, a_wide);
                        Panels::Wide(wide.as_slice(), a_wide)
                    }
                };
                for p in 0..self.out.div_ceil(PANEL) {
                    let span = p * PANEL * self.depth..(p + 1) * PANEL * self.depth;
                    match panels {
                        Panels::Wide(wide, a_wide) => {
                            let panel = &wide[span];
                            // SAFETY: weights are widened only where the AVX2 kernel was chosen, which the CPU
                            // has; the kernel checks the sizes.
                            #[cfg(target_arch = "x86_64")]
                            unsafe {
                                super::int8_avx2::product(a_wide, m16, panel, self.depth, PANEL, c)
                            }
                            #[cfg(not(target_arch = "x86_64"))]
                            unreachable!("AVX2 weights on a CPU without AVX2 ({}, {})", panel.len(), a_wide.len())
                        }
                        Panels::Bytes(bytes) => product(kernel, a, m16, &bytes[span], self.depth, PANEL, c),
                    }
                    let cols = p * PANEL..((p + 1) * PANEL).min(self.out);
                    let rows = y.chunks_mut(self.out).map(|yi| &mut yi[cols.clone()]);
                    self.scale_back::<A>(c, row_scales, cols.clone(), bias, zero, rows);
                }
            },
        )
    }
}

/// The output's base pointer and row length, shared by tasks that write disjoint columns of its rows.
struct SharedRows(*mut MaybeUninit<f32>, usize);
// SAFETY: the tasks write disjoint columns, and the buffer outlives the parallel loop.
unsafe impl Sync for SharedRows {}

thread_local! {
    /// Each worker thread's quantized activations and integer panel, kept between calls: allocating them anew
    /// cost page faults and zeroing on every layer.
    static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<i16>, Vec<i32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
    /// The calling thread's buffer for the activations that [`QuantizedLinear::columns_forward`]'s tasks share.
    static SHARED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The product on `kernel`, which must be one the CPU has ([`super::cpu`] chooses only such kernels).
fn product(
    kernel: Int8Kernel,
    a: &[u8],
    m: usize,
    packed: &[i8],
    depth: usize,
    out64: usize,
    c: &mut [i32],
) {
    // The raw-pointer kernels read whole tiles: these sizes keep every read and write inside the slices.
    assert!(
        m.is_multiple_of(TILE_ROWS) && depth.is_multiple_of(DEPTH_STEP) && out64.is_multiple_of(PANEL),
        "int8 product of {m} rows x {depth} inputs x {out64} channels is not in whole tiles"
    );
    assert!(
        a.len() >= m * depth && packed.len() >= out64 * depth && c.len() >= m * out64,
        "int8 product operands out of bounds"
    );
    match kernel {
        // SAFETY: the kernel choice takes AMX only after the CPU and the OS allowed it; the assertions above give the
        // sizes the kernel reads and writes (m x depth, out64 x depth and m x out64 values, in whole tiles).
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::Amx => unsafe { amx_product(a, m, packed, depth, out64, c) },
        // SAFETY: VNNI is chosen only where the CPU has it; the sizes are asserted above.
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::Vnni => unsafe { vnni_product(a, m, packed, depth, out64, c) },
        // SAFETY: AVX2 is chosen only where the CPU has it; the kernel checks the sizes. The layers quantize their
        // weights to its 7 bits where it runs.
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::Avx2SevenBit => unsafe { super::int8_avx2_7bit::product(a, m, packed, depth, out64, c) },
        // SAFETY: AVX2 is chosen only where the CPU has it; the kernel checks the sizes. The layers quantize their
        // weights and activations to its 7 bits where it runs.
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::Avx2SevenBySeven => unsafe { super::int8_avx2_7x7::product(a, m, packed, depth, out64, c) },
        // The layers widen their weights once and their activations once per task; this is the same work, per call.
        #[cfg(target_arch = "x86_64")]
        Int8Kernel::Avx2 => {
            let mut a_wide = vec![0; m * depth];
            super::int8_avx2::widen_activations(&a[..m * depth], &mut a_wide);
            let wide = super::int8_avx2::widen_weights(&packed[..out64 * depth]);
            // SAFETY: AVX2 is chosen only where the CPU has it; the kernel checks the sizes.
            unsafe { super::int8_avx2::product(&a_wide, m, wide.as_slice(), depth, out64, c) }
        }
        _ => portable_product(a, m, packed, depth, out64, c),
    }
}

/// Index of weight (n, k) in the packed layout.
fn pack_index(n: usize, k: usize, depth: usize) -> usize {
    let (block, lane) = (n / LANES, n % LANES);
    block * depth * LANES + (k / 4) * LANES * 4 + lane * 4 + k % 4
}

/// Writes `row` quantized to -`qmax`..=`qmax` steps with zero point `zero` into `dst` and returns its scale. Rounds
/// half to even, as ONNX Runtime does.
#[inline(always)]
fn quantize_row(row: &[f32], dst: &mut [u8], qmax: u8, zero: u8) -> f32 {
    // Sixteen running maxima: an order-free reduction, so that it vectorizes.
    let mut lanes = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let tail = chunks.remainder().iter().fold(0f32, |m, v| m.max(v.abs()));
    for chunk in chunks {
        for (m, v) in lanes.iter_mut().zip(chunk) {
            let a = v.abs();
            *m = if a > *m { a } else { *m };
        }
    }
    let amax = lanes.iter().fold(tail, |m, &v| m.max(v));
    let qmax = qmax as f32;
    let scale = if amax > 0.0 { amax / qmax } else { 1.0 };
    let inv = 1.0 / scale;
    // Adding 1.5 x 2^23 rounds to an integer (half to even, the FPU's mode) held in the low mantissa bits: a
    // rounding and conversion that vectorize, where `round_ties_even() as i32` became scalar code.
    const MAGIC: f32 = 12_582_912.0;
    for (d, v) in dst.iter_mut().zip(row) {
        let q = ((v * inv).clamp(-qmax, qmax) + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32;
        *d = (q + zero as i32) as u8;
    }
    scale
}

/// AMX-TILE and AMX-INT8 in CPUID, and the OS's permission to use the tile data (asked for here).
pub(super) fn amx_available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
        let (tile, int8) = (leaf7.edx >> 24 & 1 == 1, leaf7.edx >> 25 & 1 == 1);
        // ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA: fails where the kernel does not support AMX.
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call that only changes which CPU state the process may use.
        tile && int8
            && unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                )
            } == 0
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    false
}

/// The AMX product: 2 x 2 tiles of 16 x 16 i32 (32 rows x 32 output channels) accumulate from two activation tiles
/// (16 rows x 64 inputs) and two weight tiles (64 inputs x 16 channels, which is the packed layout of a 16-channel
/// block as it is). For each pair of blocks, the weight tiles stay in cache while every row of the task passes.
///
/// # Safety
/// The CPU and the OS allow AMX ([`amx_available`]); `a` holds m x depth values, `packed` out64 x depth and `c`
/// m x out64, with m a multiple of 16, depth of 64 and out64 of 64 (what [`product`] asserts).
#[cfg(target_arch = "x86_64")]
unsafe fn amx_product(
    a: &[u8],
    m: usize,
    packed: &[i8],
    depth: usize,
    out64: usize,
    c: &mut [i32],
) {
    use std::arch::asm;
    /// The LDTILECFG operand: palette 1, and for each of the 8 tiles its bytes per row and rows.
    #[repr(C, align(64))]
    struct TileConfig {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
        reserved_end: [u8; 16],
    }
    let mut config = TileConfig {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [0; 16],
        rows: [0; 16],
        reserved_end: [0; 16],
    };
    for t in 0..8 {
        config.bytes_per_row[t] = 64;
        config.rows[t] = TILE_ROWS as u8;
    }
    asm!("ldtilecfg [{}]", in(reg) &config as *const TileConfig, options(nostack, readonly));
    let block_len = depth * LANES;
    let (a_stride, b_stride, c_stride) = (depth, LANES * 4, out64 * 4);
    let (ap, cp) = (a.as_ptr(), c.as_mut_ptr() as *mut u8);
    for col in (0..out64).step_by(2 * LANES) {
        let b0 = packed.as_ptr().add(col / LANES * block_len);
        let b1 = b0.add(block_len);
        let mut row = 0;
        while row < m {
            let pair = row + 2 * TILE_ROWS <= m;
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
            let a0 = ap.add(row * a_stride);
            for k in (0..depth).step_by(DEPTH_STEP) {
                // A weight tile's row is 4 inputs x 16 channels: the tile for inputs k.. starts k / 4 rows in.
                asm!(
                    "tileloadd tmm4, [{a} + {sa}]",
                    "tileloadd tmm6, [{b0} + {sb}]",
                    "tileloadd tmm7, [{b1} + {sb}]",
                    "tdpbusd tmm0, tmm4, tmm6",
                    "tdpbusd tmm1, tmm4, tmm7",
                    a = in(reg) a0.add(k), sa = in(reg) a_stride,
                    b0 = in(reg) b0.add(k * LANES), b1 = in(reg) b1.add(k * LANES), sb = in(reg) b_stride,
                    options(nostack, readonly),
                );
                if pair {
                    asm!(
                        "tileloadd tmm5, [{a} + {sa}]",
                        "tdpbusd tmm2, tmm5, tmm6",
                        "tdpbusd tmm3, tmm5, tmm7",
                        a = in(reg) a0.add(TILE_ROWS * a_stride + k), sa = in(reg) a_stride,
                        options(nostack, readonly),
                    );
                }
            }
            let c0 = cp.add(row * c_stride + col * 4);
            asm!(
                "tilestored [{c0} + {sc}], tmm0",
                "tilestored [{c1} + {sc}], tmm1",
                c0 = in(reg) c0, c1 = in(reg) c0.add(LANES * 4), sc = in(reg) c_stride,
                options(nostack),
            );
            if pair {
                let c2 = c0.add(TILE_ROWS * c_stride);
                asm!(
                    "tilestored [{c2} + {sc}], tmm2",
                    "tilestored [{c3} + {sc}], tmm3",
                    c2 = in(reg) c2, c3 = in(reg) c2.add(LANES * 4), sc = in(reg) c_stride,
                    options(nostack),
                );
            }
            row += if pair { 2 * TILE_ROWS } else { TILE_ROWS };
        }
    }
    asm!("tilerelease", options(nostack, nomem));
}

fn portable_product(a: &[u8], m: usize, packed: &[i8], depth: usize, out64: usize, c: &mut [i32]) {
    for block in 0..out64 / LANES {
        let b = &packed[block * depth * LANES..(block + 1) * depth * LANES];
        for i in 0..m {
            let ai = &a[i * depth..(i + 1) * depth];
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
///
/// # Safety
/// The CPU has AVX-512F and VNNI; the sizes are those of [`amx_product`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_product(
    a: &[u8],
    m: usize,
    packed: &[i8],
    depth: usize,
    out64: usize,
    c: &mut [i32],
) {
    let block_len = depth * LANES;
    for group in 0..out64 / (LANES * BLOCKS) {
        let b = &packed[group * BLOCKS * block_len..(group + 1) * BLOCKS * block_len];
        let mut i = 0;
        while i + ROWS <= m {
            tile::<ROWS>(a, i, b, depth, out64, group, c);
            i += ROWS;
        }
        match m - i {
            3 => tile::<3>(a, i, b, depth, out64, group, c),
            2 => tile::<2>(a, i, b, depth, out64, group, c),
            1 => tile::<1>(a, i, b, depth, out64, group, c),
            _ => {}
        }
    }
}

/// R rows (from `row`) times one group of 64 output channels.
///
/// # Safety
/// The CPU has AVX-512F and VNNI; `a` holds rows `row..row + R` of `depth` values (depth a multiple of 4), `b`
/// the group's 4 blocks of depth x 16 weights.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile<const R: usize>(
    a: &[u8],
    row: usize,
    b: &[i8],
    depth: usize,
    out64: usize,
    group: usize,
    c: &mut [i32],
) {
    use std::arch::x86_64::*;
    let block_len = depth * LANES;
    let mut acc = [[_mm512_setzero_si512(); BLOCKS]; R];
    let bp = b.as_ptr();
    for k4 in 0..depth / 4 {
        let mut w = [_mm512_setzero_si512(); BLOCKS];
        for (j, wj) in w.iter_mut().enumerate() {
            *wj = _mm512_loadu_si512(bp.add(j * block_len + k4 * LANES * 4) as *const _);
        }
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // Four consecutive u8 inputs of the row, broadcast to every lane.
            let x = _mm512_set1_epi32(
                (a.as_ptr().add((row + r) * depth + k4 * 4) as *const i32).read_unaligned(),
            );
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
    use super::super::pattern;
    use super::*;

    /// The exact integer result: the kernel's output equals the quantized product computed in f64 from the same
    /// quantized values, and stays within the quantization error of the f32 product.
    #[test]
    fn matches_the_quantized_product_and_the_f32_product() {
        let (rows, inner, out) = (7, 37, 70); // tails everywhere: rows % 4, inner % 4 and out % 64 are not 0
        let (xs, ws) = (pattern(rows * inner, 37, 101, 0.7), pattern(out * inner, 53, 97, 0.2));
        let bias: Vec<f32> = (0..out).map(|i| i as f32 * 0.01).collect();
        let x = Tensor::from_vec(xs.clone(), (rows, inner), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(ws.clone(), (out, inner), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(bias.clone(), out, &Device::Cpu).unwrap();
        let q = QuantizedLinear::new(&w).unwrap();
        albert_testkit::ran_on(int8_kernel().name());
        let y: Vec<Vec<f32>> = q.forward(&x, Some(&b)).unwrap().to_vec2().unwrap();
        // The weights' steps: 127 a side, or 63 where a 7-bit kernel runs; the activations': 127, or 63 on the
        // 7x7-bit kernel.
        let qmax = int8_kernel().weight_max() as f32;
        let amax = int8_kernel().activation_range().0 as f32;
        for i in 0..rows {
            let row = &xs[i * inner..(i + 1) * inner];
            let sx = row.iter().fold(0f32, |m, v| m.max(v.abs())) / amax;
            for n in 0..out {
                let wrow = &ws[n * inner..(n + 1) * inner];
                let sw = wrow.iter().fold(0f32, |m, v| m.max(v.abs())) / qmax;
                let dot: i64 = row
                    .iter()
                    .zip(wrow)
                    .map(|(a, b)| {
                        (a / sx).round_ties_even().clamp(-amax, amax) as i64
                            * (b / sw).round_ties_even().clamp(-qmax, qmax) as i64
                    })
                    .sum();
                let want = dot as f64 * sx as f64 * sw as f64 + bias[n] as f64;
                assert!(
                    (y[i][n] as f64 - want).abs() < 1e-4,
                    "({i}, {n}): {} vs {want}",
                    y[i][n]
                );
                let exact: f32 = row.iter().zip(wrow).map(|(a, b)| a * b).sum::<f32>() + bias[n];
                // Rounding error: at most half a step per factor on each of the `inner` products.
                let bound = inner as f32 * (0.5 * sx * 0.2 + 0.5 * sw * 0.7 + 0.25 * sx * sw);
                assert!(
                    (y[i][n] - exact).abs() <= bound,
                    "({i}, {n}): {} vs {exact}",
                    y[i][n]
                );
            }
        }
    }

    /// The activation applied while scaling back equals the fused bias activation over the plain int8 product.
    #[test]
    fn activation_in_the_product_equals_the_separate_bias_activation() {
        let (rows, inner, out) = (33, 70, 90);
        let x = Tensor::from_vec(pattern(rows * inner, 37, 101, 1.3), (rows, inner), &Device::Cpu).unwrap();
        let w = Tensor::from_vec(pattern(out * inner, 53, 97, 0.2), (out, inner), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(
            (0..out).map(|i| i as f32 * 0.03 - 1.0).collect::<Vec<_>>(),
            out,
            &Device::Cpu,
        )
        .unwrap();
        let q = QuantizedLinear::new(&w).unwrap();
        albert_testkit::ran_on(int8_kernel().name());
        for act in [
            HiddenAct::GeluNew,
            HiddenAct::Gelu,
            HiddenAct::Relu,
            HiddenAct::Silu,
        ] {
            let fused: Vec<Vec<f32>> = q
                .forward_act(&x, Some(&b), Some(act))
                .unwrap()
                .to_vec2()
                .unwrap();
            let separate: Vec<Vec<f32>> =
                crate::ops::bias_act(&q.forward(&x, None).unwrap(), &b, act)
                    .unwrap()
                    .to_vec2()
                    .unwrap();
            for (f, s) in fused.iter().flatten().zip(separate.iter().flatten()) {
                assert!(
                    (f - s).abs() <= 1e-6 * (1.0 + s.abs()),
                    "{act:?}: {f} vs {s}"
                );
            }
        }
    }

    /// Few rows split the panels between the tasks ([`QuantizedLinear::columns_forward`]); they give the bits of
    /// tasks of rows, with and without an activation, from one row to the most a columns split takes, with output
    /// widths under one panel, at a panel boundary and between.
    #[test]
    fn tasks_of_panels_give_the_bits_of_tasks_of_rows() {
        let inner = 70;
        for out in [40, 128, 200] {
            let w = Tensor::from_vec(pattern(out * inner, 53, 97, 0.2), (out, inner), &Device::Cpu).unwrap();
            let q = QuantizedLinear::new(&w).unwrap();
            let bias: Vec<f32> = (0..out).map(|i| i as f32 * 0.03 - 1.0).collect();
            for rows in [1, 17, 128, MAX_TASK_ROWS] {
                let x = pattern(rows * inner, 37, 101, 1.3);
                let run = |threads: usize, act: bool| {
                    let kernel = int8_kernel();
                    let mut y = vec![MaybeUninit::new(f32::NAN); rows * out];
                    match act {
                        true => q.forward_rows::<super::super::activation::GeluNew>(&x, &mut y, &bias, kernel, threads),
                        false => q.forward_rows::<Identity>(&x, &mut y, &bias, kernel, threads),
                    }
                    // SAFETY: initialized above (and every value written again by the call).
                    y.iter().map(|v| unsafe { v.assume_init() }.to_bits()).collect::<Vec<_>>()
                };
                for act in [false, true] {
                    let by_rows = run(1, act);
                    assert!(by_rows.iter().all(|&b| !f32::from_bits(b).is_nan()), "{rows} x {out}: a value left unwritten");
                    assert_eq!(run(4, act), by_rows, "{rows} rows x {out} channels, activation {act}");
                }
            }
        }
        albert_testkit::ran_on(int8_kernel().name());
    }

    /// Every kernel this CPU has gives the integers of a direct reading of the packed layout; the shape has an odd
    /// number of 16-row tiles (the AMX kernel's single-tile tail) and more than one 64-input step.
    #[test]
    fn every_available_kernel_computes_the_exact_integer_product() {
        let (m, depth, out64) = (48, 128, 128);
        let a: Vec<u8> = (0..m * depth).map(|i| (i * 31 % 256) as u8).collect();
        let packed: Vec<i8> = (0..out64 * depth)
            .map(|i| ((i * 17 % 255) as i32 - 127) as i8)
            .collect();
        let checked = check_every_kernel(&[(a, packed)], m, depth, out64);
        albert_testkit::ran_on(&checked.join(", "));
    }

    /// The inputs that break a naive `vpmaddubsw` (u8 x i8 pairs saturate at 32,767): extreme activations against
    /// extreme weights of both signs, -128 included, in every arrangement, then pseudo-random bytes over the whole
    /// range; and each case again with its weights halved (an arithmetic shift: 127 to 63, -128 to -64), the
    /// extremes of the 7-bit kernel, on which it runs beside the others, and with its activations halved too (255 to
    /// 127), the extremes of the 7x7-bit kernel. 16 and 32 rows, and 192 inputs (three 64-input steps), so the AVX2
    /// kernels' 2-, 3- and 4-row tiles (and the 7x7-bit kernel's 1-row tail) and the AMX kernel's 16-row tail end
    /// inside the shape.
    #[test]
    fn every_available_kernel_is_exact_at_the_extremes() {
        let out64 = 64;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let extremes: [(fn(usize) -> u8, fn(usize) -> i8); 7] = [
            (|_| 255, |_| 127),
            (|_| 255, |_| -127),
            (|_| 255, |_| -128),
            (|_| 0, |_| -128),
            (|i| if i % 2 == 0 { 255 } else { 0 }, |i| if i % 3 == 0 { 127 } else { -128 }),
            (|i| [0, 1, 127, 128, 129, 254, 255][i % 7], |i| [-128, -127, -1, 0, 1, 127][i % 6]),
            (|i| [255, 254][i % 2], |i| [-128, 127][i / 4 % 2]),
        ];
        let mut checked = vec![];
        for (m, depth) in [(16, 192), (32, 64)] {
            let mut cases: Vec<(Vec<u8>, Vec<i8>)> = extremes
                .iter()
                .map(|(a, w)| ((0..m * depth).map(a).collect(), (0..out64 * depth).map(w).collect()))
                .collect();
            cases.push((
                (0..m * depth).map(|_| random() as u8).collect(),
                (0..out64 * depth).map(|_| random() as u8 as i8).collect(),
            ));
            let halved: Vec<(Vec<u8>, Vec<i8>)> =
                cases.iter().map(|(a, w)| (a.clone(), w.iter().map(|w| w >> 1).collect())).collect();
            // And with the activations halved as well (255 to 127), the extremes of the 7x7-bit kernel.
            let both: Vec<_> = halved.iter().map(|(a, w)| (a.iter().map(|a| a >> 1).collect(), w.clone())).collect();
            cases.extend(halved);
            cases.extend(both);
            checked = check_every_kernel(&cases, m, depth, out64);
        }
        // Worked by hand: 192 inputs of 255 against weights of -128 (127) sum to 255 x -128 x 192 = -6,266,880
        // (255 x 127 x 192 = 6,217,920) in every output; against the 7-bit extremes -64 (63), -3,133,440
        // (3,084,480), on the 7-bit kernel where the CPU has it.
        let (m, depth) = (16, 192);
        // On the 7x7-bit kernel, 192 inputs of 127 against -64 (63): -1,560,576 (1,536,192).
        let or_portable = |k: Int8Kernel| if checked.contains(&k.name()) { k } else { Int8Kernel::Portable };
        let (seven_bit, seven_by_seven) = (or_portable(Int8Kernel::Avx2SevenBit), or_portable(Int8Kernel::Avx2SevenBySeven));
        for (kernel, a, w, want) in [
            (Int8Kernel::Portable, 255u8, -128i8, -6_266_880),
            (Int8Kernel::Portable, 255, 127, 6_217_920),
            (seven_bit, 255, -64, -3_133_440),
            (seven_bit, 255, 63, 3_084_480),
            (seven_by_seven, 127, -64, -1_560_576),
            (seven_by_seven, 127, 63, 1_536_192),
        ] {
            let mut got = vec![0; m * out64];
            product(kernel, &vec![a; m * depth], m, &vec![w; out64 * depth], depth, out64, &mut got);
            assert!(got.iter().all(|&v| v == want), "{} {w}: {:?}", kernel.name(), &got[..4]);
        }
        albert_testkit::ran_on(&checked.join(", "));
    }

    /// The 7x7-bit kernel's tiles of 1 to 3 rows (past the last multiple of its 4-row tile, which the layers never
    /// leave) give the sums written out, at its extremes and on pseudo-random operands in its ranges.
    #[test]
    fn the_7x7_kernel_is_exact_on_every_row_count() {
        let cpu = super::super::cpu::CpuFeatures::detect();
        if !albert_testkit::cpu_has(cpu.avx2_fma, "AVX2 (the avx2-7x7 int8 kernel)") {
            return;
        }
        let (depth, out64) = (136, 32);
        for m in 1..=11 {
            for (a, w) in [
                (vec![127u8; m * depth], vec![-64i8; out64 * depth]),
                (
                    (0..m * depth).map(|i| (i * 37 % 128) as u8).collect::<Vec<_>>(),
                    (0..out64 * depth).map(|i| (i * 53 % 128) as i8 - 64).collect::<Vec<_>>(),
                ),
            ] {
                let mut want = vec![0i32; m * out64];
                for i in 0..m {
                    for n in 0..out64 {
                        want[i * out64 + n] =
                            (0..depth).map(|k| a[i * depth + k] as i32 * w[pack_index(n, k, depth)] as i32).sum();
                    }
                }
                let mut got = vec![0i32; m * out64];
                // SAFETY: the CPU has AVX2 (checked above); the kernel checks the sizes.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    super::super::int8_avx2_7x7::product(&a, m, &w, depth, out64, &mut got)
                };
                assert_eq!(got, want, "{m} rows");
            }
        }
        albert_testkit::ran_on("avx2-7x7");
    }

    /// Compares each kernel this CPU has with the sums written out on every case (activations, packed weights) that
    /// it takes (the 7-bit kernel: weights in its range), and returns the names of those it checked.
    fn check_every_kernel(cases: &[(Vec<u8>, Vec<i8>)], m: usize, depth: usize, out64: usize) -> Vec<&'static str> {
        let mut checked = vec![];
        let cpu = super::super::cpu::CpuFeatures::detect();
        for kernel in Int8Kernel::ALL.into_iter().rev() {
            let available = match kernel {
                Int8Kernel::Portable => true,
                Int8Kernel::Avx2 => albert_testkit::cpu_has(cpu.avx2_fma, "AVX2 (the avx2 int8 kernel)"),
                Int8Kernel::Avx2SevenBit => albert_testkit::cpu_has(cpu.avx2_fma, "AVX2 (the avx2-7bit int8 kernel)"),
                Int8Kernel::Avx2SevenBySeven => albert_testkit::cpu_has(cpu.avx2_fma, "AVX2 (the avx2-7x7 int8 kernel)"),
                Int8Kernel::Vnni => albert_testkit::cpu_has(cpu.avx512_vnni, "AVX-512 VNNI (the avx512-vnni int8 kernel)"),
                Int8Kernel::Amx => albert_testkit::cpu_has(cpu.amx, "AMX, or the OS's leave to use it (the amx int8 kernel)"),
            };
            if !available {
                continue;
            }
            let (seven_bit, seven_by_seven) =
                (super::super::int8_avx2_7bit::WEIGHTS, super::super::int8_avx2_7x7::WEIGHTS);
            let seven_bit_acts = super::super::int8_avx2_7x7::ACTIVATIONS;
            let takes = |a: &[u8], w: &[i8]| match kernel {
                Int8Kernel::Avx2SevenBit => w.iter().all(|w| seven_bit.contains(w)),
                Int8Kernel::Avx2SevenBySeven => {
                    w.iter().all(|w| seven_by_seven.contains(w)) && a.iter().all(|a| seven_bit_acts.contains(a))
                }
                _ => true,
            };
            let cases: Vec<_> = cases.iter().filter(|(a, w)| takes(a, w)).collect();
            if cases.is_empty() {
                continue;
            }
            for (a, packed) in cases {
                let mut want = vec![0i32; m * out64];
                for i in 0..m {
                    for n in 0..out64 {
                        want[i * out64 + n] = (0..depth)
                            .map(|k| a[i * depth + k] as i32 * packed[pack_index(n, k, depth)] as i32)
                            .sum();
                    }
                }
                let mut got = vec![0i32; m * out64];
                product(kernel, a, m, packed, depth, out64, &mut got);
                assert_eq!(got, want, "{}", kernel.name());
            }
            checked.push(kernel.name());
        }
        checked
    }
}
