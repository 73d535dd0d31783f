//! Losses as torch computes them for the heads: cross-entropy with an ignored label, MSE, BCE with logits.

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};

/// The label that cross-entropy skips (torch's default `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

/// Mean cross-entropy of `logits` (n, classes) against `labels` (n) of i64, skipping labels equal to `ignore`.
/// Like torch, the mean is over the counted labels (NaN when none is counted).
pub fn cross_entropy(logits: &Tensor, labels: &Tensor, ignore: i64) -> Result<Tensor> {
    let (n, classes) = logits.dims2()?;
    let labels = labels.to_dtype(DType::I64)?.flatten_all()?;
    if labels.dims1()? != n {
        return Err(Error::Input(format!("{} labels for {n} predictions", labels.dims1()?)));
    }
    let values: Vec<i64> = labels.to_vec1()?;
    if let Some(bad) = values.iter().find(|&&l| l != ignore && (l < 0 || l as usize >= classes)) {
        return Err(Error::Input(format!("label {bad} is outside 0..{classes}")));
    }
    if crate::ops::fused(logits) {
        return Ok(crate::ops::cross_entropy(logits, values.iter().map(|&l| (l != ignore).then_some(l as usize)).collect())?);
    }
    let counted: Vec<f64> = values.iter().map(|&l| if l == ignore { 0.0 } else { 1.0 }).collect();
    let index: Vec<u32> = values.iter().map(|&l| if l == ignore { 0 } else { l as u32 }).collect();
    let device = logits.device();
    let weight = Tensor::from_vec(counted.clone(), n, device)?.to_dtype(logits.dtype())?;
    let index = Tensor::from_vec(index, (n, 1), device)?;
    // (n, classes) -> (n)
    let picked = crate::ops::log_softmax_last_dim(logits)?.gather(&index, 1)?.squeeze(1)?;
    let total = (picked * weight)?.sum_all()?.neg()?;
    Ok((total / counted.iter().sum::<f64>())?)
}

/// Mean squared error over all elements.
pub fn mse(predictions: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let targets = targets.to_dtype(predictions.dtype())?.reshape(predictions.shape())?;
    Ok((predictions - targets)?.sqr()?.mean_all()?)
}

/// Mean binary cross-entropy with logits, in torch's numerically stable form.
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let targets = targets.to_dtype(logits.dtype())?.reshape(logits.shape())?;
    // max(x, 0) - x * y + log(1 + exp(-|x|))
    let softplus = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    Ok(((logits.relu()? - (logits * targets)?)? + softplus)?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    // Hand-derived: for logits (0, ln 3) the softmax is (1/4, 3/4).
    #[test]
    fn cross_entropy_skips_ignored_labels() {
        let d = Device::Cpu;
        let logits = Tensor::new(&[[0f64, 3f64.ln()], [5.0, 1.0], [0.0, 3f64.ln()]], &d).unwrap();
        let labels = Tensor::new(&[1i64, IGNORE_INDEX, 0], &d).unwrap();
        let loss = cross_entropy(&logits, &labels, IGNORE_INDEX).unwrap().to_scalar::<f64>().unwrap();
        let expected = -(0.75f64.ln() + 0.25f64.ln()) / 2.0;
        assert!((loss - expected).abs() < 1e-12, "{loss} vs {expected}");
        assert!(cross_entropy(&logits, &Tensor::new(&[2i64, 0, 0], &d).unwrap(), IGNORE_INDEX).is_err());
    }

    #[test]
    fn bce_and_mse_by_hand() {
        let d = Device::Cpu;
        let x = Tensor::new(&[0f64, 2.0], &d).unwrap();
        let y = Tensor::new(&[1f64, 0.0], &d).unwrap();
        let bce = bce_with_logits(&x, &y).unwrap().to_scalar::<f64>().unwrap();
        // -ln(sigmoid(0)) = ln 2;  -ln(1 - sigmoid(2)) = ln(1 + e^2)
        let expected = (2f64.ln() + (1.0 + 2f64.exp()).ln()) / 2.0;
        assert!((bce - expected).abs() < 1e-12);
        let m = mse(&x, &y).unwrap().to_scalar::<f64>().unwrap();
        assert!((m - 2.5).abs() < 1e-12);
    }
}
