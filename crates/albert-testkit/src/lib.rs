//! Test prerequisites and visible skips, shared by the tests of every crate of the workspace (integration tests
//! and the libraries' own unit tests, which is why this is a dev-dependency crate and not a `tests/common` module).
//!
//! A test whose prerequisite is missing (the shared datasets in `../shared/data`, Debian's WordNet, a CPU feature
//! for a kernel) calls [`skip`] through one of the helpers here, and returns. The skip is printed as a `SKIPPED`
//! line on the test process's stderr, past the test harness's output capture, and appended to the file that
//! [`SKIP_LOG_ENV`] names, from which `scripts/skipped.sh` prints the summary at the end of `scripts/test.sh` and
//! `.ci/run`. Under `CI=true` a missing dataset or WordNet fails the test instead: CI provides both.

pub mod http;

use std::io::Write;
use std::path::{Path, PathBuf};

/// Environment variable naming the file that skips are appended to, one `test<TAB>reason` line each.
pub const SKIP_LOG_ENV: &str = "ALBERT_SKIP_LOG";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under the shared data folder (`../shared/data` beside the checkout; `rel` may be empty for the folder
/// itself), or `None` after a [`skip`] where it is missing.
///
/// # Panics
/// Under `CI=true`, where it is missing.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    required_path(repo_root().join("../shared/data").join(rel), "shared data")
}

/// `path` (`what` describes it), or `None` after a [`skip`] where it does not exist.
///
/// # Panics
/// Under `CI=true`, where it does not exist: CI provides every such prerequisite (`.ci/run`).
pub fn required_path(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let missing = format!("{what} {} is missing", path.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{missing} (required under CI=true)");
    skip(&missing);
    None
}

/// Whether this CPU has what a kernel test needs (`have`); where not, [`skip`] with `feature` named. Never a
/// failure: CI runners vary in their CPUs.
pub fn cpu_has(have: bool, feature: &str) -> bool {
    if !have {
        skip(&format!("the CPU lacks {feature}"));
    }
    have
}

/// Prints which kernel the running test checked (`KERNEL test: kernel` on stderr, past the harness's capture): CI
/// runs the kernel tests once per kernel it can force, and its log says which ran.
pub fn ran_on(kernel: &str) {
    let _ = std::io::stderr().write_all(format!("KERNEL {}: {kernel}
", test_name()).as_bytes());
}

/// Records that the running test skips (some of) what it checks, and why: a `SKIPPED` line on stderr, written
/// directly so that the test harness does not capture it, and a line in the [`SKIP_LOG_ENV`] file where that is set.
pub fn skip(reason: &str) {
    let test = test_name();
    // One write per line: concurrent tests append whole lines.
    let _ = std::io::stderr().write_all(format!("SKIPPED {test}: {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os(SKIP_LOG_ENV) {
        let line = format!("{test}\t{}\n", reason.replace(['\t', '\n'], " "));
        let written = std::fs::OpenOptions::new().create(true).append(true).open(&log).and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!("cannot record the skip in {} ({SKIP_LOG_ENV}): {e}", Path::new(&log).display());
        }
    }
}

/// `binary test::path`: the test binary's name without cargo's hash (the integration test file, or the library
/// for unit tests) and the name of the test, which the harness gives the thread the test runs on.
fn test_name() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => stem,
        })
        .unwrap_or_else(|| "?".into());
    let thread = std::thread::current();
    format!("{binary} {}", thread.name().unwrap_or("?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A missing prerequisite is a recorded skip outside CI and a failure under CI=true. One test: it sets the
    /// process's environment.
    #[test]
    fn a_missing_path_is_a_recorded_skip_outside_ci_and_a_failure_in_ci() {
        let log = std::env::temp_dir().join(format!("albert-testkit-skips-{}.tsv", std::process::id()));
        let _ = std::fs::remove_file(&log);
        let ci = std::env::var_os("CI");
        std::env::set_var(SKIP_LOG_ENV, &log);
        let missing = repo_root().join("no such prerequisite");
        std::env::set_var("CI", "false");
        assert_eq!(required_path(missing.clone(), "a test file"), None);
        assert!(!cpu_has(false, "a test feature"));
        std::env::set_var("CI", "true");
        let in_ci = std::panic::catch_unwind(|| required_path(missing.clone(), "a test file"));
        match ci {
            Some(v) => std::env::set_var("CI", v),
            None => std::env::remove_var("CI"),
        }
        assert!(in_ci.is_err(), "CI=true must fail on a missing prerequisite");
        let recorded = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        let test = "albert_testkit tests::a_missing_path_is_a_recorded_skip_outside_ci_and_a_failure_in_ci";
        assert_eq!(
            recorded,
            format!("{test}\ta test file {} is missing\n{test}\tthe CPU lacks a test feature\n", missing.display())
        );
    }
}
