#!/bin/bash
# bench_reload_test.sh BIN - `bench` runs through a reload of every kind and
# no acquire fails. Six threads acquire `db` (max_size 4, so some always
# wait; acquire_timeout_ms 2000, so a failure is a lost acquire, not a slow
# machine) while the file is rewritten and SIGHUP sent, one step at a time,
# each waited for (bounded) by its reload line:
#   1. in place: db's max_size 4 -> 3 and min_idle 1 -> 2
#   2. new pool: db's driver config (busy_timeout_ms) changed
#   3. unchanged: the same file again
#   4. a resource added, 5. then removed again
#   6. the credential db uses (a file source) changed: rotated into db
#   7. a file that fails `check`: nothing changes, the line says why, the
#      bench goes on
#   8. the good file again: every resource unchanged (7 changed nothing)
# Then a SIGINT ends it; the report must say 0 errors, 8 reloads of the
# kinds above, and acquires after the last one. A second run reloads an
# unchanged file every 100 ms (--reload-every). The secret is in no output.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-bench-reload
out=$SVC_DIR/out.txt
fail() {
    echo "FAIL: $*"
    echo "--- bench output:"
    cat "$out"
    exit 1
}
echo "first-secret-value" > "$SVC_DIR/pw.secret"
write() { # max_size min_idle busy_timeout_ms extra-resource(yes/no) [bad]
    local extra="" max=$1
    [ "$4" = yes ] && extra=',
    {"id": "extra", "driver": "sqlite", "config": {"path": "'"$SVC_DIR"'/extra.db"}}'
    [ "${5:-}" = bad ] && max=0
    cat > "$SVC_DIR/bench.json.new" <<JSON
{
  "manager": {"workers": 2, "maintain_interval_ms": 100, "health_interval_ms": 1000},
  "credentials": {"pw": {"file": "$SVC_DIR/pw.secret"}},
  "resources": [
    {"id": "db", "driver": "sqlite", "credential": "pw",
     "config": {"path": "$SVC_DIR/db.sqlite", "busy_timeout_ms": $3},
     "pool": {"max_size": $max, "min_idle": $2, "acquire_timeout_ms": 2000}},
    {"id": "side", "driver": "sqlite", "config": {"path": "$SVC_DIR/side.db"}}$extra
  ]
}
JSON
    mv "$SVC_DIR/bench.json.new" "$SVC_DIR/bench.json"
}

# wait_line TEXT: until the output has the line (fixed text), polled for at most 60 s
# (sanitizer builds are slow; a reload normally takes milliseconds)
wait_line() {
    local _
    for _ in $(seq 1 1200); do
        grep -qF -- "$1" "$out" && return 0
        kill -0 $pid 2> /dev/null || break
        sleep 0.05
    done
    fail "no line '$1' in the output"
}
n=0
# reload WHAT LINE...: send SIGHUP, wait for the bench's line after reload
# n, check it lost nothing so far, then that the output has each LINE
reload() {
    local what=$1
    shift
    n=$((n + 1))
    kill -HUP $pid
    wait_line "bench: reload $n at "
    grep -E "^bench: reload $n at .* [0-9]+ acquires, 0 failed so far$" "$out" > /dev/null ||
        fail "step $n ($what): acquires failed: $(grep "^bench: reload $n at" "$out")"
    local l
    for l in "$@"; do
        grep -qF -- "$l" "$out" || fail "step $n ($what): no line '$l'"
    done
}

write 4 1 5000 no
"$bin" bench "$SVC_DIR/bench.json" --resource db --threads 6 --seconds 120 \
    --hold-us 200 > "$out" 2>&1 &
pid=$!
svc_track $pid
wait_line "SIGHUP to reload $SVC_DIR/bench.json"

write 3 2 5000 no
reload "in place" "  reloaded db: in place: pool.min_idle 1 -> 2, pool.max_size 4 -> 3" \
    "0 added, 0 removed, 1 reloaded, 1 unchanged, 0 credential(s) rotated, 0 failed"
write 3 2 6000 no
reload "new pool" "  reloaded db: new pool: config" \
    "0 added, 0 removed, 1 reloaded, 1 unchanged, 0 credential(s) rotated, 0 failed"
write 3 2 6000 no
reload "unchanged" "0 added, 0 removed, 0 reloaded, 2 unchanged, 0 credential(s) rotated, 0 failed"
write 3 2 6000 yes
reload "added" "  added extra (sqlite)" \
    "1 added, 0 removed, 0 reloaded, 2 unchanged, 0 credential(s) rotated, 0 failed"
write 3 2 6000 no
reload "removed" "  removed extra" \
    "0 added, 1 removed, 0 reloaded, 2 unchanged, 0 credential(s) rotated, 0 failed"
echo "second-secret-value" > "$SVC_DIR/pw.secret"
reload "credential" "  credential pw changed: rotated into 1 resource(s)" \
    "0 added, 0 removed, 0 reloaded, 2 unchanged, 1 credential(s) rotated, 0 failed"
write 3 2 6000 no bad
reload "bad file" "resources[0].pool.max_size: must be between 1 and 1000000 (got 0)" \
    "bench.json: invalid: 1 problem; nothing changed" \
    "reload: NR_ECONFIG: reload of $SVC_DIR/bench.json: the file has problems; nothing changed"
write 3 2 6000 no
reload "restored" "0 added, 0 removed, 0 reloaded, 2 unchanged, 0 credential(s) rotated, 0 failed"
[ "$(grep -c '^reload: done$' "$out")" = 7 ] || fail "not 7 reloads done"

sleep 0.3 # a few more acquires after the last reload
kill -INT $pid
wait $pid
status=$?
[ $status = 0 ] || fail "bench: status $status, expected 0"
grep -qF "stopped early by SIGINT" "$out" || fail "not stopped by the SIGINT"
grep -qE '^  acquires +[1-9][0-9]* ' "$out" || fail "no acquires"
grep -qE '^  errors +0$' "$out" || fail "acquires failed"
grep -qxF "  reloads        8 (7 applied, 1 refused, 0 with failed steps): 1 in place, 1 new pool, 0 recorded, 12 unchanged, 1 added, 1 removed, 1 credential(s) rotated, 0 failed" \
    "$out" || fail "wrong reload totals"
grep -qE '^  after reloads  [1-9][0-9]* acquires, 0 failed since the last reload \(at [0-9.]+ s\)$' \
    "$out" || fail "no acquires after the last reload"
grep -q "second-secret-value\|first-secret-value" "$out" && fail "a secret in the output"
grep -E '^  (acquires|latency|errors|reloads|after reloads|pool) ' "$out"

# --reload-every: an unchanged file re-read every 100 ms for 2 s
"$bin" bench "$SVC_DIR/bench.json" --resource db --threads 3 --seconds 2 --reload-every 100 \
    > "$out" 2>&1
[ $? = 0 ] || fail "bench --reload-every: status is not 0"
grep -qxF "reloading $SVC_DIR/bench.json on SIGHUP and every 100 ms" "$out" ||
    fail "--reload-every: no first line"
grep -qF "reload: every 100 ms: re-reading $SVC_DIR/bench.json" "$out" ||
    fail "--reload-every: no reload line"
grep -qE '^  errors +0$' "$out" || fail "--reload-every: acquires failed"
grep -qE '^  reloads        ([3-9]|[1-9][0-9]+) \(([3-9]|[1-9][0-9]+) applied, 0 refused, 0 with failed steps\): 0 in place, 0 new pool, 0 recorded, [1-9][0-9]* unchanged, 0 added, 0 removed, 0 credential\(s\) rotated, 0 failed$' \
    "$out" || fail "--reload-every: not 3 or more unchanged reloads"
echo "ok: bench through reloads of every kind, no acquire failed"
