#!/usr/bin/env bash
# Load benchmark of `albert serve` (issue 24): SST-2 dev sentences POSTed by wrk (Debian's `wrk`, a Lua script for the
# bodies: serve_load.lua) to /predict and /embed at each concurrency, for the built-in models and a base-shape random
# checkpoint, against the batched Python peer (serve_peer.py: ONNX Runtime's optimized graph behind uvicorn) serving
# the same checkpoints with the same threads and token budget; beside them the offline `albert bench --texts`
# throughput on the same sentences and its batch-1 latency on one sentence.
#
#   cargo build --release -p albert-cli && scripts/bench/serve_load.sh [OUT]     (OUT: target/bench/serve)
#
# The 2 cores are split with taskset: the server under test (albert or the peer) on SERVER_CPUS, wrk on LOAD_CPUS;
# the offline bench runs on SERVER_CPUS too. Knobs (environment):
#   CONCURRENCY="1 16 64 256"  OVERLOAD=1000 (connections of the last run per server, "" for none)
#   DURATION=10s  ROUTES="predict embed"  SHAPES="builtin base"  ENGINES="albert peer"
#   SERVER_CPUS=0  LOAD_CPUS=1  THREADS=1 (compute threads of both servers)  BUDGET=16384 (max batch tokens)
#   ALBERT=target/release/albert  PY=~/.venvs/ref/bin/python  DEV=../shared/data/glue/SST-2/dev.tsv  PORT=18080
#   OFFLINE_RUNS=3 (timed runs of the offline throughput)
# Each wrk run writes one JSON line to OUT/results.jsonl (engine, shape, route, concurrency, sentences "dev" or
# "one", throughput of 200s, p50/p90/p99 ms, wrk's error counts, HTTP status counts, the server's peak RSS during the
# run). The overload run (OVERLOAD connections on /predict, over --max-concurrent-requests 512) comes last for each
# server, since what it leaves queued would slow the runs after it; /health is probed every second during it;
# the offline figures go to OUT/offline.jsonl; the table is printed at the end (docs/serve/README.md explains it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/scripts/bench"
OUT=${1:-$ROOT/target/bench/serve}
ALBERT=${ALBERT:-$ROOT/target/release/albert}
PY=${PY:-$HOME/.venvs/ref/bin/python}
DEV=${DEV:-$ROOT/../shared/data/glue/SST-2/dev.tsv}
CONCURRENCY=${CONCURRENCY:-"1 16 64 256"}
OVERLOAD=${OVERLOAD-1000}
DURATION=${DURATION:-10s}
ROUTES=${ROUTES:-"predict embed"}
SHAPES=${SHAPES:-"builtin base"}
ENGINES=${ENGINES:-"albert peer"}
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
THREADS=${THREADS:-1}
BUDGET=${BUDGET:-16384}
PORT=${PORT:-18080}
OFFLINE_RUNS=${OFFLINE_RUNS:-3}

for tool in wrk taskset curl python3; do
  command -v "$tool" >/dev/null || { echo "serve_load.sh: $tool is missing (apt-get install wrk curl util-linux)" >&2; exit 2; }
done
[ -x "$ALBERT" ] || { echo "serve_load.sh: no $ALBERT (cargo build --release -p albert-cli)" >&2; exit 2; }
[ -f "$DEV" ] || { echo "serve_load.sh: no $DEV (see ../shared/data/MANIFEST.md)" >&2; exit 2; }
mkdir -p "$OUT"
: > "$OUT/results.jsonl"
: > "$OUT/offline.jsonl"

# Request bodies, one a line: every dev sentence, and the first one alone (the batch-1 latency comparison).
python3 - "$DEV" "$OUT" <<'PY'
import json, sys
dev, out = sys.argv[1], sys.argv[2]
lines = open(dev, encoding="utf-8").read().splitlines()
col = lines[0].split("\t").index("sentence")
sentences = [l.split("\t")[col] for l in lines[1:] if l]
with open(f"{out}/dev.bodies", "w") as f:
    f.writelines(json.dumps({"inputs": s}) + "\n" for s in sentences)
with open(f"{out}/one.bodies", "w") as f:
    f.write(json.dumps({"inputs": sentences[0]}) + "\n")
with open(f"{out}/one.tsv", "w") as f:
    f.write(f"sentence\tlabel\n{sentences[0]}\t1\n")
print(f"{len(sentences)} dev sentences; one: {sentences[0]!r}", file=sys.stderr)
PY

checkpoints() { # SHAPE -> "CLASSIFIER ENCODER"
  case "$1" in
    builtin) echo "$ROOT/models/albert-small-sst2 $ROOT/models/albert-small" ;;
    base)
      [ -f "$OUT/base/classifier/model.safetensors" ] || "$PY" "$HERE/serve_peer.py" make-checkpoint "$OUT/base" >&2
      echo "$OUT/base/classifier $OUT/base/encoder" ;;
    *) echo "serve_load.sh: unknown shape $1" >&2; exit 2 ;;
  esac
}

SERVER_PID=
start_server() { # ENGINE CLASSIFIER ENCODER
  local engine=$1 cls=$2 enc=$3
  if [ "$engine" = albert ]; then
    local extra=()
    # The batching flags, where this build has them.
    "$ALBERT" serve --help | grep -q -- --max-batch-tokens && extra+=(--max-batch-tokens "$BUDGET")
    taskset -c "$SERVER_CPUS" "$ALBERT" serve --port "$PORT" --threads "$THREADS" --max-concurrent-requests 512 \
      --model "classifier=$cls" --model "encoder=$enc" "${extra[@]}" 2> "$OUT/server.log" &
  else
    taskset -c "$SERVER_CPUS" "$PY" "$HERE/serve_peer.py" serve --classifier "$cls" --encoder "$enc" --port "$PORT" \
      --threads "$THREADS" --max-batch-tokens "$BUDGET" --max-wait-ms 2 --cache "$OUT/onnx" 2> "$OUT/server.log" &
  fi
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "serve_load.sh: $engine did not answer /health in 300 s" >&2
  exit 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  # A server still busy with queued work after 15 s is killed: it would otherwise run beside the next one.
  for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
trap stop_server EXIT

load() { # ENGINE SHAPE ROUTE CONCURRENCY BODIES [HEALTH_PROBES]
  local engine=$1 shape=$2 route=$3 c=$4 bodies=$5 probes=${6:-0}
  # Peak RSS of this run only: clear the process's high-water mark first.
  echo 5 > "/proc/$SERVER_PID/clear_refs" 2>/dev/null || true
  : > "$OUT/health.probes"
  local prober=
  if [ "$probes" -gt 0 ]; then
    # GET /health once a second during the run: its status and seconds, or 000 when it did not answer in 5 s.
    ( sleep 1; for _ in $(seq 1 "$probes"); do
        taskset -c "$LOAD_CPUS" curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT/health" >> "$OUT/health.probes"
        sleep 1
      done ) &
    prober=$!
  fi
  local line
  line=$(taskset -c "$LOAD_CPUS" wrk -t1 -c"$c" -d"$DURATION" --timeout 30s -s "$HERE/serve_load.lua" \
    "http://127.0.0.1:$PORT/$route" -- "$OUT/$bodies.bodies" | tail -1)
  [ -z "$prober" ] || wait "$prober"
  local rss
  rss=$(awk '/VmHWM/ {print $2 / 1024}' "/proc/$SERVER_PID/status")
  python3 - "$line" "$engine" "$shape" "$route" "$c" "$bodies" "$rss" "$OUT/health.probes" <<'PY' | tee -a "$OUT/results.jsonl"
import json, sys
line, engine, shape, route, c, bodies, rss, probes = sys.argv[1:]
r = json.loads(line)
r.update(engine=engine, shape=shape, route=route, concurrency=int(c), sentences=bodies, peak_rss_mib=float(rss))
# Throughput counts answers (200s) only: refusals are fast and would otherwise count as work done.
r["ok_per_s"] = r["statuses"].get("200", 0) / r["seconds"]
health = [l.split() for l in open(probes) if l.strip()]
if health:
    r["health"] = {"probes": len(health), "ok": sum(code == "200" for code, _ in health),
                   "max_s": max(float(t) for _, t in health)}
print(json.dumps(r))
PY
}

for shape in $SHAPES; do
  read -r cls enc < <(checkpoints "$shape")
  # Offline: the same sentences through `albert bench --texts` (throughput at batch 32; batch-1 latency on one).
  for spec in "dev 32 $OFFLINE_RUNS" "one 1 30"; do
    read -r what batch runs <<<"$spec"
    file=$DEV; [ "$what" = one ] && file=$OUT/one.tsv
    taskset -c "$SERVER_CPUS" "$ALBERT" bench --model "$cls" --texts "$file" --batch "$batch" --seq 512 \
      --threads "$THREADS" --runs "$runs" --warmup 1 --json \
      | python3 -c 'import json, sys; r = json.loads(sys.stdin.read().strip().splitlines()[-1]); r.update(shape=sys.argv[1], sentences=sys.argv[2]); print(json.dumps(r))' "$shape" "$what" \
      | tee -a "$OUT/offline.jsonl"
  done
  for engine in $ENGINES; do
    start_server "$engine" "$cls" "$enc"
    # Warm-up: one short run per route.
    for route in $ROUTES; do taskset -c "$LOAD_CPUS" wrk -t1 -c4 -d2s -s "$HERE/serve_load.lua" "http://127.0.0.1:$PORT/$route" -- "$OUT/dev.bodies" >/dev/null; done
    load "$engine" "$shape" predict 1 one
    for route in $ROUTES; do
      for c in $CONCURRENCY; do
        load "$engine" "$shape" "$route" "$c" dev
      done
    done
    [ -z "$OVERLOAD" ] || load "$engine" "$shape" predict "$OVERLOAD" dev "${DURATION%s}"
    stop_server
  done
done

python3 - "$OUT" "$SERVER_CPUS" "$LOAD_CPUS" "$THREADS" "$BUDGET" "$DURATION" "$OVERLOAD" <<'PY'
import json, sys
out, server_cpus, load_cpus, threads, budget, duration, overload = sys.argv[1:]
rows = [json.loads(l) for l in open(f"{out}/results.jsonl")]
offline = {(r["shape"], r["sentences"]): r for r in map(json.loads, open(f"{out}/offline.jsonl"))}
print(f"\nserver on CPU {server_cpus} ({threads} compute thread(s)), wrk on CPU {load_cpus}; {duration} per run; "
      f"token budget {budget}")
print(f"{'shape':8} {'engine':7} {'route':8} {'sent.':5} {'conc':>5} {'200/s':>9} {'p50 ms':>9} {'p90 ms':>9} "
      f"{'p99 ms':>9} {'non-2xx':>8} {'sock err':>8} {'429':>6} {'RSS MiB':>8} {'health':>10}")
for r in rows:
    e = r["errors"]
    sock = e["connect"] + e["read"] + e["write"] + e["timeout"]
    print(f"{r['shape']:8} {r['engine']:7} {r['route']:8} {r['sentences']:5} {r['concurrency']:>5} "
          f"{r['ok_per_s']:>9.1f} {r['p50_ms']:>9.2f} {r['p90_ms']:>9.2f} {r['p99_ms']:>9.2f} {e['status']:>8} "
          f"{sock:>8} {r['statuses'].get('429', 0):>6} {r['peak_rss_mib']:>8.0f} "
          + (f"{r['health']['ok']}/{r['health']['probes']} ok, max {r['health']['max_s']:.2f} s" if "health" in r else ""))
print()
for (shape, what), r in sorted(offline.items()):
    print(f"offline albert bench --texts {shape:8} {what:4} batch {r['batch']:>2}: {r['seq_per_s']:.1f} texts/s, "
          f"median {r['median_ms']:.2f} ms per run")
print()
for shape in sorted({r["shape"] for r in rows}):
    def best(engine, route):
        xs = [r for r in rows if (r["shape"], r["engine"], r["route"], r["sentences"]) == (shape, engine, route, "dev")]
        # Saturation: the best throughput of answers below the overload run.
        xs = [r for r in xs if r["concurrency"] != int(overload or 0)]
        return max(xs, key=lambda r: r["ok_per_s"]) if xs else None
    def at(engine, route, c):
        return next((r for r in rows if (r["shape"], r["engine"], r["route"], r["concurrency"], r["sentences"])
                     == (shape, engine, route, c, "dev")), None)
    dev, one = offline.get((shape, "dev")), offline.get((shape, "one"))
    sat = best("albert", "predict")
    if sat and dev:
        print(f"{shape}: saturation /predict {sat['ok_per_s']:.1f} answers/s (at {sat['concurrency']}) = "
              f"{sat['ok_per_s'] / dev['seq_per_s']:.2f} x offline {dev['seq_per_s']:.1f} texts/s (goal >= 0.90)")
    c1 = next((r for r in rows if (r["shape"], r["engine"], r["route"], r["sentences"]) == (shape, "albert", "predict", "one")), None)
    if c1 and one:
        print(f"{shape}: concurrency 1, one sentence: p50 {c1['p50_ms']:.2f} ms vs offline batch-1 {one['median_ms']:.2f} ms "
              f"(+{c1['p50_ms'] - one['median_ms']:.2f} ms; goal <= 2 ms)")
    for route in ["predict", "embed"]:
        ours, peer = at("albert", route, 64), at("peer", route, 64)
        if ours and peer and peer["ok_per_s"] > 0:
            print(f"{shape}: /{route} at 64: {ours['ok_per_s'] / peer['ok_per_s']:.2f} x the peer's throughput, "
                  f"p99 {ours['p99_ms']:.1f} vs {peer['p99_ms']:.1f} ms")
PY
