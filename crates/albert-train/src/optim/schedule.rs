//! Learning-rate schedule: linear warmup, then linear decay to zero.

/// transformers' `get_linear_schedule_with_warmup`: the rate rises linearly from 0 to `peak_lr`
/// over `warmup_steps`, then falls linearly to 0 at `total_steps`.
///
/// ```
/// use albert_train::optim::LinearWarmupSchedule;
/// let s = LinearWarmupSchedule { peak_lr: 1e-3, warmup_steps: 10, total_steps: 110 };
/// assert_eq!(s.lr(0), 0.0);
/// assert!((s.lr(5) - 5e-4).abs() < 1e-15);
/// assert!((s.lr(60) - 5e-4).abs() < 1e-15);
/// assert_eq!(s.lr(110), 0.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearWarmupSchedule {
    /// Rate at the end of warmup.
    pub peak_lr: f64,
    /// Steps of linear warmup.
    pub warmup_steps: u64,
    /// Step at which the rate reaches 0.
    pub total_steps: u64,
}

impl LinearWarmupSchedule {
    /// The rate for optimizer step `step` (0-based: the first update uses `lr(0)`, as with
    /// `scheduler.step()` after each `optimizer.step()`).
    pub fn lr(&self, step: u64) -> f64 {
        let factor = if step < self.warmup_steps {
            step as f64 / self.warmup_steps.max(1) as f64
        } else {
            let remaining = self.total_steps as f64 - step as f64;
            (remaining / (self.total_steps.saturating_sub(self.warmup_steps)).max(1) as f64)
                .max(0.0)
        };
        self.peak_lr * factor
    }
}
