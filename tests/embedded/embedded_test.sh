#!/bin/bash
# embedded_test.sh BIN OUTDIR - run embedded_server (BIN) against the
# PostgreSQL and Redis the wrappers started (NR_TEST_PG_*, NR_TEST_REDIS_*),
# with its config file written here, then check it from outside: /readyz,
# /metrics, the admin actions (refused without the token, acting with it),
# and its status page in headless Chromium (embedded_page_check.py:
# sparklines that move under load, tenant rows, an action from the page, and
# a PostgreSQL outage that degrades what depends on it, shown with its root
# cause, then the recovery).
# The passwords and the admin token must appear in no output.
set -u
bin=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/services.sh"
svc_init embedded-admin
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    [ -f "$SVC_DIR/chromedriver.log" ] && tail -20 "$SVC_DIR/chromedriver.log"
    exit 1
}
token="adm-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" > "$SVC_DIR/admin.token"
export EMB_PG_PASSWORD=$NR_TEST_PG_PASSWORD EMB_REDIS_PASSWORD=$NR_TEST_REDIS_PASSWORD
cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"maintain_interval_ms": 200, "health_interval_ms": 300, "failure_threshold": 2,
              "recovery_threshold": 2, "quarantine_after": 3, "quarantine_base_ms": 300,
              "quarantine_max_ms": 900, "quarantine_max_attempts": 100, "quarantine_trials": 2},
  "http": {"listen": "127.0.0.1", "port": 0, "admin_token": "admin"},
  "credentials": {
    "pg": {"env": "EMB_PG_PASSWORD"},
    "redis": {"env": "EMB_REDIS_PASSWORD"},
    "admin": {"file": "$SVC_DIR/admin.token"}
  },
  "resources": [
    {"id": "orders-db", "driver": "postgres", "credential": "pg",
     "config": {"host": "$NR_TEST_PG_HOST", "port": $NR_TEST_PG_PORT, "user": "$NR_TEST_PG_USER",
                "dbname": "$NR_TEST_PG_DB", "sslmode": "disable"},
     "pool": {"max_size": 4, "min_idle": 1, "create_backoff_max_ms": 300}},
    {"id": "sessions", "driver": "redis", "credential": "redis", "partition": "tenant",
     "depends_on": ["orders-db"],
     "config": {"host": "$NR_TEST_REDIS_HOST", "port": $NR_TEST_REDIS_PORT},
     "pool": {"max_size": 2}}
  ]
}
JSON
"$bin" "$SVC_DIR/config.json" "$SVC_DIR/port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
svc_wait_for "the admin port" test -s "$SVC_DIR/port" || fail "no admin port"
url=http://127.0.0.1:$(cat "$SVC_DIR/port")
svc_wait_for "/readyz" curl -sf "$url/readyz" || fail "never ready: $(curl -s "$url/readyz")"

curl -sf "$url/metrics" > "$SVC_DIR/metrics.txt" || fail "no /metrics"
grep -q 'nr_pool_acquires_total{resource="orders-db"' "$SVC_DIR/metrics.txt" ||
    fail "no orders-db acquire counter"
grep -q 'resource="sessions",scope="tenant:acme"' "$SVC_DIR/metrics.txt" ||
    fail "no per-tenant series for sessions"

code() { curl -s -o "$SVC_DIR/action.json" -w '%{http_code}' "$@"; }
[ "$(code -X POST "$url/actions/suspend?id=orders-db")" = 401 ] || fail "no token: not 401"
[ "$(code -X POST -H 'Authorization: Bearer wrong' "$url/actions/suspend?id=orders-db")" = 403 ] ||
    fail "a wrong token: not 403"
[ "$(code -X POST -H "Authorization: Bearer $token" "$url/actions/evict?id=orders-db")" = 200 ] ||
    fail "evict with the token: $(cat "$SVC_DIR/action.json")"

svc_chromedriver || fail "no chromedriver"
/usr/bin/python3 "$here/embedded_page_check.py" "$SVC_CHROMEDRIVER" "$url/" \
    "$SVC_DIR/profile" "$outdir/embedded_page.png" "$token" "$pid" ||
    fail "the status page check failed"

kill -TERM $pid
wait $pid
status=$?
[ $status = 0 ] || fail "exit status $status (failed operations under load?)"
grep -q "outage begins" "$SVC_DIR/out.txt" && grep -q "outage ends" "$SVC_DIR/out.txt" ||
    fail "the outage was not announced to the program"
grep -q "^embedded_server: 0 acquires came back more than" "$SVC_DIR/out.txt" ||
    fail "an acquire hung past its deadline"
for secret in "$NR_TEST_PG_PASSWORD" "$NR_TEST_REDIS_PASSWORD" "$token"; do
    if grep -rqF -- "$secret" "$SVC_DIR/out.txt" "$SVC_DIR/metrics.txt" "$SVC_DIR/action.json"; then
        fail "a secret appears in an output"
    fi
done
echo "ok: embedded server checked from outside and in Chromium; screenshot $outdir/embedded_page.png"
