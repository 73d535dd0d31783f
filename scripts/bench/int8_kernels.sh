#!/usr/bin/env bash
# The int8 kernels against f32 at fixed shapes, alternating in rounds: in each round and batch size, `albert bench`
# in f32 (on the default f32 kernel, named in the output), then with --int8 on each kernel named (ALBERT_INT8_KERNEL),
# each in its own process. Prints one TSV line per process (its median ms), then per batch and kernel the median over
# rounds of those medians and the median over rounds of f32's time / that kernel's time within the round (> 1:
# faster than f32), with their range.
#   usage: scripts/bench/int8_kernels.sh [ROUNDS] [KERNEL...]   (default: 3 rounds, avx2-7x7 avx2-7bit avx2; after
#          cargo build --release -p albert-cli). PRESET, SEQ, THREADS and BATCHES ("1 16") change the shape.
set -euo pipefail
ALBERT=${ALBERT:-target/release/albert}
PRESET=${PRESET:-albert-base-v2}; SEQ=${SEQ:-128}; THREADS=${THREADS:-2}; BATCHES=${BATCHES:-1 16}
ROUNDS=${1:-3}; [ $# -gt 0 ] && shift
KERNELS=("$@"); [ ${#KERNELS[@]} -eq 0 ] && KERNELS=(avx2-7x7 avx2-7bit avx2)
median_ms() { # batch, env assignment or "", flags... -> "precision kernel<TAB>median ms" of the process
  local batch=$1 env_set=$2; shift 2
  local runs=10 warmup=2
  [ "$batch" -gt 1 ] && runs=4 warmup=1
  env $env_set "$ALBERT" bench --preset "$PRESET" --seq "$SEQ" --threads "$THREADS" --batch "$batch" --runs $runs \
    --warmup $warmup --json "$@" | jq -r '"\(if .int8 then "int8 " + .int8_kernel else "f32 " + .f32_kernel end)\t\(.median_ms)"'
}
results=$(mktemp); trap 'rm -f "$results"' EXIT
printf 'round\tbatch\tkernel\tmedian_ms\n'
for round in $(seq "$ROUNDS"); do
  for batch in $BATCHES; do
    printf '%s\t%s\t%s\n' "$round" "$batch" "$(median_ms "$batch" "")" | tee -a "$results"
    for kernel in "${KERNELS[@]}"; do
      printf '%s\t%s\t%s\n' "$round" "$batch" "$(median_ms "$batch" "ALBERT_INT8_KERNEL=$kernel" --int8)" | tee -a "$results"
    done
  done
done
printf '\nbatch\tkernel\tmedian ms over rounds\tf32 / it (median, range over rounds)\n'
awk -F'\t' -f "$(dirname "$0")/median.awk" -f <(printf '%s\n' '
  { ms[$1, $2, $3] = $4; key = $2 "\t" $3; if (!(key in seen)) { seen[key] = 1; order[++keys] = key }; rounds[$1] = 1
    if ($3 ~ /^f32 /) f32[$1, $2] = $4 }
  END {
    for (k = 1; k <= keys; k++) {
      split(order[k], kv, "\t"); times = ""; ratios = ""; lo = ""; hi = ""
      for (r in rounds) {
        if (!((r, kv[1], kv[2]) in ms)) continue
        times = times " " ms[r, kv[1], kv[2]]
        q = f32[r, kv[1]] / ms[r, kv[1], kv[2]]; ratios = ratios " " q
        if (lo == "" || q < lo) lo = q; if (hi == "" || q > hi) hi = q
      }
      printf "%s\t%s\t%.1f\t%.2f (%.2f - %.2f)\n", kv[1], kv[2], median(times), median(ratios), lo, hi
    }
  }') "$results"
