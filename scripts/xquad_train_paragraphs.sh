#!/usr/bin/env bash
# The paragraphs of an XQuAD file's training articles (data/splits/xquad_split.json), each followed by a blank line:
# the training text no test article enters. Run from the repository root.
#   usage: scripts/xquad_train_paragraphs.sh XQUAD_JSON > FILE
set -euo pipefail
jq -r --slurpfile split data/splits/xquad_split.json \
  '($split[0].train | map(.index)) as $train | .data | to_entries[] | select(.key as $k | $train | index($k))
   | .value.paragraphs[].context | ., ""' "${1:?usage: xquad_train_paragraphs.sh XQUAD_JSON}"
