#!/usr/bin/env bash
# The fine-tuning table of issue 5: the pretrained checkpoint against random initialization, same recipe and steps,
# 3 seeds each; GLUE (SST-2 on a fixed 20k subsample, MRPC, RTE, CoLA, STS-B) scored on dev with the checkpoint chosen
# on 10% held out from train; XQuAD trained on the 36 training articles of data/splits/xquad_split.json and scored on
# the 12 test articles in English and, zero-shot, German and Spanish.
# Hyperparameters are fixed here, before any run, and identical for both arms.
#   usage: scripts/experiments/finetune_table.sh PRETRAINED_DIR OUT   (re-running skips finished runs and resumes
#   an interrupted one from its checkpoint)
# Runs go seed by seed (every task and arm of seed 1 first), so a partial run still fills the whole table.
# SEEDS, TASKS (sst2 mrpc rte cola stsb xquad) and ARMS (pretrained scratch) narrow it down.
set -euo pipefail
PRE=${1:?usage: finetune_table.sh PRETRAINED_DIR OUT}; OUT=${2:?usage: finetune_table.sh PRETRAINED_DIR OUT}
ALBERT=${ALBERT:-target/release/albert}
DATA=${DATA:-../shared/data}
SEEDS=${SEEDS:-"1 2 3"}
TASKS=${TASKS:-"sst2 mrpc rte cola stsb xquad"}
ARMS=${ARMS:-"pretrained scratch"}
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"
touch "$RESULTS"
# Same recipe for every task and arm: AdamW 1e-4, 10% warmup, batch 32 (16 for XQuAD's 384-token windows),
# 3 epochs (one over SST-2's fixed 20k subsample), early stopping after 2 epochs without improvement on the
# held-out 10% of train (XQuAD: 10% of the training articles, always held out by `finetune --task xquad`).
COMMON=(--lr 1e-4 --warmup-ratio 0.1 --patience 2)
glue_dir() { case $1 in sst2) echo SST-2 ;; mrpc) echo MRPC ;; rte) echo RTE ;; cola) echo CoLA ;; stsb) echo STS-B ;; esac; }
arm_flags() { # arm -> how the model starts
  if [ "$1" = pretrained ]; then echo "--model $PRE"; else echo "--config $PRE/config.json --tokenizer $PRE"; fi
}
done_already() { grep -q "\"run\":\"$1\"" "$RESULTS"; }
for seed in $SEEDS; do
  for task in $TASKS; do
    for arm in $ARMS; do
      run=$task-$arm-$seed; done_already "$run" && continue
      if [ "$task" = xquad ]; then
        "$ALBERT" finetune --task xquad --data "$DATA/xquad/xquad.en.json" $(arm_flags "$arm") --out "$OUT/$run" \
          --seed "$seed" "${COMMON[@]}" --batch 16 --epochs 3 --resume > "$OUT/$run.log" 2>&1
        scores="{}"
        for lang in en de es; do
          s=$("$ALBERT" evaluate --task xquad --data "$DATA/xquad/xquad.$lang.json" --articles test --model "$OUT/$run" --json)
          scores=$(echo "$scores" | jq -c --arg l "$lang" --argjson s "$s" '. + {($l): $s}')
        done
        echo "{\"run\":\"$run\",\"task\":\"xquad\",\"arm\":\"$arm\",\"seed\":$seed,\"test\":$scores}" >> "$RESULTS"
        continue
      fi
      dir=$DATA/glue/$(glue_dir "$task")
      size=(--epochs 3); [ "$task" = sst2 ] && size=(--limit 20000 --epochs 1)
      "$ALBERT" finetune --task "$task" --data "$dir" $(arm_flags "$arm") --out "$OUT/$run" --seed "$seed" \
        "${COMMON[@]}" --holdout-fraction 0.1 --batch 32 "${size[@]}" --resume > "$OUT/$run.log" 2>&1
      score=$("$ALBERT" evaluate --task "$task" --data "$dir/dev.tsv" --model "$OUT/$run" --json)
      echo "{\"run\":\"$run\",\"task\":\"$task\",\"arm\":\"$arm\",\"seed\":$seed,\"dev\":$(echo "$score" | jq -c .)}" >> "$RESULTS"
    done
  done
done
# The table: mean and standard deviation (sample) over seeds of each task's official metrics.
jq -s -r '
  def stats: (add / length) as $m | [$m, (if length > 1 then ((map((. - $m) * (. - $m)) | add) / (length - 1) | sqrt) else 0 end)];
  def fmt: "\(.[0] * 100 | round / 100) ± \(.[1] * 100 | round / 100)";
  group_by(.task) | .[] | group_by(.arm) | .[] |
  (.[0].task) as $t | (.[0].arm) as $a |
  (if $t == "xquad" then [.[] | .test | to_entries[] | {key: "\(.key) f1", value: .value.f1}, {key: "\(.key) em", value: .value.exact_match}]
   else [.[] | .dev | to_entries[] | {key, value}] end) as $m |
  ($m | group_by(.key) | map("\(.[0].key) \(map(.value) | stats | fmt)") | join(", ")) as $cells |
  "\($t)\t\($a)\t\(length) seeds\t\($cells)"' "$RESULTS" | tee "$OUT/table.tsv"
