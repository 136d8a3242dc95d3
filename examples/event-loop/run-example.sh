#!/usr/bin/env bash
# run-example.sh uv|event EXAMPLE - run an event-loop example against the
# servers with-postgres.sh (and, for uv, with-redis.sh) started, from their
# NR_TEST_* variables, twice:
#   1. 1000 requests: its summary line says every one was answered (and, for
#      uv, that the Redis counter reached 1000: every INCR ran once);
#   2. far more requests than it could answer in the test's time, and a
#      SIGTERM once it serves: it answers what is in flight, takes no more,
#      shuts down cleanly and says every request it took was answered.
set -euo pipefail
kind=$1
prog=$2
pg="{\"host\": \"$NR_TEST_PG_HOST\", \"port\": $NR_TEST_PG_PORT, \"user\": \"$NR_TEST_PG_USER\", \
\"dbname\": \"$NR_TEST_PG_DB\", \"sslmode\": \"disable\"}"
export NR_PG_PASSWORD=$NR_TEST_PG_PASSWORD APP_ORDERS_DB_PASSWORD=$NR_TEST_PG_PASSWORD
case $kind in
uv)
    export APP_SESSIONS_PASSWORD=$NR_TEST_REDIS_PASSWORD
    cmd=("$prog" "$pg" "{\"host\": \"$NR_TEST_REDIS_HOST\", \"port\": $NR_TEST_REDIS_PORT}")
    ;;
event) cmd=("$prog" "$pg") ;;
*)
    echo "usage: $0 uv|event EXAMPLE" >&2
    exit 2
    ;;
esac

out=$("${cmd[@]}" 1000)
echo "$out"
grep -q '^1000 requests: 1000 answered, 0 failed' <<<"$out"
if [ "$kind" = uv ]; then
    grep -q 'hits counted up to 1000$' <<<"$out"
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"${cmd[@]}" 100000000 >"$tmp" &
pid=$!
for _ in $(seq 600); do
    grep -q '^serving' "$tmp" && break
    sleep 0.05
done
grep -q '^serving' "$tmp" || {
    kill -KILL $pid
    echo "the example did not start serving" >&2
    exit 1
}
sleep 0.5
kill -TERM $pid
status=0
wait $pid || status=$?
cat "$tmp"
[ $status -eq 0 ] || {
    echo "the example exited with $status after SIGTERM" >&2
    exit 1
}
# "N requests: N answered, 0 failed" with the same N, fewer than were asked for
grep -Eq '^([1-9][0-9]*) requests: \1 answered, 0 failed' "$tmp"
! grep -q '^100000000 requests' "$tmp"
