//! Memory a model needs, checked against what the machine has before anything is allocated: an absurd config is
//! refused with an error naming both figures instead of aborting the process on a failed allocation.

use crate::config::{AlbertConfig, Architecture};
use crate::error::{Error, Result};

/// Memory the machine can give a new allocation now: Linux's `MemAvailable` (free memory plus reclaimable caches)
/// plus free swap; `None` where it cannot be read (other systems), in which case nothing is refused.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    Some((kib("MemAvailable:")? + kib("SwapFree:").unwrap_or(0)) * 1024)
}

/// Refuses `what` when it needs more than [`available`] memory; `needed` is a lower bound in bytes.
pub fn ensure_fits(needed: u64, what: &str) -> Result<()> {
    match available() {
        Some(available) if needed > available => {
            Err(Error::OutOfMemory { what: what.to_string(), needed, available })
        }
        _ => Ok(()),
    }
}

/// Bytes of the parameters of `arch` built from `config`, `dtype_bytes` each (4 for f32). A validated config cannot
/// overflow this (see [`crate::config::LIMITS`]).
pub fn weight_bytes(config: &AlbertConfig, arch: Architecture, dtype_bytes: usize) -> u64 {
    config.parameter_count(arch) as u64 * dtype_bytes as u64
}

/// A lower bound of the memory one training step of `parameters` f32 parameters needs at `batch` x `seq` tokens:
/// the weights, their gradients and two optimizer moments, plus, for every layer the encoder runs, the hidden state
/// and the feed-forward activation of each token, which the backward pass keeps (the real need is several times
/// the activation term).
pub fn training_bytes(config: &AlbertConfig, parameters: usize, batch: usize, seq: usize) -> u64 {
    let state = 4 * parameters as u64;
    let per_token = (config.num_hidden_layers * (config.hidden_size + config.intermediate_size)) as u64;
    4 * (state + (batch as u64).saturating_mul(seq as u64).saturating_mul(per_token))
}

/// Bytes as a reader wants them (`1.5 GiB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
        assert_eq!(human(5 << 40), "5.0 TiB");
    }

    #[test]
    fn the_machine_reports_its_memory() {
        // Linux is the platform CI and this project run on; elsewhere the check is off by design.
        if cfg!(target_os = "linux") {
            let bytes = available().expect("/proc/meminfo is readable on Linux");
            assert!(bytes > 1 << 20, "{bytes}");
            assert!(ensure_fits(1 << 60, "an exabyte").unwrap_err().to_string().contains("an exabyte"));
            ensure_fits(1 << 10, "a kibibyte").unwrap();
        }
    }

    /// albert-base-v2's AlbertModel: 11,683,584 parameters (transformers) of 4 bytes.
    #[test]
    fn weight_bytes_follow_the_parameter_count() {
        assert_eq!(weight_bytes(&AlbertConfig::default(), Architecture::Model, 4), 4 * 11_683_584);
    }

    /// Hand-derived: base (12 layers, H 768, FFN 3072), 1,000 parameters, batch 2 x seq 3:
    /// 4 * (4 * 1000 + 6 * 12 * 3840) = 1,121,920.
    #[test]
    fn training_bound_counts_state_and_activations() {
        assert_eq!(training_bytes(&AlbertConfig::default(), 1000, 2, 3), 1_121_920);
    }
}
