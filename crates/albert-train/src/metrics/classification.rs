//! Classification metrics with scikit-learn semantics (`accuracy_score`, binary `f1_score`,
//! `matthews_corrcoef`).

use super::{check_lengths, MetricError};

/// A confusion matrix over class ids `0..num_classes`: `counts[reference][prediction]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfusionMatrix {
    /// Number of classes (rows and columns).
    pub num_classes: usize,
    /// Row-major counts, `counts[reference * num_classes + prediction]`.
    pub counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// Counts `(reference, prediction)` pairs; ids must be `< num_classes`.
    ///
    /// ```
    /// use albert_train::metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::new(&[0, 1, 1], &[0, 1, 0], 2).unwrap();
    /// assert_eq!(cm.get(0, 1), 1); // one reference-0 example predicted as 1
    /// ```
    pub fn new(
        predictions: &[usize],
        references: &[usize],
        num_classes: usize,
    ) -> Result<Self, MetricError> {
        check_lengths(predictions, references)?;
        let mut counts = vec![0u64; num_classes * num_classes];
        for (&p, &r) in predictions.iter().zip(references) {
            for id in [p, r] {
                if id >= num_classes {
                    return Err(MetricError::ClassOutOfRange { id, num_classes });
                }
            }
            counts[r * num_classes + p] += 1;
        }
        Ok(Self {
            num_classes,
            counts,
        })
    }

    /// Number of examples with this reference class predicted as `prediction`.
    pub fn get(&self, reference: usize, prediction: usize) -> u64 {
        self.counts[reference * self.num_classes + prediction]
    }

    fn total(&self) -> f64 {
        self.counts.iter().sum::<u64>() as f64
    }

    fn trace(&self) -> f64 {
        (0..self.num_classes).map(|c| self.get(c, c)).sum::<u64>() as f64
    }

    /// Per-class totals of references (row sums) and predictions (column sums).
    fn marginals(&self) -> (Vec<f64>, Vec<f64>) {
        let mut t = vec![0.0; self.num_classes];
        let mut p = vec![0.0; self.num_classes];
        for (row, t) in self.counts.chunks(self.num_classes).zip(&mut t) {
            for (&v, p) in row.iter().zip(&mut p) {
                *t += v as f64;
                *p += v as f64;
            }
        }
        (t, p)
    }

    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> f64 {
        self.trace() / self.total()
    }

    /// F1 of one class against the rest (`f1_score(average="binary", pos_label=positive)`);
    /// 0 when the class is never predicted nor present, like scikit-learn's `zero_division`.
    pub fn f1(&self, positive: usize) -> f64 {
        let tp = self.get(positive, positive) as f64;
        let (t, p) = self.marginals();
        let denominator = t[positive] + p[positive];
        if denominator == 0.0 {
            0.0
        } else {
            2.0 * tp / denominator
        }
    }

    /// Multiclass Matthews correlation coefficient (Gorodkin's R_K), as scikit-learn computes
    /// it: 0 when either marginal is concentrated on one class.
    pub fn matthews_corrcoef(&self) -> f64 {
        let (t, p) = self.marginals();
        let n = self.total();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let cov_ytyp = self.trace() * n - dot(&t, &p);
        let cov_ypyp = n * n - dot(&p, &p);
        let cov_ytyt = n * n - dot(&t, &t);
        if cov_ypyp * cov_ytyt == 0.0 {
            return 0.0;
        }
        cov_ytyp / (cov_ytyt * cov_ypyp).sqrt()
    }
}

/// Fraction of predictions equal to their reference (`sklearn.metrics.accuracy_score`).
///
/// ```
/// use albert_train::metrics::accuracy;
/// assert_eq!(accuracy(&["a", "b", "b", "a"], &["a", "b", "a", "a"]).unwrap(), 0.75);
/// ```
pub fn accuracy<T: PartialEq>(predictions: &[T], references: &[T]) -> Result<f64, MetricError> {
    check_lengths(predictions, references)?;
    let correct = predictions
        .iter()
        .zip(references)
        .filter(|(p, r)| p == r)
        .count();
    Ok(correct as f64 / predictions.len() as f64)
}

/// Binary F1 of class `positive` (`sklearn.metrics.f1_score(pos_label=positive)`).
///
/// ```
/// use albert_train::metrics::f1_binary;
/// // tp = 1, fp = 1, fn = 1: F1 = 2 / (2 + 1 + 1)
/// assert_eq!(f1_binary(&[1, 1, 0, 0], &[1, 0, 1, 0], 1).unwrap(), 0.5);
/// ```
pub fn f1_binary(
    predictions: &[usize],
    references: &[usize],
    positive: usize,
) -> Result<f64, MetricError> {
    let num_classes = classes_seen(predictions, references).max(positive + 1);
    Ok(ConfusionMatrix::new(predictions, references, num_classes)?.f1(positive))
}

/// Matthews correlation coefficient (`sklearn.metrics.matthews_corrcoef`), multiclass.
///
/// ```
/// use albert_train::metrics::matthews_corrcoef;
/// let mcc = matthews_corrcoef(&[1, 1, 0, 0], &[1, 0, 1, 0]).unwrap();
/// assert_eq!(mcc, 0.0);
/// assert_eq!(matthews_corrcoef(&[1, 0, 1], &[1, 0, 1]).unwrap(), 1.0);
/// ```
pub fn matthews_corrcoef(predictions: &[usize], references: &[usize]) -> Result<f64, MetricError> {
    let num_classes = classes_seen(predictions, references);
    Ok(ConfusionMatrix::new(predictions, references, num_classes)?.matthews_corrcoef())
}

/// One more than the largest class id in either list (1 for empty lists).
fn classes_seen(predictions: &[usize], references: &[usize]) -> usize {
    predictions.iter().chain(references).copied().max().unwrap_or(0) + 1
}
