#!/usr/bin/env bash
# Prints which tests skipped (some of) their checks and why, from the log that albert-testkit's skip helper
# appends to (ALBERT_SKIP_LOG: one "binary test<TAB>reason" line per skip); repeated lines are printed once.
set -euo pipefail
log="${1:?usage: scripts/skipped.sh SKIP_LOG}"
if [ ! -s "$log" ]; then
  echo "skipped tests: none"
  exit 0
fi
sort -u "$log" > "$log.sorted"
echo "skipped tests ($(wc -l < "$log.sorted"); their prerequisite is missing here):"
awk -F'\t' '{ printf "  SKIPPED %s: %s\n", $1, $2 }' "$log.sorted"
rm -f "$log.sorted"
