#!/usr/bin/env bash
# The low-resource augmentation experiment of issue 5: the first 500 SST-2 training sentences (10% of them held out
# to choose the checkpoint), fine-tuned from the pretrained checkpoint without augmentation, with EDA (WordNet
# synonyms, insertion, swap, deletion; alpha 0.05, 16 copies as the EDA paper advises for 500 sentences) and with
# masked-LM replacement (alpha 0.15, 16 copies), 5 seeds each; accuracy on the SST-2 dev set.
#   usage: scripts/experiments/augment_sst2.sh PRETRAINED_DIR OUT   (re-running skips finished runs; ARMS, e.g.
#   "mlm", narrows it to some arms, so that two instances can run different arms side by side)
set -euo pipefail
PRE=${1:?usage: augment_sst2.sh PRETRAINED_DIR OUT}; OUT=${2:?usage: augment_sst2.sh PRETRAINED_DIR OUT}
ALBERT=${ALBERT:-target/release/albert}
SST=${DATA:-../shared/data}/glue/SST-2
mkdir -p "$OUT"; RESULTS="$OUT/results.jsonl"; touch "$RESULTS"
COMMON=(--task sst2 --data "$SST" --model "$PRE" --limit 500 --holdout-fraction 0.1 --lr 1e-4 --warmup-ratio 0.1
        --batch 32 --epochs 5 --patience 2)
for arm in ${ARMS:-none eda mlm}; do
  case $arm in
    none) flags=() ;;
    eda) flags=(--augment eda --augment-copies 16 --augment-alpha 0.05) ;;
    mlm) flags=(--augment mlm --augment-copies 16 --augment-alpha 0.15) ;;
  esac
  for seed in 1 2 3 4 5; do
    run=$arm-$seed; grep -q "\"run\":\"$run\"" "$RESULTS" && continue
    "$ALBERT" finetune "${COMMON[@]}" "${flags[@]}" --seed "$seed" --out "$OUT/$run" --resume > "$OUT/$run.log" 2>&1
    acc=$("$ALBERT" evaluate --task sst2 --data "$SST/dev.tsv" --model "$OUT/$run" --json | jq .acc)
    echo "{\"run\":\"$run\",\"arm\":\"$arm\",\"seed\":$seed,\"acc\":$acc}" >> "$RESULTS"
  done
done
jq -s -r 'group_by(.arm)[] | (map(.acc) | add / length) as $m |
  (map((.acc - $m) * (.acc - $m)) | add / (length - 1) | sqrt) as $sd |
  "\(.[0].arm)\t\(length) seeds\tacc \($m * 100 | round / 100) ± \($sd * 100 | round / 100)"' "$RESULTS" | tee "$OUT/table.tsv"
