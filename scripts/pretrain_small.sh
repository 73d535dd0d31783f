#!/usr/bin/env bash
# The small ALBERT pretraining run of issue 4: a cased 16k unigram vocabulary trained on ../shared/data/corpus (ALBERT's
# lowercases; case is the strongest cue for names, which the built-in NER model needs),
# E=128 H=256, 4 layers sharing one group, 512 positions.
# A fresh model's masked-LM output bias starts at the log frequencies of the training tokens (`pretrain run`'s
# default): 0.17-0.28 nats lower held-out MLM loss over the first 1,000 steps than transformers' zeros (0.16 after 3,050 steps).
#   phase 1: sequences of 128 from every corpus file, a document per paragraph;
#   phase 2: sequences of 384 from the Gutenberg books, a document per book, so that the positions
#   question answering uses are trained (as BERT's recipe does), continuing from phase 1's weights.
# About 18M tokens (padding not counted) are seen in all. Every stage is resumable: re-run this script after an interruption (prepare is a
# no-op when done, each phase continues from its checkpoint, a finished phase only rewrites its final model).
#   usage: scripts/pretrain_small.sh OUT [extra `albert pretrain run` flags for both phases]
set -euo pipefail
OUT=${1:?usage: pretrain_small.sh OUT}; shift
ALBERT=${ALBERT:-target/release/albert}
CORPUS=${CORPUS:-../shared/data/corpus}
mkdir -p "$OUT"
BOOKS=("$CORPUS"/gutenberg_nltk/*.txt "$CORPUS"/botchan/botchan.txt)
FILES=("${BOOKS[@]}" "$CORPUS"/wikitext-2/*.tokens)
# The vocabulary trainer reads UTF-8 only; two Gutenberg files are Latin-1 (prepare decodes them).
UTF8=(); for f in "${FILES[@]}"; do iconv -f utf-8 -t utf-8 "$f" >/dev/null 2>&1 && UTF8+=("$f"); done
if [ ! -f "$OUT/vocab/spiece.model" ]; then
  "$ALBERT" vocab train $(printf -- '--corpus %s ' "${UTF8[@]}") --vocab-size 16000 --cased \
    --normalizer-from ../shared/data/spm/spiece.model --out "$OUT/vocab"
fi
"$ALBERT" pretrain prepare --corpus "${FILES[@]}" --tokenizer "$OUT/vocab/spiece.model" \
  --out "$OUT/data" --max-seq-length 128 --doc-boundary blank-line
"$ALBERT" pretrain prepare --corpus "${BOOKS[@]}" --tokenizer "$OUT/vocab/spiece.model" \
  --out "$OUT/data384" --max-seq-length 384 --doc-boundary file
cat > "$OUT/config.json" <<'JSON'
{"vocab_size": 16000, "embedding_size": 128, "hidden_size": 256, "num_hidden_layers": 4,
 "num_hidden_groups": 1, "num_attention_heads": 4, "intermediate_size": 1024, "inner_group_num": 1,
 "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
 "classifier_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
 "initializer_range": 0.02, "layer_norm_eps": 1e-12}
JSON
# Phase 1: 6100 steps x 32 sequences (about 2,460 tokens a step: 15M tokens).
"$ALBERT" pretrain run --data "$OUT/data" --config "$OUT/config.json" --out "$OUT/phase1" \
  --steps 6100 --batch 32 --lr 7e-4 --warmup 300 --optimizer adamw --seed 42 \
  --save-every 50 --eval-every 250 --eval-batches 20 --resume --quiet "$@"
# Phase 2: 340 steps x 24 sequences of up to 384 (about 3M tokens), fresh optimizer and a short warmup.
"$ALBERT" pretrain run --data "$OUT/data384" --init-from "$OUT/phase1" --out "$OUT/model" \
  --steps 340 --batch 24 --lr 3e-4 --warmup 30 --optimizer adamw --seed 43 \
  --save-every 20 --eval-every 85 --eval-batches 20 --resume --quiet "$@"
