#!/usr/bin/env bash
# check-install.sh BUILD_DIR - install BUILD_DIR into a temporary prefix as
# the README's "Build and install" says, check the installed tree (libraries,
# pkg-config files, the program and its rpath, the man page), then build and
# run consumers against it with CMake's find_package(NebulaResource COMPONENTS
# ...) and with pkg-config, shared and static (scripts/lib/consumers.sh), and the
# C++ example examples/cpp/sqlite as a project of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: check-install.sh BUILD_DIR}
tmp=$(mktemp -d /tmp/nr-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. scripts/lib/consumers.sh

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
nr_check_tree "$tmp/prefix"
nr_run_consumers "$tmp/prefix" "$tmp"
# the C++ layer: a project of its own with one find_package line (examples/cpp/sqlite)
cmake -S examples/cpp/sqlite -B "$tmp/cpp" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cpp" >/dev/null
"$tmp/cpp/sqlite_app" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
c++ -std=c++17 examples/cpp/sqlite/main.cpp -o "$tmp/pc-cpp-app" \
    $(pkg-config --cflags --libs --static nebula-resource-sqlite)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-cpp-app" >/dev/null
echo "install check: find_package and pkg-config consumers (C and C++) built and ran"
