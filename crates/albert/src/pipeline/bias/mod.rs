//! Bias probes of masked language models.
//!
//! - [`crows_pairs`]: the CrowS-Pairs metric of Nangia et al. (2020), as nyu-mll/crows-pairs `metric.py` computes
//!   it: how often the model gives the more stereotypical sentence of a minimal pair the higher pseudo-log-likelihood.
//! - [`difflib`]: Python's `difflib.SequenceMatcher`, which `metric.py` uses to find the tokens two sentences share.

pub mod crows_pairs;
pub mod difflib;
