#!/usr/bin/env bash
# Mutation fuzzing of every reader of untrusted input, SECONDS per target (default 60), in release
# mode. CI runs the same binary for 1 s per target as part of `cargo test`.
#   scripts/fuzz.sh [SECONDS]      FUZZ_SEED=N repeats a run
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${1:-60}" exec cargo test --release --locked --test fuzz
