#!/usr/bin/env bash
# prometheus_scrape.sh - a real Prometheus server scrapes serve_metrics, and
# the values it serves come back from Prometheus' query API.
#
#   prometheus_scrape.sh path/to/serve_metrics
#
# Starts serve_metrics (it picks its own port and prints it), writes a
# prometheus.yml that scrapes it every second, starts Prometheus on a free
# 127.0.0.1 port with its data in a temporary directory, waits until it is
# ready, then polls the query API until nr_test_scrape_total{resource="db"}
# is 42 (and checks the histogram, the escaped label and the target's health).
# Both processes are always stopped and the temporary directory removed.
# Exits 0 on success, 1 on failure.
#
# Needs prometheus (Debian package prometheus) and curl. When one is missing
# the test fails, unless NR_ALLOW_MISSING_PROMETHEUS=1: then it exits 77
# (reported as skipped by ctest).
#
# Knobs: NR_PROMETHEUS (the server binary; default /usr/bin/prometheus, else
# prometheus on PATH), NR_SCRAPE_TIMEOUT (seconds to wait for the value;
# default 60).
set -euo pipefail

missing() { # what is missing
    if [ "${NR_ALLOW_MISSING_PROMETHEUS:-0}" = 1 ]; then
        echo "SKIP: $* is not installed (NR_ALLOW_MISSING_PROMETHEUS=1)"
        exit 77
    fi
    echo "FAIL: $* is not installed. Install it (Debian: apt-get install -y" \
        "libmicrohttpd-dev prometheus curl), or set NR_ALLOW_MISSING_PROMETHEUS=1 to skip" \
        "this test." >&2
    exit 1
}

if [ "${1:-}" = --missing ]; then
    missing "${2:-a build dependency}"
fi
server_bin=${1:?usage: $0 path/to/serve_metrics}
[ -x "$server_bin" ] || {
    echo "FAIL: $server_bin is not an executable" >&2
    exit 1
}

prom=${NR_PROMETHEUS:-}
if [ -z "$prom" ]; then
    if [ -x /usr/bin/prometheus ]; then
        prom=/usr/bin/prometheus
    else
        prom=$(command -v prometheus || true)
    fi
fi
if [ -z "$prom" ] || [ ! -x "$prom" ]; then
    missing "prometheus"
fi
command -v curl >/dev/null || missing "curl"
timeout_s=${NR_SCRAPE_TIMEOUT:-60}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nr-prom.XXXXXX")
server_pid=
prom_pid=

stop() { # pid: TERM, wait up to 10 s, then KILL
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT
    stop "$prom_pid"
    stop "$server_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "FAIL: $*" >&2
    for f in server.err prometheus.log; do
        if [ -s "$tmp/$f" ]; then
            echo "---- $f (last 30 lines) ----" >&2
            tail -n 30 "$tmp/$f" >&2
        fi
    done
    exit 1
}

freeport() { # a TCP port on 127.0.0.1 that nothing listens on right now
    if command -v python3 >/dev/null; then
        python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
        return
    fi
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$(((RANDOM * 32768 + RANDOM) % 25000 + 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    return 1
}

# ---- the metrics server -----------------------------------------------------------
# The file exists before the server starts: the child opens it after the fork.
: >"$tmp/server.out"
"$server_bin" >>"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
mport=
for ((i = 0; i < 100; i++)); do
    mport=$(sed -n 's/^PORT=\([0-9][0-9]*\)$/\1/p' "$tmp/server.out" || true)
    [ -n "$mport" ] && break
    kill -0 "$server_pid" 2>/dev/null || fail "serve_metrics exited before listening"
    sleep 0.1
done
[ -n "$mport" ] || fail "serve_metrics printed no port within 10 s"
echo "serve_metrics listens on 127.0.0.1:$mport"

# The exposition as served: status, content type, the known line.
headers=$(curl -sS -D - -o "$tmp/metrics.txt" "http://127.0.0.1:$mport/metrics") ||
    fail "GET /metrics failed"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' <<<"$headers" ||
    fail "wrong Content-Type: $headers"
grep -qx 'nr_test_scrape_total{resource="db"} 42' "$tmp/metrics.txt" ||
    fail "the exposition lacks the known counter: $(cat "$tmp/metrics.txt")"

# ---- Prometheus ------------------------------------------------------------------------
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nebula
    static_configs:
      - targets: ['127.0.0.1:$mport']
YML

start_prometheus() {
    pport=$(freeport) || fail "no free port"
    "$prom" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
        --web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
    prom_pid=$!
}

ready=0
for attempt in 1 2 3; do # the port may be taken between freeport and the bind
    start_prometheus
    for ((i = 0; i < 600; i++)); do # 30 s
        if curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1; then
            ready=1
            break
        fi
        kill -0 "$prom_pid" 2>/dev/null || break
        sleep 0.05
    done
    [ "$ready" = 1 ] && break
    if kill -0 "$prom_pid" 2>/dev/null; then
        fail "Prometheus did not become ready within 30 s"
    fi
    wait "$prom_pid" 2>/dev/null || true
    prom_pid=
    grep -q 'address already in use' "$tmp/prometheus.log" ||
        fail "Prometheus exited at start-up"
    echo "port $pport was taken, trying another (attempt $attempt)"
done
[ "$ready" = 1 ] || fail "Prometheus could not bind a port"
echo "Prometheus is ready on 127.0.0.1:$pport"

query() { # PromQL -> the JSON answer
    curl -sS --get --data-urlencode "query=$1" "http://127.0.0.1:$pport/api/v1/query"
}

# ---- poll until the value comes back ----------------------------------------------------
start=$SECONDS
answer=
until grep -q '"value":\[[0-9.e+]*,"42"\]' <<<"$answer"; do
    if ((SECONDS - start >= timeout_s)); then
        fail "nr_test_scrape_total did not come back as 42 within ${timeout_s} s; last answer: $answer"
    fi
    kill -0 "$server_pid" 2>/dev/null || fail "serve_metrics died"
    kill -0 "$prom_pid" 2>/dev/null || fail "Prometheus died"
    sleep 0.5
    answer=$(query 'nr_test_scrape_total{resource="db"}' || true)
done
echo "nr_test_scrape_total{resource=\"db\"} = 42 after $((SECONDS - start)) s: $answer"

# The same scrape carried the rest: a failed parse would have dropped it all.
a=$(query 'nr_test_acquire_seconds_count{resource="db"}')
grep -q '"value":\[[0-9.e+]*,"5"\]' <<<"$a" || fail "histogram count is not 5: $a"
a=$(query 'nr_test_acquire_seconds_bucket{resource="db",le="0.01"}')
grep -q '"value":\[[0-9.e+]*,"2"\]' <<<"$a" || fail "cumulative bucket le=0.01 is not 2: $a"
a=$(query 'nr_test_pool_in_use{scope="global"}')
grep -q '"value":\[[0-9.e+]*,"3"\]' <<<"$a" || fail "collector gauge is not 3: $a"
a=$(query 'nr_test_odd_total')
# JSON escapes a"b\c<newline>d exactly as the exposition did
grep -qF '"resource":"a\"b\\c\nd"' <<<"$a" || fail "escaped label value did not round-trip: $a"
a=$(curl -sS "http://127.0.0.1:$pport/api/v1/targets?state=active")
grep -q '"health":"up"' <<<"$a" || fail "the target is not up: $a"
grep -q '"lastError":""' <<<"$a" || fail "the target reports an error: $a"

# serve_metrics shuts down cleanly (under a sanitizer build this is where a
# leak or error would show in its exit status).
kill -TERM "$server_pid"
if wait "$server_pid"; then src=0; else src=$?; fi
server_pid=
[ "$src" = 0 ] || fail "serve_metrics exited with status $src after SIGTERM"
echo "PASS: Prometheus scraped the exposition (histogram, collector gauge, escaping, target up)"
