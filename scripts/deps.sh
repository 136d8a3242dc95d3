#!/usr/bin/env bash
# deps.sh - make sure the Debian packages a build needs are installed.
#
#   scripts/deps.sh build   what the library, the program and the demo need
#   scripts/deps.sh test    the above plus what the test suite needs
#
# As root it installs what is missing with apt-get; otherwise it prints the
# exact apt-get line to run and fails. Safe to run any number of times.
set -euo pipefail

# The core, the SQLite driver and the program (its HTTP endpoints).
BUILD_PKGS=(build-essential cmake ninja-build pkg-config libjansson-dev libsqlite3-dev
    libmicrohttpd-dev)
# The other drivers' client libraries, the event loops of the loop adapters
# (libuv, libevent), the servers their tests start, the test tools (dpkg-dev
# and file for the package checks) and the browser the status page is
# checked in.
TEST_PKGS=(libcmocka-dev clang libclang-rt-14-dev clang-format systemtap-sdt-dev binutils
    dpkg-dev file
    prometheus curl
    postgresql libpq-dev redis-server libhiredis-dev libcurl4-openssl-dev python3-httpbin nginx
    librdkafka-dev libmongoc-dev memcached libmemcached-dev chromium chromium-driver
    libuv1-dev libevent-dev)

want=("${BUILD_PKGS[@]}")
if [ "${1:-build}" = "test" ]; then
    want+=("${TEST_PKGS[@]}")
fi

missing=()
# The MongoDB test server runs on Node.js; a node from elsewhere (with its own
# npm) is fine, Debian's packages are used only when there is none.
if [ "${1:-build}" = "test" ] && ! command -v npm >/dev/null 2>&1; then
    want+=(nodejs npm)
fi
for p in "${want[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing+=("$p") ;;
    esac
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them as root with:" >&2
    echo "    apt-get update && $line" >&2
    exit 1
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
