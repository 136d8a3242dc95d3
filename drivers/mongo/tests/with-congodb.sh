#!/usr/bin/env bash
# with-congodb.sh - run a test against CongoDB, a MongoDB wire-protocol server
# written in JavaScript (shipped inside the npm package
# @push.rocks/smartmongo@2.2.0), on a free 127.0.0.1 port.
#
#   with-congodb.sh PROGRAM [ARGS...]   start the server, export
#                                       NR_TEST_MONGO_PORT and NR_TEST_MONGO_CTL,
#                                       run PROGRAM, stop the server
#   with-congodb.sh ctl stop|start      (used by the tests through
#                                       $NR_TEST_MONGO_CTL) stop the server, or
#                                       start it again on the same port, from
#                                       the state in $SVC_DIR
#
# The package and its six dependencies are installed once into a cache
# directory (NR_CONGO_CACHE, default ~/.cache/nebula-resource/congodb-2.2.0),
# under a lock so that parallel runs do not race. The package's own
# dependency list cannot be installed (one version no longer exists), so the
# dependencies are installed by hand with --ignore-scripts.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${NR_CONGO_CACHE:-$HOME/.cache/nebula-resource/congodb-2.2.0}

# ---- ctl: stop / start the server of a running wrapper ------------------------------
congo_pid() { cat "$SVC_DIR/congo.pid" 2>/dev/null || true; }

congo_wait_gone() {
    local pid=$1 _
    for _ in $(seq 200); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.05
    done
    return 1
}

congo_start() {
    local port
    port=$(cat "$SVC_DIR/congo.port")
    : >"$SVC_DIR/congo.log"
    # setsid: the server is not in the test's process group, so a signal
    # meant for the test does not reach it; the wrapper's trap stops it.
    setsid node "$CACHE/congo-server.mjs" "$port" >>"$SVC_DIR/congo.log" 2>&1 </dev/null &
    echo $! >"$SVC_DIR/congo.pid"
    disown # its kill -9 is expected: no job report
    local _
    for _ in $(seq 400); do
        if grep -q '^ready' "$SVC_DIR/congo.log"; then
            return 0
        fi
        if ! kill -0 "$(congo_pid)" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    echo "with-congodb: CongoDB did not start on port $port:" >&2
    cat "$SVC_DIR/congo.log" >&2
    return 1
}

congo_stop() {
    local pid
    pid=$(congo_pid)
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null || true
    congo_wait_gone "$pid" || true
    rm -f "$SVC_DIR/congo.pid"
}

if [ "${1:-}" = ctl ]; then
    : "${SVC_DIR:?with-congodb ctl: SVC_DIR is not set}"
    case "${2:-}" in
    stop) congo_stop ;;
    start) congo_start ;;
    *)
        echo "usage: $0 ctl stop|start" >&2
        exit 2
        ;;
    esac
    exit 0
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi

# ---- install into the cache once (flock: parallel runs wait for each other) ----------
install_congo() {
    [ -f "$CACHE/.complete" ] && return 0
    local tmp
    tmp=$(mktemp -d "$CACHE.tmp.XXXXXX")
    (
        cd "$tmp"
        npm pack @push.rocks/smartmongo@2.2.0 --silent >/dev/null
        tar xzf push.rocks-smartmongo-2.2.0.tgz
        rm -f push.rocks-smartmongo-2.2.0.tgz
        echo '{"private":true,"type":"module"}' >package.json
        npm install --no-audit --no-fund --ignore-scripts --silent bson@6.10.4 mingo@7.2.7 \
            @push.rocks/smartfs@1.5.0 @push.rocks/smartpath@6.0.0 \
            @push.rocks/smartpromise@4.2.3 @push.rocks/smartrx@3.0.10 >/dev/null
        cat >congo-server.mjs <<'JS'
import { CongoServer } from './package/dist_ts/congodb/index.js';
const s = new CongoServer({ host: '127.0.0.1', port: Number(process.argv[2]) });
await s.start();
console.log('ready', s.getConnectionUri());
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, async () => { await s.stop(); process.exit(0); });
JS
    ) || {
        rm -rf "$tmp"
        return 1
    }
    rm -rf "$CACHE"
    mv "$tmp" "$CACHE"
    touch "$CACHE/.complete"
}

mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock -w 600 9 || {
    echo "with-congodb: could not lock $CACHE.lock" >&2
    exit 1
}
if ! install_congo; then
    echo "with-congodb: installing CongoDB into $CACHE failed (npm registry reachable?)" >&2
    exit 1
fi
flock -u 9
exec 9>&-

# ---- start, run, stop -----------------------------------------------------------------
# shellcheck source=../../../scripts/lib/services.sh
source "$HERE/../../../scripts/lib/services.sh"
svc_init mongo
svc_freeport >"$SVC_DIR/congo.port"
svc_on_cleanup congo_stop
congo_start

NR_TEST_MONGO_PORT=$(cat "$SVC_DIR/congo.port")
NR_TEST_MONGO_CTL="$HERE/with-congodb.sh ctl"
export NR_TEST_MONGO_PORT NR_TEST_MONGO_CTL

set +e
"$@"
rc=$?
set -e
exit $rc
