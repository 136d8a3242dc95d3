# shellcheck shell=bash
# need-packages.sh - sourced by the bench scripts: install the Debian
# packages a benchmark needs when they are missing.
#   bench_need_packages NAME PACKAGE...   (a JDK is added when javac is missing)
# NO_INSTALL=1 turns the install into an error that names what is missing.
bench_need_packages() {
    local name=$1 p
    shift
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${NO_INSTALL:-0}" = 1 ]; then
        echo "$name: missing packages: ${missing[*]} (NO_INSTALL=1 set)" >&2
        exit 1
    fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "== apt-get install -y ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}" >&2
}
