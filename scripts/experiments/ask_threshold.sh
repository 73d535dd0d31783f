#!/usr/bin/env bash
# Calibrates `albert ask`'s default --threshold for the built-in reader (issue 27), in the setting of the XQuAD
# English table of docs/search/README.md: every question (296) of the 12 test articles of
# data/splits/xquad_split.json, which the reader never saw, asked as `albert ask` asks (5 passages read) in each
# retrieval mode of MODES (ask's default, hybrid, first).
#
#   cargo build --release -p albert-cli && scripts/experiments/ask_threshold.sh [OUT]   (OUT: target/ask-threshold)
#
# Each question is asked twice, at threshold 0 (so the best span is always the answer), its best span's score and
# SQuAD v1.1 EM / F1 kept (`albert evaluate --task retrieval --per-question`, field "score"):
#   answerable:   against the index of all 240 paragraphs (48 articles), the table's: its paragraph is in it;
#   unanswerable: against an index of the paragraphs of the 47 other articles (one index per test article): the
#                 same corpus less the question's own article, so the right reply is "the documents do not contain
#                 the answer", and the passages read are as close to the question as the corpus allows.
# The rule, SQuAD v2's best-F1 threshold (its evaluation script's find_best_thresh, with the reader's score in place
# of 1 - the no-answer probability): over the 592 questions, answering exactly those whose score reaches t scores
# F1 on an answerable question and 100 for staying silent on an unanswerable one (0 otherwise); t is the lowest
# answered score at the cut that maximizes the mean (ties: the lowest t). The two halves weigh equally: a user's
# folder holds the answer to some questions and not others, and one to one is the assumption stated, not measured.
# Prints, per mode, the distribution of scores by band (answerable, of them right, unanswerable), the area under the
# ROC curve of the score for answerable against unanswerable (0.5: the score does not tell them apart) and the best
# cut with its F1 beside answering everything and answering nothing. Knobs: ALBERT, DATA, SPLIT, READER, MODES.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/target/ask-threshold}
ALBERT=${ALBERT:-$ROOT/target/release/albert}
DATA=${DATA:-$ROOT/../shared/data/xquad/xquad.en.json}
SPLIT=${SPLIT:-$ROOT/data/splits/xquad_split.json}
READER=${READER:-$ROOT/models/albert-small-xquad}
# Retrieval modes measured: ask's default first.
MODES=${MODES:-hybrid bm25}
mkdir -p "$OUT"

# The full index, and per test article K an index of the other 47 articles and the file of K's questions.
[[ -f $OUT/all/manifest.json ]] || "$ALBERT" index build --docs "$DATA" --out "$OUT/all" --json > "$OUT/all-build.json"
for k in $(jq '.test[].index' "$SPLIT"); do
  dir=$OUT/held-out/$k
  mkdir -p "$dir"
  jq --argjson k "$k" '.data |= [.[$k]]' "$DATA" > "$dir/questions.json"
  jq --argjson k "$k" '.data |= [to_entries[] | select(.key != $k) | .value]' "$DATA" > "$dir/others.json"
  [[ -f $dir/index/manifest.json ]] || "$ALBERT" index build --docs "$dir/others.json" --out "$dir/index" --json > "$dir/build.json"
done

# run MODE INDEX OUT -- evaluate options: `ask --mode MODE --threshold 0` over INDEX, per question to OUT.jsonl. A
# finished run is kept: re-running resumes (delete OUT.json to measure it again).
run() {
  local mode=$1 index=$2 out=$3
  shift 4
  [[ -s $out.json ]] || "$ALBERT" evaluate --task retrieval --index "$index" --mode "$mode" --reader "$READER" \
    --threshold 0 --per-question "$out.jsonl" --overwrite --json "$@" > "$out.json"
}

# table MODE: the distribution and the best cut of `ask --mode MODE` (5 passages read).
table() {
local mode=$1 k
run "$mode" "$OUT/all" "$OUT/all-$mode" -- --data "$DATA" --articles test
for k in $(jq '.test[].index' "$SPLIT"); do
  run "$mode" "$OUT/held-out/$k/index" "$OUT/held-out/$k/$mode" -- --data "$OUT/held-out/$k/questions.json"
done

# One record per question: score (0 when no span), f1, em, answerable.
{
  jq -c '{score: (.score // 0), f1, em: .exact_match, answerable: true}' "$OUT/all-$mode.jsonl"
  for k in $(jq '.test[].index' "$SPLIT"); do
    jq -c '{score: (.score // 0), f1: 0, em: 0, answerable: false}' "$OUT/held-out/$k/$mode.jsonl"
  done
} > "$OUT/scores-$mode.jsonl"

echo
echo "--mode $mode: best-span scores, $(jq -s 'map(select(.answerable)) | length' "$OUT/scores-$mode.jsonl") answerable and" \
  "$(jq -s 'map(select(.answerable | not)) | length' "$OUT/scores-$mode.jsonl") unanswerable questions:"
echo
echo "| score | answerable | of them right (F1 > 0) | of them EM | unanswerable | right among answers given at this score or above |"
echo "| --- | --- | --- | --- | --- | --- |"
jq -rs '
  . as $all
  | [0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.01] as $edges
  | range(0; ($edges | length) - 1) as $b
  | $edges[$b] as $lo | $edges[$b + 1] as $hi
  | [$all[] | select(.score >= $lo and .score < $hi)] as $in
  | [$in[] | select(.answerable)] as $a
  | [$all[] | select(.score >= $lo and .answerable)] as $above
  | "| \($lo) - \(if $hi > 1 then 1 else $hi end) | \($a | length) | \([$a[] | select(.f1 > 0)] | length) | \([$a[] | select(.em > 0)] | length) | \([$in[] | select(.answerable | not)] | length) | \(if ($above | length) == 0 then "-" else "\([$above[] | select(.f1 > 0)] | length) / \([$all[] | select(.score >= $lo)] | length)" end) |"
' "$OUT/scores-$mode.jsonl"
echo
# Mann-Whitney: the chance that an answerable question scores above an unanswerable one (ties count one half).
jq -rs '
  [.[] | select(.answerable) | .score] as $p | [.[] | select(.answerable | not) | .score] as $u
  | ([$p[] as $a | $u[] as $b | if $a > $b then 1 elif $a == $b then 0.5 else 0 end] | add) / (($p | length) * ($u | length))
  | "Area under the ROC curve, answerable against unanswerable: \(. * 1000 | round / 1000)"
' "$OUT/scores-$mode.jsonl"
jq -rs '
  sort_by(-.score) as $q | ($q | length) as $n
  | ([$q[] | select(.answerable | not)] | length) as $unanswerable
  # F1 (0-100) of answering the best i questions by score and no other.
  | [foreach range(0; $n + 1) as $i ({f1: 0, silent_wrong: 0};
      if $i == 0 then . else
        ($q[$i - 1]) as $r
        | .f1 += (if $r.answerable then $r.f1 else 0 end)
        | .silent_wrong += (if $r.answerable then 0 else 1 end)
      end;
      {i: $i, mean: ((.f1 + 100 * ($unanswerable - .silent_wrong)) / $n),
       cut: ($i == $n or $i == 0 or ($i < $n and $q[$i].score < $q[$i - 1].score))})]
  | map(select(.cut)) as $cuts
  | ($cuts | max_by(.mean) | .mean) as $best
  | ($cuts | map(select(.mean == $best)) | max_by(.i)) as $at
  | "SQuAD v2 F1 (0-100) over the \($n) questions: answering nothing \($cuts[0].mean * 100 | round / 100), answering everything \($cuts[-1].mean * 100 | round / 100), best \($best * 100 | round / 100) answering the best \($at.i) (threshold = the lowest score answered: \(if $at.i == 0 then "above every score" else $q[$at.i - 1].score end))"
' "$OUT/scores-$mode.jsonl"
}

for mode in $MODES; do
  table "$mode"
done
