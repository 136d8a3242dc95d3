#!/usr/bin/env bash
# with-postgres.sh - run a test program against a throwaway PostgreSQL 15
# cluster (initdb + pg_ctl under $SVC_DIR, 127.0.0.1 on a free port).
#
#   with-postgres.sh PROGRAM [ARGS...]   start the cluster, run PROGRAM, stop
#   with-postgres.sh ctl stop            crash stop (pg_ctl -m immediate), then wait
#                                        until the postmaster is gone from /proc
#   with-postgres.sh ctl start           start the cluster again on the same port
#   with-postgres.sh ctl sigstop|sigcont freeze / thaw the postmaster alone (SIGSTOP/SIGCONT):
#                                        new connections hang, existing backends still answer
#   with-postgres.sh ctl pause|resume    freeze / thaw every process of the cluster (the
#                                        postmaster, then its backends and workers)
#   with-postgres.sh ctl pid             print the postmaster's PID
#
# The program gets:
#   NR_TEST_PG_HOST, NR_TEST_PG_PORT     where the server listens (TCP, scram-sha-256)
#   NR_TEST_PG_USER, NR_TEST_PG_DB,      the role "app" (owner of database "appdb")
#   NR_TEST_PG_PASSWORD                  and its password
#   NR_TEST_PG_SOCKDIR                   unix socket dir: superuser "postgres", trust
#   NR_TEST_PG_CLOSED_PORT               a 127.0.0.1 port nothing listens on
#   NR_TEST_PG_CTL                       "env SVC_DIR=... <this script> ctl"
# Everything (processes, the temp dir) is gone when the script exits,
# also when the program fails.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PGBIN=${NR_PG_BIN:-/usr/lib/postgresql/15/bin}

# fsync=off is safe for a crash of the server process (the kill test): only
# synchronous_commit must stay on, or committed rows vanish with the crash.
pg_start() {
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SVC_DIR/pg/data" -l "$SVC_DIR/pg/server.log" \
        -w -t 30 -o "-p $(cat "$SVC_DIR/pg/port") -c listen_addresses=127.0.0.1 -k $SVC_DIR/pg \
-c fsync=off -c max_connections=60" \
        start >/dev/null
}

pg_pid() { head -1 "$SVC_DIR/pg/data/postmaster.pid" 2>/dev/null || true; }

# The postmaster first, so that it starts no backend that would be missed;
# thawed the other way round. A backend that exits in between is fine.
pg_pause() {
    local pid child
    pid=$(pg_pid)
    kill -STOP "$pid"
    for child in $(pgrep -P "$pid"); do kill -STOP "$child" 2>/dev/null || true; done
}
pg_resume() {
    local pid child
    pid=$(pg_pid)
    for child in $(pgrep -P "$pid"); do kill -CONT "$child" 2>/dev/null || true; done
    kill -CONT "$pid"
}

pg_stop() {
    local pid child
    pid=$(pg_pid)
    if [ -n "$pid" ]; then
        for child in $(pgrep -P "$pid"); do kill -CONT "$child" 2>/dev/null || true; done
        kill -CONT "$pid" 2>/dev/null || true
    fi
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$SVC_DIR/pg/data" -m immediate -w -t 30 stop \
        >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        # PID 1 reaps late: the old postmaster must be gone before a restart
        for _ in $(seq 200); do
            [ -e "/proc/$pid" ] || break
            sleep 0.05
        done
    fi
}

if [ "${1:-}" = ctl ]; then
    : "${SVC_DIR:?ctl needs SVC_DIR (set by the wrapper)}"
    case "${2:-}" in
    stop) pg_stop ;;
    start) pg_start ;;
    sigstop) kill -STOP "$(pg_pid)" ;;
    sigcont) kill -CONT "$(pg_pid)" ;;
    pause) pg_pause ;;
    resume) pg_resume ;;
    pid) pg_pid ;;
    *)
        echo "usage: $0 ctl stop|start|sigstop|sigcont|pause|resume|pid" >&2
        exit 2
        ;;
    esac
    exit 0
fi

[ $# -ge 1 ] || {
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
}

# shellcheck source=../../../scripts/lib/services.sh
. "$HERE/../../../scripts/lib/services.sh"
svc_init pg
svc_on_cleanup pg_stop

mkdir -p "$SVC_DIR/pg"
chown postgres:postgres "$SVC_DIR/pg"
chmod 700 "$SVC_DIR/pg"
svc_freeport >"$SVC_DIR/pg/port"
PASSWORD="app-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$SVC_DIR/pg/pw"
chown postgres "$SVC_DIR/pg/pw"
runuser -u postgres -- "$PGBIN/initdb" -D "$SVC_DIR/pg/data" -U postgres --pwfile="$SVC_DIR/pg/pw" \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
pg_start
psql -h "$SVC_DIR/pg" -p "$(cat "$SVC_DIR/pg/port")" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE app LOGIN PASSWORD '$PASSWORD'" -c "CREATE DATABASE appdb OWNER app" >/dev/null

export NR_TEST_PG_HOST=127.0.0.1
NR_TEST_PG_PORT=$(cat "$SVC_DIR/pg/port")
export NR_TEST_PG_PORT
export NR_TEST_PG_USER=app NR_TEST_PG_DB=appdb NR_TEST_PG_PASSWORD=$PASSWORD
export NR_TEST_PG_SOCKDIR=$SVC_DIR/pg
NR_TEST_PG_CLOSED_PORT=$(svc_freeport)
export NR_TEST_PG_CLOSED_PORT
# the state dir travels with the command: a wrapper nested inside this one has its own
export NR_TEST_PG_CTL="env SVC_DIR=$SVC_DIR $HERE/$(basename "$0") ctl"

svc_run_program "$SVC_DIR/pg/server.log" "last lines of the PostgreSQL log" "$@"
