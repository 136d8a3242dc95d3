#!/usr/bin/env bash
# with-two-redis.sh PROGRAM [ARGS...] - run a test program against two
# redis-servers of its own, each started by with-redis.sh (nested).
#
# Exported to the program: the inner server as with-redis.sh exports it
# (NR_TEST_REDIS_*), and the outer one under NR_TEST_REDIS_A_* (HOST, PORT,
# PASSWORD, CTL), saved before the inner wrapper sets NR_TEST_REDIS_* again.
# Each CTL carries its own SVC_DIR, so the program stops and starts each
# server on its own.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

if [ "${1:-}" = --inner ]; then
    shift
    export NR_TEST_REDIS_A_HOST=$NR_TEST_REDIS_HOST
    export NR_TEST_REDIS_A_PORT=$NR_TEST_REDIS_PORT
    export NR_TEST_REDIS_A_PASSWORD=$NR_TEST_REDIS_PASSWORD
    export NR_TEST_REDIS_A_CTL=$NR_TEST_REDIS_CTL
    exec "$here/with-redis.sh" "$@"
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi
exec "$here/with-redis.sh" "$self" --inner "$@"
