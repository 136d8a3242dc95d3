#!/usr/bin/env bash
# with-memcached.sh - run a test program against its own memcached.
#
#   with-memcached.sh PROGRAM [ARGS...]
#       starts memcached on a free 127.0.0.1 port (TCP only, no UDP) under a
#       temp dir, exports where it is, runs the program, and stops the
#       server and removes the dir whatever happens.
#   with-memcached.sh ctl stop|start|pid
#       for the test program (through $NR_TEST_MEMCACHED_CTL): kill -9 the
#       server and wait until it is gone / start it again on the same port
#       and wait until it answers / print its PID.
#
# Exported to the program:
#   NR_TEST_MEMCACHED_HOST, NR_TEST_MEMCACHED_PORT
#   NR_TEST_MEMCACHED_CLOSED_PORT a 127.0.0.1 port nothing listens on
#   NR_TEST_MEMCACHED_CTL         "<this script> ctl" with the state dir
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"

mc_pid() { cat "$SVC_DIR/memcached.pid" 2>/dev/null || true; }

# "version" answered: the server takes connections.
mc_ping() {
    exec 3<>"/dev/tcp/127.0.0.1/$(cat "$SVC_DIR/port")" || return 1
    printf 'version\r\n' >&3
    local line
    read -r -t 2 line <&3 || { exec 3>&-; return 1; }
    exec 3>&-
    [[ $line == VERSION* ]]
}

mc_start() {
    local user=()
    # memcached refuses to run as root without a user to switch to
    [ "$(id -u)" -eq 0 ] && user=(-u nobody)
    memcached "${user[@]}" -l 127.0.0.1 -p "$(cat "$SVC_DIR/port")" -U 0 -m 16 -c 256 \
        </dev/null >>"$SVC_DIR/memcached.log" 2>&1 &
    echo $! >"$SVC_DIR/memcached.pid"
    disown # killed by `ctl stop` from another process: no "Killed" notice here
    svc_wait_for memcached mc_ping
}

mc_kill() {
    local pid
    pid=$(mc_pid)
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null || true
    svc_wait_gone "$pid" || true
    rm -f "$SVC_DIR/memcached.pid"
}

# shellcheck source=../../scripts/lib/services.sh
source "$here/../../scripts/lib/services.sh"

if [ "${1:-}" = ctl ]; then
    : "${SVC_DIR:?ctl needs SVC_DIR from the wrapper}"
    case "${2:-}" in
    stop) mc_kill ;;
    start) mc_start ;;
    pid) mc_pid ;;
    *)
        echo "usage: $0 ctl stop|start|pid" >&2
        exit 2
        ;;
    esac
    exit 0
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi
if ! command -v memcached >/dev/null; then
    echo "memcached is not installed (Debian: memcached)" >&2
    exit 1
fi

svc_init memcached
svc_on_cleanup mc_kill
svc_freeport >"$SVC_DIR/port"
mc_start

export NR_TEST_MEMCACHED_HOST=127.0.0.1
export NR_TEST_MEMCACHED_PORT
NR_TEST_MEMCACHED_PORT=$(cat "$SVC_DIR/port")
export NR_TEST_MEMCACHED_CLOSED_PORT
NR_TEST_MEMCACHED_CLOSED_PORT=$(svc_freeport)
export NR_TEST_MEMCACHED_CTL="env SVC_DIR=$SVC_DIR $self ctl"

svc_run_program "$SVC_DIR/memcached.log" "memcached.log (last lines)" "$@"
