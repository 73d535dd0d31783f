//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

/// A path under the shared data folder (`../shared/data` from the repo root). Missing data fails
/// the test under `CI=true` and skips it (returning `None`) elsewhere.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = repo_root().join("../shared/data").join(rel);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("shared data {} is missing (CI=true)", path.display());
    }
    eprintln!("note: skipping, shared data {} not found", path.display());
    None
}

/// Reads and parses a JSON fixture.
pub fn json_fixture(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Asserts agreement with a reference value to 1e-12 (relative, or absolute near zero).
pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-12 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, reference {expected}"
    );
}

/// Asserts that every key of the reference object matches `actual` (a serialized report).
pub fn assert_json_close(actual: &serde_json::Value, expected: &serde_json::Value, what: &str) {
    let expected = expected
        .as_object()
        .unwrap_or_else(|| panic!("{what}: reference is not an object"));
    let actual = actual
        .as_object()
        .unwrap_or_else(|| panic!("{what}: report is not an object"));
    assert_eq!(
        actual.keys().collect::<std::collections::BTreeSet<_>>(),
        expected.keys().collect::<std::collections::BTreeSet<_>>(),
        "{what}: keys"
    );
    for (key, e) in expected {
        let a = &actual[key];
        match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => assert_close(a, e, &format!("{what} {key}")),
            _ => assert_json_close(a, e, &format!("{what} {key}")),
        }
    }
}
