//! Building blocks shared by the model's modules: linear and embedding layers created without candle's unseeded
//! initializers and applied as one matrix product, a fused differentiable LayerNorm, the activations, and dropout drawn from the project's RNG.

use std::sync::Arc;

use candle_core::{DType, Module, Tensor};
use candle_nn::{Init, VarBuilder};

use super::albert::Precision;
use crate::config::HiddenAct;
use crate::error::{Error, Result};
use crate::ops::{PackedLinear, QuantizedLinear};
use crate::rng::SharedRng;

// Parameters are created as zeros and filled afterwards from a checkpoint or by `init::init_weights`, so that no
// draw ever comes from candle's unseeded generator.
const PLACEHOLDER: Init = Init::Const(0.0);

/// `nn.Linear(in_dim, out_dim)` with Hugging Face's `weight` (out x in) and `bias` names.
pub fn linear(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Linear> {
    let weight = vb.get_with_hints((out_dim, in_dim), "weight", PLACEHOLDER)?;
    let bias = vb.get_with_hints(out_dim, "bias", PLACEHOLDER)?;
    Ok(Linear::new(weight, bias))
}

/// A linear layer applied over the rows of its input as one matrix product with the bias accumulated into it
/// ([`crate::ops::linear`]; candle's own `Linear` on a 3-D input runs one small product per batch row), or, once
/// [`Linear::prepare_inference`] ran, as the product of a weight prepared for it.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Weight,
    /// (out)
    bias: Tensor,
}

/// A layer's weight, in one form only: preparing it for inference replaces the trainable tensor, so that no
/// unpacked copy stays beside the packed one (at albert-xxlarge's size, 0.85 GiB of f32 weights).
#[derive(Debug, Clone)]
enum Weight {
    /// (out, in), row-major: the parameter as loaded and trained.
    Trainable(Tensor),
    /// (out, in) stored column-major ([`crate::ops::column_major`]), which `gemm` reads without repacking: the f32
    /// inference form where no packed kernel runs.
    ColumnMajor(Tensor),
    Int8(Arc<QuantizedLinear>),
    PackedF32(Arc<PackedLinear>),
}

impl Linear {
    /// The layer of `weight` (out, in) and `bias` (out).
    pub fn new(weight: Tensor, bias: Tensor) -> Self {
        Self { weight: Weight::Trainable(weight), bias }
    }

    /// The weight (out, in), or an error once it was quantized or packed for inference (only the prepared form
    /// is kept).
    pub fn weight(&self) -> Result<&Tensor> {
        match &self.weight {
            Weight::Trainable(w) | Weight::ColumnMajor(w) => Ok(w),
            Weight::Int8(_) | Weight::PackedF32(_) => Err(Error::Input("the layer's weight was quantized or packed for inference".into())),
        }
    }

    /// The bias, (out).
    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// Whether the weight is still the trainable (out, in) tensor, not yet prepared for inference.
    #[cfg(test)]
    pub(crate) fn trainable(&self) -> bool {
        matches!(self.weight, Weight::Trainable(_))
    }

    /// Prepares the layer for inference (the prepared paths record no gradient): int8 from now on, or in f32 the
    /// weight packed for the micro-kernel ([`PackedLinear`]) where the CPU has it, else copied column-major
    /// ([`crate::ops::column_major`]), which `gemm` reads without repacking it. The trainable weight is dropped: a
    /// layer can be prepared once. An f32 weight is packed or transposed in its own memory
    /// ([`PackedLinear::from_owned`], [`crate::ops::column_major_owned`]), so no other tensor may share its storage: the model's builder ([`crate::Pretrained::detached`],
    /// [`crate::Pretrained::into_inference`]) gives each model tensors of its own.
    pub(crate) fn prepare_inference(&mut self, precision: Precision) -> Result<()> {
        let Weight::Trainable(weight) = &self.weight else {
            return Err(Error::Input("the layer was already prepared for inference".into()));
        };
        let weight = weight.clone();
        self.weight = if precision == Precision::Int8 {
            Weight::Int8(Arc::new(QuantizedLinear::new(&weight)?))
        } else if let Some(packed) = PackedLinear::from_owned(weight.clone())? {
            Weight::PackedF32(Arc::new(packed))
        } else {
            Weight::ColumnMajor(crate::ops::column_major_owned(weight)?)
        };
        Ok(())
    }

    /// (..., in) -> (..., out)
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.weight {
            Weight::Int8(q) => q.forward(x, Some(&self.bias)),
            Weight::PackedF32(p) => p.forward_act(x, Some(&self.bias), None),
            Weight::Trainable(w) | Weight::ColumnMajor(w) => Ok(crate::ops::linear(x, w, Some(&self.bias))?),
        }
    }

    /// [`Linear::forward`] followed by `act`, the bias addition fused into the activation ([`crate::ops::bias_act`])
    /// or, prepared, into the product.
    pub fn forward_act(&self, x: &Tensor, act: HiddenAct) -> Result<Tensor> {
        match &self.weight {
            Weight::Int8(q) => q.forward_act(x, Some(&self.bias), Some(act)),
            Weight::PackedF32(p) => p.forward_act(x, Some(&self.bias), Some(act)),
            Weight::Trainable(w) | Weight::ColumnMajor(w) => Ok(crate::ops::bias_act(&crate::ops::linear(x, w, None)?, &self.bias, act)?),
        }
    }
}

/// `nn.Embedding(rows, dim)`.
pub fn embedding(rows: usize, dim: usize, vb: VarBuilder) -> Result<candle_nn::Embedding> {
    let weight = vb.get_with_hints((rows, dim), "weight", PLACEHOLDER)?;
    Ok(candle_nn::Embedding::new(weight, dim))
}

/// `nn.LayerNorm(dim, eps)`, through [`crate::ops::layer_norm`], whose backward pass reaches the input and both
/// parameters (candle-nn's fused layer norm records none).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    /// Weight and bias stacked (2, dim) once the model is prepared for inference.
    stacked: Option<Tensor>,
}

impl LayerNorm {
    /// Loads `weight` and `bias` of size `dim` under `vb`.
    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(dim, "weight", PLACEHOLDER)?;
        let bias = vb.get_with_hints(dim, "bias", PLACEHOLDER)?;
        Ok(Self { weight, bias, eps, stacked: None })
    }

    /// The weight and the bias.
    pub(crate) fn parameters(&self) -> [&Tensor; 2] {
        [&self.weight, &self.bias]
    }

    /// The epsilon added to the variance.
    pub(crate) fn eps(&self) -> f64 {
        self.eps
    }

    /// For inference: the residual sum is then taken inside the normalization's pass ([`Self::forward_residual`]),
    /// which records no gradient.
    pub fn prepare_inference(&mut self) -> Result<()> {
        self.stacked = Some(Tensor::stack(&[self.weight.detach(), self.bias.detach()], 0)?);
        Ok(())
    }

    /// `forward(x + residual)`.
    pub fn forward_residual(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        match &self.stacked {
            Some(wb) => crate::ops::add_layer_norm(x, residual, wb, self.eps),
            None => self.forward(&(x + residual)?),
        }
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        crate::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

/// Inverted dropout whose masks come from the model's shared, seeded RNG; the identity outside training.
#[derive(Debug, Clone)]
pub struct Dropout {
    p: f64,
    rng: SharedRng,
}

impl Dropout {
    /// Dropout with probability `p`, drawing from `rng`.
    pub fn new(p: f64, rng: SharedRng) -> Self {
        Self { p, rng }
    }

    /// Whether [`Dropout::forward`] changes anything with this `train` flag.
    pub fn active(&self, train: bool) -> bool {
        train && self.p > 0.0
    }

    /// Applies dropout when `train` is set.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !self.active(train) {
            return Ok(x.clone());
        }
        let mask = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            rng.dropout_mask(x.dims(), self.p, x.dtype(), x.device())?
        };
        Ok((x * mask)?)
    }
}

/// The most negative finite value of `dtype`, which Hugging Face adds to the scores of masked positions.
pub fn dtype_min(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => f64::MIN,
        DType::F16 => half::f16::MIN.to_f64(),
        DType::BF16 => half::bf16::MIN.to_f64(),
        _ => f32::MIN as f64,
    }
}
