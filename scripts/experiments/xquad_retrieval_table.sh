#!/usr/bin/env bash
# The retrieval and open-domain QA table of docs/search/README.md (issue 27), on XQuAD English: every question of the
# 12 test articles of data/splits/xquad_split.json (the ones the built-in reader albert-small-xquad never saw) asked
# of an index of all 240 paragraphs (48 articles), each paragraph one document.
#
#   cargo build --release -p albert-cli && scripts/experiments/xquad_retrieval_table.sh [OUT]   (OUT: target/xquad-retrieval)
#
# Runs `albert evaluate --task retrieval` once per system, each writing its per-question scores (OUT/NAME.jsonl) and
# its report (OUT/NAME.json) with 95% percentile bootstrap intervals over the questions (1000 resamples, seed 0) and
# the paired interval of its difference from a baseline system (the same resampled questions for both):
#   retrieval: bm25, dense (the built-in embedder albert-small, mean-pooled), hybrid (reciprocal rank fusion, k 60),
#     each also reranked (RERANKER, default models/albert-small-sst2: the only built-in sequence classifier, its
#     "positive" probability as relevance); baselines: bm25 for the three modes, the same mode unreranked for the
#     reranked ones.
#   reading (READER, default models/albert-small-xquad): `ask` as it runs by default (hybrid, the best 5 passages read,
#     threshold 0.1), the reader on BM25's top passage (threshold 0: always an answer), and on the question's own
#     paragraph (the reader's ceiling, threshold 0); baseline: the ceiling.
# Then prints the two Markdown tables. Knobs: ALBERT, DATA, RERANKER, READER, RESAMPLES.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/target/xquad-retrieval}
ALBERT=${ALBERT:-$ROOT/target/release/albert}
DATA=${DATA:-$ROOT/../shared/data/xquad/xquad.en.json}
RERANKER=${RERANKER:-$ROOT/models/albert-small-sst2}
READER=${READER:-$ROOT/models/albert-small-xquad}
RESAMPLES=${RESAMPLES:-1000}
mkdir -p "$OUT"

if [[ ! -f "$OUT/index/manifest.json" ]]; then
  "$ALBERT" index build --docs "$DATA" --out "$OUT/index" --json > "$OUT/index-build.json"
fi

# NAME BASELINE -- evaluate options (BASELINE: another system's NAME, or "")
evaluate() {
  local name=$1 baseline=$2
  shift 3
  local compare=()
  [[ -n $baseline ]] && compare=(--baseline "$OUT/$baseline.jsonl")
  # A finished system is kept: re-running resumes (delete OUT/NAME.json to measure it again).
  [[ -s $OUT/$name.json ]] && return
  echo "== $name" >&2
  "$ALBERT" evaluate --task retrieval --index "$OUT/index" --data "$DATA" --articles test \
    --bootstrap-resamples "$RESAMPLES" --per-question "$OUT/$name.jsonl" --overwrite "${compare[@]}" --json "$@" \
    > "$OUT/$name.json"
}

evaluate bm25 "" -- --mode bm25
evaluate dense bm25 -- --mode dense
evaluate hybrid bm25 -- --mode hybrid
for mode in bm25 dense hybrid; do
  evaluate "$mode-rerank" "$mode" -- --mode "$mode" --rerank "$RERANKER"
done
evaluate qa-gold "" -- --mode bm25 --reader "$READER" --gold-paragraph --threshold 0
evaluate qa-bm25-top qa-gold -- --mode bm25 --reader "$READER" --passages 1 --threshold 0
evaluate ask qa-gold -- --reader "$READER"

# value [low, high] of KEY in a report (ranking metrics as fractions, EM / F1 in 0-100).
cell='def ci(k): "\(.[k] * 1000 | round / 1000) [\(.intervals[k].low * 1000 | round / 1000), \(.intervals[k].high * 1000 | round / 1000)]";
      def diff(k): if .compared then .compared.differences[k] as $d | "\($d.difference * 1000 | round / 1000 | if . > 0 then "+\(.)" else "\(.)" end) [\($d.interval.low * 1000 | round / 1000), \($d.interval.high * 1000 | round / 1000)]" else "-" end;'
n=$(jq .queries "$OUT/bm25.json")
echo
echo "Retrieval, $n questions of the 12 test articles against 240 paragraphs (value [95% bootstrap interval]):"
echo
echo "| system | recall@1 | recall@5 | recall@20 | MRR@10 | nDCG@10 | MRR@10 minus its baseline [paired 95%] |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for name in bm25 dense hybrid bm25-rerank dense-rerank hybrid-rerank; do
  jq -r --arg name "$name" "$cell"' "| \($name) | \(ci("recall_1")) | \(ci("recall_5")) | \(ci("recall_20")) | \(ci("mrr_10")) | \(ci("ndcg_10")) | \(diff("mrr_10")) |"' "$OUT/$name.json"
done
echo
echo "Reading (SQuAD v1.1 EM / F1, 0-100):"
echo
echo "| system | EM | F1 | EM minus the ceiling [paired 95%] | F1 minus the ceiling [paired 95%] |"
echo "| --- | --- | --- | --- | --- |"
for name in ask qa-bm25-top qa-gold; do
  jq -r --arg name "$name" "$cell"' "| \($name) | \(ci("exact_match")) | \(ci("f1")) | \(diff("exact_match")) | \(diff("f1")) |"' "$OUT/$name.json"
done
