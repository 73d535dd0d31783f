#!/usr/bin/env bash
# Long fuzz runs: each target in turn (one at a time, one core) for SECONDS seconds (default 900), continuing
# from the corpus its earlier long runs grew (fuzz/target/long-corpus/<target>, not committed) and the committed
# seeds. Appends one row per target to docs/fuzz/runs.md: executions, coverage (libFuzzer's final cov and ft),
# corpus size and the crashes, timeouts and out-of-memory reports (reproducers in fuzz/artifacts/<target>/).
#
# usage: scripts/fuzz/long.sh [SECONDS] [TARGET...]      (default: 900 s, every target)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/fuzz/common.sh

seconds=${1:-900}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(fuzz_targets)
fuzz_build

runs=docs/fuzz/runs.md
mkdir -p docs/fuzz fuzz/target/long-corpus
if [ ! -f "$runs" ]; then
  cat > "$runs" <<'HEAD'
# Long fuzz runs

Written by `scripts/fuzz/long.sh` (one target at a time on one core). execs: inputs run; cov: code edges
reached; ft: libFuzzer's features (edges with hit counts, compared values); corpus: inputs kept at the end (seeds
included); crashes / timeouts / ooms: reports of a panic or abort, of one input running over 10 s, of more than
2 GB of memory.

| started (UTC) | commit | target | seconds | execs | execs/s | cov | ft | corpus | crashes | timeouts | ooms | sanitizer |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
HEAD
fi

count() { find "fuzz/artifacts/$1" -maxdepth 1 -name "$2-*" 2>/dev/null | wc -l; }

status=0
for target in "${targets[@]}"; do
  corpus=fuzz/target/long-corpus/$target
  mkdir -p "$corpus"
  before=($(count "$target" crash) $(count "$target" timeout) $(count "$target" oom))
  log=$FUZZ_SCRATCH/$target.log
  commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates fuzz/src fuzz/fuzz_targets || echo +dirty)
  started=$(date -u '+%Y-%m-%d %H:%M')
  t0=$(date +%s)
  fuzz_run "$target" "$PWD/$corpus" -max_total_time="$seconds" > "$log" 2>&1 || status=1
  # libFuzzer's own run time (the wall time also counts building the target).
  took=$(grep -ao 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o '[0-9]* second' | grep -o '[0-9]*' || true)
  took=${took:-$(( $(date +%s) - t0 ))}
  read -r _ execs _ cov _ ft _ files <<< "$(fuzz_final_stats "$log")"
  crashes=$(( $(count "$target" crash) - before[0] ))
  timeouts=$(( $(count "$target" timeout) - before[1] ))
  ooms=$(( $(count "$target" oom) - before[2] ))
  rate=$([ "$execs" != "?" ] && echo $(( execs / (took > 0 ? took : 1) )) || echo "?")
  row="| $started | $commit | $target | $took | $execs | $rate | $cov | $ft | $files | $crashes | $timeouts | $ooms | $FUZZ_SANITIZER |"
  echo "$row" | tee -a "$runs"
  if [ $(( crashes + timeouts + ooms )) -gt 0 ]; then
    echo "fuzz: $target: see fuzz/artifacts/$target/; last lines of its log:" >&2
    tail -40 "$log" >&2
  fi
done
exit $status
