#!/usr/bin/env bash
# run-peers.sh - build the library with release flags and run the side-by-side
# pool benchmark (the peers harness) with Nebula Resource as one more column.
#
#   bench/run-peers.sh            the full comparison (about 9 minutes)
#   bench/run-peers.sh --quick    1 rep x 1 s, to try the pipeline
#   bench/run-peers.sh --check    correctness pass
# Environment: PEERS_DIR (default ../shared/peers beside the checkout), and
# every knob of the harness (PEERS, SCENARIOS, REPS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
if [ ! -x "$peers/run.sh" ]; then
    echo "run-peers.sh: the peers harness is not at $peers (set PEERS_DIR)" >&2
    exit 1
fi
cmake -S . -B build/bench-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench-release --target nebula_resource_static | grep -v "^\[" || true
export EXTRA_ADAPTERS="nebula=$root/bench/adapter_nebula.c"
export CFLAGS_nebula="-I$root/include"
export LIBS_nebula="$root/build/bench-release/libnebula-resource.a -ljansson -lpthread -lm"
export PEERS_WORK=${PEERS_WORK:-$root/build/peers}
exec "$peers/run.sh" "$@"
