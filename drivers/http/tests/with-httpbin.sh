#!/usr/bin/env bash
# with-httpbin.sh - run a test program against a real httpbin.
#
#   with-httpbin.sh PROGRAM [ARGS...]   start httpbin on a free loopback port and
#                                       nginx in front of it (keep-alive to the
#                                       client), run PROGRAM, stop everything
#   with-httpbin.sh ctl stop|start      stop / start httpbin again on the same
#                                       port (the test calls this through
#                                       $NR_TEST_HTTP_CTL)
#
# Exports to PROGRAM: HTTPBIN_PORT (httpbin itself; it closes every
# connection after one response), NGINX_PORT (nginx proxying to httpbin and
# keeping client connections alive), NR_TEST_HTTP_CTL.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SELF="$HERE/$(basename "$0")"
# shellcheck source=../../../scripts/lib/services.sh
source "$HERE/../../../scripts/lib/services.sh"

httpbin_start() {
    local port
    port=$(cat "$SVC_DIR/httpbin.port")
    /usr/bin/python3 -m httpbin.core --host 127.0.0.1 --port "$port" \
        >>"$SVC_DIR/httpbin.log" 2>&1 </dev/null &
    echo $! >"$SVC_DIR/httpbin.pid"
    svc_wait_for "httpbin on port $port" curl -sf -o /dev/null "http://127.0.0.1:$port/get"
}

httpbin_stop() {
    local pid _
    pid=$(cat "$SVC_DIR/httpbin.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    svc_wait_gone "$pid" || true
    rm -f "$SVC_DIR/httpbin.pid"
}

if [ "${1:-}" = ctl ]; then
    : "${SVC_DIR:?ctl needs SVC_DIR from the running wrapper}"
    case "${2:-}" in
    stop) httpbin_stop ;;
    start) httpbin_start ;;
    *)
        echo "usage: $0 ctl stop|start" >&2
        exit 2
        ;;
    esac
    exit 0
fi

[ $# -ge 1 ] || {
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
}

svc_init http
svc_on_cleanup "\"$SELF\" ctl stop"

HTTPBIN_PORT=$(svc_freeport)
echo "$HTTPBIN_PORT" >"$SVC_DIR/httpbin.port"
httpbin_start

NGINX_PORT=$(svc_freeport)
mkdir -p "$SVC_DIR/nginx"
cat >"$SVC_DIR/nginx/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $SVC_DIR/nginx/nginx.pid;
error_log $SVC_DIR/nginx/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $SVC_DIR/nginx/b; proxy_temp_path $SVC_DIR/nginx/p;
  fastcgi_temp_path $SVC_DIR/nginx/f; uwsgi_temp_path $SVC_DIR/nginx/u;
  scgi_temp_path $SVC_DIR/nginx/s;
  keepalive_timeout 120s; keepalive_requests 10000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://127.0.0.1:$HTTPBIN_PORT; proxy_set_header Host \$http_host; }
  }
}
CONF
nginx -c "$SVC_DIR/nginx/nginx.conf" -p "$SVC_DIR/nginx" -e "$SVC_DIR/nginx/error.log" \
    </dev/null >/dev/null 2>&1 &
svc_track $!
svc_wait_for "nginx on port $NGINX_PORT" curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/get"

export HTTPBIN_PORT NGINX_PORT
export NR_TEST_HTTP_CTL="$SELF ctl"
"$@"
