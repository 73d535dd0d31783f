#!/usr/bin/env bash
# Issue 5's continued pretraining, after scripts/pretrain_small.sh RUN_DIR has made RUN_DIR/phase1:
#   phase1b  the general corpus again at 128 tokens, a 12,000-step schedule stopped after step 8,400 (the run was
#            cut there when fine-tuning showed it did not help; --stop-after reproduces the cut);
#   tapt     2,000 steps on the general corpus plus the fine-tuning tasks' unlabeled TRAIN text
#            (scripts/experiments/task_text_corpus.sh: SST-2, CoLA, MRPC, RTE, STS-B train sentences and the paragraphs
#            of XQuAD's 36 training articles), the checkpoint of the fine-tuning table in /work/runs/table2.
# Every stage resumes after an interruption.
#   usage: scripts/experiments/continued_pretraining.sh RUN_DIR
set -euo pipefail
RUN=${1:?usage: continued_pretraining.sh RUN_DIR}
ALBERT=${ALBERT:-target/release/albert}
CORPUS=${CORPUS:-../shared/data/corpus}
FILES=("$CORPUS"/gutenberg_nltk/*.txt "$CORPUS"/botchan/botchan.txt "$CORPUS"/wikitext-2/*.tokens)
"$ALBERT" pretrain run --data "$RUN/data" --init-from "$RUN/phase1" --out "$RUN/phase1b" \
  --steps 12000 --stop-after 8400 --batch 32 --lr 5e-4 --warmup 500 --optimizer adamw --seed 44 \
  --save-every 50 --eval-every 500 --eval-batches 20 --resume --quiet
[ -f "$RUN/task_text.txt" ] || scripts/experiments/task_text_corpus.sh "$RUN/task_text.txt"
"$ALBERT" pretrain prepare --corpus "${FILES[@]}" "$RUN/task_text.txt" --tokenizer "$RUN/vocab/spiece.model" \
  --out "$RUN/data-tapt" --max-seq-length 128 --doc-boundary blank-line
"$ALBERT" pretrain run --data "$RUN/data-tapt" --init-from "$RUN/phase1b/checkpoint" --out "$RUN/tapt" \
  --steps 2000 --batch 32 --lr 3e-4 --warmup 100 --optimizer adamw --seed 45 \
  --save-every 50 --eval-every 500 --eval-batches 20 --resume --quiet
