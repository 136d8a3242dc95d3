#!/usr/bin/env bash
# bench.sh - the benchmark suite, on demand (never part of the tests):
#   1. the in-tree programs (pool throughput and latency, shutdown, scaling,
#      events), built with release flags;
#   2. the side-by-side comparison with other pools (bench/run-peers.sh),
#      unless NR_BENCH_PEERS=0.
# Output goes to the terminal and to build/bench-results/<UTC stamp>.txt;
# the peers harness keeps its own tables under build/peers/results/.
# Extra arguments go to bench/run-peers.sh (default "2": 2 s per cell, with
# REPS=2; e.g. --quick to try the pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build/bench-suite -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF >/dev/null
mkdir -p build/bench-results
out="build/bench-results/$(date -u +%Y%m%dT%H%M%SZ).txt"
cmake --build build/bench-suite --target bench 2>&1 | grep -v '^\[' | tee "$out"
if [ "${NR_BENCH_PEERS:-1}" != 0 ]; then
    # 2 reps x 2 s per cell keeps the whole suite near 6 minutes; REPS and
    # arguments (seconds per cell, --quick, ...) override it.
    if [ $# -eq 0 ]; then
        set -- 2
    fi
    REPS=${REPS:-2} bench/run-peers.sh "$@" 2>&1 | tee -a "$out"
fi
echo "results: $out"
