#!/bin/bash
# browser_fleet_test.sh BIN OUTDIR - the status page's "Fleet budgets" section
# in a real browser, against the redis-server of
# drivers/redis/tests/with-redis.sh (NR_TEST_REDIS_*): `nebula-resource run`
# with one resource in a fleet budget (orders-db) and one without
# (plain-db); headless Chromium through chromedriver loads the page and
# status_page_fleet_check.py compares what it draws with /status, then
# changes the budget in Redis and stops Redis (SIGSTOP) and continues it,
# and checks that the page follows. Its screenshot goes to
# OUTDIR/status_page_fleet.png.
set -u
bin=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../scripts/lib/services.sh"
svc_init cli-browser-fleet
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    [ -f "$SVC_DIR/chromedriver.log" ] && tail -20 "$SVC_DIR/chromedriver.log"
    exit 1
}
: "${NR_TEST_REDIS_PORT:?run under drivers/redis/tests/with-redis.sh}"
port=$(svc_freeport)
prefix=nrpage$$
cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"workers": 2, "maintain_interval_ms": 200, "health_interval_ms": 300},
  "credentials": {"redis-pw": {"env": "NR_TEST_REDIS_PASSWORD"}},
  "resources": [
    {"id": "orders-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/orders.db"},
     "pool": {"max_size": 4, "min_idle": 2},
     "fleet": {"budget": 6, "redis_host": "127.0.0.1", "redis_port": $NR_TEST_REDIS_PORT,
               "credential_ref": "redis-pw", "on_redis_down": "fail_closed",
               "min_per_process": 1, "lease_ttl_ms": 4000, "prefix": "$prefix"}},
    {"id": "plain-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/plain.db"}}
  ]
}
JSON
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
svc_wait_for "/readyz" curl -sf "http://127.0.0.1:$port/readyz" || fail "never ready"
svc_chromedriver || fail "no chromedriver"
/usr/bin/python3 "$here/status_page_fleet_check.py" "$SVC_CHROMEDRIVER" "http://127.0.0.1:$port/" \
    "$SVC_DIR/profile" "$outdir/status_page_fleet.png" "$prefix:orders-db:budget" ||
    fail "the status page's fleet check failed"
kill -TERM $pid
wait $pid
[ $? = 0 ] || fail "run did not stop cleanly"
echo "ok: the fleet section checked in Chromium; screenshot $outdir/status_page_fleet.png"
