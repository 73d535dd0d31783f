//! Multi-head self-attention from the stacked query/key/value projection in one operation, with its backward pass.
//! Composed from candle operations, attention copies the projection into per-head order, builds the scores, adds
//! the mask, takes the softmax and multiplies out as separate passes over (batch, heads, seq, seq) tensors, then
//! copies the result back into (batch, seq, hidden) order; its backward pass adds as many again. Here each
//! (sequence, head) pair is one task: its scores live in a seq x seq buffer of the task, and the matrix products
//! read the heads in place through strides and write the output (or the gradient) in place.
//!
//! The backward pass recomputes the probabilities from the projection instead of keeping them, as FlashAttention
//! does: one more seq x seq x head_dim product per head, and no (batch, heads, seq, seq) tensor held for it.

use std::ops::Range;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, WithDType};
use num_traits::Float;
use rayon::prelude::*;

use super::activation::Exp;

/// A pointer into a buffer that parallel tasks write in disjoint parts.
#[derive(Clone, Copy)]
struct Disjoint<T>(*mut T);
// SAFETY: every task writes its own rows and columns of the buffer only (see the callers).
unsafe impl<T> Send for Disjoint<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Disjoint<T> {}

/// The shapes of one call: qkv (batch, seq, 3 x hidden), the additive key mask (batch, seq).
#[derive(Clone, Copy)]
pub(super) struct Dims {
    batch: usize,
    seq: usize,
    hidden: usize,
    heads: usize,
    head_dim: usize,
}

impl Dims {
    fn new(qkv: &Layout, mask: &Layout, heads: usize) -> candle_core::Result<Self> {
        let (batch, seq, three_h) = qkv.shape().dims3()?;
        if three_h % 3 != 0 || (three_h / 3) % heads != 0 {
            candle_core::bail!("attention over {heads} heads got a projection of width {three_h}");
        }
        if mask.shape().elem_count() != batch * seq {
            candle_core::bail!("attention mask of shape {:?} for a batch of {batch} x {seq}", mask.shape().dims());
        }
        Ok(Self::of(batch, seq, three_h / 3, heads))
    }

    /// The dimensions of a batch of `batch` x `seq` rows of width `hidden` over `heads` heads.
    pub(super) fn of(batch: usize, seq: usize, hidden: usize, heads: usize) -> Self {
        Self { batch, seq, hidden, heads, head_dim: hidden / heads }
    }

    /// Asserts that the slices of a pass have these dimensions: qkv (batch, seq, 3 x hidden), the mask (batch, seq)
    /// and the output gradient, where there is one, (batch, seq, hidden); and that the heads tile the hidden width.
    /// The passes' products read and write them through raw pointers, and their tasks must write every value.
    fn assert_fits<T>(&self, qkv: &[T], mask: &[T], g: Option<&[T]>) {
        let rows = self.batch * self.seq;
        assert!(
            self.heads * self.head_dim == self.hidden
                && qkv.len() == rows * 3 * self.hidden
                && mask.len() == rows
                && g.is_none_or(|g| g.len() == rows * self.hidden),
            "attention operands do not match {} x {} rows of width {} over {} heads",
            self.batch,
            self.seq,
            self.hidden,
            self.heads
        );
    }

    /// The rows of sequence `b`.
    fn rows(&self, b: usize) -> Range<usize> {
        b * self.seq..(b + 1) * self.seq
    }

    /// Offset of head `h`'s query in row `row` of qkv; its key is `hidden` further, its value `2 hidden`.
    fn qkv_offset(&self, row: usize, h: usize) -> usize {
        row * 3 * self.hidden + h * self.head_dim
    }

    /// Offset of head `h`'s columns in row `row` of a (rows, hidden) tensor.
    fn out_offset(&self, row: usize, h: usize) -> usize {
        row * self.hidden + h * self.head_dim
    }
}

/// dst (m, n), row stride `dst_rs` = lhs (m, k) x rhs (k, n), each operand given by its row and column strides;
/// single-threaded (the tasks are the parallelism).
///
/// # Safety
/// Every pointer must address the elements its strides reach.
unsafe fn product<T: 'static + num_traits::One>(
    mnk: (usize, usize, usize),
    dst: *mut T,
    dst_rs: usize,
    (lhs, lhs_rs, lhs_cs): (*const T, usize, usize),
    (rhs, rhs_rs, rhs_cs): (*const T, usize, usize),
) {
    super::matmul::gemm_product(
        mnk,
        (dst, dst_rs as isize, 1),
        false,
        (lhs, lhs_rs as isize, lhs_cs as isize),
        (rhs, rhs_rs as isize, rhs_cs as isize),
        gemm::Parallelism::None,
    );
}

/// The attention probabilities of the sequence in rows `seq` (of qkv and of the mask), head `h`, for the queries
/// `queries` over the keys `keys` (both counted from the sequence's first row) into `p` (queries x keys):
/// softmax(Q K^T + mask) over those keys. The query carries the 1/sqrt(head_dim) scale already.
fn probabilities<T: WithDType + Float + Exp>(qkv: &[T], mask: &[T], d: Dims, (seq, h): (Range<usize>, usize), queries: Range<usize>, keys: Range<usize>, p: &mut [T]) {
    assert!(queries.end <= seq.len() && keys.end <= seq.len() && seq.end <= mask.len(), "attention rows {queries:?} x {keys:?} outside a sequence of {}", seq.len());
    let (n, row) = (keys.len(), 3 * d.hidden);
    let (q, k) = (d.qkv_offset(seq.start + queries.start, h), d.qkv_offset(seq.start + keys.start, h) + d.hidden);
    let p = &mut p[..queries.len() * n];
    // SAFETY: Q of these queries and K of these keys are rows of `head_dim` at stride `row` inside qkv (the ranges
    // are inside the sequence, and the callers' `assert_fits` gives qkv's size); p holds queries x keys values.
    unsafe {
        product((queries.len(), n, d.head_dim), p.as_mut_ptr(), n, (qkv[q..].as_ptr(), row, 1), (qkv[k..].as_ptr(), 1, row));
    }
    let mask = &mask[seq.start + keys.start..seq.start + keys.end];
    super::simd::vectorized(
        #[inline(always)]
        || {
            for scores in p.chunks_mut(n) {
                scores.iter_mut().zip(mask).for_each(|(v, &m)| *v = *v + m);
                super::softmax::softmax_row(scores, false);
            }
        },
    )
}

/// The keys that sequence `mask` (seq) attends to: from its first to its last key above the dtype's lowest value.
/// The keys outside, padding under the model's mask (the lowest value, or -inf), get probability exactly zero in
/// the softmax over all keys, so leaving them out changes nothing but the products' and sums' lengths, and those
/// then depend on the sequence alone, not on how far a longer batch mate padded it: its outputs are the same bits
/// alone and in any batch. Where every key is masked, all of them.
fn key_span<T: Float>(mask: &[T]) -> Range<usize> {
    let attended = |m: &T| *m > T::min_value();
    match (mask.iter().position(attended), mask.iter().rposition(attended)) {
        (Some(first), Some(last)) => first..last + 1,
        _ => 0..mask.len(),
    }
}

/// The (sequence, head) tasks of a pass over `sequences` sequences, run in parallel, each with its own scratch from
/// `init`, writing into a fresh buffer of `n` values through `Disjoint` pointers. The tasks together must write every
/// value: each one's products write their head's columns without reading them.
fn per_head<T: Copy, S: Send>(n: usize, sequences: usize, d: Dims, init: impl Fn() -> S + Sync + Send, task: impl Fn(&mut S, usize, Disjoint<T>) + Sync + Send) -> Vec<T> {
    // SAFETY: the callers' tasks tile the buffer (see above).
    unsafe {
        super::filled(n, |buf| {
            let dst = Disjoint(buf.as_mut_ptr().cast::<T>());
            (0..sequences * d.heads).into_par_iter().for_each_init(&init, |scratch, t| task(scratch, t, dst));
        })
    }
}

/// The attention output (batch, seq, hidden).
pub(super) fn forward<T: WithDType + Float + Exp>(qkv: &[T], mask: &[T], d: Dims) -> Vec<T> {
    d.assert_fits(qkv, mask, None);
    let sequences: Vec<Range<usize>> = (0..d.batch).map(|b| d.rows(b)).collect();
    attend(qkv, mask, d, &sequences)
}

/// The attention output (rows, hidden) of the sequences that lie in the row ranges `sequences` of qkv (rows,
/// 3 x hidden) and of the mask (rows); they must tile the rows in order. Each sequence attends over its [`key_span`]
/// only; the queries in the span and the padding queries before and after it go through separate products, so that
/// the span's rows do not depend on the padding (a product's summation order may change with its number of rows):
/// a sequence's outputs are the same bits whether its padding rows are there or were left out.
fn attend<T: WithDType + Float + Exp>(qkv: &[T], mask: &[T], d: Dims, sequences: &[Range<usize>]) -> Vec<T> {
    let rows = sequences.last().map_or(0, |s| s.end);
    assert!(
        sequences.iter().zip(std::iter::once(0).chain(sequences.iter().map(|s| s.end))).all(|(s, end)| s.start == end)
            && qkv.len() == rows * 3 * d.hidden
            && mask.len() == rows
            && d.heads * d.head_dim == d.hidden,
        "attention sequences {sequences:?} do not tile {} rows of width {} over {} heads",
        mask.len(),
        d.hidden,
        d.heads
    );
    let longest = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
    per_head(rows * d.hidden, sequences.len(), d,
        || vec![T::zero(); longest * longest],
        |p, task, dst: Disjoint<T>| {
            let (seq, h) = (sequences[task / d.heads].clone(), task % d.heads);
            let (s, row) = (seq.len(), 3 * d.hidden);
            let keys = key_span(&mask[seq.clone()]);
            for queries in [keys.clone(), 0..keys.start, keys.end..s] {
                if queries.is_empty() {
                    continue;
                }
                probabilities(qkv, mask, d, (seq.clone(), h), queries.clone(), keys.clone(), p);
                let v = d.qkv_offset(seq.start + keys.start, h) + 2 * d.hidden;
                // SAFETY: this task alone writes the head's columns of its sequence in `out`, these queries' rows here
                // (the three ranges tile the sequence, the sequences tile the rows, as asserted); V of the keys is
                // read in place.
                unsafe {
                    product((queries.len(), d.head_dim, keys.len()), dst.0.add(d.out_offset(seq.start + queries.start, h)), d.hidden, (p.as_ptr(), keys.len(), 1), (qkv[v..].as_ptr(), row, 1));
                }
            }
        },
    )
}

/// dqkv from the output gradient `g` (batch, seq, hidden). With P = softmax(S), O = P V:
/// dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K, dK = dS^T Q.
pub(super) fn backward<T: WithDType + Float + Exp>(qkv: &[T], mask: &[T], g: &[T], d: Dims) -> Vec<T> {
    d.assert_fits(qkv, mask, Some(g));
    per_head(
        qkv.len(),
        d.batch,
        d,
        || (vec![T::zero(); d.seq * d.seq], vec![T::zero(); d.seq * d.seq]),
        |(p, dp), task, dst: Disjoint<T>| {
            let (b, h) = (task / d.heads, task % d.heads);
            probabilities(qkv, mask, d, (d.rows(b), h), 0..d.seq, 0..d.seq, p);
            let (s, dh, row, hid) = (d.seq, d.head_dim, 3 * d.hidden, d.hidden);
            let (q, go) = (d.qkv_offset(b * s, h), d.out_offset(b * s, h));
            let (k, v) = (q + hid, q + 2 * hid);
            // SAFETY: this task alone writes the head's Q, K and V columns of its sequence in dqkv; every operand is
            // read in place at the strides of its tensor.
            unsafe {
                product((s, dh, s), dst.0.add(v), row, (p.as_ptr(), 1, s), (g[go..].as_ptr(), hid, 1));
                product((s, s, dh), dp.as_mut_ptr(), s, (g[go..].as_ptr(), hid, 1), (qkv[v..].as_ptr(), 1, row));
            }
            for (dp_row, p_row) in dp.chunks_mut(s).zip(p.chunks(s)) {
                let dot = dp_row.iter().zip(p_row.iter()).fold(T::zero(), |acc, (&a, &b)| acc + a * b);
                dp_row.iter_mut().zip(p_row).for_each(|(x, &pv)| *x = pv * (*x - dot));
            }
            // SAFETY: as above.
            unsafe {
                product((s, dh, s), dst.0.add(q), row, (dp.as_ptr(), s, 1), (qkv[k..].as_ptr(), row, 1));
                product((s, dh, s), dst.0.add(k), row, (dp.as_ptr(), 1, s), (qkv[q..].as_ptr(), row, 1));
            }
        },
    )
}

struct Attention {
    heads: usize,
}

impl CustomOp2 for Attention {
    fn name(&self) -> &'static str {
        "albert-attention"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = Dims::new(l1, l2, self.heads)?;
        f32_or_f64!("attention", (s1, s2), |qkv, mask| {
            let (qkv, mask) = (super::contiguous(qkv, l1, "attention projection")?, super::contiguous(mask, l2, "attention mask")?);
            Ok((WithDType::to_cpu_storage_owned(forward(qkv, mask, d)), Shape::from((d.batch, d.seq, d.hidden))))
        })
    }

    fn bwd(&self, qkv: &Tensor, mask: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dqkv = qkv.apply_op3_no_bwd(mask, &grad.contiguous()?, &AttentionGrad { heads: self.heads })?;
        Ok((Some(dqkv), None))
    }
}

struct AttentionGrad {
    heads: usize,
}

impl CustomOp3 for AttentionGrad {
    fn name(&self) -> &'static str {
        "albert-attention-grad"
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
        let d = Dims::new(l1, l2, self.heads)?;
        f32_or_f64!("attention gradient", (s1, s2, s3), |qkv, mask, g| {
            let qkv = super::contiguous(qkv, l1, "attention projection")?;
            let (mask, g) = (super::contiguous(mask, l2, "attention mask")?, super::contiguous(g, l3, "attention gradient")?);
            Ok((WithDType::to_cpu_storage_owned(backward(qkv, mask, g, d)), l1.shape().clone()))
        })
    }
}

/// Self-attention of `qkv` (batch, seq, 3 x hidden: queries already scaled by 1/sqrt(head_dim), then keys, then
/// values) over `heads` heads, with `mask` (batch, seq) added to every query's scores: softmax(Q K^T + mask) V per
/// head, returned as (batch, seq, hidden) with the heads side by side. Gradients reach `qkv` (the mask takes none).
/// For f32 and f64 tensors on the CPU; [`fused_attention_applies`] says when it can be used.
pub fn attention(qkv: &Tensor, mask: &Tensor, heads: usize) -> candle_core::Result<Tensor> {
    qkv.contiguous()?.apply_op2(&mask.contiguous()?, Attention { heads })
}

/// [`attention`] over sequences of different lengths packed one after the other, for inference: `qkv` (..., rows,
/// 3 x hidden) and `mask` (rows) hold the sequences in the row ranges `sequences`, which tile the rows in order;
/// each attends over its own rows. Returns (..., rows, hidden). A batch with its padding rows left out gives its
/// real rows' outputs bit for bit. Records no gradient.
pub fn attention_of_sequences(qkv: &Tensor, mask: &Tensor, sequences: &[Range<usize>], heads: usize) -> candle_core::Result<Tensor> {
    qkv.contiguous()?.apply_op2_no_bwd(&mask.contiguous()?, &SequenceAttention { heads, sequences: sequences.to_vec() })
}

struct SequenceAttention {
    heads: usize,
    sequences: Vec<Range<usize>>,
}

impl CustomOp2 for SequenceAttention {
    fn name(&self) -> &'static str {
        "albert-attention-of-sequences"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let mut dims = l1.shape().dims().to_vec();
        let three_h = dims.last().copied().unwrap_or(0);
        if three_h == 0 || three_h % 3 != 0 || (three_h / 3) % self.heads != 0 {
            candle_core::bail!("attention over {} heads got a projection of width {three_h}", self.heads);
        }
        let rows = l1.shape().elem_count() / three_h;
        let tiled = self.sequences.iter().try_fold(0, |end, s| (s.start == end && s.end > s.start).then_some(s.end)) == Some(rows);
        if !tiled || l2.shape().elem_count() != rows {
            candle_core::bail!("attention sequences {:?} and a mask of {} values for {rows} rows", self.sequences, l2.shape().elem_count());
        }
        let d = Dims::of(1, rows, three_h / 3, self.heads);
        if let Some(last) = dims.last_mut() {
            *last = d.hidden;
        }
        f32_or_f64!("attention of sequences", (s1, s2), |qkv, mask| {
            let (qkv, mask) = (super::contiguous(qkv, l1, "attention projection")?, super::contiguous(mask, l2, "attention mask")?);
            Ok((WithDType::to_cpu_storage_owned(attend(qkv, mask, d, &self.sequences)), Shape::from(dims)))
        })
    }
}

/// Whether [`attention`] handles `qkv` (the CPU, f32 or f64).
pub fn fused_attention_applies(qkv: &Tensor) -> bool {
    super::fused(qkv)
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{DType, Device, Var, D};

    /// The composed reference: per-head reshape, scores, mask, softmax, product, back to (batch, seq, hidden).
    fn composed(qkv: &Tensor, mask: &Tensor, heads: usize) -> Tensor {
        let (b, s, three_h) = qkv.dims3().unwrap();
        let h = three_h / 3;
        let split = qkv.reshape((b, s, 3, heads, h / heads)).unwrap().permute((2, 0, 3, 1, 4)).unwrap();
        let (q, k, v) = (split.get(0).unwrap(), split.get(1).unwrap(), split.get(2).unwrap());
        let scores = q.contiguous().unwrap().matmul(&k.t().unwrap().contiguous().unwrap()).unwrap();
        let scores = scores.broadcast_add(&mask.reshape((b, 1, 1, s)).unwrap()).unwrap();
        let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        probs.matmul(&v.contiguous().unwrap()).unwrap().transpose(1, 2).unwrap().reshape((b, s, h)).unwrap()
    }

    /// Forward and gradient equal the composed operations (f64), with padded sequences in the batch.
    #[test]
    fn matches_composed_attention_and_its_gradient() {
        let dev = Device::Cpu;
        let (b, s, heads, dh) = (4, 5, 3, 4);
        let h = heads * dh;
        let values: Vec<f64> = (0..b * s * 3 * h).map(|i| ((i as f64 + 1.0) * 0.37).sin()).collect();
        let qkv = Var::from_vec(values, (b, s, 3 * h), &dev).unwrap();
        // Padding after the second sequence, before and inside the third; the fourth is all padding.
        let min = f64::MIN;
        let mask = Tensor::new(&[[0f64, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, min, min], [min, 0.0, min, 0.0, 0.0], [min; 5]], &dev).unwrap();
        let probe = Tensor::from_vec((0..b * s * h).map(|i| ((i as f64) * 0.91).cos()).collect::<Vec<_>>(), (b, s, h), &dev).unwrap();
        let fused = attention(&qkv, &mask, heads).unwrap();
        let reference = composed(qkv.as_tensor(), &mask, heads);
        let diff = max_diff(&fused, &reference);
        assert!(diff < 1e-12, "forward differs by {diff}");
        let g_fused = (fused * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let g_ref = (reference * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        let (a, r) = (g_fused.get(qkv.as_tensor()).unwrap(), g_ref.get(qkv.as_tensor()).unwrap());
        let diff = max_diff(a, r);
        assert!(diff < 1e-12, "gradient differs by {diff}");
    }

    /// In f32, a key under the model's mask (f32::MIN) gets probability exactly zero, as softmax with the exact
    /// exponential gives: a denormal there would slow every later product that reads it (training 10x).
    #[test]
    fn masked_keys_get_probability_exactly_zero() {
        let dev = Device::Cpu;
        let (b, s, heads) = (1, 4, 2);
        let qkv = Tensor::from_vec((0..b * s * 24).map(|i| ((i as f32) * 0.37).sin()).collect::<Vec<_>>(), (b, s, 24), &dev).unwrap();
        let mask = Tensor::new(&[[0f32, 0.0, f32::MIN, f32::MIN]], &dev).unwrap();
        let d = Dims::new(qkv.layout(), mask.layout(), heads).unwrap();
        let (qkv, mask) = (qkv.flatten_all().unwrap().to_vec1::<f32>().unwrap(), mask.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let mut p = vec![f32::NAN; s * s];
        for h in 0..heads {
            probabilities(&qkv, &mask, d, (0..s, h), 0..s, 0..s, &mut p);
            for row in p.chunks(s) {
                assert!(row[0] > 0.0 && row[1] > 0.0 && row[2] == 0.0 && row[3] == 0.0, "head {h}: {row:?}");
            }
        }
    }

    /// A sequence's outputs are the same bits alone and padded beside a longer one, on the right, on the left or both,
    /// whatever the padding's values: lengths under and over the softmax's 16 lanes, and under and over the sizes
    /// where the products change their summation order.
    #[test]
    fn a_sequence_gives_the_same_bits_alone_and_padded_in_a_batch() {
        let (heads, head_dim) = (2, 8);
        let h = heads * head_dim;
        let wave = |n: usize, k: f32, scale: f32| (0..n).map(|i| scale * ((i as f32 + 1.0) * k).sin()).collect::<Vec<_>>();
        for (len, long) in [(5, 37), (20, 37), (3, 130)] {
            let ours = wave(len * 3 * h, 0.37, 2.0);
            let alone = forward(&ours, &vec![0f32; len], Dims::of(1, len, h, heads));
            // Sequences: ours padded after, a full-length one, ours padded before, ours padded on both sides.
            let garbage = wave(long * 3 * h, 0.91, 100.0);
            let mut qkv = garbage.clone();
            let mut mask = vec![0f32; long];
            for start in [0, long - len, (long - len) / 2] {
                let mut seq = garbage.clone();
                seq[start * 3 * h..(start + len) * 3 * h].copy_from_slice(&ours);
                qkv.extend(seq);
                mask.extend((0..long).map(|i| if (start..start + len).contains(&i) { 0.0 } else { f32::MIN }));
            }
            let batch = forward(&qkv, &mask, Dims::of(4, long, h, heads));
            for (b, start) in [(1, 0), (2, long - len), (3, (long - len) / 2)] {
                let rows = &batch[(b * long + start) * h..(b * long + start + len) * h];
                assert!(rows.iter().zip(&alone).all(|(x, y)| x.to_bits() == y.to_bits()), "length {len} in {long}, from {start}");
            }
        }
    }

    /// A batch with its padding rows left out ([`attention_of_sequences`]) gives the padded batch's real rows bit
    /// for bit: padding after a sequence (what the pipelines make), before it, inside it (kept as masked rows).
    #[test]
    fn sequences_packed_without_padding_give_the_padded_batch_bits() {
        let dev = Device::Cpu;
        let (heads, h, s) = (2, 16, 23);
        let min = f32::MIN;
        // Real rows of each sequence: a prefix, a suffix (left padding) and a middle with a masked row inside.
        let kept = [0..23, 0..7, 4..23, 2..15, 0..1];
        let mut mask = vec![min; kept.len() * s];
        for (b, rows) in kept.iter().enumerate() {
            rows.clone().for_each(|r| mask[b * s + r] = 0.0);
        }
        mask[3 * s + 9] = min;
        let qkv: Vec<f32> = (0..kept.len() * s * 3 * h).map(|i| 2.0 * ((i as f32 + 1.0) * 0.37).sin()).collect();
        let padded = attention(&Tensor::from_vec(qkv.clone(), (kept.len(), s, 3 * h), &dev).unwrap(), &Tensor::from_vec(mask.clone(), (kept.len(), s), &dev).unwrap(), heads).unwrap();
        let padded: Vec<f32> = padded.flatten_all().unwrap().to_vec1().unwrap();
        let (mut packed_qkv, mut packed_mask, mut sequences) = (Vec::new(), Vec::new(), Vec::new());
        for (b, rows) in kept.iter().enumerate() {
            let start = packed_mask.len();
            packed_qkv.extend_from_slice(&qkv[(b * s + rows.start) * 3 * h..(b * s + rows.end) * 3 * h]);
            packed_mask.extend_from_slice(&mask[b * s + rows.start..b * s + rows.end]);
            sequences.push(start..packed_mask.len());
        }
        let n = packed_mask.len();
        let packed = attention_of_sequences(&Tensor::from_vec(packed_qkv, (1, n, 3 * h), &dev).unwrap(), &Tensor::from_vec(packed_mask, n, &dev).unwrap(), &sequences, heads).unwrap();
        assert_eq!(packed.dims(), [1, n, h]);
        let packed: Vec<f32> = packed.flatten_all().unwrap().to_vec1().unwrap();
        for (b, (rows, seq)) in kept.iter().zip(&sequences).enumerate() {
            let want = &padded[(b * s + rows.start) * h..(b * s + rows.end) * h];
            assert!(packed[seq.start * h..seq.end * h].iter().zip(want).all(|(x, y)| x.to_bits() == y.to_bits()), "sequence {b}");
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let dev = Device::Cpu;
        let qkv = Tensor::zeros((2, 5, 36), DType::F32, &dev).unwrap();
        assert!(attention(&qkv, &Tensor::zeros((2, 4), DType::F32, &dev).unwrap(), 3).is_err());
        assert!(attention(&qkv, &Tensor::zeros((2, 5), DType::F32, &dev).unwrap(), 5).is_err());
        let rows = Tensor::zeros((1, 10, 36), DType::F32, &dev).unwrap();
        let mask = Tensor::zeros(10, DType::F32, &dev).unwrap();
        assert!(attention_of_sequences(&rows, &mask, &[0..4, 4..10], 3).is_ok());
        for bad in [vec![0..4, 5..10], vec![0..4, 4..9], vec![0..0, 0..10], vec![]] {
            assert!(attention_of_sequences(&rows, &mask, &bad, 3).is_err(), "{bad:?}");
        }
        assert!(attention_of_sequences(&rows, &mask.narrow(0, 0, 9).unwrap(), &[0..4, 4..9], 3).is_err());
    }
}
