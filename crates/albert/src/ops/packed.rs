//! The f32 linear layer for inference against a weight packed once, at load time. The `gemm` crate copies a weight
//! into its micro-kernel's panels on every call, even a column-major one: 19% of batch-1 inference. Here the
//! weight is stored as those panels and the activations are read in place, so a call copies nothing; the bias and
//! the activation are applied as each tile leaves the registers.
//!
//! The micro-kernel is AVX-512: 8 rows x 48 output channels, 24 accumulators, 3 weight loads and 8 broadcasts per
//! input. An AVX2 + FMA kernel on the same panels ([`super::packed_avx2`]) runs where
//! [`F32_KERNEL_ENV`](super::F32_KERNEL_ENV) asks for it; other CPUs and levels keep `gemm` on a column-major weight
//! ([`crate::ops::column_major`]). [`super::cpu`] chooses.
//!
//! Parallel tasks take rectangles of rows x weight panels: at batch 1 the threads split the panels, at larger
//! batches the rows. Inputs go in blocks of `DEPTH_BLOCK`: on the 2-core Sapphire Rapids the AVX-512 kernel was
//! tuned on, 768 (a whole block for every ALBERT-base input but the FFN output's 3,072) did best among 128 to 3,072,
//! and on Zen 3 the AVX2 kernel measured level at 256, 768 and 3,072 (`examples/f32_kernel_bench.rs`).

use std::mem::MaybeUninit;

use candle_core::Tensor;
use rayon::prelude::*;

use super::activation::{with_activation, Activation, Identity};
use crate::config::HiddenAct;
use crate::error::{Error, Result};

/// Output channels per panel: three 16-lane registers.
pub(super) const NR: usize = 48;
/// Rows per tile of the AVX-512 micro-kernel.
const MR: usize = 8;
/// How many inputs ahead the kernel asks for weight lines: the panel streams from L2, and waiting on its loads was
/// a quarter of the kernel's time without it.
const PREFETCH: usize = 8;
/// Inputs per depth block.
const DEPTH_BLOCK: usize = 768;
/// Most rows one parallel task takes. Each task streams its panels of the weight once per depth block, so fewer,
/// taller tasks read the weight fewer times: on Zen 3 with 2 threads, 128 took 4-10% more CPU time than 256 at 800
/// and 1,568 rows, and 512 about 2% less (`examples/f32_kernel_bench`, docs/speed).
const MAX_TASK_ROWS: usize = 512;

/// The kernel that f32 inference (the prepared projections) runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum F32Kernel {
    /// The AVX-512 micro-kernel on weights packed once ([`PackedLinear`]).
    Packed,
    /// The AVX2 + FMA micro-kernel on the same packed weights.
    PackedAvx2,
    /// The `gemm` crate on column-major weights ([`crate::ops::column_major`]).
    Gemm,
}

impl F32Kernel {
    /// Every f32 kernel, fastest first.
    pub const ALL: [F32Kernel; 3] = [F32Kernel::Packed, F32Kernel::PackedAvx2, F32Kernel::Gemm];

    /// Lower-case name, as benchmarks, tests and [`F32_KERNEL_ENV`](super::F32_KERNEL_ENV) name it.
    pub fn name(self) -> &'static str {
        match self {
            F32Kernel::Packed => "packed-avx512",
            F32Kernel::PackedAvx2 => "packed-avx2",
            F32Kernel::Gemm => "gemm",
        }
    }
}

/// The kernel f32 inference runs on in this process ([`super::kernels`]): the AVX-512 packed kernel at the avx512
/// level, else `gemm`, unless [`F32_KERNEL_ENV`](super::F32_KERNEL_ENV) names another.
pub fn f32_kernel() -> F32Kernel {
    super::cpu::chosen().f32
}

/// Whether f32 inference runs on packed weights in this process ([`f32_kernel`]).
pub fn packed_f32_available() -> bool {
    f32_kernel() != F32Kernel::Gemm
}

fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A (out, in) f32 weight packed as the micro-kernel reads it.
#[derive(Debug, Clone)]
pub struct PackedLinear {
    out: usize,
    inner: usize,
    /// [panel][input][NR], `out` padded with zero channels to whole panels: every panel row is 3 whole lines.
    packed: super::CacheAligned<f32>,
    /// The micro-kernel this weight was packed for: one the CPU has.
    kernel: F32Kernel,
}

impl PackedLinear {
    /// Packs `weight` (out, in), or `None` where f32 inference runs on `gemm` ([`packed_f32_available`]) or the
    /// weight has no inputs (the kernel writes its outputs only while it sums inputs). Fails where the kernel
    /// variables are invalid ([`super::kernels`]).
    pub fn new(weight: &Tensor) -> Result<Option<Self>> {
        Self::for_kernel(weight, super::kernels()?.f32)
    }

    /// Packs `weight` for `kernel`, or `None` where that is `gemm`, the CPU lacks it or the weight has no inputs.
    fn for_kernel(weight: &Tensor, kernel: F32Kernel) -> Result<Option<Self>> {
        let (out, inner) = weight.dims2()?;
        if !packs(kernel, inner) {
            return Ok(None);
        }
        let mut packed = super::CacheAligned::filled(out.div_ceil(NR) * NR * inner, 0f32);
        let slots = packed.as_mut_slice();
        // Read in place: a copy of the weight beside the packed one would add the largest weight to the peak memory.
        super::with_f32_rows(weight, "packing an f32 weight", |w| {
            for (n, row) in w.chunks(inner).enumerate() {
                let (panel, lane) = (n / NR, n % NR);
                for (k, &v) in row.iter().enumerate() {
                    slots[(panel * inner + k) * NR + lane] = v;
                }
            }
        })?;
        Ok(Some(Self { out, inner, packed, kernel }))
    }

    /// [`PackedLinear::new`] on a weight whose storage no other tensor shares: its values are moved out of it
    /// ([`super::take_f32`] leaves `weight`'s storage empty) and packed where they lie, so that no second copy of
    /// the weight exists at any time. Packing from a copy kept the largest weight twice for a while, 256 MiB for
    /// albert-xxlarge's feed-forward matrices: 0.3x its f32 weights on top of them at the peak. `None`, with
    /// `weight` untouched, where `new` gives `None`.
    pub fn from_owned(weight: Tensor) -> Result<Option<Self>> {
        Self::owned_for_kernel(weight, super::kernels()?.f32)
    }

    /// [`PackedLinear::from_owned`] for `kernel`.
    fn owned_for_kernel(weight: Tensor, kernel: F32Kernel) -> Result<Option<Self>> {
        let (out, inner) = weight.dims2()?;
        if !packs(kernel, inner) {
            return Ok(None);
        }
        let mut packed = super::CacheAligned::from_vec(super::take_f32(weight)?, out.div_ceil(NR) * NR * inner, 0.0);
        // Rows p*NR.. of the weight (the last panel's padded with zero rows) lie where panel p's [input][NR]
        // values go: each panel is transposed in its own span, through a copy of its rows.
        let mut rows = vec![0f32; NR * inner];
        for panel in packed.as_mut_slice().chunks_exact_mut(NR * inner) {
            rows.copy_from_slice(panel);
            for (lane, row) in rows.chunks_exact(inner).enumerate() {
                for (k, &v) in row.iter().enumerate() {
                    panel[k * NR + lane] = v;
                }
            }
        }
        Ok(Some(Self { out, inner, packed, kernel }))
    }

    /// `act(x W^T + bias)` for `x` (..., in) in f32: (..., out).
    pub fn forward_act(&self, x: &Tensor, bias: Option<&Tensor>, act: Option<HiddenAct>) -> Result<Tensor> {
        let mut bias = super::bias_values(bias, self.out)?;
        bias.resize(self.out.div_ceil(NR) * NR, 0.0);
        let (rows, out, inner) = (x.elem_count() / self.inner.max(1), self.out, self.inner);
        let mut shape = x.dims().to_vec();
        match shape.last_mut() {
            Some(last) if *last == inner => *last = out,
            _ => return Err(Error::Input(format!("input of shape {shape:?} against an f32 weight of width {inner}"))),
        }
        let y = super::with_f32_rows(x, "the packed f32 linear layer", |xs| {
            let split = Split::new(rows, out.div_ceil(NR), self.tile_rows(), rayon::current_num_threads());
            // SAFETY: the tasks' (rows x panels) rectangles tile (rows, out), and each task writes all of its own.
            unsafe {
                super::filled(rows * out, |y| {
                    let y = SharedOut(y.as_mut_ptr(), y.len());
                    (0..split.tasks()).into_par_iter().for_each(|t| {
                        let task = split.task(t);
                        if task.rows.is_empty() || task.panels.is_empty() {
                            return;
                        }
                        match act {
                            None => self.task_forward::<Identity>(xs, &y, &bias, &task),
                            Some(act) => with_activation!(act, A => self.task_forward::<A>(xs, &y, &bias, &task)),
                        }
                    })
                })
            }
        })?;
        Ok(Tensor::from_vec(y, shape, x.device())?)
    }

    /// Rows per tile of this weight's micro-kernel.
    fn tile_rows(&self) -> usize {
        match self.kernel {
            F32Kernel::PackedAvx2 => super::packed_avx2::MR,
            _ => MR,
        }
    }

    /// One task's rectangle of the output, on the micro-kernel this weight was packed for.
    ///
    /// # Safety
    /// As [`Self::tiles`].
    unsafe fn task_forward<A: Activation>(&self, x: &[f32], y: &SharedOut, bias: &[f32], task: &Task) {
        // for_kernel() packed this weight only for a kernel the CPU has.
        match self.kernel {
            F32Kernel::PackedAvx2 => self.tiles::<A, { super::packed_avx2::MR }>(x, y, bias, task, super::packed_avx2::kernel),
            _ => self.tiles::<A, MR>(x, y, bias, task, kernel),
        }
    }

    /// One task's rectangle of the output in tiles of `M` rows, depth block by depth block. Between blocks the
    /// partial sums wait in `y`; the first block starts from the bias, the last applies the activation.
    ///
    /// # Safety
    /// `y` points to (rows, out) values of which this task alone writes its rectangle; `micro` runs on this CPU.
    unsafe fn tiles<A: Activation, const M: usize>(
        &self,
        x: &[f32],
        y: &SharedOut,
        bias: &[f32],
        task: &Task,
        micro: Micro<M>,
    ) {
        let (inner, out) = (self.inner, self.out);
        let blocks = task.rows.len().div_ceil(M);
        let weights = self.packed.as_slice();
        // The pointers below reach rows ..task.rows.end of x and y, panels ..task.panels.end of the weight and the
        // padded bias.
        assert!(
            task.rows.end * inner <= x.len()
                && task.rows.end * out <= y.1
                && task.panels.end * inner * NR <= weights.len()
                && task.panels.end * NR <= bias.len(),
            "packed f32 task out of bounds"
        );
        let mut tile = [[0f32; NR]; M];
        let tile_base = tile.as_mut_ptr().cast::<f32>();
        for k0 in (0..inner).step_by(DEPTH_BLOCK) {
            let depth = DEPTH_BLOCK.min(inner - k0);
            let (first, last) = (k0 == 0, k0 + depth == inner);
            for p in task.panels.clone() {
                let panel = &weights[(p * inner + k0) * NR..(p * inner + k0 + depth) * NR];
                let cols = p * NR..((p + 1) * NR).min(out);
                for b in 0..blocks {
                    let r0 = task.rows.start + b * M;
                    let valid = M.min(task.rows.end - r0);
                    // The kernel starts from and stores to rows of `y` itself where the panel is whole (copies of the
                    // tile through memmove were 6% of batch-1 inference), to rows of `tile` for the rows a partial
                    // tile repeats and for a partial panel, which is copied in and out.
                    let whole = cols.len() == NR;
                    let tile_row = |r: usize| tile_base.wrapping_add(r * NR);
                    // SAFETY (pointer arithmetic): rows of this task's rectangle.
                    let y_row = |r: usize| unsafe { y.0.add((r0 + r) * out + cols.start).cast::<f32>() };
                    let dst: [*mut f32; M] = std::array::from_fn(|r| if whole && r < valid { y_row(r) } else { tile_row(r) });
                    let init: [*const f32; M] = if first {
                        [bias[p * NR..].as_ptr(); M]
                    } else {
                        if !whole {
                            for r in 0..valid {
                                // SAFETY: the previous depth block wrote these values.
                                unsafe { std::ptr::copy_nonoverlapping(y_row(r), tile_row(r), cols.len()) };
                            }
                        }
                        dst.map(|d| d.cast_const())
                    };
                    // A partial tile repeats its last row; the copies are computed and not written.
                    let rows: [*const f32; M] = std::array::from_fn(|r| x[(r0 + r.min(valid - 1)) * inner + k0..].as_ptr());
                    // SAFETY: the kernel was available when this weight was packed; each row pointer has `depth`
                    // inputs, `panel` depth x NR weights, each `init` and `dst` row NR values (the bias is padded
                    // to whole panels).
                    micro(rows, panel.as_ptr(), depth, cols.len(), init, dst);
                    if !whole {
                        for r in 0..valid {
                            // SAFETY: this task owns the row's columns `cols`.
                            unsafe { std::ptr::copy_nonoverlapping(tile_row(r), y_row(r), cols.len()) };
                        }
                    }
                    if last {
                        super::simd::vectorized(
                            #[inline(always)]
                            || {
                                for r in 0..valid {
                                    // SAFETY: as above; written by the kernel or the copy just now.
                                    let row = unsafe { std::slice::from_raw_parts_mut(y_row(r), cols.len()) };
                                    row.iter_mut().for_each(|v| *v = A::value_and_slope(*v).0);
                                }
                            },
                        );
                    }
                }
            }
        }
    }
}

/// Whether a weight of `inner` inputs is packed for `kernel`: not for `gemm` or a kernel the CPU lacks, nor without
/// inputs (the kernel writes its outputs only while it sums inputs).
fn packs(kernel: F32Kernel, inner: usize) -> bool {
    let runs = match kernel {
        F32Kernel::Packed => has_avx512(),
        F32Kernel::PackedAvx2 => super::packed_avx2::has_avx2_fma(),
        F32Kernel::Gemm => false,
    };
    runs && inner > 0
}

/// The output's base pointer and length, shared by tasks that write disjoint rectangles.
struct SharedOut(*mut MaybeUninit<f32>, usize);
// SAFETY: tasks write disjoint parts of the buffer, and the buffer outlives the parallel loop.
unsafe impl Sync for SharedOut {}

/// The rows and weight panels one task computes.
#[derive(Debug, PartialEq)]
struct Task {
    rows: std::ops::Range<usize>,
    panels: std::ops::Range<usize>,
}

/// How a product's (rows x panels) splits into parallel tasks: rectangles of whole tiles of rows and whole panels,
/// as even as those allow.
#[derive(Debug, Clone, Copy)]
struct Split {
    rows: usize,
    tile: usize,
    panels: usize,
    row_tasks: usize,
    col_tasks: usize,
}

impl Split {
    /// Tasks of at most `MAX_TASK_ROWS` rows for `threads` threads. Tasks of equal work, as many as a multiple of
    /// the threads: 5 tasks of 231 rows (a batch of 32 texts of 36 tokens, tasks of at most 256 rows) kept one of 2
    /// threads idle for a fifth of the product. At batch 1 there are few rows: the threads split the panels instead.
    fn new(rows: usize, panels: usize, tile: usize, threads: usize) -> Self {
        let tiles = rows.div_ceil(tile).max(1);
        let row_tasks = match rows.div_ceil(MAX_TASK_ROWS) {
            0 | 1 => 1,
            n => n.next_multiple_of(threads.max(1)).min(tiles),
        };
        let col_tasks = (2 * threads).div_ceil(row_tasks).clamp(1, panels.max(1));
        Self { rows, tile, panels, row_tasks, col_tasks }
    }

    fn tasks(&self) -> usize {
        self.row_tasks * self.col_tasks
    }

    /// Task `t` of [`Self::tasks`]: tiles and panels dealt out evenly (the task sizes differ by one at most).
    fn task(&self, t: usize) -> Task {
        let (r, c) = (t / self.col_tasks, t % self.col_tasks);
        let tiles = self.rows.div_ceil(self.tile);
        let row = |i: usize| (i * tiles / self.row_tasks * self.tile).min(self.rows);
        let panel = |i: usize| i * self.panels / self.col_tasks;
        Task { rows: row(r)..row(r + 1), panels: panel(c)..panel(c + 1) }
    }
}

/// A micro-kernel on tiles of `M` rows: dst (M x NR) = init + rows (M x depth, each read in place from its own
/// pointer) x panel (depth x NR), for at least the panel's first `cols` channels (a kernel may compute all NR; the
/// others are never read). The rows of `init` and `dst` are NR values each, and may be the same. Every output is one
/// chain of fused multiply-adds from its `init` value over the inputs in order, whichever the kernel: the kernels
/// give the same bits, and a row's outputs do not depend on the rows tiled with it.
type Micro<const M: usize> = unsafe fn([*const f32; M], *const f32, usize, usize, [*const f32; M], [*mut f32; M]);

/// The AVX-512 [`Micro`] kernel: 8 rows x 48 channels, all computed.
///
/// # Safety
/// The CPU has AVX-512F; each `rows` pointer addresses `depth` values, `panel` depth x NR, each `init` and `dst`
/// row NR ([`PackedLinear::task_forward`] asserts the bounds these come from).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn kernel(rows: [*const f32; MR], panel: *const f32, depth: usize, _cols: usize, init: [*const f32; MR], dst: [*mut f32; MR]) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); 3]; MR];
    for (r, acc_r) in acc.iter_mut().enumerate() {
        for (j, v) in acc_r.iter_mut().enumerate() {
            *v = _mm512_loadu_ps(init[r].add(j * 16));
        }
    }
    for k in 0..depth {
        let w = panel.add(k * NR);
        let (w0, w1, w2) = (_mm512_loadu_ps(w), _mm512_loadu_ps(w.add(16)), _mm512_loadu_ps(w.add(32)));
        // Past the panel's end these are hints to addresses never read: prefetches do not fault.
        let ahead = w.wrapping_add(PREFETCH * NR) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(ahead);
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64));
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(128));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_ps(*rows[r].add(k));
            acc_r[0] = _mm512_fmadd_ps(x, w0, acc_r[0]);
            acc_r[1] = _mm512_fmadd_ps(x, w1, acc_r[1]);
            acc_r[2] = _mm512_fmadd_ps(x, w2, acc_r[2]);
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (j, v) in acc_r.iter().enumerate() {
            _mm512_storeu_ps(dst[r].add(j * 16), *v);
        }
    }
}

/// Never called: [`PackedLinear::new`] packs nothing where the AVX-512 kernel is missing.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn kernel(_: [*const f32; MR], _: *const f32, _: usize, _: usize, _: [*const f32; MR], _: [*mut f32; MR]) {
    unreachable!("the packed f32 kernel needs AVX-512")
}

#[cfg(test)]
mod tests {
    use super::super::pattern;
    use super::*;
    use candle_core::Device;

    /// The packed kernels this CPU has (whatever [`F32_KERNEL_ENV`] chooses for inference), each named on the
    /// KERNEL line; a skip names each one missing.
    fn kernels_here() -> Vec<F32Kernel> {
        let kernels: Vec<F32Kernel> = [
            (F32Kernel::Packed, has_avx512(), "AVX-512F (the packed-avx512 f32 kernel)"),
            (F32Kernel::PackedAvx2, super::super::packed_avx2::has_avx2_fma(), "AVX2 and FMA (the packed-avx2 f32 kernel)"),
        ]
        .into_iter()
        .filter(|&(_, has, what)| albert_testkit::cpu_has(has, what))
        .map(|(k, _, _)| k)
        .collect();
        albert_testkit::ran_on(&kernels.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "));
        kernels
    }

    /// Against the product summed in f64, on shapes with tails everywhere (rows % 8, out % 48 and inner % 768 are
    /// not 0) and more than one task of rows and of panels, with and without an activation.
    #[test]
    fn matches_the_f64_product_with_bias_and_activation() {
        let w = |out: usize, inner: usize| Tensor::from_vec(pattern(out * inner, 53, 97, 0.2), (out, inner), &Device::Cpu).unwrap();
        for (kernel, (rows, inner, out)) in kernels_here().into_iter().flat_map(|k| [(3, 5, 7), (13, 400, 100), (300, 800, 150), (129, 64, 49)].map(|s| (k, s))) {
            let (xs, ws) = (pattern(rows * inner, 37, 101, 0.7), pattern(out * inner, 53, 97, 0.2));
            let bias: Vec<f32> = (0..out).map(|i| i as f32 * 0.01 - 0.3).collect();
            let x = Tensor::from_vec(xs.clone(), (rows, inner), &Device::Cpu).unwrap();
            let b = Tensor::from_vec(bias.clone(), out, &Device::Cpu).unwrap();
            let packed = PackedLinear::for_kernel(&w(out, inner), kernel).unwrap().unwrap();
            let plain: Vec<Vec<f32>> = packed.forward_act(&x, Some(&b), None).unwrap().to_vec2().unwrap();
            for i in 0..rows {
                for n in 0..out {
                    let want: f64 = (0..inner).map(|k| xs[i * inner + k] as f64 * ws[n * inner + k] as f64).sum::<f64>() + bias[n] as f64;
                    assert!((plain[i][n] as f64 - want).abs() < 1e-5 * (1.0 + want.abs()), "{}: ({rows}, {inner}, {out}) at ({i}, {n}): {} vs {want}", kernel.name(), plain[i][n]);
                }
            }
            for act in [HiddenAct::GeluNew, HiddenAct::Gelu, HiddenAct::Relu, HiddenAct::Silu] {
                let fused: Vec<f32> = packed.forward_act(&x, Some(&b), Some(act)).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let without_bias = packed.forward_act(&x, None, None).unwrap();
                let separate: Vec<f32> = crate::ops::bias_act(&without_bias, &b, act).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                for (f, s) in fused.iter().zip(&separate) {
                    assert!((f - s).abs() <= 1e-5 * (1.0 + s.abs()), "{act:?}: {f} vs {s}");
                }
            }
        }
    }

    /// The tasks tile the product in whole tiles and panels, as many as a multiple of the threads once rows are
    /// split, each within a tile (or a panel) of the others.
    #[test]
    fn tasks_tile_the_product_evenly() {
        for (rows, panels, tile, threads) in [(1152, 16, 6, 2), (1568, 64, 6, 2), (13, 48, 6, 2), (300, 16, 8, 3), (1, 1, 6, 4), (2048, 16, 6, 1), (257, 1, 6, 2)] {
            let split = Split::new(rows, panels, tile, threads);
            let tasks: Vec<Task> = (0..split.tasks()).map(|t| split.task(t)).collect();
            let mut covered = vec![0u8; rows * panels];
            for task in &tasks {
                assert!(task.rows.start % tile == 0 && task.rows.len() <= MAX_TASK_ROWS + tile, "{task:?}");
                for r in task.rows.clone() {
                    task.panels.clone().for_each(|p| covered[r * panels + p] += 1);
                }
            }
            assert!(covered.iter().all(|&c| c == 1), "({rows}, {panels}): {tasks:?}");
            if split.row_tasks > 1 {
                assert_eq!(split.tasks() % threads, 0, "({rows}, {panels}): {tasks:?}");
            }
            let spread = |len: fn(&Task) -> usize| tasks.iter().map(len).max().unwrap() - tasks.iter().map(len).min().unwrap();
            assert!(spread(|t| t.rows.len()) <= tile && spread(|t| t.panels.len()) <= 1, "({rows}, {panels}): {tasks:?}");
        }
    }

    #[test]
    fn wrong_widths_are_errors() {
        let empty = Tensor::zeros((3, 0), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(PackedLinear::new(&empty).unwrap().is_none(), "a weight without inputs stays on gemm");
        let w = Tensor::zeros((3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        for kernel in kernels_here() {
            let packed = PackedLinear::for_kernel(&w, kernel).unwrap().expect("the kernel runs here");
            let x = Tensor::zeros((2, 5), candle_core::DType::F32, &Device::Cpu).unwrap();
            assert!(packed.forward_act(&x, None, None).is_err());
            let x = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
            let b = Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap();
            assert!(packed.forward_act(&x, Some(&b), None).is_err());
        }
    }

    /// Packed in the weight's own memory, a weight gives the panels packed from a copy, bit for bit: a partial last
    /// panel (100 channels), a whole one (96), one input, and a transposed weight (not contiguous, so copied).
    #[test]
    fn packing_in_place_gives_the_panels_of_a_copy() {
        for kernel in kernels_here() {
            for (out, inner) in [(100, 37), (96, 5), (50, 1)] {
                let w = Tensor::from_vec(pattern(out * inner, 53, 97, 0.2), (out, inner), &Device::Cpu).unwrap();
                let copied = PackedLinear::for_kernel(&w, kernel).unwrap().unwrap();
                for owned in [w.copy().unwrap(), w.t().unwrap().contiguous().unwrap().t().unwrap()] {
                    let in_place = PackedLinear::owned_for_kernel(owned, kernel).unwrap().unwrap();
                    assert!(in_place.packed.as_slice() == copied.packed.as_slice(), "{}: ({out}, {inner})", kernel.name());
                    assert_eq!(in_place.packed.as_slice().as_ptr() as usize % 64, 0);
                }
            }
        }
    }

    /// Every packed kernel sums each output as one chain from its bias over the inputs in order, so the kernels agree
    /// bit for bit, whatever their tiles: tails of rows (6 and 8 per tile), of channels and of depth blocks.
    #[test]
    fn the_packed_kernels_give_the_same_bits() {
        let kernels = kernels_here();
        if !albert_testkit::cpu_has(kernels.len() > 1, "a second packed f32 kernel to compare (AVX-512F beside AVX2)") {
            return;
        }
        for (rows, inner, out) in [(1, 5, 7), (13, 800, 100), (29, 1600, 150), (50, 64, 96)] {
            let x = Tensor::from_vec(pattern(rows * inner, 37, 101, 0.7), (rows, inner), &Device::Cpu).unwrap();
            let w = Tensor::from_vec(pattern(out * inner, 53, 97, 0.2), (out, inner), &Device::Cpu).unwrap();
            let b = Tensor::from_vec((0..out).map(|i| i as f32 * 0.01 - 0.3).collect::<Vec<f32>>(), out, &Device::Cpu).unwrap();
            let bits = |k| -> Vec<u32> {
                let y = PackedLinear::for_kernel(&w, k).unwrap().unwrap().forward_act(&x, Some(&b), None).unwrap();
                y.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|v| v.to_bits()).collect()
            };
            let first = bits(kernels[0]);
            for &k in &kernels[1..] {
                assert!(bits(k) == first, "{} against {}: ({rows}, {inner}, {out})", k.name(), kernels[0].name());
            }
        }
    }
}
