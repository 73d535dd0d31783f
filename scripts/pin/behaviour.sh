#!/usr/bin/env bash
# Pins training behaviour across a refactor (issue 23): seeded 30-step `pretrain run` and `finetune --task sst2`
# runs on a small config with dropout on, and the SHA-256 of the weights each writes. Run before and after a change
# to the training code; the hashes must match (or the change must say why they moved).
#
#   scripts/pin/behaviour.sh [ALBERT_BINARY]    (default: target/release/albert; about a minute on 2 cores)
#
# DROPOUT (default 0.1) sets the config's dropout probabilities: with DROPOUT=0 the hashes pin everything but the
# dropout stream, which the training engine changed on purpose (masks keyed per sample, issue 23).
#
# Recorded 2026-12-06 (issue 23), release binaries on 2 cores of an Intel Sapphire Rapids:
#                 before the engine (1a3e599)           with the engine (e1b0ed3 and later)
#   DROPOUT=0     pre 2c999594... ft 435b5028...        pre 2c999594... ft 435b5028...   (unchanged)
#   DROPOUT=0.1   pre 578c50ed... ft 2fdeae43...        pre 0d0138bc... ft 79656802...   (dropout keyed per sample)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
albert=${1:-$root/target/release/albert}
data=${ALBERT_SHARED_DATA:-$root/../shared/data}
dropout=${DROPOUT:-0.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A small ALBERT with dropout on, so the dropout stream is pinned too; the built-in model's vocabulary.
cat >"$work/config.json" <<JSON
{"vocab_size": 16000, "embedding_size": 64, "hidden_size": 128, "num_hidden_layers": 3, "num_hidden_groups": 1,
 "num_attention_heads": 4, "intermediate_size": 256, "inner_group_num": 1, "hidden_act": "gelu_new",
 "hidden_dropout_prob": $dropout, "attention_probs_dropout_prob": $dropout, "max_position_embeddings": 128,
 "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "classifier_dropout_prob": $dropout,
 "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3, "model_type": "albert"}
JSON
spm=$root/models/albert-small/spiece.model

"$albert" pretrain prepare --max-seq-length 64 --heldout-fraction 0.05 \
  --corpus "$data/corpus/botchan/botchan.txt" --tokenizer "$spm" --out "$work/shards" >/dev/null
"$albert" pretrain run --quiet --data "$work/shards" --config "$work/config.json" --out "$work/pre" \
  --steps 30 --batch 8 --accumulate 2 --lr 1e-3 --warmup 5 --seed 7 --save-every 10 --eval-every 15 >/dev/null
"$albert" finetune --task sst2 --data "$data/glue/SST-2" --config "$work/config.json" --tokenizer "$spm" \
  --out "$work/ft" --steps 30 --batch 8 --accumulate 2 --lr 1e-4 --seed 7 --limit 400 --save-every 10 >/dev/null 2>&1

for f in pre/model.safetensors ft/model.safetensors; do
  printf '%s  %s\n' "$(sha256sum "$work/$f" | cut -d' ' -f1)" "$f"
done
