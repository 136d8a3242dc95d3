#!/bin/bash
# bench_test.sh BIN - `bench` loads one resource of a config for a second and
# prints throughput and acquire latency p50/p99/p99.9/max with no errors;
# each acquire waits the pool's acquire_timeout_ms (50 ms: timeouts after
# at least 50 ms; 0: refused with NR_EEXHAUSTED), and failed acquires get their own count
# and latency line; a long timeout does not hold the end up; an unknown
# resource is a usage error.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-bench
fail() {
    echo "FAIL: $*"
    cat "$SVC_DIR/out.txt"
    exit 1
}
cat > "$SVC_DIR/bench.json" <<JSON
{
  "resources": [
    {"id": "db", "driver": "sqlite", "config": {"path": "$SVC_DIR/db.sqlite"}, "pool": {"max_size": 2}},
    {"id": "cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["db"]},
    {"id": "short", "driver": "sqlite", "pool": {"max_size": 1, "acquire_timeout_ms": 50}},
    {"id": "nowait", "driver": "sqlite", "pool": {"max_size": 1, "acquire_timeout_ms": 0}},
    {"id": "long", "driver": "sqlite", "pool": {"max_size": 1, "acquire_timeout_ms": 60000}}
  ]
}
JSON
"$bin" bench "$SVC_DIR/bench.json" --resource db --threads 3 --seconds 1 --hold-us 50 \
    > "$SVC_DIR/out.txt" 2>&1
[ $? = 0 ] || fail "bench db: status is not 0"
grep -qE '^  acquires +[1-9][0-9]* \([0-9]+/s\)$' "$SVC_DIR/out.txt" || fail "no throughput line"
grep -qE '^  latency +p50 .+, p99 .+, p99\.9 .+, max .+$' "$SVC_DIR/out.txt" || fail "no latency line"
grep -qE '^  errors +0$' "$SVC_DIR/out.txt" || fail "errors were reported"
grep -qE '^  pool +max 2, ' "$SVC_DIR/out.txt" || fail "no pool line"
grep -q '^  error latency' "$SVC_DIR/out.txt" && fail "an error latency line without errors"
grep -qE '^bench db: .*, acquire timeout 30000 ms \(pool\.acquire_timeout_ms\)$' \
    "$SVC_DIR/out.txt" || fail "the acquire timeout is not shown"

# 3 threads on 1 instance held 200 ms, 50 ms to wait: most acquires time out
# after about 50 ms (with the 5 s deadline of old, none did)
"$bin" bench "$SVC_DIR/bench.json" --resource short --threads 3 --seconds 1 --hold-us 200000 \
    > "$SVC_DIR/out.txt" 2>&1
[ $? = 1 ] || fail "bench short: status is not 1 (acquires failed)"
grep -qE '^bench short: .*, acquire timeout 50 ms \(pool\.acquire_timeout_ms\)$' \
    "$SVC_DIR/out.txt" || fail "short: the acquire timeout is not 50 ms"
grep -qE '^  acquires +[1-9][0-9]* ' "$SVC_DIR/out.txt" || fail "short: no acquire succeeded"
grep -qE '^  errors +[1-9][0-9]*, NR_ETIMEDOUT [1-9][0-9]*$' "$SVC_DIR/out.txt" ||
    fail "short: no timeouts counted"
# (lower bounds only: the machine may be slow, never fast)
grep -qE '^  error latency +p50 (([4-9][0-9]|[1-9][0-9]{2,})\.[0-9] ms|[0-9.]+ s), p99 .+, p99\.9 .+, max .+$' \
    "$SVC_DIR/out.txt" || fail "short: failed acquires did not wait the 50 ms"
grep -qE '^  first error +pool .short.: ' "$SVC_DIR/out.txt" || fail "short: no first error"

# 0: never wait, refused at once
"$bin" bench "$SVC_DIR/bench.json" --resource nowait --threads 3 --seconds 1 --hold-us 20000 \
    > "$SVC_DIR/out.txt" 2>&1
[ $? = 1 ] || fail "bench nowait: status is not 1"
grep -qE '^bench nowait: .*, acquire timeout 0 ms \(pool\.acquire_timeout_ms: never wait\)$' \
    "$SVC_DIR/out.txt" || fail "nowait: the acquire timeout is not 0"
grep -qE '^  errors +[1-9][0-9]*, NR_EEXHAUSTED [1-9][0-9]*$' "$SVC_DIR/out.txt" ||
    fail "nowait: no NR_EEXHAUSTED counted"
grep -qE '^  error latency +p50 .+, p99 .+, p99\.9 .+, max .+$' "$SVC_DIR/out.txt" ||
    fail "nowait: no latency line for the failed acquires"

# a 60 s timeout: the acquires still waiting at the end are woken, not counted
timeout 40 "$bin" bench "$SVC_DIR/bench.json" --resource long --threads 4 --seconds 1 \
    --hold-us 300000 > "$SVC_DIR/out.txt" 2>&1
status=$?
[ $status = 124 ] && fail "bench long: the end waited for the 60 s acquire timeout"
[ $status = 0 ] || fail "bench long: status $status, expected 0"
grep -qE '^  errors +0$' "$SVC_DIR/out.txt" || fail "long: the woken acquires were counted"
"$bin" bench "$SVC_DIR/bench.json" --resource cache --threads 2 --seconds 1 > "$SVC_DIR/out.txt" 2>&1
[ $? = 0 ] || fail "bench of a tenant-partitioned resource: status is not 0"
"$bin" bench "$SVC_DIR/bench.json" --resource nope > "$SVC_DIR/out.txt" 2>&1
[ $? = 2 ] || fail "unknown resource: status is not 2"
grep -qF "has no resource 'nope'" "$SVC_DIR/out.txt" || fail "unknown resource not named"
"$bin" bench "$SVC_DIR/bench.json" > "$SVC_DIR/out.txt" 2>&1
[ $? = 2 ] || fail "missing --resource: status is not 2"
echo "ok: bench"
