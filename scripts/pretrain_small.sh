#!/usr/bin/env bash
# The small ALBERT pretraining run of issue 4: a 16k unigram vocabulary trained on
# ../shared/data/corpus, E=128 H=256, 4 layers sharing one group, sequences of 128.
# Every stage is resumable: re-run this script after an interruption (prepare is a no-op when
# done, the run continues from OUT/checkpoint).
#   usage: scripts/pretrain_small.sh OUT [extra `albert pretrain run` flags]
set -euo pipefail
OUT=${1:?usage: pretrain_small.sh OUT}; shift
ALBERT=${ALBERT:-target/release/albert}
CORPUS=${CORPUS:-../shared/data/corpus}
mkdir -p "$OUT"
FILES=("$CORPUS"/gutenberg_nltk/*.txt "$CORPUS"/botchan/botchan.txt "$CORPUS"/wikitext-2/*.tokens)
# The vocabulary trainer reads UTF-8 only; two Gutenberg files are Latin-1 (prepare decodes them).
UTF8=(); for f in "${FILES[@]}"; do iconv -f utf-8 -t utf-8 "$f" >/dev/null 2>&1 && UTF8+=("$f"); done
if [ ! -f "$OUT/vocab/spiece.model" ]; then
  "$ALBERT" vocab train $(printf -- '--corpus %s ' "${UTF8[@]}") --vocab-size 16000 \
    --normalizer-from ../shared/data/spm/spiece.model --out "$OUT/vocab"
fi
"$ALBERT" pretrain prepare --corpus "${FILES[@]}" --tokenizer "$OUT/vocab/spiece.model" \
  --out "$OUT/data" --max-seq-length 128 --doc-boundary blank-line
cat > "$OUT/config.json" <<'JSON'
{"vocab_size": 16000, "embedding_size": 128, "hidden_size": 256, "num_hidden_layers": 4,
 "num_hidden_groups": 1, "num_attention_heads": 4, "intermediate_size": 1024, "inner_group_num": 1,
 "hidden_act": "gelu_new", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
 "classifier_dropout_prob": 0.1, "max_position_embeddings": 128, "type_vocab_size": 2,
 "initializer_range": 0.02, "layer_norm_eps": 1e-12}
JSON
"$ALBERT" pretrain run --data "$OUT/data" --config "$OUT/config.json" --out "$OUT/model" \
  --steps 20000 --batch 32 --lr 5e-4 --warmup 1000 --optimizer adamw --seed 42 \
  --save-every 200 --eval-every 500 --eval-batches 20 --resume --quiet "$@"
