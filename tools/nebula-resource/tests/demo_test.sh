#!/bin/bash
# demo_test.sh BIN - the demo serves its status page and endpoints while it
# runs: the printed URL answers /readyz 200, /status has mode "demo", three
# resources, the graph edges and growing step counts; the demo then ends
# with status 0, a summary table and its own check OK.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-demo
fail() {
    echo "FAIL: $*"
    cat "$SVC_DIR/out.txt"
    exit 1
}
port=$(svc_freeport)
"$bin" demo --seconds 4 --threads 4 --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "the demo's /readyz" curl -sf "$url/readyz" || fail "never ready"
grep -qF "status page: $url/" "$SVC_DIR/out.txt" || fail "the URL is not printed"
curl -sf "$url/status" > "$SVC_DIR/s1.json" || fail "no /status"
sleep 1
curl -sf "$url/status" > "$SVC_DIR/s2.json" || fail "no /status"
curl -sf "$url/metrics" | promtool check metrics > /dev/null 2>&1 || fail "metrics invalid"
/usr/bin/python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert b["mode"] == "demo" and b["ready"] is True, b
# in start order: by dependency level, then registration order
assert [r["id"] for r in b["resources"]] == ["orders-db", "tenant-cache", "audit-log"]
assert sorted((e["from"], e["to"]) for e in b["edges"]) == [
    ("audit-log", "orders-db"), ("tenant-cache", "orders-db")]
assert b["demo"]["steps"] > a["demo"]["steps"] >= 0, (a["demo"], b["demo"])
assert b["demo"]["errors"] == 0 and b["note"].startswith("["), b["note"]
' "$SVC_DIR/s1.json" "$SVC_DIR/s2.json" || fail "/status during the demo is not as expected"
wait $pid
[ $? = 0 ] || fail "the demo did not pass"
grep -q "^  resource  *state  *health" "$SVC_DIR/out.txt" || fail "no summary table"
grep -q "=> OK$" "$SVC_DIR/out.txt" || fail "the demo's check is not OK"
echo "ok: demo served its status while running and passed"
