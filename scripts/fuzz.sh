#!/bin/sh
# scripts/fuzz.sh [SECONDS] - build the libFuzzer targets with clang in
# build-fuzz and run the config fuzzer for SECONDS (default 60) on a temporary
# copy of the seed corpus. Exits non-zero when the build fails or the fuzzer
# finds a crash, a leak, a timeout or a broken invariant; the input that
# failed is kept under build-fuzz/artifacts/.
#
#   NR_FUZZ_BUILD_DIR   build directory (default: build-fuzz in the source tree)
#   NR_FUZZ_ARGS        extra libFuzzer options, e.g. "-jobs=4 -workers=4"
set -eu

secs=${1:-60}
case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${NR_FUZZ_BUILD_DIR:-$root/build-fuzz}

cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DNR_SANITIZE=address \
    -DNR_BUILD_FUZZ=ON -DNR_BUILD_TESTS=ON \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF -DNR_BUILD_BENCH=OFF \
    -DNR_DRIVER_SQLITE=OFF >/dev/null
ninja -C "$build" fuzz_config

corpus=$(mktemp -d "${TMPDIR:-/tmp}/nr-fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT INT TERM
cp "$root"/tests/fuzz/corpus/config/* "$corpus"/
artifacts=$build/artifacts
mkdir -p "$artifacts"

echo "fuzz_config: running for ${secs}s" >&2
status=0
# shellcheck disable=SC2086 # NR_FUZZ_ARGS is a list of options
"$build/tests/fuzz/fuzz_config" \
    -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${NR_FUZZ_ARGS:-} "$corpus" || status=$?

if [ "$status" -ne 0 ]; then
    echo "fuzz_config: FAILED (exit $status); reproduce with:" >&2
    echo "  $build/tests/fuzz/fuzz_config $artifacts/<crash-file>" >&2
    exit "$status"
fi
echo "fuzz_config: no failure in ${secs}s" >&2
