#!/bin/bash
# bench_test.sh BIN - `bench` loads one resource of a config for a second and
# prints throughput and acquire latency p50/p99/p99.9/max with no errors;
# an unknown resource is a usage error.
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
    {"id": "cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["db"]}
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
"$bin" bench "$SVC_DIR/bench.json" --resource cache --threads 2 --seconds 1 > "$SVC_DIR/out.txt" 2>&1
[ $? = 0 ] || fail "bench of a tenant-partitioned resource: status is not 0"
"$bin" bench "$SVC_DIR/bench.json" --resource nope > "$SVC_DIR/out.txt" 2>&1
[ $? = 2 ] || fail "unknown resource: status is not 2"
grep -qF "has no resource 'nope'" "$SVC_DIR/out.txt" || fail "unknown resource not named"
"$bin" bench "$SVC_DIR/bench.json" > "$SVC_DIR/out.txt" 2>&1
[ $? = 2 ] || fail "missing --resource: status is not 2"
echo "ok: bench"
