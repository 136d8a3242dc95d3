# services.sh - sourced by the test wrappers that start a real server for a
# driver's tests (drivers/<name>/tests/with-*.sh). Bash only.
#
#   svc_init NAME        make a temp dir ($SVC_DIR, world-readable) and
#                        install the EXIT/INT/TERM trap that cleans up
#   svc_freeport         print a free 127.0.0.1 TCP port (the kernel picks it)
#   svc_wait_for WHAT CMD...
#                        run CMD until it succeeds (10 s at most), or fail
#                        naming WHAT
#   svc_track PID        kill PID (TERM, then KILL after 5 s) at cleanup and
#                        wait until /proc/PID is gone
#   svc_on_cleanup CMD...
#                        run CMD at cleanup (before the tracked kills)
#   svc_wait_gone PID    wait until /proc/PID is gone (PID 1 reaps late here)
#   svc_run_program LOG TITLE CMD...
#                        run the program under test; when it fails and LOG
#                        exists, print LOG's last 20 lines under TITLE to
#                        stderr; exit with the program's status
#   svc_chromedriver     start chromedriver (headless Chromium's WebDriver) on a
#                        free port in a process group of its own, killed at
#                        cleanup; sets SVC_CHROMEDRIVER to its URL; its log is
#                        $SVC_DIR/chromedriver.log. Fails when it is missing.
#
# Servers bind 127.0.0.1 only, on free ports, with state under $SVC_DIR; the
# cleanup runs whatever way the wrapper exits, also when the test fails.

SVC_PIDS=()
SVC_CLEANUPS=()

svc_freeport() {
    /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

svc_wait_for() {
    local what=$1
    shift
    local _
    for _ in $(seq 200); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    echo "services: timeout waiting for $what" >&2
    return 1
}

svc_wait_gone() {
    local pid=$1 _
    for _ in $(seq 200); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.05
    done
    return 1
}

svc_track() { SVC_PIDS+=("$1"); }

svc_run_program() {
    local log=$1 title=$2 rc
    shift 2
    set +e
    "$@"
    rc=$?
    set -e
    if [ $rc -ne 0 ] && [ -s "$log" ]; then
        echo "---- $title ----" >&2
        tail -n 20 "$log" >&2
    fi
    exit $rc
}

svc_chromedriver() {
    local tool port pid
    for tool in chromium chromedriver; do
        if ! command -v $tool > /dev/null; then
            echo "$tool is not installed (Debian: chromium chromium-driver)" >&2
            return 1
        fi
    done
    port=$(svc_freeport)
    setsid chromedriver --port="$port" > "$SVC_DIR/chromedriver.log" 2>&1 &
    pid=$!
    # chromedriver leads its own process group: Chromium and its helpers are in it
    svc_on_cleanup "kill -TERM -- -$pid; sleep 0.5; kill -KILL -- -$pid"
    SVC_CHROMEDRIVER=http://127.0.0.1:$port
    svc_wait_for "chromedriver" curl -sf "$SVC_CHROMEDRIVER/status"
}

svc_on_cleanup() { SVC_CLEANUPS+=("$*"); }

svc_cleanup() {
    set +e
    local c p _
    for c in "${SVC_CLEANUPS[@]}"; do
        eval "$c" >/dev/null 2>&1
    done
    for p in "${SVC_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${SVC_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null
        svc_wait_gone "$p"
    done
    [ -n "${SVC_DIR:-}" ] && rm -rf "$SVC_DIR"
}

svc_init() {
    SVC_DIR=$(mktemp -d "/tmp/nr-$1.XXXXXX")
    chmod 755 "$SVC_DIR"
    export SVC_DIR
    trap svc_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
