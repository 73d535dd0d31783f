#!/usr/bin/env bash
# Unlabeled in-domain text for continued pretraining (issue 5's "why does pretraining not help" study): the TRAIN
# splits of the fine-tuning table's tasks, labels dropped, one document per example (a pair's two sentences as two
# lines, so sentence-order prediction sees real pairs), plus the paragraphs of XQuAD's 36 English training articles.
# No dev, test or XQuAD test-article text enters, so the table's scores stay clean.
#   usage: scripts/experiments/task_text_corpus.sh OUT_FILE      (then `albert pretrain prepare --corpus` it
#   together with the general corpus)
set -euo pipefail
OUT=${1:?usage: task_text_corpus.sh OUT_FILE}
DATA=${DATA:-../shared/data}
G=$DATA/glue
tmp=$(mktemp "$OUT.XXXXXX")
{
  # SST-2: sentence<TAB>label, header
  tail -n +2 "$G/SST-2/train.tsv" | cut -f1 | awk '{print; print ""}'
  # CoLA: source<TAB>label<TAB>mark<TAB>sentence, no header
  cut -f4 "$G/CoLA/train.tsv" | awk '{print; print ""}'
  # MRPC: quality, id1, id2, string1, string2 (header); RTE: index, s1, s2, label; STS-B: s1, s2 are fields 8, 9
  tail -n +2 "$G/MRPC/train.tsv" | awk -F'\t' '{print $4; print $5; print ""}'
  tail -n +2 "$G/RTE/train.tsv" | awk -F'\t' '{print $2; print $3; print ""}'
  tail -n +2 "$G/STS-B/train.tsv" | awk -F'\t' '{print $8; print $9; print ""}'
  scripts/xquad_train_paragraphs.sh "$DATA/xquad/xquad.en.json"
} > "$tmp"
mv "$tmp" "$OUT"
echo "$OUT: $(grep -c . "$OUT") lines, $(wc -w < "$OUT") words"
