#!/usr/bin/env bash
# Scale of albert's search index (issue 27). Run by hand on a quiet machine, never by CI:
#
#   cargo build --release -p albert-cli && scripts/bench/search_scale.sh [OUT]      (OUT: target/bench/search-scale)
#
# 1. At each of SIZES passages (crates/albert-search/benches/scale.rs, through albert_search::bench, built with the
#    `bench` feature): BM25 over passages of 150 words of the real corpus (build, bytes on disk, open, query p50/p99
#    for XQuAD's questions) and the HNSW vector index over SYNTHETIC clustered unit vectors of 256 values, the
#    built-in embedder's width (build, bytes, open, query p50/p99, recall@10 against exact search). No embedder
#    runs here: at 1M passages it would take hours.
#    Then the vector build alone at AB_SIZE vectors, one insertion at a time (a rayon pool of one thread, the build
#    before it went parallel) against RAYON_NUM_THREADS threads (all cores by default), alternating, AB_ROUNDS of
#    each: wall and CPU seconds, vectors re-inserted after a parallel insertion stranded them, recall@10.
# 2. Embedding throughput on real text: EMBED_TEXTS lines of about 150 words of the corpus through `albert embed`
#    (the built-in albert-small), model loading included.
# 3. End to end with the built-in embedder: `albert index build` over E2E_FILES of the corpus (passages/s as the
#    command reports it), then SEARCHES of XQuAD's questions through `albert search` in bm25, dense and hybrid modes
#    and hybrid reranked by RERANKER: the search's own milliseconds (p50/p99; index and models already open) and
#    the whole command's wall time (process start, opening the index, loading the models).
#
# Knobs (environment): SIZES="10000 100000 1000000" AB_SIZE=100000 AB_ROUNDS=2 (AB_ROUNDS=0: no A/B) QUERIES=500 (per size; the exact search for recall costs
# QUERIES x N x 256 multiply-adds) EMBED_TEXTS=2000 E2E_FILES="all gutenberg books and botchan" SEARCHES=50
# RERANKER=models/albert-small-sst2 ALBERT=target/release/albert DATA=../shared/data
# Each measurement is one JSON line in OUT/results.jsonl; a summary is printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/target/bench/search-scale}
ALBERT=${ALBERT:-$ROOT/target/release/albert}
DATA=${DATA:-$ROOT/../shared/data}
SIZES=${SIZES:-"10000 100000 1000000"}
AB_SIZE=${AB_SIZE:-100000}
AB_ROUNDS=${AB_ROUNDS:-2}
QUERIES=${QUERIES:-500}
EMBED_TEXTS=${EMBED_TEXTS:-2000}
E2E_FILES=${E2E_FILES:-$(ls "$DATA"/corpus/gutenberg_nltk/*.txt "$DATA"/corpus/botchan/botchan.txt)}
SEARCHES=${SEARCHES:-50}
RERANKER=${RERANKER:-$ROOT/models/albert-small-sst2}
QUESTIONS=$DATA/xquad/xquad.en.json
RESULTS=$OUT/results.jsonl
mkdir -p "$OUT"
: > "$RESULTS"
now() { date +%s.%N; }

# 1. The two indexes at each size.
# The release profile (not `cargo bench`'s), so that albert and the other dependencies built for albert-cli are reused.
scale=$(cargo build --release --quiet -p albert-search --features bench --bench scale --message-format=json \
  | jq -r 'select(.target.name == "scale" and .executable != null) | .executable')
for n in $SIZES; do
  echo "== $n passages" >&2
  "$scale" "$n" "$OUT/scale-$n" "$DATA/corpus" "$QUESTIONS" "$QUERIES" | tee -a "$RESULTS"
done
if [ "$AB_ROUNDS" -gt 0 ]; then
  echo "== vector build at $AB_SIZE: one thread against the pool, $AB_ROUNDS rounds" >&2
  "$scale" build-ab "$AB_SIZE" "$AB_ROUNDS" "$QUERIES" | tee -a "$RESULTS"
fi

# 2. Embedding throughput: the corpus as lines of about 900 characters (150 words).
# (head closes the pipe early: pipefail would count that as a failure.)
(set +o pipefail; cat "$DATA"/corpus/gutenberg_nltk/*.txt "$DATA"/corpus/botchan/botchan.txt "$DATA"/corpus/wikitext-2/*.tokens \
  | tr -s '[:space:]' ' ' | fold -s -w 900 | head -n "$EMBED_TEXTS") > "$OUT/texts.txt"
texts=$(wc -l < "$OUT/texts.txt")
start=$(now)
"$ALBERT" embed --json < "$OUT/texts.txt" > /dev/null
seconds=$(echo "$(now) - $start" | bc)
jq -nc --argjson texts "$texts" --argjson s "$seconds" \
  '{measure: "embed", texts: $texts, chars_per_text: 900, seconds: $s, texts_per_s: ($texts / $s)}' | tee -a "$RESULTS"

# 3. End to end: index the files with the built-in embedder, then search.
rm -rf "$OUT/e2e-docs" "$OUT/e2e-index"
mkdir -p "$OUT/e2e-docs"
# shellcheck disable=SC2086
cp $E2E_FILES "$OUT/e2e-docs/"
"$ALBERT" index build --docs "$OUT/e2e-docs" --out "$OUT/e2e-index" --json > "$OUT/e2e-build.json"
jq -c '{measure: "index build", passages: .report.passages_added, seconds: .seconds,
        passages_per_s: (.report.passages_added / .seconds), bytes: .index.bytes}' "$OUT/e2e-build.json" | tee -a "$RESULTS"
(set +o pipefail; jq -r '[.data[].paragraphs[].qas[].question] | .[]' "$QUESTIONS" | head -n "$SEARCHES") > "$OUT/questions.txt"
# p50 and p99 (nearest rank) of the numbers on stdin.
percentiles() { sort -g | awk '{v[NR] = $1} END {i50 = int(0.5 * (NR - 1) + 0.5) + 1; i99 = int(0.99 * (NR - 1) + 0.5) + 1; print v[i50], v[i99]}'; }
for setting in bm25 dense hybrid rerank; do
  case $setting in
    rerank) args=(--mode hybrid --rerank "$RERANKER") ;;
    *) args=(--mode "$setting") ;;
  esac
  : > "$OUT/search-ms.txt"
  : > "$OUT/search-wall.txt"
  while IFS= read -r question; do
    start=$(now)
    "$ALBERT" search "$OUT/e2e-index" "$question" "${args[@]}" --json | jq .milliseconds >> "$OUT/search-ms.txt"
    echo "($(now) - $start) * 1000" | bc >> "$OUT/search-wall.txt"
  done < "$OUT/questions.txt"
  read -r p50 p99 < <(percentiles < "$OUT/search-ms.txt")
  read -r w50 w99 < <(percentiles < "$OUT/search-wall.txt")
  jq -nc --arg s "$setting" --argjson n "$(wc -l < "$OUT/questions.txt")" --argjson passages "$(jq .index.passages "$OUT/e2e-build.json")" \
    --argjson p50 "$p50" --argjson p99 "$p99" --argjson w50 "$w50" --argjson w99 "$w99" \
    '{measure: "search", setting: $s, passages: $passages, queries: $n, search_p50_ms: $p50, search_p99_ms: $p99,
      command_p50_ms: $w50, command_p99_ms: $w99}' | tee -a "$RESULTS"
done

echo
echo "| index | passages | build s | bytes | open ms | query p50 ms | query p99 ms | recall@10 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
jq -r 'select(.index) | "| \(.index)\(if .synthetic then " (synthetic)" else "" end) | \(.passages // .vectors) | \(.build_s * 10 | round / 10) | \(.bytes) | \(.open_ms * 10 | round / 10) | \(.query_p50_ms * 1000 | round / 1000) | \(.query_p99_ms * 1000 | round / 1000) | \(.recall_at_10 // "-") |"' "$RESULTS"
jq -r 'select(.measure == "vector build") | "vector build of \(.vectors), round \(.round), \(.threads) thread(s): \(.build_s * 10 | round / 10) s (\(.build_cpu_s * 10 | round / 10) CPU s), \(.reinserted) re-inserted, recall@10 \(.recall_at_10), load \(.load_average)"' "$RESULTS"
jq -r 'select(.measure == "embed") | "\nembedding: \(.texts) texts of ~150 words in \(.seconds * 10 | round / 10) s: \(.texts_per_s * 10 | round / 10) texts/s"' "$RESULTS"
jq -r 'select(.measure == "index build") | "index build end to end: \(.passages) passages in \(.seconds * 10 | round / 10) s: \(.passages_per_s * 10 | round / 10) passages/s"' "$RESULTS"
jq -r 'select(.measure == "search") | "search \(.setting) (\(.passages) passages): p50 \(.search_p50_ms * 10 | round / 10) ms, p99 \(.search_p99_ms * 10 | round / 10) ms; whole command p50 \(.command_p50_ms | round) ms"' "$RESULTS"
