#!/usr/bin/env bash
# Task accuracy of the built-in models in f32 and in int8 on each int8 kernel named: SST-2 dev accuracy, CoNLL-2003
# entity F1 on eng.testb (the test file, as models/albert-small-conll03/scores.json) and XQuAD English F1 on the 12
# held-out test articles (--articles test, as models/albert-small-xquad/scores.json). Each kernel is forced with
# ALBERT_INT8_KERNEL (which also keeps --int8 in int8 where the portable kernel would otherwise fall back to f32).
# Prints one TSV line per (task, precision): task, metric, precision, score, seconds. ONLY=TASK runs one task.
#   usage: scripts/bench/int8_accuracy.sh [KERNEL...]   (default: avx2-7x7 avx2-7bit avx2: 7-bit weights and
#          activations, 7-bit weights, 8-bit weights, the AVX2 kernels; after cargo build --release)
set -euo pipefail
ALBERT=${ALBERT:-target/release/albert}
DATA=${DATA:-../shared/data}
KERNELS=("$@")
[ $# -eq 0 ] && KERNELS=(avx2-7x7 avx2-7bit avx2)
TASKS=(
  "sst2 acc models/albert-small-sst2 $DATA/glue/SST-2/dev.tsv"
  "conll2003 FB1 models/albert-small-conll03 $DATA/conll2003/eng.testb"
  "xquad f1 models/albert-small-xquad $DATA/xquad/xquad.en.json --articles test"
)
run() { # label, env assignment or "", task args... -> TSV line
  local label=$1 env_set=$2 task=$3 metric=$4 model=$5 data=$6; shift 6
  local t0 t1 score
  t0=$(date +%s.%N)
  score=$(env $env_set "$ALBERT" evaluate --task "$task" --model "$model" --data "$data" --json "$@" | jq ".$metric")
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\t%.0f\n' "$task" "$metric" "$label" "$score" "$(echo "$t1 - $t0" | bc)"
}
printf 'task\tmetric\tprecision\tscore\tseconds\n'
for spec in "${TASKS[@]}"; do
  # shellcheck disable=SC2086 # the spec is split into its words on purpose
  set -- $spec
  [ -n "${ONLY:-}" ] && [ "$1" != "$ONLY" ] && continue
  run f32 "" "$@"
  for kernel in "${KERNELS[@]}"; do
    run "int8 $kernel" "ALBERT_INT8_KERNEL=$kernel" "$@" --int8
  done
done
