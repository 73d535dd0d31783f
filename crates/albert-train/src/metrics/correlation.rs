//! Correlation metrics with scipy semantics (`pearsonr`, `spearmanr` with average ranks).

use super::{check_lengths, MetricError};

fn check_finite(values: &[f64], which: &'static str) -> Result<(), MetricError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite { which, index }),
        None => Ok(()),
    }
}

/// Centres `values` on their mean and scales them to unit norm, as `scipy.stats.pearsonr` does
/// before its dot product.
fn unit_centred(values: &[f64], which: &'static str) -> Result<Vec<f64>, MetricError> {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let centred: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let norm = centred.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm == 0.0 || values.iter().all(|&v| v == values[0]) {
        return Err(MetricError::ConstantInput { which });
    }
    Ok(centred.into_iter().map(|v| v / norm).collect())
}

/// Pearson correlation coefficient (`scipy.stats.pearsonr(...).statistic`).
///
/// Constant inputs make the coefficient undefined and are reported as an error.
///
/// ```
/// use albert_train::metrics::pearson;
/// let r = pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]).unwrap();
/// assert!((r - 0.9933992677987828).abs() < 1e-12); // scipy.stats.pearsonr
/// ```
pub fn pearson(predictions: &[f64], references: &[f64]) -> Result<f64, MetricError> {
    check_lengths(predictions, references)?;
    check_finite(predictions, "predictions")?;
    check_finite(references, "references")?;
    let x = unit_centred(predictions, "predictions")?;
    let y = unit_centred(references, "references")?;
    let r: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
    Ok(r.clamp(-1.0, 1.0))
}

/// One-based ranks where tied values share the average of their ranks
/// (`scipy.stats.rankdata(method="average")`).
///
/// ```
/// use albert_train::metrics::rank_average;
/// assert_eq!(rank_average(&[10.0, 20.0, 10.0, 5.0]), vec![2.5, 4.0, 2.5, 1.0]);
/// ```
pub fn rank_average(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman rank correlation (`scipy.stats.spearmanr(...).statistic`): Pearson on average ranks.
///
/// ```
/// use albert_train::metrics::spearman;
/// let rho = spearman(&[1.0, 2.0, 2.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
/// assert!((rho - 0.9486832980505139).abs() < 1e-12); // scipy.stats.spearmanr
/// ```
pub fn spearman(predictions: &[f64], references: &[f64]) -> Result<f64, MetricError> {
    check_lengths(predictions, references)?;
    check_finite(predictions, "predictions")?;
    check_finite(references, "references")?;
    pearson(&rank_average(predictions), &rank_average(references))
}
