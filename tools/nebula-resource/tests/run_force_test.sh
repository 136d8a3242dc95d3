#!/bin/bash
# run_force_test.sh BIN - a second signal forces the shutdown: with a lame
# duck phase of 60 s, SIGTERM starts the shutdown (/readyz then answers 503
# "shutting down" while /healthz still answers 200), and SIGINT during it
# ends the program at once with status 130 and a message saying so.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-force
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    exit 1
}
port=$(svc_freeport)
cat > "$SVC_DIR/config.json" <<JSON
{
  "shutdown": {"grace_ms": 60000},
  "resources": [
    {"id": "db", "driver": "sqlite", "config": {"path": "$SVC_DIR/db.sqlite"}, "pool": {"min_idle": 1}}
  ]
}
JSON
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "/readyz" curl -sf "$url/readyz" || fail "never ready"
kill -TERM $pid
svc_wait_for "the lame duck phase" grep -q "shutdown phase 1/4 lame duck" "$SVC_DIR/out.txt" ||
    fail "no lame duck phase"
code=$(curl -s -o "$SVC_DIR/readyz.txt" -w '%{http_code}' "$url/readyz")
[ "$code" = 503 ] || fail "/readyz gave $code during the shutdown, expected 503"
[ "$(cat "$SVC_DIR/readyz.txt")" = "not ready: shutting down" ] ||
    fail "/readyz said: $(cat "$SVC_DIR/readyz.txt")"
[ "$(curl -s "$url/healthz")" = ok ] || fail "/healthz not ok during the shutdown"
start=$(date +%s)
kill -INT $pid
wait $pid
status=$?
took=$(($(date +%s) - start))
[ $status = 130 ] || fail "exit status $status after the second signal, expected 130"
[ $took -lt 30 ] || fail "the forced exit took $took s: it waited for the lame duck phase"
grep -qF "shutdown: second SIGINT: forcing the shutdown" "$SVC_DIR/out.txt" ||
    fail "no message about the forced shutdown"
grep -qF "shutdown forced by a second signal" "$SVC_DIR/out.txt" || fail "no final forced line"
if grep -q "shutdown complete" "$SVC_DIR/out.txt"; then
    fail "a forced shutdown must not say it completed"
fi
echo "ok: the second signal forced the exit (status $status)"
