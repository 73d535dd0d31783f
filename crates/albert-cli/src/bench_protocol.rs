//! The measurement protocol `albert bench` shares with the naive engine of scripts/bench/peers.py
//! (scripts/bench/naive compiles this file against the model core's first version): the fixed-seed batch, the order
//! statistics of the timed runs and the peak RSS. It depends on candle_core alone for that reason.

use candle_core::{Device, Result, Tensor};

/// Order statistics of the timed runs, in milliseconds.
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub min: f64,
}

impl Stats {
    pub fn new(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        // Linear interpolation between order statistics, as numpy's default percentile.
        let q = |p: f64| {
            let x = p * (ms.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            ms[lo] + (ms[hi] - ms[lo]) * (x - lo as f64)
        };
        Self { median: q(0.5), p10: q(0.1), p90: q(0.9), min: ms[0] }
    }
}

/// Token ids uniform over the vocabulary (past the special pieces) and masked-LM labels on 15% of the positions,
/// from a fixed-seed generator so every run sees the same batch.
pub fn random_batch(batch: usize, seq: usize, vocab: usize, seed: u64) -> Result<(Tensor, Tensor)> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    };
    let low = 5.min(vocab - 1) as u64;
    let ids: Vec<u32> = (0..batch * seq).map(|_| (low + next() % (vocab as u64 - low)) as u32).collect();
    let labels: Vec<i64> = ids.iter().map(|&id| if next() % 100 < 15 { id as i64 } else { -100 }).collect();
    Ok((Tensor::from_vec(ids, (batch, seq), &Device::Cpu)?, Tensor::from_vec(labels, (batch, seq), &Device::Cpu)?))
}

/// The process's peak resident set (VmHWM) in MiB, where /proc tells it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
