//! Gradient accumulation over micro-batches.

use candle_core::backprop::GradStore;

use super::{NamedParams, OptimError};

/// Sums the parameters' gradients over micro-batches; only parameter gradients are kept, not the
/// intermediate ones a backward pass also returns.
///
/// Scale each micro-batch's loss by 1/k (k micro-batches per step) to get the mean gradient.
///
/// ```
/// use albert_train::optim::GradAccumulator;
/// use candle_core::{Device, Tensor, Var};
/// let w = Var::from_tensor(&Tensor::new(&[1f32, 2.0], &Device::Cpu)?)?;
/// let params = vec![("w".to_string(), w.clone())];
/// let mut acc = GradAccumulator::new();
/// for scale in [1f64, 3.0] {
///     let grads = (w.as_tensor() * scale)?.sum_all()?.backward()?; // gradient `scale`
///     acc.add(&params, &grads)?;
/// }
/// assert_eq!(acc.micro_batches(), 2);
/// let summed = acc.take();
/// assert_eq!(summed.get(w.as_tensor()).unwrap().to_vec1::<f32>()?, [4.0, 4.0]);
/// assert_eq!(acc.micro_batches(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct GradAccumulator {
    sums: GradStore,
    micro_batches: usize,
}

impl GradAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one micro-batch's gradients of `params`.
    pub fn add(&mut self, params: &NamedParams, grads: &GradStore) -> Result<(), OptimError> {
        for (_, var) in params {
            if let Some(g) = grads.get(var.as_tensor()) {
                let sum = match self.sums.get(var.as_tensor()) {
                    Some(s) => (s + g.detach())?,
                    None => g.detach(),
                };
                self.sums.insert(var.as_tensor(), sum);
            }
        }
        self.micro_batches += 1;
        Ok(())
    }

    /// Micro-batches added since the last [`GradAccumulator::take`].
    pub fn micro_batches(&self) -> usize {
        self.micro_batches
    }

    /// The summed gradients so far.
    pub fn grads(&self) -> &GradStore {
        &self.sums
    }

    /// Returns the sums and starts afresh.
    pub fn take(&mut self) -> GradStore {
        self.micro_batches = 0;
        std::mem::take(&mut self.sums)
    }
}
