//! Column sums over rows (a bias's gradient), in blocks summed in parallel and then in a fixed order.

use candle_core::Tensor;

use super::storage::{contiguous, fused};

/// Rows per block of a column sum: blocks are summed in parallel, then added in a fixed order, so that the result
/// does not depend on how threads split the work (a resumed run must repeat its losses exactly).
pub(super) const ROWS_PER_BLOCK: usize = 64;

/// Column sums of a contiguous (rows, cols) tensor: each block of rows is added row by row (contiguous, vectorized
/// additions) on its own thread. Candle's `sum(0)` walks the columns one strided scalar at a time.
struct SumRows;

fn sum_rows_of<T: candle_core::WithDType + num_traits::Float + Send + Sync>(
    src: &[T],
    layout: &candle_core::Layout,
) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
    let src = contiguous(src, layout, "the input of a sum over rows")?;
    let (_, cols) = layout.shape().dims2()?;
    Ok((candle_core::WithDType::to_cpu_storage_owned(column_sums(src, cols)), candle_core::Shape::from(cols)))
}

/// Column sums of `src` as rows of `cols` values, blocks of rows summed in parallel and then in a fixed order.
pub(super) fn column_sums<T: num_traits::Float + Send + Sync>(src: &[T], cols: usize) -> Vec<T> {
    use rayon::prelude::*;
    let partials: Vec<Vec<T>> = src
        .par_chunks(cols.max(1) * ROWS_PER_BLOCK)
        .map(|block| {
            let mut acc = vec![T::zero(); cols];
            for row in block.chunks(cols.max(1)) {
                acc.iter_mut().zip(row).for_each(|(s, &v)| *s = *s + v);
            }
            acc
        })
        .collect();
    let mut total = vec![T::zero(); cols];
    for p in partials {
        total.iter_mut().zip(p).for_each(|(s, v)| *s = *s + v);
    }
    total
}

impl candle_core::CustomOp1 for SumRows {
    fn name(&self) -> &'static str {
        "albert-sum-rows"
    }

    fn cpu_fwd(&self, storage: &candle_core::CpuStorage, layout: &candle_core::Layout) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        f32_or_f64!("sum over rows", (storage), |s| sum_rows_of(s, layout))
    }
}

/// Column sums of `x` viewed as (rows, last dim): the gradient of a bias broadcast over rows. Not differentiable
/// itself (it serves backward passes).
pub(crate) fn sum_rows(x: &Tensor) -> candle_core::Result<Tensor> {
    let cols = x.dim(candle_core::D::Minus1)?;
    let flat = x.reshape(((), cols))?;
    if fused(x) {
        flat.contiguous()?.apply_op1_no_bwd(&SumRows)
    } else {
        flat.sum(0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::max_diff;
    use super::*;
    use candle_core::Device;

    #[test]
    fn sum_rows_equals_candle_sum_over_many_blocks() {
        let v: Vec<f64> = (0..200 * 7).map(|i| ((i as f64) * 0.37).sin()).collect();
        let x = Tensor::from_vec(v, (2, 100, 7), &Device::Cpu).unwrap();
        let ours = sum_rows(&x).unwrap();
        let reference = x.reshape((200, 7)).unwrap().sum(0).unwrap();
        let diff = max_diff(&ours, &reference);
        assert!(diff < 1e-12, "differs by {diff}");
    }
}
