//! Helpers shared by the command-line tests.

use std::path::{Path, PathBuf};

/// A path under the shared data folder (`../shared/data` beside the checkout); missing data fails the test under
/// CI=true and skips it (returning `None`) elsewhere.
pub fn shared_data(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "shared data {} is missing (CI=true)", path.display());
    eprintln!("note: skipping, shared data {} not found", path.display());
    None
}
