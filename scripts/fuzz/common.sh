# Shared by ci.sh and long.sh (sourced from the repository root).

# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 enables them on the stable compiler.
CARGO_FUZZ_VERSION=0.13.2
export RUSTC_BOOTSTRAP=1
FUZZ_SANITIZER=${FUZZ_SANITIZER:-address}
# libFuzzer's limits: a run of more than 10 s on one input is a hang, more than 2 GB of memory (or one allocation
# of that size) is an absurd allocation.
FUZZ_LIMITS=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1)

if ! cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# The targets write their inputs to scratch files under $TMPDIR (tmpfs when there is one); libFuzzer exits
# without cleaning up, so the whole directory goes at exit.
FUZZ_SCRATCH=$(mktemp -d -p "$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")" albert-fuzz.XXXXXX)
trap 'rm -rf "$FUZZ_SCRATCH"' EXIT

fuzz_targets() { (cd fuzz && cargo fuzz list); }

fuzz_build() { (cd fuzz && cargo fuzz build -s "$FUZZ_SANITIZER"); }

# fuzz_run TARGET CORPUS_DIR [LIBFUZZER_ARGS...]: new inputs go to CORPUS_DIR, the committed corpus is read only.
fuzz_run() {
  local target=$1 corpus=$2
  shift 2
  (cd fuzz && TMPDIR="$FUZZ_SCRATCH" cargo fuzz run -s "$FUZZ_SANITIZER" "$target" "$corpus" "corpus/$target" \
    -- "${FUZZ_LIMITS[@]}" "$@")
}

# The final figures of a run's log: "execs N cov N ft N corp N" (corp: inputs in libFuzzer's corpus).
fuzz_final_stats() {
  local log=$1 execs cov ft corp
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -o ' cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  ft=$(grep -o ' ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  corp=$(grep -o ' corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  echo "execs ${execs:-?} cov ${cov:-?} ft ${ft:-?} corp ${corp:-?}"
}
