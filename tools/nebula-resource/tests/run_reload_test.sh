#!/bin/bash
# run_reload_test.sh BIN - `nebula-resource run` reloads its file: on SIGHUP
# and on the admin server's reload action. A reload adds a new resource,
# removes a deleted one, changes a pool size in place, gives a resource a
# new pool for a changed driver config, leaves the rest alone and rotates a
# credential whose value changed; /status shows the result. A file with a
# problem, and a change to a section that cannot change while running,
# change nothing and say why. The secret appears in no output.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-reload
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    exit 1
}
port=$(svc_freeport)
echo "hunter2-admin-token" > "$SVC_DIR/admin.token"
echo "first-secret-value" > "$SVC_DIR/db.secret"
write() { # busy_timeout_ms of orders-db, max_size of audit-log, whether tenant-cache exists, extra
    local cache=""
    [ "$3" = yes ] && cache=',
    {"id": "tenant-cache", "driver": "sqlite", "partition": "tenant", "depends_on": ["orders-db"]}'
    cat > "$SVC_DIR/config.json.new" <<JSON
{
  "manager": {"workers": 2, "maintain_interval_ms": 100, "health_interval_ms": 300},
  "http": {"port": 1, "admin_token": "admin"},
  "credentials": {"admin": {"file": "$SVC_DIR/admin.token"}, "db": {"file": "$SVC_DIR/db.secret"}},
  "resources": [
    {"id": "orders-db", "driver": "sqlite", "credential": "db",
     "config": {"path": "$SVC_DIR/orders.db", "busy_timeout_ms": $1},
     "pool": {"max_size": 4, "min_idle": 1}},
    {"id": "audit-log", "driver": "sqlite", "config": {"path": "$SVC_DIR/audit.db"},
     "depends_on": ["orders-db"], "pool": {"max_size": $2}}$cache$4
  ]
}
JSON
    mv "$SVC_DIR/config.json.new" "$SVC_DIR/config.json"
}
write 5000 4 yes ""
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "/readyz of nebula-resource run" curl -sf "$url/readyz" || fail "never ready"
grep -q "SIGHUP to reload" "$SVC_DIR/out.txt" || fail "run does not say that SIGHUP reloads"

wait_line() { # text: wait until the output has it (bounded)
    for _ in $(seq 1 200); do
        grep -qF "$1" "$SVC_DIR/out.txt" && return 0
        sleep 0.05
    done
    fail "no line '$1' in the output"
}
status() { curl -sf "$url/status"; }
max_of() { status | python3 -c "import json,sys; d=json.load(sys.stdin); print([r for r in d['resources'] if r['id']=='$1'][0]['pool']['max_size'])"; }
has() { status | python3 -c "import json,sys; d=json.load(sys.stdin); print('$1' in [r['id'] for r in d['resources']])"; }

# 1. SIGHUP: audit-log grows in place, orders-db gets a new pool (config), tenant-cache goes,
#    report-db comes, the db secret changed.
echo "second-secret-value" > "$SVC_DIR/db.secret"
write 7000 6 no ',
    {"id": "report-db", "driver": "sqlite", "config": {"path": "'"$SVC_DIR"'/report.db"}, "depends_on": ["orders-db"]}'
kill -HUP $pid
wait_line "reload: done"
grep -qF "reload: SIGHUP: re-reading" "$SVC_DIR/out.txt" || fail "no reload start line"
grep -qF "  removed tenant-cache" "$SVC_DIR/out.txt" || fail "tenant-cache not removed"
grep -qF "  added report-db (sqlite)" "$SVC_DIR/out.txt" || fail "report-db not added"
grep -qF "  reloaded audit-log: in place: pool.max_size 4 -> 6" "$SVC_DIR/out.txt" ||
    fail "audit-log not resized in place"
grep -qF "  reloaded orders-db: new pool: config" "$SVC_DIR/out.txt" ||
    fail "orders-db did not get a new pool"
grep -qF "  credential db changed: rotated into 1 resource(s)" "$SVC_DIR/out.txt" || fail "the credential was not rotated"
grep -qF "1 added, 1 removed, 2 reloaded, 0 unchanged, 1 credential(s) rotated, 0 failed" \
    "$SVC_DIR/out.txt" || fail "wrong totals"
[ "$(max_of audit-log)" = 6 ] || fail "/status: audit-log max_size is $(max_of audit-log)"
[ "$(has tenant-cache)" = False ] || fail "/status still lists tenant-cache"
[ "$(has report-db)" = True ] || fail "/status lacks report-db"
svc_wait_for "/readyz after the reload" curl -sf "$url/readyz" || fail "not ready after the reload"
# the status page's events show the reloads, with what changed
reloaded_text() { status | python3 -c "import json,sys; d=json.load(sys.stdin); print([e.get('text','') for e in d['events']['recent'] if e['type']=='reloaded' and e.get('resource')=='$1'])"; }
case "$(reloaded_text audit-log)" in *"in place: pool.max_size 4 -> 6"*) ;; *) fail "/status events lack audit-log's reload: $(reloaded_text audit-log)" ;; esac
case "$(reloaded_text orders-db)" in *"new pool: config"*) ;; *) fail "/status events lack orders-db's reload: $(reloaded_text orders-db)" ;; esac

# 2. the admin action, with the token: nothing changed this time
code() { curl -s -o "$SVC_DIR/action.json" -w '%{http_code}' "$@"; }
[ "$(code -X POST "$url/actions/reload")" = 401 ] || fail "reload without a token"
[ "$(code -X POST -H 'Authorization: Bearer hunter2-admin-token' "$url/actions/reload")" = 200 ] ||
    fail "reload action: $(cat "$SVC_DIR/action.json")"
grep -qF '0 added, 0 removed, 0 reloaded, 3 unchanged, 0 credential(s) rotated, 0 failed' \
    "$SVC_DIR/action.json" || fail "reload action summary: $(cat "$SVC_DIR/action.json")"

# 3. a file with a problem changes nothing, and says where
sed -i 's/"max_size": 6/"max_size": 0/' "$SVC_DIR/config.json"
[ "$(code -X POST -H 'Authorization: Bearer hunter2-admin-token' "$url/actions/reload")" = 400 ] ||
    fail "a bad file: $(cat "$SVC_DIR/action.json")"
grep -qF 'max_size' "$SVC_DIR/action.json" || fail "the problem is not named: $(cat "$SVC_DIR/action.json")"
grep -qF 'nothing changed' "$SVC_DIR/action.json" || fail "no 'nothing changed'"
[ "$(max_of audit-log)" = 6 ] || fail "a bad file changed audit-log"

# 4. a section that cannot change while running
write 7000 6 no ""
sed -i 's/"workers": 2/"workers": 3/' "$SVC_DIR/config.json"
kill -HUP $pid
wait_line 'the "manager" section changed'
[ "$(has report-db)" = True ] || fail "a refused reload removed report-db"

grep -q "second-secret-value\|first-secret-value\|hunter2-admin-token" "$SVC_DIR/out.txt" &&
    fail "a secret in the output"
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "shutdown complete" "$SVC_DIR/out.txt" || fail "no completed shutdown"
echo "run reload: SIGHUP and the admin action reload the file"
