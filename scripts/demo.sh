#!/usr/bin/env bash
# demo.sh - the main job: build Nebula Resource and run its demo on the
# embedded SQLite default. Installs what is missing (as root) first.
# Extra arguments go to `nebula-resource demo` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_BENCH=OFF >/dev/null
cmake --build build/release --target nebula-resource >/dev/null
exec build/release/tools/nebula-resource/nebula-resource demo "$@"
