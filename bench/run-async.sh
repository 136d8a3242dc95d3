#!/usr/bin/env bash
# run-async.sh - the async acquire on one event-loop thread, beside a plain
# async pool in the same run.
#
#   bench/run-async.sh [--seconds 3] [--no-pg]
#
# Builds bench_async and bench_async_pg in release (build/bench-release) and
# runs REPS (default 3) interleaved reps of each case, the order rotating:
#   mem        10,000 requests in flight over 4 in-memory instances:
#              nebula (nr_pool_acquire_async), manager (by id), plain
#   mem+block  the same with 4 blocking threads in the one FIFO queue
#   pg         10,000 requests over 4 real PostgreSQL connections, each a
#              query through nr_pg_async: nebula, plain (hand-kept
#              connections); the server is started by
#              drivers/postgres/tests/with-postgres.sh (skipped with --no-pg)
# and prints a markdown table of the medians and the ratios to plain.
# Raw JSON lines are kept in build/async-results/async-<UTC stamp>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
REPS=${REPS:-3}
seconds=3
pg=1
while [ $# -gt 0 ]; do
    case $1 in
    --seconds)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || {
            echo "run-async.sh: --seconds wants a positive whole number" >&2
            exit 2
        }
        seconds=$2
        shift 2
        ;;
    --no-pg)
        pg=0
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d'
        exit 0
        ;;
    *)
        echo "run-async.sh: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || {
    echo "run-async.sh: REPS must be a positive whole number" >&2
    exit 2
}

echo "== cmake --build build/bench-release --target bench_async bench_async_pg" >&2
cmake -S . -B build/bench-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF >/dev/null
targets=(bench_async)
[ "$pg" = 1 ] && targets+=(bench_async_pg)
if ! build_log=$(cmake --build build/bench-release --target "${targets[@]}" 2>&1); then
    printf '%s\n' "$build_log" >&2
    echo "run-async.sh: the build failed (bench_async_pg needs libpq-dev: --no-pg skips it)" >&2
    exit 1
fi
bin=$root/build/bench-release/bench

out=$root/build/async-results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$out/async-$stamp.jsonl
mkdir -p "$out"
: >"$raw"

# one case: label, then the command; its JSON line gets the label and the rep
run_case() {
    local label=$1 rep=$2
    shift 2
    local line
    line=$("$@" 2>/dev/null | grep '^{' | tail -1) || true
    if [ -z "$line" ]; then
        echo "   $label rep $rep: no result" >&2
        return
    fi
    line="{\"case\":\"$label\",\"rep\":$rep,${line#\{}"
    echo "   $line" >&2
    printf '%s\n' "$line" >>"$raw"
}

mem_impls=(nebula manager plain)
for rep in $(seq 1 "$REPS"); do
    for i in 0 1 2; do
        impl=${mem_impls[$(((i + rep - 1) % 3))]}
        run_case mem "$rep" "$bin/bench_async" --impl "$impl" --seconds "$seconds"
        run_case mem+block "$rep" "$bin/bench_async" --impl "$impl" --seconds "$seconds" \
            --blocking-threads 4
    done
done

if [ "$pg" = 1 ]; then
    pg_reps() {
        local rep impl
        for rep in $(seq 1 "$REPS"); do
            for impl in $([ $((rep % 2)) = 1 ] && echo nebula plain || echo plain nebula); do
                line=$("$bin/bench_async_pg" --impl "$impl" --seconds "$seconds" 2>/dev/null |
                    grep '^{' | tail -1) || true
                [ -n "$line" ] && printf '{"case":"pg","rep":%s,%s\n' "$rep" "${line#\{}"
            done
        done
    }
    export -f pg_reps
    export bin seconds REPS
    drivers/postgres/tests/with-postgres.sh bash -c pg_reps | tee -a "$raw" >&2
fi

python3 - "$raw" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(case, impl, key):
    v = [r[key] for r in rows if r["case"] == case and r["impl"] == impl and key in r]
    return statistics.median(v) if v else None
print("| case | impl | ops/s | ratio to plain | p50 us | p99 us | longest call us | blocking mean wait us |")
print("|---|---|---|---|---|---|---|---|")
for case, impls, ops, p50, p99 in (
        ("mem", ("nebula", "manager", "plain"), "loop_ops_per_s", "p50_us", "p99_us"),
        ("mem+block", ("nebula", "manager", "plain"), "loop_ops_per_s", "p50_us", "p99_us"),
        ("pg", ("nebula", "plain"), "queries_per_s", "to_conn_p50_us", "to_conn_p99_us")):
    base = med(case, "plain", ops)
    for impl in impls:
        v = med(case, impl, ops)
        if v is None:
            continue
        ratio = f"{v / base:.2f}" if base else "-"
        bw = med(case, impl, "blocking_mean_wait_us")
        mw = med(case, impl, "mean_wait_us")
        bws = f"{bw:.0f} (loop {mw:.0f})" if case == "mem+block" and bw is not None else ""
        print(f"| {case} | {impl} | {v:,.0f} | {ratio} | {med(case, impl, p50):,.0f} | "
              f"{med(case, impl, p99):,.0f} | {med(case, impl, 'longest_call_us'):,.0f} | {bws} |")
EOF
echo "raw: $raw" >&2
