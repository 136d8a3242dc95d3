#!/bin/bash
# browser_test.sh BIN OUTDIR - the status page in a real browser: starts
# `nebula-resource run` with six SQLite resources on three dependency levels
# (two with ids of the longest length, 63 bytes), and `nebula-resource demo`,
# which runs load itself; then headless Chromium driven by chromedriver (W3C
# WebDriver over plain HTTP, see status_page_check.py) loads the page of each
# and checks it: the graph, sparklines that move under load, tenant rows,
# event filters, no text overflowing its box; and a real outage on each: the
# demo's own (a stuck writer on orders-db, --outage-at), and on `run` the
# checker itself holds orders-db's write lock for a while (python's
# sqlite3): orders-db unhealthy with "database is locked", its dependents
# degraded naming it as root cause, the path marked, and all recovered
# afterwards. The screenshot of the first goes to OUTDIR/status_page.png. chromedriver and Chromium run in their own
# process group, killed at the end.
set -u
bin=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../scripts/lib/services.sh"
svc_init cli-browser
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    [ -f "$SVC_DIR/demo.txt" ] && echo "--- demo output:" && tail -20 "$SVC_DIR/demo.txt"
    [ -f "$SVC_DIR/chromedriver.log" ] && tail -20 "$SVC_DIR/chromedriver.log"
    exit 1
}
port=$(svc_freeport)
cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"maintain_interval_ms": 200, "health_interval_ms": 500, "health_timeout_ms": 1000,
              "failure_threshold": 2},
  "resources": [
    {"id": "orders-db", "driver": "sqlite",
     "config": {"path": "$SVC_DIR/orders.db", "wal": true, "health_check": "write",
                "busy_timeout_ms": 500},
     "pool": {"max_size": 4, "min_idle": 2}},
    {"id": "audit-log", "driver": "sqlite", "config": {"path": "$SVC_DIR/audit.db"},
     "depends_on": ["orders-db"], "pool": {"min_idle": 1}},
    {"id": "tenant-cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["orders-db"]},
    {"id": "reports", "driver": "sqlite", "depends_on": ["audit-log", "tenant-cache"]},
    {"id": "a-resource-with-an-id-as-long-as-ids-may-be-sixty-three-bytes-1", "driver": "sqlite"},
    {"id": "tenant-pools-with-an-id-as-long-as-ids-may-be-sixty-three-byt-2", "driver": "sqlite",
     "partition": "tenant", "depends_on": ["orders-db"]}
  ]
}
JSON
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
svc_wait_for "/readyz" curl -sf "http://127.0.0.1:$port/readyz" || fail "never ready"
dport=$(svc_freeport)
# the outage comes once the browser is up (the checker waits for it first)
"$bin" demo --seconds 150 --threads 4 --port "$dport" --outage-at 15 --outage-for 8 \
    > "$SVC_DIR/demo.txt" 2>&1 &
dpid=$!
svc_track $dpid
svc_wait_for "the demo's /readyz" curl -sf "http://127.0.0.1:$dport/readyz" || fail "demo never ready"

svc_chromedriver || fail "no chromedriver"
/usr/bin/python3 "$here/status_page_check.py" "$SVC_CHROMEDRIVER" \
    "http://127.0.0.1:$port/" "http://127.0.0.1:$dport/" "$SVC_DIR/profile" \
    "$outdir/status_page.png" "$SVC_DIR/orders.db" || fail "the status page check failed"
kill -TERM $pid
wait $pid
[ $? = 0 ] || fail "run did not stop cleanly"
kill -INT $dpid
wait $dpid
[ $? = 0 ] || fail "the demo did not stop cleanly and pass"
echo "ok: status page checked in Chromium; screenshot $outdir/status_page.png"
