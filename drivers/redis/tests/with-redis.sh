#!/usr/bin/env bash
# with-redis.sh - run a test program against its own redis-server.
#
#   with-redis.sh PROGRAM [ARGS...]
#       starts redis-server on a free 127.0.0.1 port (and a unix socket),
#       with requirepass and ACL users, under a temp dir; exports where it
#       is; runs the program; stops the server and removes the dir whatever
#       happens.
#   with-redis.sh ctl stop|start|pause|resume|pid
#       for the test program (through $NR_TEST_REDIS_CTL): kill -9 the server
#       and wait until it is gone / start it again on the same port and wait
#       for PONG / SIGSTOP it / SIGCONT it / print its PID. Works from the
#       state in $SVC_DIR.
#
# Exported to the program:
#   NR_TEST_REDIS_HOST, NR_TEST_REDIS_PORT, NR_TEST_REDIS_SOCKET
#   NR_TEST_REDIS_PASSWORD        password of the default user (requirepass)
#   NR_TEST_REDIS_USER, NR_TEST_REDIS_USER_PASSWORD
#                                 ACL user with every command but the dangerous ones
#   NR_TEST_REDIS_CTL             "<this script> ctl"
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

redis_pid() { cat "$SVC_DIR/redis.pid" 2>/dev/null || true; }

redis_ping() {
    redis-cli -h 127.0.0.1 -p "$(cat "$SVC_DIR/port")" -a "$(cat "$SVC_DIR/password")" \
        --no-auth-warning ping 2>/dev/null | grep -q PONG
}

redis_start() {
    # stdout/stderr away from the caller's pipes: ctest waits for them to close
    redis-server "$SVC_DIR/redis.conf" </dev/null >/dev/null 2>&1 &
    echo $! >"$SVC_DIR/redis.pid"
    svc_wait_for redis-server redis_ping
}

redis_kill() {
    local pid
    pid=$(redis_pid)
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
    svc_wait_gone "$pid" || true
    rm -f "$SVC_DIR/redis.pid"
}

if [ "${1:-}" = ctl ]; then
    # shellcheck source=../../../scripts/lib/services.sh
    source "$here/../../../scripts/lib/services.sh"
    : "${SVC_DIR:?ctl needs SVC_DIR from the wrapper}"
    case "${2:-}" in
    stop) redis_kill ;;
    start) redis_start ;;
    pause) kill -STOP "$(redis_pid)" ;;
    resume) kill -CONT "$(redis_pid)" ;;
    pid) redis_pid ;;
    *)
        echo "usage: $0 ctl stop|start|pause|resume|pid" >&2
        exit 2
        ;;
    esac
    exit 0
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi

# shellcheck source=../../../scripts/lib/services.sh
source "$here/../../../scripts/lib/services.sh"
svc_init redis
svc_on_cleanup redis_kill

port=$(svc_freeport)
password="default-$RANDOM-$RANDOM-pw"
user_password="app-$RANDOM-$RANDOM-pw"
echo "$port" >"$SVC_DIR/port"
echo "$password" >"$SVC_DIR/password"
cat >"$SVC_DIR/redis.conf" <<CONF
bind 127.0.0.1
port $port
unixsocket $SVC_DIR/redis.sock
unixsocketperm 700
daemonize no
save ""
appendonly no
dir $SVC_DIR
logfile $SVC_DIR/redis.log
databases 16
requirepass $password
user appuser on >$user_password ~* &* +@all -@dangerous
CONF
redis_start

export NR_TEST_REDIS_HOST=127.0.0.1
export NR_TEST_REDIS_PORT=$port
export NR_TEST_REDIS_SOCKET=$SVC_DIR/redis.sock
export NR_TEST_REDIS_PASSWORD=$password
export NR_TEST_REDIS_USER=appuser
export NR_TEST_REDIS_USER_PASSWORD=$user_password
# the state dir travels with the command: a wrapper nested inside this one has its own
export NR_TEST_REDIS_CTL="env SVC_DIR=$SVC_DIR $self ctl"

svc_run_program "$SVC_DIR/redis.log" "redis.log (last lines)" "$@"
