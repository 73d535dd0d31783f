#!/usr/bin/env bash
# Builds the naive engine of scripts/bench/peers.py: scripts/bench/naive (`albert bench`'s protocol) against the
# model core's first version, commit 0c47b66, and prints the path of its release binary.
#
# The old tree is a detached git worktree at target/naive-worktree (reused when it is already there at that commit);
# the build goes to target/naive. Both are under the ignored target/. scripts/bench/naive/Cargo.lock starts as a copy
# of 0c47b66's own Cargo.lock, so every dependency has the version the old tree was tested with; once it exists it is
# kept and the build is --locked.
#
#     bash scripts/bench/build_naive.sh                # prints .../target/naive/release/albert-naive
#     python3 scripts/bench/peers.py --naive "$(bash scripts/bench/build_naive.sh)" ...
set -euo pipefail

COMMIT=0c47b66
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORKTREE="$REPO/target/naive-worktree"
PROJECT="$REPO/scripts/bench/naive"
TARGET_DIR="$REPO/target/naive"

want="$(git -C "$REPO" rev-parse --verify "$COMMIT^{commit}")"
if [ -e "$WORKTREE/.git" ]; then
    have="$(git -C "$WORKTREE" rev-parse HEAD)"
    if [ "$have" != "$want" ]; then
        echo "$WORKTREE is at $have, not $COMMIT: remove it (git worktree remove --force $WORKTREE) and rerun" >&2
        exit 1
    fi
    echo "reusing the worktree $WORKTREE at $COMMIT" >&2
else
    if [ -e "$WORKTREE" ]; then
        echo "$WORKTREE exists but is not a git worktree: move it away and rerun" >&2
        exit 1
    fi
    # A worktree whose directory was deleted (e.g. by cargo clean) leaves a registration behind.
    git -C "$REPO" worktree prune
    mkdir -p "$REPO/target"
    git -C "$REPO" worktree add --detach "$WORKTREE" "$want" >&2
fi

locked=(--locked)
if [ ! -f "$PROJECT/Cargo.lock" ]; then
    cp "$WORKTREE/Cargo.lock" "$PROJECT/Cargo.lock"
    # The first build adds this package to the copied lock and drops what it does not use; versions stay 0c47b66's.
    locked=()
fi

cargo build --release "${locked[@]}" --manifest-path "$PROJECT/Cargo.toml" --target-dir "$TARGET_DIR" >&2
echo "$TARGET_DIR/release/albert-naive"
