#!/bin/bash
# run_bad_test.sh BIN - `run` refuses what it cannot do: an invalid config
# (status 1, every problem listed, nothing started), a resource that cannot
# start (status 1, the failure named, what started shut down again, the
# dependent never started), a resource that runs out of file descriptors
# (EMFILE and the limit named), usage errors (status 2), a port in use
# (status 1).
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-runbad
fail() {
    echo "FAIL: $*"
    [ -f "$SVC_DIR/out.txt" ] && { echo "--- program output:"; cat "$SVC_DIR/out.txt"; }
    exit 1
}
cfg=$SVC_DIR/bad.json
printf '{"resources": [{"id": "a", "driver": "sqlite", "pool": {"max_size": 0}}, {"id": "b"}]}\n' > "$cfg"
"$bin" run "$cfg" --port 0 > "$SVC_DIR/out.txt" 2>&1
[ $? = 1 ] || fail "invalid config: status is not 1"
grep -qF "bad.json:1:69: resources[0].pool.max_size: must be between 1 and 1000000 (got 0)" "$SVC_DIR/out.txt" ||
    fail "invalid config: max_size problem not reported"
grep -qF "resources[1].driver: is required" "$SVC_DIR/out.txt" || fail "missing driver not reported"
grep -qF "invalid: 2 problems; nothing started" "$SVC_DIR/out.txt" || fail "no summary"
grep -q "listening" "$SVC_DIR/out.txt" && fail "invalid config: something started"

cat > "$SVC_DIR/fails.json" <<JSON
{
  "resources": [
    {"id": "good", "driver": "sqlite", "config": {"path": "$SVC_DIR/good.db"}, "pool": {"min_idle": 1}},
    {"id": "broken", "driver": "sqlite", "depends_on": ["good"],
     "config": {"path": "$SVC_DIR/no/such/dir/x.db"}, "pool": {"min_idle": 1}},
    {"id": "after", "driver": "sqlite", "depends_on": ["broken"]}
  ]
}
JSON
"$bin" run "$SVC_DIR/fails.json" --port 0 > "$SVC_DIR/out.txt" 2>&1
status=$?
[ $status = 1 ] || fail "failed start: status $status, expected 1"
grep -qE '\[1/3\] good +sqlite +running' "$SVC_DIR/out.txt" || fail "good did not start"
grep -qE '\[2/3\] broken +sqlite +FAILED after .*: NR_EUNAVAIL: .*broken' "$SVC_DIR/out.txt" ||
    fail "the failure of broken is not named"
grep -q '\[3/3\]' "$SVC_DIR/out.txt" && fail "after was started although broken failed"
grep -qF "shutdown complete in" "$SVC_DIR/out.txt" || fail "no shutdown after the failed start"
grep -qF "(after a failed start)" "$SVC_DIR/out.txt" || fail "shutdown does not say why"

# out of file descriptors: the failure names EMFILE and the limit, not only
# SQLite's "unable to open database file"
cat > "$SVC_DIR/fds.json" <<JSON
{"resources": [{"id": "many", "driver": "sqlite", "config": {"path": "$SVC_DIR/many.db"},
                "pool": {"min_idle": 40, "max_size": 40}}]}
JSON
(ulimit -Sn 24 && exec "$bin" run "$SVC_DIR/fds.json" --port 0) > "$SVC_DIR/out.txt" 2>&1
status=$?
[ $status = 1 ] || fail "out of descriptors: status $status, expected 1"
grep -qE "\[1/1\] many +sqlite +FAILED after .*: NR_EUNAVAIL: .*sqlite 'many': opening '.*many.db' failed: unable to open database file: .* \(EMFILE: the RLIMIT_NOFILE limit of this process is 24 open files, hard limit [0-9a-z]+\)$" \
    "$SVC_DIR/out.txt" || fail "out of descriptors: EMFILE and the limit not named"

"$bin" run > /dev/null 2>&1
[ $? = 2 ] || fail "run without CONFIG: status is not 2"
"$bin" run "$cfg" --port 70000 > /dev/null 2>&1
[ $? = 2 ] || fail "run --port 70000: status is not 2"
"$bin" run "$cfg" --frobnicate > /dev/null 2>&1
[ $? = 2 ] || fail "run --frobnicate: status is not 2"

# a port that is taken
port=$(svc_freeport)
printf '{"resources": [{"id": "a", "driver": "sqlite"}]}\n' > "$SVC_DIR/one.json"
"$bin" run "$SVC_DIR/one.json" --port "$port" > "$SVC_DIR/first.txt" 2>&1 &
pid=$!
svc_track $pid
svc_wait_for "/readyz" curl -sf "http://127.0.0.1:$port/readyz" || fail "first instance not ready"
"$bin" run "$SVC_DIR/one.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1
[ $? = 1 ] || fail "second instance on the same port: status is not 1"
grep -qF "admin: cannot listen on 127.0.0.1 port $port" "$SVC_DIR/out.txt" || fail "no listen error"
"$bin" run "$SVC_DIR/one.json" --port 0 --listen nowhere > "$SVC_DIR/out.txt" 2>&1
[ $? = 1 ] || fail "--listen nowhere: status is not 1"
grep -qF "listen address 'nowhere' is not an IPv4 or IPv6 address" "$SVC_DIR/out.txt" ||
    fail "bad address not reported"
kill -TERM $pid
wait $pid
[ $? = 0 ] || fail "first instance did not stop cleanly"
echo "ok: run refuses bad configs, failed starts, bad usage and taken ports"
