#!/usr/bin/env bash
# test.sh - build everything and run every test, three times over:
#   1. the default build, warnings as errors, plus the format check, the
#      exports check, the install check and the Debian package check;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. ThreadSanitizer;
#   4. the build switches off (events, metrics, tracing, USDT probes; only the
#      SQLite driver): the switched-off checks of test_events, test_metrics
#      and test_trace, and the core suites that need none of them;
# then a bounded libFuzzer run of the config parser.
# Installs what is missing (as root) first. Exits non-zero on any failure.
#
# Knobs: NR_FUZZ_SECONDS (default 30), NR_TEST_JOBS (default: number of cores),
#        NR_SKIP_SANITIZERS=1 (only the default build, for a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/deps.sh test

jobs=${NR_TEST_JOBS:-$(nproc)}
fuzz_seconds=${NR_FUZZ_SECONDS:-30}
failed=()

step() { printf '\n==== %s ====\n' "$*"; }

run_suite() { # name, extra cmake args... (NR_CTEST_ARGS: extra ctest arguments)
    local name=$1
    shift
    local dir="$root/build/test-$name"
    step "build ($name)"
    cmake -S "$root" -B "$dir" -G Ninja -DNR_WERROR=ON "$@" >/dev/null
    if ! cmake --build "$dir" -j "$jobs"; then
        failed+=("build-$name")
        return
    fi
    step "ctest ($name)"
    # shellcheck disable=SC2086
    if ! (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600 ${NR_CTEST_ARGS:-}); then
        failed+=("ctest-$name")
    fi
}

step "format check"
mapfile -t sources < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
if ! clang-format --dry-run --Werror "${sources[@]}"; then
    failed+=("format")
fi

run_suite default
step "exports check"
if ! scripts/check-exports.sh "$root/build/test-default"; then
    failed+=("exports")
fi
step "install check"
if ! scripts/check-install.sh "$root/build/test-default"; then
    failed+=("install")
fi
step "deb check"
if ! scripts/check-deb.sh "$root/build/test-default"; then
    failed+=("deb")
fi
if [ "${NR_SKIP_SANITIZERS:-0}" != 1 ]; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_suite asan -DNR_SANITIZE=address -DNR_BUILD_BENCH=OFF
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        run_suite tsan -DNR_SANITIZE=thread -DNR_BUILD_BENCH=OFF
fi
off_tests='^(test_events|test_metrics|test_trace|test_pool|test_scope|test_id|test_config|test_config_set|test_error|test_graph|test_graph_check|test_abi|test_manager|test_manager_tenants|test_testing_mock|test_testing_harness)$'
# The switched-off tree is also the unoptimised one: what links at -O2 only
# because the compiler inlined it (ceil(), say) must link at -O0 too.
NR_CTEST_ARGS="-R $off_tests" run_suite off -DCMAKE_BUILD_TYPE=Debug -DNR_WITH_EVENTS=OFF -DNR_WITH_METRICS=OFF \
    -DNR_WITH_TRACING=OFF -DNR_WITH_USDT=OFF -DNR_BUILD_BENCH=OFF -DNR_DRIVER_POSTGRES=OFF \
    -DNR_DRIVER_REDIS=OFF -DNR_DRIVER_HTTP=OFF -DNR_DRIVER_KAFKA=OFF -DNR_DRIVER_MONGO=OFF

if [ "$fuzz_seconds" -gt 0 ] && [ -x scripts/fuzz.sh ]; then
    step "fuzz config parser (${fuzz_seconds} s)"
    if ! scripts/fuzz.sh "$fuzz_seconds"; then
        failed+=("fuzz")
    fi
fi

echo
if [ ${#failed[@]} -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "All test suites passed."
