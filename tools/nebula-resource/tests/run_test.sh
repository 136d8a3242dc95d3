#!/bin/bash
# run_test.sh BIN - `nebula-resource run` on a free loopback port with a
# SQLite config: /readyz becomes 200, /healthz answers, /metrics passes
# `promtool check metrics`, /status is JSON with every resource running and
# healthy and the dependency edges, the page is served; SIGTERM gives a
# completed phased shutdown and exit status 0. The file's hooks run: the
# audit file (0600) gets a line per operation, /metrics carries the hook
# metrics, and the credential refresh hook is built on the manager. The
# credential's secret appears in no output, the audit file included.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-run
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    exit 1
}
port=$(svc_freeport)
export NR_CLI_RUN_SECRET=hunter2-run-secret
echo "hunter2-admin-token" > "$SVC_DIR/admin.token"
cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"workers": 2, "maintain_interval_ms": 200, "health_interval_ms": 300},
  "http": {"port": 1, "admin_token": "admin"},
  "credentials": {"token": {"env": "NR_CLI_RUN_SECRET"}, "admin": {"file": "$SVC_DIR/admin.token"}},
  "resources": [
    {"id": "audit-log", "driver": "sqlite", "config": {"path": "$SVC_DIR/audit.db", "wal": true},
     "depends_on": ["orders-db"], "credential": "token"},
    {"id": "orders-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/orders.db"},
     "pool": {"max_size": 4, "min_idle": 2}},
    {"id": "tenant-cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["orders-db"]}
  ],
  "hooks": [
    {"type": "audit", "path": "$SVC_DIR/audit.jsonl"},
    {"type": "metrics", "resource": "orders-*"},
    {"type": "slow_acquire", "threshold_ms": 500},
    {"type": "credential_refresh", "window_ms": 1000}
  ]
}
JSON
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "/readyz of nebula-resource run" curl -sf "$url/readyz" || fail "never ready"

[ "$(curl -s "$url/healthz")" = "ok" ] || fail "/healthz is not ok"
[ "$(curl -s "$url/readyz")" = "ready: all 3 resources running and healthy" ] ||
    fail "/readyz body: $(curl -s "$url/readyz")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")" = 404 ] || fail "/nope is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/status")" = 405 ] ||
    fail "POST is not 405"
# admin actions: POST with the token from the config's credentials
code() { curl -s -o "$SVC_DIR/action.json" -w '%{http_code}' "$@"; }
[ "$(code -X POST "$url/actions/suspend?id=orders-db")" = 401 ] || fail "an action without a token"
[ "$(code -X POST -H 'Authorization: Bearer nope' "$url/actions/suspend?id=orders-db")" = 403 ] ||
    fail "an action with a wrong token"
[ "$(code "$url/actions/suspend?id=orders-db")" = 405 ] || fail "GET of an action is not 405"
[ "$(code -X POST -H 'Authorization: Bearer hunter2-admin-token' \
    "$url/actions/resize?id=orders-db&max_size=6")" = 200 ] || fail "resize: $(cat "$SVC_DIR/action.json")"
grep -qF '"max_size":6' "$SVC_DIR/action.json" || fail "resize reply: $(cat "$SVC_DIR/action.json")"
[ "$(code -X POST -H 'Authorization: Bearer hunter2-admin-token' \
    "$url/actions/resize?id=orders-db&max_size=4")" = 200 ] || fail "resize back"
curl -sf "$url/" > "$SVC_DIR/page.html" || fail "no page"
grep -q '<svg id=.graph' "$SVC_DIR/page.html" || fail "the page has no graph"

curl -sf -D "$SVC_DIR/metrics.head" "$url/metrics" > "$SVC_DIR/metrics.txt" || fail "no /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$SVC_DIR/metrics.head" ||
    fail "wrong metrics content type"
promtool check metrics < "$SVC_DIR/metrics.txt" > "$SVC_DIR/promtool.txt" 2>&1 ||
    { cat "$SVC_DIR/promtool.txt"; fail "promtool check metrics failed"; }
grep -q 'resource="orders-db"' "$SVC_DIR/metrics.txt" || fail "no orders-db series"
grep -q '^nr_hook_ops_total{resource="orders-db",op="create",outcome="ok"} [1-9]' \
    "$SVC_DIR/metrics.txt" || fail "no hook metrics for orders-db's creates"
if grep -q '^nr_hook_ops_total{resource="audit-log"' "$SVC_DIR/metrics.txt"; then
    fail "the metrics hook's filter (orders-*) let audit-log through"
fi

curl -sf "$url/status" > "$SVC_DIR/status.json" || fail "no /status"
/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["program"] == "nebula-resource" and s["mode"] == "run", s
assert s["phase"] == "running" and s["ready"] is True, (s["phase"], s["ready"])
res = {r["id"]: r for r in s["resources"]}
assert list(res) == ["orders-db", "audit-log", "tenant-cache"], list(res)
for r in res.values():
    assert r["state"] == "running" and r["health"] == "healthy", r
    assert r["driver"] == "sqlite"
assert res["orders-db"]["level"] == 0 and res["audit-log"]["level"] == 1
assert res["orders-db"]["pool"]["max_size"] == 4 and res["orders-db"]["pool"]["min_idle"] == 2
assert res["orders-db"]["pool"]["idle"] >= 1
assert res["tenant-cache"]["partition"] == "tenant"
edges = sorted((e["from"], e["to"]) for e in s["edges"])
assert edges == [("audit-log", "orders-db"), ("tenant-cache", "orders-db")], edges
assert res["audit-log"]["depends_on"] == ["orders-db"]
assert s["events"]["counts"].get("created", 0) >= 3, s["events"]
assert any(e["type"] == "created" and e["resource"] == "orders-db" for e in s["events"]["recent"])
print("status ok:", len(res), "resources,", len(edges), "edges")
' "$SVC_DIR/status.json" || fail "/status is not as expected"

kill -TERM $pid
wait $pid
status=$?
[ $status = 0 ] || fail "exit status $status after SIGTERM, expected 0"
out=$SVC_DIR/out.txt
for want in "starting 3 resources in dependency order" \
    "[1/3] orders-db" "[2/3] audit-log" "[3/3] tenant-cache" \
    "ready: 3 resources running" \
    "shutdown: SIGTERM received" \
    "shutdown phase 1/4 lame duck" "shutdown phase 2/4 drain: every lease given back" \
    "shutdown phase 3/4 cleanup" "shutdown phase 4/4 terminate: nothing left out" \
    "shutdown complete in"; do
    grep -qF -- "$want" "$out" || fail "missing in the output: $want"
done
audit=$SVC_DIR/audit.jsonl
[ "$(stat -c %a "$audit")" = 600 ] || fail "audit file mode $(stat -c %a "$audit")"
/usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
ops = {(l["resource"], l["op"], l["outcome"]) for l in lines}
for want in [("orders-db", "create", "ok"), ("audit-log", "create", "ok"),
             ("orders-db", "destroy", "ok"), ("audit-log", "destroy", "ok")]:
    assert want in ops, (want, sorted(ops))
creates = sum(1 for l in lines if l["op"] == "create")
destroys = sum(1 for l in lines if l["op"] == "destroy")
assert creates == destroys, (creates, destroys)  # every connection closed at shutdown
print("audit ok:", len(lines), "lines")
' "$audit" || fail "the audit file is not as expected"
if grep -q hunter2 "$out" "$SVC_DIR"/*.txt "$SVC_DIR/status.json" "$SVC_DIR/page.html" "$audit"; then
    fail "the secret appears in an output"
fi
echo "ok: run served, checked and shut down cleanly"
