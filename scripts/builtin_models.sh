#!/usr/bin/env bash
# The built-in models of models/ (issue 7), made from the small pretraining run by the project's own commands:
#   albert-small          the pretrained masked-LM checkpoint of scripts/pretrain_small.sh (RUN_DIR/model)
#   albert-small-sst2     its SST-2 fine-tune: the fine-tuning table's pretrained run of seed 1
#   albert-small-xquad    its extractive-QA fine-tune on XQuAD's 36 training articles: the table's seed-1 run
#   albert-small-conll03  its CoNLL-2003 fine-tune (eng.train, checkpoint chosen on eng.testa)
# Each is exported as f16 safetensors with its tokenizer, scored as exported (scores.json) and given a model card
# (README.md) that holds the commands below.
#   usage: scripts/builtin_models.sh RUN_DIR TABLE_DIR   (re-running skips finished fine-tunes)
set -euo pipefail
RUN=${1:?usage: builtin_models.sh RUN_DIR TABLE_DIR}; TABLE=${2:?usage: builtin_models.sh RUN_DIR TABLE_DIR}
ALBERT=${ALBERT:-target/release/albert}
DATA=${DATA:-../shared/data}
MODELS=${MODELS:-models}
PRE=$RUN/model
SEEDS=1 TASKS="sst2 xquad" ARMS=pretrained ALBERT=$ALBERT DATA=$DATA \
  scripts/experiments/finetune_table.sh "$PRE" "$TABLE" > /dev/null
CONLL_FLAGS="--lr 1e-4 --warmup-ratio 0.1 --batch 32 --epochs 3 --patience 2 --seed 1"
if [ ! -f "$TABLE/conll03-pretrained-1/model.safetensors" ]; then
  "$ALBERT" finetune --task conll2003 --data "$DATA/conll2003" --model "$PRE" --out "$TABLE/conll03-pretrained-1" \
    $CONLL_FLAGS --resume > "$TABLE/conll03-pretrained-1.log" 2>&1
fi

for pair in "$PRE:albert-small" "$TABLE/sst2-pretrained-1:albert-small-sst2" \
  "$TABLE/xquad-pretrained-1:albert-small-xquad" "$TABLE/conll03-pretrained-1:albert-small-conll03"; do
  "$ALBERT" export "${pair%%:*}" --out "$MODELS/${pair##*:}" --dtype f16
done

# Scores of the exported (f16) models on a 0-100 scale; the pretrained one keeps the held-out accuracies its run measured.
scores() { jq --arg d "$2" "{dataset: \$d, metrics: ($3)}" > "$MODELS/$1/scores.json"; }
last_eval() { grep '"kind":"eval"' "$1/metrics.jsonl" | tail -1; }
{ last_eval "$RUN/phase1"; last_eval "$PRE"; } | jq -s '.[0] + {p2: .[1]}' | scores albert-small \
  "the held-out documents, masks drawn once: phase 1's at 128 tokens (2,259 paragraphs), phase 2's at 384 (one book)" \
  '{"mlm_accuracy (seq 128)": (.mlm_accuracy * 100), "sop_accuracy (seq 128)": (.sop_accuracy * 100),
    "mlm_accuracy (seq 384)": (.p2.mlm_accuracy * 100), "sop_accuracy (seq 384)": (.p2.sop_accuracy * 100)}'
"$ALBERT" evaluate --task sst2 --data "$DATA/glue/SST-2/dev.tsv" --model "$MODELS/albert-small-sst2" --json |
  scores albert-small-sst2 "SST-2 dev (872 sentences)" '{accuracy: .acc}'
"$ALBERT" evaluate --task xquad --data "$DATA/xquad/xquad.en.json" --articles test --model "$MODELS/albert-small-xquad" \
  --json | scores albert-small-xquad "XQuAD English, the 12 test articles of data/splits/xquad_split.json" '{exact_match, f1}'
"$ALBERT" evaluate --task conll2003 --data "$DATA/conll2003/eng.testb" --model "$MODELS/albert-small-conll03" --json |
  scores albert-small-conll03 "CoNLL-2003 test (eng.testb), entity level as conlleval" \
  '{precision, recall, f1: .FB1}'

# The model cards.
PRETRAIN_CMD="scripts/pretrain_small.sh $RUN"
TABLE_CMD="SEEDS=1 TASKS=\"sst2 xquad\" ARMS=pretrained scripts/experiments/finetune_table.sh $PRE $TABLE"
card() { # name, pipeline tag, title, what it does, data, recipe, command lines
  local name=$1 dir=$MODELS/$1
  local params; params=$("$ALBERT" info "$dir" --json | jq .parameters)
  local mb; mb=$(du -k "$dir/model.safetensors" | cut -f1)
  local metrics; metrics=$(jq -r '.metrics | to_entries | map("| \(.key) | \(.value * 10000 | round / 10000) |") | join("\n")' "$dir/scores.json")
  local dataset; dataset=$(jq -r .dataset "$dir/scores.json")
  cat > "$dir/README.md" <<EOF
---
language: en
license: apache-2.0
library_name: transformers
pipeline_tag: $2
---
# $name: $3

$4 A small ALBERT (E=128, H=256, 4 layers sharing one group, 4 heads, 16k SentencePiece unigram vocabulary,
512 positions) trained on CPU by this project's own commands; $params parameters, ${mb} kB of f16 weights. It loads in
\`albert\` and in transformers (\`from_pretrained\` upcasts the f16 weights). It is small and was trained on little
data: treat its outputs as a demonstration, not as a production model.

## Scores
Measured on the exported f16 weights ($dataset):

| metric | value |
|---|---|
$metrics

## Data
$5

## Recipe
$6

## Reproduce
From the repository root, with \`../shared/data\` in place (each step resumes or skips when re-run):

\`\`\`
cargo build --release -p albert-cli
$7
scripts/builtin_models.sh $RUN $TABLE
\`\`\`
EOF
}
CORPUS_DATA="Pretraining: \`../shared/data/corpus\`, about 13 MB of English: 15 Project Gutenberg books (NLTK's selection
and Botchan; public domain) and WikiText-2 valid/test (CC BY-SA 3.0); the vocabulary was trained on the same text."
PRETRAIN_RECIPE="Masked LM (n-gram masking, n <= 3, 15%, 80/10/10, drawn afresh each time a sequence is seen) plus sentence-order
prediction, AdamW. Phase 1: 3050 steps x 32 sequences of 128 tokens (lr 7e-4, warmup 300, linear decay). Phase 2, the
last 10% of the steps: 340 steps x 24 sequences of up to 384 tokens from the books (lr 3e-4, warmup 30), so that the
positions question answering uses are trained. About 10.5M tokens seen in all."
FT_RECIPE="Fine-tuned from albert-small with AdamW (lr 1e-4, 10% warmup, linear decay), dropout 0.1 on the classifier"
card albert-small fill-mask "pretrained masked-LM ALBERT" \
  "The pretrained checkpoint (AlbertForPreTraining, masked-LM and sentence-order heads): the default model of \`albert fill-mask\`, \`embed\` and \`similarity\`." \
  "$CORPUS_DATA" "$PRETRAIN_RECIPE" "$PRETRAIN_CMD"
card albert-small-sst2 text-classification "sentiment (SST-2)" \
  "albert-small fine-tuned for binary sentiment on SST-2 (labels negative / positive): the default model of \`albert classify\`." \
  "$CORPUS_DATA Fine-tuning: a fixed 20k subsample of GLUE SST-2 (movie-review phrases; GLUE's terms) train (the first 20,000 sentences), of which a seeded 10%
selects the checkpoint; scored on SST-2 dev." \
  "$FT_RECIPE, batch 32, one epoch, seed 1: the fine-tuning table's (issue 5) pretrained run of seed 1." \
  "$PRETRAIN_CMD
$TABLE_CMD"
card albert-small-xquad question-answering "extractive question answering (XQuAD English)" \
  "albert-small fine-tuned for extractive QA (SQuAD v1.1 format, start/end logits): the default model of \`albert qa\`." \
  "$CORPUS_DATA Fine-tuning: XQuAD English (CC BY-SA 4.0), the 36 training articles of data/splits/xquad_split.json, 10% of
them held out to select the checkpoint; scored on the 12 test articles, which it never saw." \
  "$FT_RECIPE, batch 16, windows of 384 tokens with stride 128, up to 3 epochs with early stopping, seed 1: the
fine-tuning table's pretrained XQuAD run of seed 1." \
  "$PRETRAIN_CMD
$TABLE_CMD"
card albert-small-conll03 token-classification "named entities (CoNLL-2003)" \
  "albert-small fine-tuned for named entities (PER, ORG, LOC, MISC in IOB2 tags): the default model of \`albert ner\`." \
  "$CORPUS_DATA Fine-tuning: CoNLL-2003 English eng.train (Reuters news; research use); the checkpoint is chosen on eng.testa and scored on eng.testb." \
  "$FT_RECIPE, batch 32, up to 3 epochs with early stopping, seed 1." \
  "$PRETRAIN_CMD
target/release/albert finetune --task conll2003 --data $DATA/conll2003 --model $PRE --out $TABLE/conll03-pretrained-1 $CONLL_FLAGS"
ls -la "$MODELS"/*
