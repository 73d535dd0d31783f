//! `x @ weight.T + bias` as one matrix product whose output starts as the broadcast bias (gemm accumulates into it),
//! recorded as one node of the autograd graph. Composed from candle operations a linear layer is four nodes
//! (reshape, transpose, product, broadcast add), and candle's backward pass zero-fills and adds a gradient buffer
//! for every node: a third of a training step's memory traffic at ALBERT's sizes.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, WithDType};

struct Linear;

/// (rows, in) x (out, in)^T + bias.
fn forward<T: WithDType>(
    (x, xl): (&[T], &Layout),
    (w, wl): (&[T], &Layout),
    bias: Option<(&[T], &Layout)>,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let x = super::contiguous(x, xl, "linear input")?;
    let ((rows, inner), (out, w_inner)) = (xl.shape().dims2()?, wl.shape().dims2()?);
    if inner != w_inner {
        candle_core::bail!("linear input of width {inner} against a weight of shape ({out}, {w_inner})");
    }
    // Strides of the weight read as its transpose (inner, out): row-major (out, in), or column-major.
    let (w, w_rs, w_cs) = if column_major_layout(wl) {
        (&w[wl.start_offset()..wl.start_offset() + out * inner], out, 1)
    } else {
        (super::contiguous(w, wl, "linear weight")?, 1, inner)
    };
    // Too few rows are padded with zero rows, which are computed and dropped.
    let padded = rows.max(stable_rows(out));
    let x_padded;
    let x = if padded > rows {
        x_padded = [x, &vec![T::from_f64(0.0); (padded - rows) * inner]].concat();
        &x_padded[..]
    } else {
        x
    };
    let mut dst = match bias {
        Some((b, bl)) => {
            let mut dst = super::contiguous(b, bl, "linear bias")?.repeat(padded);
            if dst.len() != padded * out {
                candle_core::bail!("linear bias must have {out} values");
            }
            super::product(&mut dst, (padded, out, inner), (x, inner, 1), (w, w_rs, w_cs), true);
            dst
        }
        // SAFETY: a product without accumulation writes all of dst and reads none of it.
        None => unsafe { super::written(padded * out, |dst| super::product(dst, (padded, out, inner), (x, inner, 1), (w, w_rs, w_cs), false)) },
    };
    dst.truncate(rows * out);
    Ok((WithDType::to_cpu_storage_owned(dst), Shape::from((rows, out))))
}

/// The fewest rows for which `gemm` runs its general micro-kernels on a product with `out` outputs. Below, it takes
/// other code (a matrix-vector product for one row, dot products while rows x outputs <= 256, a shorter depth block
/// while both are <= 64) that sums in another order: a row's outputs would change with the number of rows that came
/// with it, a head's logits with the batch. At most 256 padding rows, for a head of one output (regression).
fn stable_rows(out: usize) -> usize {
    let dots = 256 / out.max(1) + 1;
    if out <= 64 { dots.max(65) } else { dots.max(2) }
}

/// `weight` (out, in) copied column-major: element (o, i) at `o + i * out`. The matrix product reads a weight in
/// this layout directly, where a row-major one is repacked on every call (a quarter of the time at batch 1).
/// For inference: the copy takes no gradient of its own.
pub fn column_major(weight: &Tensor) -> candle_core::Result<Tensor> {
    weight.t()?.contiguous()?.t()
}

/// [`column_major`] on a weight whose storage no other tensor shares, in the weight's own memory: its values are
/// moved out of it ([`super::take_f32`] leaves it empty) and transposed where they lie when the weight is f32 and
/// its longer side a whole multiple of the shorter (every ALBERT projection), else copied. A copy beside the weight
/// held the largest one twice for a while: 256 MiB for albert-xxlarge's feed-forward matrices, 0.3x its f32
/// weights on top of them at the peak.
pub(crate) fn column_major_owned(weight: Tensor) -> crate::error::Result<Tensor> {
    let (out, inner) = weight.dims2()?;
    let short = out.min(inner);
    if weight.dtype() != candle_core::DType::F32 || short == 0 || out.max(inner) % short != 0 {
        return Ok(column_major(&weight)?);
    }
    let device = weight.device().clone();
    let mut values = super::take_f32(weight)?;
    transpose_in_place(&mut values, out, inner);
    Ok(Tensor::from_vec(values, (inner, out), &device)?.t()?)
}

/// `v`, a (rows, cols) matrix row-major, made (cols, rows) row-major where one side is a whole multiple r of the
/// other, s: the matrix is r square blocks of s x s, each transposed by swaps, and the blocks' rows of s values
/// are reordered by [`transpose_chunks`] (before, for a wide matrix, so that each block becomes contiguous; after,
/// for a tall one, so that the blocks' rows interleave).
fn transpose_in_place(v: &mut [f32], rows: usize, cols: usize) {
    let s = rows.min(cols);
    let r = rows.max(cols) / s;
    assert!(s > 0 && rows.max(cols) == r * s && v.len() == rows * cols, "in-place transpose of ({rows}, {cols})");
    if rows < cols {
        transpose_chunks(v, s, (s, r));
    }
    for block in v.chunks_exact_mut(s * s) {
        transpose_square(block, s);
    }
    if rows > cols {
        transpose_chunks(v, s, (r, s));
    }
}

/// `block` (s x s, row-major) transposed by swaps, in tiles of 32 x 32 that stay in cache.
fn transpose_square(block: &mut [f32], s: usize) {
    const TILE: usize = 32;
    for i0 in (0..s).step_by(TILE) {
        for j0 in (i0..s).step_by(TILE) {
            for i in i0..(i0 + TILE).min(s) {
                for j in j0.max(i + 1)..(j0 + TILE).min(s) {
                    block.swap(i * s + j, j * s + i);
                }
            }
        }
    }
}

/// `v` as a (p, q) grid of chunks of `len` values, transposed to (q, p): the chunk at a * q + c moves to c * p + a,
/// that is index k to k * p mod (p q - 1), cycle by cycle through one chunk of scratch.
fn transpose_chunks(v: &mut [f32], len: usize, (p, q): (usize, usize)) {
    let n = p * q;
    let mut done = vec![false; n];
    let mut carry = vec![0f32; len];
    for start in 1..n.saturating_sub(1) {
        if done[start] {
            continue;
        }
        carry.copy_from_slice(&v[start * len..(start + 1) * len]);
        let mut at = start;
        loop {
            at = at * p % (n - 1);
            carry.swap_with_slice(&mut v[at * len..(at + 1) * len]);
            done[at] = true;
            if at == start {
                break;
            }
        }
    }
}

/// Whether `layout` is a 2-D column-major one, as [`column_major`] makes.
fn column_major_layout(layout: &Layout) -> bool {
    let dims = layout.dims();
    dims.len() == 2 && dims[0] > 1 && layout.stride() == [1, dims[0]]
}

/// dx = g W, dW = g^T x, db = column sums of g; g is (rows, out).
fn backward(x: &Tensor, w: &Tensor, grad: &Tensor, bias: bool) -> candle_core::Result<(Tensor, Tensor, Option<Tensor>)> {
    let dx = grad.matmul(w)?;
    let dw = grad.t()?.matmul(x)?;
    let db = if bias { Some(super::sum_rows(grad)?) } else { None };
    Ok((dx, dw, db))
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "albert-linear"
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
        f32_or_f64!("fused linear", (s1, s2, s3), |x, w, b| forward((x, l1), (w, l2), Some((b, l3))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _b: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = backward(x, w, grad, true)?;
        Ok((Some(dx), Some(dw), db))
    }
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "albert-linear-no-bias"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        f32_or_f64!("fused linear", (s1, s2), |x, w| forward((x, l1), (w, l2), None))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = backward(x, w, grad, false)?;
        Ok((Some(dx), Some(dw)))
    }
}

/// `x @ weight.T + bias` over the rows of `x` (..., in) for a weight (out, in): one fused product on the CPU in f32
/// and f64, candle's composed operations elsewhere.
///
/// ```
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[1f32, 2.0]], &Device::Cpu)?;
/// let w = Tensor::new(&[[1f32, 0.0], [1.0, 1.0], [0.0, -1.0]], &Device::Cpu)?;
/// let b = Tensor::new(&[0.5f32, 0.0, 1.0], &Device::Cpu)?;
/// assert_eq!(albert::ops::linear(&x, &w, Some(&b))?.to_vec2::<f32>()?, [[1.5, 3.0, -1.0]]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let (in_dim, out_dim) = (dims[dims.len() - 1], weight.dim(0)?);
    let rows = x.elem_count() / in_dim.max(1);
    let flat = x.reshape((rows, in_dim))?;
    let same_dtype = weight.dtype() == x.dtype() && bias.is_none_or(|b| b.dtype() == x.dtype());
    let y = if super::fused(x) && same_dtype {
        // A column-major weight (the inference layout, see `column_major`) is read as it is.
        let weight = if column_major_layout(weight.layout()) { weight.clone() } else { weight.contiguous()? };
        let flat = flat.contiguous()?;
        match bias {
            Some(b) => flat.apply_op3(&weight, &b.contiguous()?, Linear)?,
            None => flat.apply_op2(&weight, Linear)?,
        }
    } else {
        let y = flat.matmul(&weight.t()?)?;
        match bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        }
    };
    let mut out = dims.to_vec();
    *out.last_mut().expect("at least one dim") = out_dim;
    y.reshape(out)
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::{Device, Var};

    fn values(n: usize, k: f64) -> Vec<f64> {
        (0..n).map(|i| ((i as f64 + 1.0) * k).sin()).collect()
    }

    #[test]
    fn matches_composed_linear_and_its_gradients() {
        let dev = Device::Cpu;
        for with_bias in [true, false] {
            let x = Var::from_vec(values(2 * 3 * 5, 0.7), (2, 3, 5), &dev).unwrap();
            let w = Var::from_vec(values(4 * 5, 1.3), (4, 5), &dev).unwrap();
            let b = Var::from_vec(values(4, 2.1), 4, &dev).unwrap();
            let probe = Tensor::from_vec(values(2 * 3 * 4, 0.4), (2, 3, 4), &dev).unwrap();
            let bias = with_bias.then_some(b.as_tensor());
            let fused = linear(&x, &w, bias).unwrap();
            let mut reference = x.broadcast_matmul(&w.t().unwrap()).unwrap();
            if let Some(b) = bias {
                reference = reference.broadcast_add(b).unwrap();
            }
            assert!(max_diff(&fused, &reference) < 1e-14);
            let g1 = (fused * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (reference * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &w] {
                assert!(max_diff(g1.get(v.as_tensor()).unwrap(), g2.get(v.as_tensor()).unwrap()) < 1e-13);
            }
            match (g1.get(b.as_tensor()), g2.get(b.as_tensor())) {
                (Some(a), Some(r)) => assert!(max_diff(a, r) < 1e-13),
                (None, None) => assert!(!with_bias),
                other => panic!("bias gradient presence differs: {:?}", (other.0.is_some(), other.1.is_some())),
            }
        }
    }

    /// A column-major weight gives the product of the row-major one (up to the order of the sums).
    #[test]
    fn column_major_weight_gives_the_same_product() {
        let dev = Device::Cpu;
        let x = Tensor::from_vec((0..5 * 7).map(|i| ((i as f32) * 0.3).sin()).collect::<Vec<_>>(), (5, 7), &dev).unwrap();
        let w = Tensor::from_vec((0..9 * 7).map(|i| ((i as f32) * 0.7).cos()).collect::<Vec<_>>(), (9, 7), &dev).unwrap();
        let b = Tensor::from_vec((0..9).map(|i| i as f32 * 0.1).collect::<Vec<_>>(), 9, &dev).unwrap();
        let cm = column_major(&w).unwrap();
        assert_eq!(cm.dims(), [9, 7]);
        assert!(column_major_layout(cm.layout()) && !column_major_layout(w.layout()));
        let (a, c) = (linear(&x, &w, Some(&b)).unwrap(), linear(&x, &cm, Some(&b)).unwrap());
        let diff = max_diff(&a, &c);
        assert!(diff < 1e-5, "{diff}");
    }

    /// A row's outputs are the same bits alone and among 200 rows, for the heads' shapes (one output, two, nine, a
    /// pooler's square) and depths across `gemm`'s 512-input block, on row-major and column-major weights.
    #[test]
    fn a_row_gives_the_same_bits_alone_and_among_many() {
        let dev = Device::Cpu;
        let f32s = |n: usize, k: f64| values(n, k).into_iter().map(|v| v as f32).collect::<Vec<_>>();
        let bits = |y: Tensor| y.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f32::to_bits).collect::<Vec<_>>();
        for (out, inner) in [(1, 40), (2, 768), (9, 300), (256, 256), (300, 600)] {
            let w = Tensor::from_vec(f32s(out * inner, 1.3), (out, inner), &dev).unwrap();
            let b = Tensor::from_vec(f32s(out, 2.1), out, &dev).unwrap();
            let many = Tensor::from_vec(f32s(200 * inner, 0.7), (200, inner), &dev).unwrap();
            for w in [w.clone(), column_major(&w).unwrap()] {
                let all = bits(linear(&many, &w, Some(&b)).unwrap());
                for (first, rows) in [(0, 1), (3, 2), (5, 30), (64, 70)] {
                    let part = bits(linear(&many.narrow(0, first, rows).unwrap(), &w, Some(&b)).unwrap());
                    assert!(part[..] == all[first * out..(first + rows) * out], "{out} x {inner}, rows {first}..{}", first + rows);
                }
            }
        }
    }

    /// Transposed in its own memory, a weight is the column-major copy of [`column_major`], value for value and in
    /// the same layout: tall and wide shapes of ratios 1 to 32 (ALBERT's projections), one row or one column; a
    /// ratio that is not whole (5 x 3) and an f64 weight are copied.
    #[test]
    fn column_major_in_place_equals_the_copy() {
        let dev = Device::Cpu;
        for (out, inner) in [(4, 4), (12, 4), (4, 12), (96, 32), (32, 96), (1, 5), (5, 1), (256, 8), (8, 256), (5, 3), (70, 70)] {
            let values: Vec<f32> = (0..out * inner).map(|i| i as f32).collect();
            let w = Tensor::from_vec(values, (out, inner), &dev).unwrap();
            let copied = column_major(&w).unwrap();
            for owned in [column_major_owned(w.copy().unwrap()).unwrap(), column_major_owned(w.to_dtype(candle_core::DType::F64).unwrap()).unwrap()] {
                // (A vector's strides are free: candle makes either layout of one contiguous.)
                assert_eq!(owned.dims(), copied.dims());
                assert!(out == 1 || inner == 1 || column_major_layout(owned.layout()) && column_major_layout(copied.layout()), "({out}, {inner})");
                let as_f32 = owned.to_dtype(candle_core::DType::F32).unwrap();
                assert_eq!(as_f32.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap(), "({out}, {inner})");
            }
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let x = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let w = Tensor::zeros((3, 5), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(linear(&x, &w, None).is_err());
        let w = Tensor::zeros((3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(linear(&x, &w, Some(&b)).is_err());
    }
}
