#!/bin/bash
# demo_test.sh BIN - the demo serves its status page and endpoints while it
# runs: the printed URL answers /readyz 200, /status has mode "demo", three
# resources, the graph edges, growing step counts, each resource's history
# (cut by ?history=N) and the four tenants of tenant-cache; the demo then
# ends with status 0, a summary table and its own check OK. Its outage (a
# stuck writer holding orders-db's write lock) is told in the summary, in
# order: orders-db unhealthy with "database is locked", the cascade to
# audit-log and tenant-cache, the quarantine, half-open, back in service,
# everything healthy again; and the live output showed the same steps.
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
"$bin" demo --seconds 12 --threads 4 --port "$port" --outage-at 3 --outage-for 8 \
    > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "the demo's /readyz" curl -sf "$url/readyz" || fail "never ready"
grep -qF "status page: $url/" "$SVC_DIR/out.txt" || fail "the URL is not printed"
curl -sf "$url/status" > "$SVC_DIR/s1.json" || fail "no /status"
# until every resource's history holds two samples (one a second; bounded,
# since a sanitizer build on a busy machine may take its samples late)
two_samples() {
    curl -sf "$url/status" > "$SVC_DIR/s2.json" &&
        /usr/bin/python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))["history"]["resources"]
sys.exit(0 if len(h) == 3 and all(len(r["t_ms"]) >= 2 for r in h.values()) else 1)' \
            "$SVC_DIR/s2.json"
}
for _ in $(seq 1 100); do
    two_samples && break
    sleep 0.2
done
curl -sf "$url/status" > "$SVC_DIR/s2.json" || fail "no /status"
curl -sf "$url/status?history=1" > "$SVC_DIR/h1.json" || fail "no /status?history=1"
curl -sf "$url/status?history=0" > "$SVC_DIR/h0.json" || fail "no /status?history=0"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/status?history=x")
[ "$code" = 400 ] || fail "/status?history=x answered $code, not 400"
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
h = b["history"]
assert h["interval_ms"] == 1000 and h["samples"] == 300 and h["left_out"] == 0, h
assert sorted(h["resources"]) == ["audit-log", "orders-db", "tenant-cache"], h
for rid, r in h["resources"].items():
    n = len(r["t_ms"])
    assert n >= 2 and all(len(r[k]) == n for k in ("in_use", "waiters", "acquire_rate", "wait_ms")), r
    assert r["t_ms"] == sorted(r["t_ms"]) and r["t_ms"][0] > 1.6e12, r["t_ms"]
assert max(h["resources"]["orders-db"]["acquire_rate"]) > 0, h["resources"]["orders-db"]
tc = next(r for r in b["resources"] if r["id"] == "tenant-cache")
assert sorted(t["tenant"] for t in tc["tenants"]) == ["acme", "globex", "initech", "umbrella"], tc
assert all(t["pool"]["acquires"] > 0 for t in tc["tenants"]), tc["tenants"]
assert tc["tenants_other"]["count"] == 0, tc["tenants_other"]
assert "tenants" not in next(r for r in b["resources"] if r["id"] == "orders-db")
h1, h0 = (json.load(open(f)) for f in sys.argv[3:5])
assert all(len(r["t_ms"]) == 1 for r in h1["history"]["resources"].values()), h1["history"]
assert "history" not in h0, h0.keys()
' "$SVC_DIR/s1.json" "$SVC_DIR/s2.json" "$SVC_DIR/h1.json" "$SVC_DIR/h0.json" ||
    fail "/status during the demo is not as expected"
wait $pid
[ $? = 0 ] || fail "the demo did not pass"
grep -q "^  resource  *state  *health" "$SVC_DIR/out.txt" || fail "no summary table"
grep -q "=> OK$" "$SVC_DIR/out.txt" || fail "the demo's check is not OK"
# the outage's story, in the summary after the table, in this order
/usr/bin/python3 - "$SVC_DIR/out.txt" <<'PY' || fail "the summary does not tell the cascade and the recovery"
import re, sys
text = open(sys.argv[1]).read()
live, _, summary = text.partition("\noutage: a batch job held the write lock of orders-db from ")
assert summary, "no outage in the summary"
steps = [
    r"\] orders-db healthy -> unhealthy: write lock: database is locked",
    r"\] (audit-log|tenant-cache) healthy -> degraded: depends on orders-db \(unhealthy: write lock",
    r"\] cascade: orders-db degrades (audit-log, tenant-cache|tenant-cache, audit-log)\n",
    r"\] orders-db quarantined until \d\d:\d\d:\d\d \(attempt 1 of 8\)",
    r"\] orders-db half-open: probe \d+ passed; 3 trial acquires",
    r"\] orders-db unhealthy -> healthy",
    r"\] orders-db back in service",
    r"\] everything healthy again",
]
at = 0
for s in steps:
    m = re.compile(s).search(summary, at)
    assert m, "summary lacks, after position %d: %s\n%s" % (at, s, summary)
    at = m.start()
    assert re.search(s, live), "the live output lacks: " + s
m = re.search(r"refused during the outage: (\d+) acquires failed fast, (\d+) writes found", summary)
assert m and int(m.group(1)) > 0, summary
check = re.search(r"check: .* (\d+) errors; every connection closed: yes => OK", summary)
assert check and check.group(1) == "0", summary
PY
echo "ok: demo served its status while running and passed"
