#!/usr/bin/env bash
# kill -9 soak: `albert pretrain run` and `albert finetune` are SIGKILLed at random moments (half of the kills aimed
# at checkpoint writes) and resumed with --resume until done; the final weights and logs must be bit-identical to an
# uninterrupted run's.
#
#   scripts/soak/kill9.sh [WORK_DIR]        (default: a fresh temporary directory)
#
# Environment: ALBERT (binary, default target/release/albert), KILLS (per command, default 20), STEPS (default 300),
# SAVE_EVERY (default 5), SEED (of the kill schedule, default 1), DATA (default ../shared/data beside the checkout),
# ONLY (pretrain or finetune: soak one command).
# Exit status: 0 when every final file matches, 1 on a mismatch or a failed resume.
set -euo pipefail
cd "$(dirname "$0")/../.."
ALBERT=$(realpath "${ALBERT:-target/release/albert}")
KILLS=${KILLS:-20}
STEPS=${STEPS:-300}
SAVE_EVERY=${SAVE_EVERY:-5}
DATA=$(realpath "${DATA:-../shared/data}")
RANDOM=${SEED:-1}
WORK=${1:-$(mktemp -d /tmp/albert-kill9.XXXXXX)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
[ -x "$ALBERT" ] || { echo "no albert binary at $ALBERT (cargo build --release -p albert-cli)" >&2; exit 1; }
echo "work directory: $WORK; $KILLS kills per command, $STEPS steps, a checkpoint every $SAVE_EVERY steps"

# Inputs: a slice of WikiText-2 for pretraining, 400 SST-2 phrases for fine-tuning, the shared SentencePiece model.
SPM="$DATA/spm/spiece.model"
head -n 3000 "$DATA/corpus/wikitext-2/wiki.valid.tokens" > "$WORK/corpus.txt"
mkdir -p "$WORK/SST-2"
head -n 401 "$DATA/glue/SST-2/train.tsv" > "$WORK/SST-2/train.tsv"
head -n 101 "$DATA/glue/SST-2/dev.tsv" > "$WORK/SST-2/dev.tsv"
cat > "$WORK/config.json" <<'EOF'
{"vocab_size": 30000, "embedding_size": 32, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
 "intermediate_size": 128, "max_position_embeddings": 128, "type_vocab_size": 2}
EOF
"$ALBERT" pretrain prepare --corpus "$WORK/corpus.txt" --tokenizer "$SPM" --out "$WORK/data" \
  --max-seq-length 64 --doc-boundary wikitext-heading > /dev/null

# Each sets CMD to the command line writing into OUT. (A plain command, not a function, goes to the background, so
# that $! is albert's own process and the SIGKILL reaches it.)
pretrain_cmd() {  # OUT
  CMD=("$ALBERT" pretrain run --quiet --data "$WORK/data" --config "$WORK/config.json" --out "$1" --steps "$STEPS"
    --batch 8 --lr 1e-3 --warmup 20 --seed 5 --save-every "$SAVE_EVERY" --eval-every 50 --eval-batches 4)
}
finetune_cmd() {  # OUT
  CMD=("$ALBERT" finetune --task sst2 --data "$WORK/SST-2" --config "$WORK/config.json" --tokenizer "$SPM" --out "$1"
    --steps "$STEPS" --batch 8 --lr 1e-3 --seed 7 --save-every "$SAVE_EVERY")
}
# The files that must match, per command.
pretrain_files="model.safetensors config.json metrics.jsonl"
finetune_files="model.safetensors config.json train_log.jsonl"
# A file as compared: the logs without their one wall-clock field (training throughput).
comparable() {
  case $1 in
    *.jsonl) sed -E 's/,"tokens_per_second":[^,}]*//' "$1" ;;
    *) cat "$1" ;;
  esac
}

seconds_of_ms() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# Whether the process killed (PID) was writing: it left a checkpoint swap unfinished (.checkpoint.tmp or
# .checkpoint.old changed since MARKER was touched, just before it started), or a temporary file of its own
# (.NAME.PID-N.tmp, in OUT or in the swap directory).
interrupted_write() {  # OUT PID MARKER
  [ -n "$(find "$1" -maxdepth 1 \( -name .checkpoint.tmp -o -name .checkpoint.old \) -cnewer "$3")" ] ||
    [ -n "$(find "$1" -maxdepth 2 -name ".*.$2-*.tmp")" ]
}

status=0
summary=""
soak() {  # NAME
  local name=$1 ref="$WORK/$1-reference" files_var="$1_files" kills=0 during=0 resumes=0 runs=0 mismatches=0
  local files=${!files_var} started elapsed_ms round=0 out pid ms rc leftovers
  started=$(date +%s%N)
  "${name}_cmd" "$ref"
  "${CMD[@]}" > "$WORK/$name-reference.log" 2>&1
  elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  echo "$name: uninterrupted run $(seconds_of_ms $elapsed_ms) s"
  # Random kills fall within twice the mean share of the run per kill, so that the kills spread over the whole run.
  local window_ms=$(( elapsed_ms * 2 / KILLS + 300 ))
  while [ $kills -lt "$KILLS" ]; do
    round=$((round + 1))
    out="$WORK/$name-killed-$round"
    "${name}_cmd" "$out"
    while :; do
      runs=$((runs + 1))
      [ $runs -gt 1 ] && resumes=$((resumes + 1))
      touch "$WORK/started"
      "${CMD[@]}" --resume >> "$out.log" 2>&1 &
      pid=$!
      if [ $kills -ge "$KILLS" ]; then
        :  # enough kills: let the run finish
      elif [ $((kills % 2)) -eq 0 ]; then
        sleep "$(seconds_of_ms $(( (RANDOM * 32768 + RANDOM) % window_ms )))"
      else
        # Aim at a checkpoint write: wait for a leftover swap directory to be cleaned up, then for the next one.
        while kill -0 $pid 2>/dev/null && [ -e "$out/.checkpoint.tmp" ]; do sleep 0.002; done
        while kill -0 $pid 2>/dev/null && [ ! -e "$out/.checkpoint.tmp" ]; do sleep 0.002; done
        sleep "$(seconds_of_ms $((RANDOM % 8)))"
      fi
      if [ $kills -lt "$KILLS" ] && kill -9 $pid 2>/dev/null; then
        wait $pid 2>/dev/null || true
        kills=$((kills + 1))
        if interrupted_write "$out" $pid "$WORK/started"; then during=$((during + 1)); fi
        continue
      fi
      rc=0; wait $pid || rc=$?
      if [ $rc -ne 0 ]; then
        echo "$name: a resumed run failed with status $rc (see $out.log)" >&2
        status=1
        return
      fi
      break
    done
    # Nothing partial is left: no checkpoint swap directory, no temporary file.
    leftovers=$(find "$out" -name '.*.tmp' -o -name .checkpoint.old)
    if [ -n "$leftovers" ]; then
      echo "$name: round $round: left behind: $leftovers" >&2
      mismatches=$((mismatches + 1))
    fi
    for f in $files; do
      if ! cmp -s <(comparable "$ref/$f") <(comparable "$out/$f"); then
        echo "$name: round $round: $f differs from the uninterrupted run's" >&2
        mismatches=$((mismatches + 1))
      fi
    done
  done
  [ $mismatches -eq 0 ] || status=1
  local line="$name: $kills kills ($during during checkpoint or file writes), $resumes resumes over $round completed run(s), $mismatches mismatches in [$files]"
  for f in $files; do line+=$'\n'"  $f sha256 $(comparable "$ref/$f" | sha256sum | cut -c1-16)"; done
  echo "$line"
  summary+="$line"$'\n'
}

for name in pretrain finetune; do
  if [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ]; then soak $name; fi
done
echo
echo "summary:"
printf '%s' "$summary"
exit $status
