#!/bin/bash
# browser_test.sh BIN OUTDIR - the status page in a real browser: starts
# `nebula-resource run` with four SQLite resources on three dependency
# levels, then headless Chromium driven by chromedriver (W3C WebDriver over
# plain HTTP, see status_page_check.py) loads /, waits for the graph drawn
# from /status and checks it; the screenshot goes to OUTDIR/status_page.png.
# chromedriver and Chromium run in their own process group, killed at the end.
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
    [ -f "$SVC_DIR/chromedriver.log" ] && tail -20 "$SVC_DIR/chromedriver.log"
    exit 1
}
for tool in chromium chromedriver; do
    command -v $tool > /dev/null || fail "$tool is not installed (Debian: chromium chromium-driver)"
done
port=$(svc_freeport)
cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"maintain_interval_ms": 200, "health_interval_ms": 500},
  "resources": [
    {"id": "orders-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/orders.db"},
     "pool": {"max_size": 4, "min_idle": 2}},
    {"id": "audit-log", "driver": "sqlite", "config": {"path": "$SVC_DIR/audit.db"},
     "depends_on": ["orders-db"], "pool": {"min_idle": 1}},
    {"id": "tenant-cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["orders-db"]},
    {"id": "reports", "driver": "sqlite", "depends_on": ["audit-log", "tenant-cache"]}
  ]
}
JSON
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
svc_wait_for "/readyz" curl -sf "http://127.0.0.1:$port/readyz" || fail "never ready"

cdport=$(svc_freeport)
setsid chromedriver --port="$cdport" > "$SVC_DIR/chromedriver.log" 2>&1 &
cdpid=$!
# chromedriver leads its own process group: Chromium and its helpers are in it
svc_on_cleanup "kill -TERM -- -$cdpid; sleep 0.5; kill -KILL -- -$cdpid"
svc_wait_for "chromedriver" curl -sf "http://127.0.0.1:$cdport/status" || fail "no chromedriver"

/usr/bin/python3 "$here/status_page_check.py" "http://127.0.0.1:$cdport" \
    "http://127.0.0.1:$port/" "$SVC_DIR/profile" "$outdir/status_page.png" ||
    fail "the status page check failed"
kill -TERM $pid
wait $pid
[ $? = 0 ] || fail "run did not stop cleanly"
echo "ok: status page checked in Chromium; screenshot $outdir/status_page.png"
