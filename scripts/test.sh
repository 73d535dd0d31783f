#!/usr/bin/env bash
# The README's test command: every test of the workspace (extra arguments go to `cargo test`), then the list of
# tests that skipped for a missing prerequisite (shared data, WordNet, a CPU feature) and why.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
mkdir -p "$target"
# A caller that set the log (.ci/run) owns it: it clears it first and prints the summary of all its runs last.
if [ -n "${ALBERT_SKIP_LOG:-}" ]; then
  exec cargo test --workspace "$@"
fi
export ALBERT_SKIP_LOG="$target/albert-test-skips.tsv"
: > "$ALBERT_SKIP_LOG"
trap 'scripts/skipped.sh "$ALBERT_SKIP_LOG"' EXIT
cargo test --workspace "$@"
