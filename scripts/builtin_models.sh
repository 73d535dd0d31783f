#!/usr/bin/env bash
# The built-in models of models/ (issue 7), made by the project's own commands:
#   albert-small          the pretrained masked-LM checkpoint of scripts/pretrain_small.sh (PRETRAIN_RUN/model)
#   albert-small-sst2     its SST-2 fine-tune: all of train, a seeded 10% held out to choose the checkpoint
#   albert-small-xquad    its extractive-QA fine-tune in two stages: cloze questions made by `albert cloze-qa` from
#                         WikiText-2 and the paragraphs of XQuAD's 36 training articles, then those articles' questions
#   albert-small-conll03  its CoNLL-2003 fine-tune (eng.train, checkpoint chosen on eng.testa)
# The fine-tunes start from the shipped models/albert-small, so the repository alone reproduces them; albert-small
# itself is re-exported (with the held-out scores its run measured) only when a pretraining run is given.
# Each model is exported as f16 safetensors with its tokenizer, scored as exported (scores.json) and given a model
# card (README.md) that holds the commands below.
#   usage: scripts/builtin_models.sh WORK_DIR [PRETRAIN_RUN_DIR]   (re-running skips finished steps and resumes an
#   interrupted fine-tune)
set -euo pipefail
WORK=${1:?usage: builtin_models.sh WORK_DIR [PRETRAIN_RUN_DIR]}; RUN=${2:-}
ALBERT=${ALBERT:-target/release/albert}
DATA=${DATA:-../shared/data}
MODELS=${MODELS:-models}
PRE=$MODELS/albert-small
mkdir -p "$WORK"
scores() { jq --arg d "$2" "{dataset: \$d, metrics: ($3)}" > "$MODELS/$1/scores.json"; }
if [ -n "$RUN" ]; then
  "$ALBERT" export "$RUN/model" --out "$PRE" --dtype f16 --overwrite
  last_eval() { grep '"kind":"eval"' "$1/metrics.jsonl" | tail -1; }
  { last_eval "$RUN/phase1"; last_eval "$RUN/model"; } | jq -s '.[0] + {p2: .[1]}' | scores albert-small \
    "the held-out documents, masks drawn once: phase 1's at 128 tokens (2,259 paragraphs), phase 2's at 384 (one book)" \
    '{"mlm_accuracy (seq 128)": (.mlm_accuracy * 100), "sop_accuracy (seq 128)": (.sop_accuracy * 100),
      "mlm_accuracy (seq 384)": (.p2.mlm_accuracy * 100), "sop_accuracy (seq 384)": (.p2.sop_accuracy * 100)}'
fi

# The fine-tunes; a finished one (its model.safetensors written) is skipped.
finetune() { # out, then finetune's arguments
  local out=$WORK/$1; shift
  [ -f "$out/model.safetensors" ] || "$ALBERT" finetune "$@" --out "$out" --seed 1 --resume > "$out.log" 2>&1
}
# Batches grouped by length: 2.4x faster here, and dev accuracy no lower over two seeds (docs/pretrain-small).
SST2_FLAGS="--lr 1e-4 --warmup-ratio 0.1 --batch 32 --epochs 1 --holdout-fraction 0.1 --group-by-length"
finetune sst2 --task sst2 --data "$DATA/glue/SST-2" --model "$PRE" $SST2_FLAGS
W=$DATA/corpus/wikitext-2
scripts/xquad_train_paragraphs.sh "$DATA/xquad/xquad.en.json" > "$WORK/xquad-train-paragraphs.txt"
# Cloze questions on encyclopedic text: WikiText-2 valid/test and the training articles' paragraphs, each question
# with its whole paragraph as context. Chosen on the held-out training articles after stage 2 (docs/pretrain-small):
# 9.3 F1, against 8.8 without a cloze stage and 7.0 with the corpus's prose books added in 120-word contexts.
CLOZE_FLAGS="--per-paragraph 5"
"$ALBERT" cloze-qa --corpus "$W/wiki.valid.tokens" "$W/wiki.test.tokens" "$WORK/xquad-train-paragraphs.txt" \
  --out "$WORK/cloze.json" --overwrite $CLOZE_FLAGS
CLOZE_QA_FLAGS="--lr 2e-4 --warmup-ratio 0.1 --batch 16 --epochs 1"
finetune cloze-qa --task squad --data "$WORK/cloze.json" --model "$PRE" $CLOZE_QA_FLAGS
XQUAD_FLAGS="--lr 1e-4 --warmup-ratio 0.1 --batch 16 --epochs 3 --patience 2"
finetune xquad --task xquad --data "$DATA/xquad/xquad.en.json" --model "$WORK/cloze-qa" $XQUAD_FLAGS
CONLL_FLAGS="--lr 2e-4 --warmup-ratio 0.1 --batch 32 --epochs 8 --patience 2"
finetune conll03 --task conll2003 --data "$DATA/conll2003" --model "$PRE" $CONLL_FLAGS

for pair in "sst2:albert-small-sst2" "xquad:albert-small-xquad" "conll03:albert-small-conll03"; do
  "$ALBERT" export "$WORK/${pair%%:*}" --out "$MODELS/${pair##*:}" --dtype f16 --overwrite
done

# Scores of the exported (f16) models on a 0-100 scale.
"$ALBERT" evaluate --task sst2 --data "$DATA/glue/SST-2/dev.tsv" --model "$MODELS/albert-small-sst2" --json |
  scores albert-small-sst2 "SST-2 dev (872 sentences)" '{accuracy: .acc}'
"$ALBERT" evaluate --task xquad --data "$DATA/xquad/xquad.en.json" --articles test --model "$MODELS/albert-small-xquad" \
  --json | scores albert-small-xquad "XQuAD English, the 12 test articles of data/splits/xquad_split.json" '{exact_match, f1}'
"$ALBERT" evaluate --task conll2003 --data "$DATA/conll2003/eng.testb" --model "$MODELS/albert-small-conll03" --json |
  scores albert-small-conll03 "CoNLL-2003 test (eng.testb), entity level as conlleval" \
  '{precision, recall, f1: .FB1}'

# The model cards; their commands name the work folders runs/pretrain-small and runs/builtin.
PRETRAIN_CMD="scripts/pretrain_small.sh runs/pretrain-small
scripts/builtin_models.sh runs/builtin runs/pretrain-small"
FT_CMD="scripts/builtin_models.sh runs/builtin"
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

$4 A small ALBERT (E=128, H=256, 4 layers sharing one group, 4 heads, cased 16k SentencePiece unigram vocabulary,
512 positions) trained on CPU by this project's own commands; $params parameters, ${mb} kB of f16 weights. It loads in
\`albert\` and in transformers (\`from_pretrained\` upcasts the f16 weights). It is small and was trained on little
data: treat its outputs as a demonstration, not as a production model.

## Scores
${MEASURED:-Measured on the exported f16 weights} ($dataset):

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
\`\`\`
EOF
}
CORPUS_DATA="Pretraining: \`../shared/data/corpus\`, about 13 MB of English: 15 Project Gutenberg books (NLTK's selection
and Botchan; public domain) and WikiText-2 valid/test (CC BY-SA 3.0); the cased vocabulary was trained on the same text."
PRETRAIN_RECIPE="Masked LM (n-gram masking, n <= 3, 15%, 80/10/10, drawn afresh each time a sequence is seen) plus sentence-order
prediction, AdamW; the masked-LM output bias starts at the log frequencies of the training tokens. Phase 1: 6100 steps x 32
sequences of 128 tokens (lr 7e-4, warmup 300, linear decay). Phase 2: 340 steps x 24 sequences of up to 384 tokens from
the books (lr 3e-4, warmup 30), so that the positions question answering uses are trained. About 18M tokens seen in all."
FT_RECIPE="Fine-tuned from albert-small with AdamW (10% warmup, linear decay), dropout 0.1 on the classifier, seed 1"
MEASURED="Measured by the pretraining run on its f32 weights at its last step" card albert-small fill-mask "pretrained masked-LM ALBERT" \
  "The pretrained checkpoint (AlbertForPreTraining, masked-LM and sentence-order heads): the default model of \`albert fill-mask\`, \`embed\` and \`similarity\`." \
  "$CORPUS_DATA" "$PRETRAIN_RECIPE" "$PRETRAIN_CMD"
card albert-small-sst2 text-classification "sentiment (SST-2)" \
  "albert-small fine-tuned for binary sentiment on SST-2 (labels negative / positive): the default model of \`albert classify\`." \
  "$CORPUS_DATA Fine-tuning: GLUE SST-2 train (67,349 movie-review phrases; GLUE's terms), of which a seeded 10% selects
the checkpoint; scored on SST-2 dev, which it never saw." \
  "$FT_RECIPE: \`$SST2_FLAGS\`." \
  "$FT_CMD   # runs: albert finetune --task sst2 --data $DATA/glue/SST-2 --model models/albert-small --out runs/builtin/sst2 --seed 1 $SST2_FLAGS"
card albert-small-xquad question-answering "extractive question answering (XQuAD English)" \
  "albert-small fine-tuned for extractive QA (SQuAD v1.1 format, start/end logits): the default model of \`albert qa\`." \
  "$CORPUS_DATA Stage 1: cloze questions that \`albert cloze-qa\` made from the paragraphs of WikiText-2 valid/test and of
XQuAD English's 36 training articles (data/splits/xquad_split.json): a name, number or content word of a sentence is the
answer, the question its question word (what, when, how many) followed by the words around it, some dropped, the
rest shuffled locally; the last 10% of the questions, in the generator's seeded order, select the checkpoint. Stage 2: XQuAD English (CC BY-SA 4.0), the 36
training articles' questions, 10% of the articles held out to select the checkpoint; scored on the 12 test articles,
whose text and questions it never saw." \
  "$FT_RECIPE, windows of 384 tokens with stride 128. Stage 1: \`$CLOZE_QA_FLAGS\` (cloze-qa \`$CLOZE_FLAGS\`).
Stage 2, from stage 1's weights: \`$XQUAD_FLAGS\`." \
  "$FT_CMD   # runs albert cloze-qa, then albert finetune --task squad on its questions, then --task xquad"
card albert-small-conll03 token-classification "named entities (CoNLL-2003)" \
  "albert-small fine-tuned for named entities (PER, ORG, LOC, MISC in IOB2 tags): the default model of \`albert ner\`." \
  "$CORPUS_DATA Fine-tuning: CoNLL-2003 English eng.train (Reuters news; research use); the checkpoint is chosen on eng.testa and scored on eng.testb." \
  "$FT_RECIPE: \`$CONLL_FLAGS\`. The vocabulary keeps letter case (ALBERT's lowercases), so capitalization,
the strongest cue for names in English, is seen." \
  "$FT_CMD   # runs: albert finetune --task conll2003 --data $DATA/conll2003 --model models/albert-small --out runs/builtin/conll03 --seed 1 $CONLL_FLAGS"
ls -la "$MODELS"/*
