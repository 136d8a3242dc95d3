#!/usr/bin/env bash
# run-example.sh uv|event EXAMPLE - run an event-loop example against the
# servers with-postgres.sh (and, for uv, with-redis.sh) started, from their
# NR_TEST_* variables, and check its summary line: every request answered.
set -euo pipefail
kind=$1
prog=$2
pg="{\"host\": \"$NR_TEST_PG_HOST\", \"port\": $NR_TEST_PG_PORT, \"user\": \"$NR_TEST_PG_USER\", \
\"dbname\": \"$NR_TEST_PG_DB\", \"sslmode\": \"disable\"}"
case $kind in
uv)
    redis="{\"host\": \"$NR_TEST_REDIS_HOST\", \"port\": $NR_TEST_REDIS_PORT}"
    out=$(APP_ORDERS_DB_PASSWORD="$NR_TEST_PG_PASSWORD" APP_SESSIONS_PASSWORD="$NR_TEST_REDIS_PASSWORD" \
        "$prog" "$pg" "$redis" 1000)
    ;;
event)
    out=$(NR_PG_PASSWORD="$NR_TEST_PG_PASSWORD" "$prog" "$pg" 1000)
    ;;
*)
    echo "usage: $0 uv|event EXAMPLE" >&2
    exit 2
    ;;
esac
echo "$out"
grep -q '^1000 requests: 1000 answered, 0 failed' <<<"$out"
# uv: every INCR ran once
if [ "$kind" = uv ]; then
    grep -q 'hits counted up to 1000$' <<<"$out"
fi
