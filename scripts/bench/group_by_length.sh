#!/usr/bin/env bash
# Training steps with batches grouped by length (`--group-by-length`) against steps in shuffled order, alternating in
# one run: pretraining on the 128-token data of scripts/pretrain_small.sh (its phase 1 settings), and the SST-2 and
# CoNLL-2003 fine-tunes of scripts/builtin_models.sh from models/albert-small. Batches pad to their longest row, so the
# gain is the padding saved; the number of rows and real tokens per step is the same either way.
#   Pretraining: median seconds per step from metrics.jsonl (tokens / tokens_per_second), steps 6.. of each run.
#   Fine-tuning: (time of 3N steps - time of N steps) / 2N, which cancels loading, encoding and the final evaluation.
#   usage: scripts/bench/group_by_length.sh PRETRAIN_DATA [WORK] [ROUNDS] [STEPS]   (after cargo build --release)
set -euo pipefail
DATA_DIR=${1:?usage: group_by_length.sh PRETRAIN_DATA [WORK] [ROUNDS] [STEPS]}
WORK=${2:-target/bench-group-by-length}; ROUNDS=${3:-2}; N=${4:-60}
ALBERT=${ALBERT:-target/release/albert}
DATA=${DATA:-../shared/data}
MODEL=${MODEL:-models/albert-small}
mkdir -p "$WORK"

pretrain_step() { # flag -> median seconds per step
  local out=$WORK/pretrain; rm -rf "$out"
  "$ALBERT" pretrain run --data "$DATA_DIR" --config "$MODEL/config.json" --out "$out" --steps $((N + 5)) --batch 32 --lr 7e-4 \
    --warmup 300 --optimizer adamw --seed 42 --save-every 0 --eval-every 0 --eval-batches 1 --quiet $1 > /dev/null
  jq -s '[.[] | select(.kind == "train" and .step > 5) | .tokens / .tokens_per_second] | sort | .[length / 2 | floor]' \
    "$out/metrics.jsonl"
}
finetune_seconds() { # steps, flag, task args... -> wall seconds
  local steps=$1 flag=$2; shift 2
  local out=$WORK/finetune; rm -rf "$out"
  local t0; t0=$(date +%s.%N)
  "$ALBERT" finetune "$@" --model "$MODEL" --out "$out" --seed 1 --steps "$steps" --save-every 0 $flag > /dev/null 2>&1
  echo "$(date +%s.%N) - $t0" | bc
}
finetune_step() { # flag, task args... -> seconds per step
  local flag=$1; shift
  local short long
  short=$(finetune_seconds "$N" "$flag" "$@"); long=$(finetune_seconds $((3 * N)) "$flag" "$@")
  echo "scale=4; ($long - $short) / (2 * $N)" | bc
}

SST2=(--task sst2 --data "$DATA/glue/SST-2" --lr 1e-4 --warmup-ratio 0.1 --batch 32 --holdout-fraction 0.1)
CONLL=(--task conll2003 --data "$DATA/conll2003" --lr 2e-4 --warmup-ratio 0.1 --batch 32)
printf '%-10s %-9s %14s %14s %7s\n' workload round "shuffled s" "grouped s" ratio
for r in $(seq 1 "$ROUNDS"); do
  for w in pretrain sst2 conll03; do
    case $w in
      pretrain) a=$(pretrain_step ""); b=$(pretrain_step --group-by-length) ;;
      sst2) a=$(finetune_step "" "${SST2[@]}"); b=$(finetune_step --group-by-length "${SST2[@]}") ;;
      conll03) a=$(finetune_step "" "${CONLL[@]}"); b=$(finetune_step --group-by-length "${CONLL[@]}") ;;
    esac
    printf '%-10s %-9s %14.4f %14.4f %7.3f\n' "$w" "$r" "$a" "$b" "$(echo "scale=4; $b / $a" | bc)"
  done
done
