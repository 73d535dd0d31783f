#!/usr/bin/env bash
# CPU time per batch of `albert bench --int8` under each environment setting named, alternating in rounds: a process
# with --runs 1 and one with --runs RUNS (no warm-up in either), and the difference of their user + system time over
# RUNS - 1 (model set-up and the first, cold batch cancel). CPU time, which other work on a shared machine inflates
# less than wall time. Prints one TSV line per (round, setting), then the median over rounds per setting and the
# median over rounds of each setting's time over the first setting's within the round.
#   usage: scripts/bench/int8_cpu_ab.sh ROUNDS "ENV=VALUE ..." "ENV=VALUE ..." ...   (after cargo build --release
#          -p albert-cli). BATCH (16), RUNS (4 at batch > 1, else 11), SEQ (128), THREADS (2), PRESET
#          (albert-base-v2), FLAGS (--int8) and ALBERT (target/release/albert) change the run.
set -euo pipefail
ALBERT=${ALBERT:-target/release/albert}
BATCH=${BATCH:-16}; SEQ=${SEQ:-128}; THREADS=${THREADS:-2}; PRESET=${PRESET:-albert-base-v2}; FLAGS=${FLAGS:---int8}
RUNS=${RUNS:-$([ "$BATCH" -gt 1 ] && echo 4 || echo 11)}
ROUNDS=$1; shift
cpu_s() { # env settings, runs -> user + system seconds of the process
  local settings=$1 runs=$2 out
  out=$(mktemp)
  # shellcheck disable=SC2086 # the settings are split into their words on purpose
  env $settings /usr/bin/time -f '%U %S' -o "$out" "$ALBERT" bench --preset "$PRESET" --seq "$SEQ" \
    --threads "$THREADS" --batch "$BATCH" --runs "$runs" --warmup 0 $FLAGS > /dev/null
  awk '{ print $1 + $2 }' "$out"; rm -f "$out"
}
results=$(mktemp); trap 'rm -f "$results"' EXIT
printf 'round\tsetting\tcpu_ms_per_batch\n'
for round in $(seq "$ROUNDS"); do
  for i in $(seq $#); do
    settings=${!i}
    one=$(cpu_s "$settings" 1); many=$(cpu_s "$settings" "$RUNS")
    printf '%s\t%s\t%.1f\n' "$round" "$settings" "$(echo "($many - $one) * 1000 / ($RUNS - 1)" | bc -l)" | tee -a "$results"
  done
done
printf '\nsetting\tmedian cpu ms per batch\tover the first setting (median, range over rounds)\n'
awk -F'\t' -f "$(dirname "$0")/median.awk" -f <(printf '%s\n' '
  function range(list,   v, n, i, lo, hi) {
    n = split(list, v, " "); lo = hi = v[1]
    for (i = 2; i <= n; i++) { if (v[i] + 0 < lo + 0) lo = v[i]; if (v[i] + 0 > hi + 0) hi = v[i] }
    return sprintf("%.3f - %.3f", lo, hi)
  }
  { if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2; if (n == 1) first = $2 }
    ms[$1, $2] = $3; rounds[$1] = 1; all[$2] = all[$2] " " $3 }
  END {
    for (i = 1; i <= n; i++) {
      s = order[i]; ratios = ""
      for (r in rounds) if ((r, s) in ms && (r, first) in ms) ratios = ratios " " ms[r, s] / ms[r, first]
      printf "%s\t%.1f\t%.3f (%s)\n", s, median(all[s]), median(ratios), range(ratios)
    }
  }') "$results"
