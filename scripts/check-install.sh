#!/usr/bin/env bash
# check-install.sh BUILD_DIR - install BUILD_DIR into a temporary prefix as
# the README's "Build and install" says, check the installed tree (libraries,
# pkg-config files, the program and its rpath, the man page), then build and
# run consumers against it with CMake's find_package(NebulaResource COMPONENTS
# ...) and with pkg-config, shared and static (scripts/lib/consumers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: check-install.sh BUILD_DIR}
tmp=$(mktemp -d /tmp/nr-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. scripts/lib/consumers.sh

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
nr_check_tree "$tmp/prefix"
nr_run_consumers "$tmp/prefix" "$tmp"
echo "install check: find_package and pkg-config consumers built and ran"
