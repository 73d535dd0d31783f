#!/usr/bin/env bash
# Short fuzz pass for CI: builds every fuzz target with cargo-fuzz (libFuzzer, AddressSanitizer) and runs each for
# FUZZ_SECONDS seconds (default 20) starting from its committed corpus in fuzz/corpus/. Any crash, panic, hang
# (-timeout) or absurd allocation (-rss_limit_mb/-malloc_limit_mb) fails the script; the reproducer is left in
# fuzz/artifacts/<target>/. Inputs found on the way go to a scratch directory, never into the committed corpus.
#
# usage: scripts/fuzz/ci.sh [TARGET...]      (default: every target)
# env:   FUZZ_SECONDS (20), FUZZ_SANITIZER (address; "none" where ASan is unavailable)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/fuzz/common.sh

seconds=${FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(fuzz_targets)

start=$(date +%s)
fuzz_build
echo "fuzz: built in $(( $(date +%s) - start )) s"

failed=()
for target in "${targets[@]}"; do
  mkdir -p "$FUZZ_SCRATCH/corpus/$target"
  if fuzz_run "$target" "$FUZZ_SCRATCH/corpus/$target" -max_total_time="$seconds" > "$FUZZ_SCRATCH/$target.log" 2>&1; then
    echo "fuzz: $target: $(fuzz_final_stats "$FUZZ_SCRATCH/$target.log")"
  else
    echo "fuzz: $target FAILED; last lines of its log:" >&2
    tail -40 "$FUZZ_SCRATCH/$target.log" >&2
    failed+=("$target")
  fi
done
echo "fuzz: ${#targets[@]} targets in $(( $(date +%s) - start )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
  exit 1
fi
