#!/usr/bin/env bash
# check-install.sh BUILD_DIR - install BUILD_DIR into a temporary prefix, then
# build and run a small program against it twice: once with CMake's
# find_package(NebulaResource), once with pkg-config; and the C++ example
# examples/cpp/sqlite as a project of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: check-install.sh BUILD_DIR}
tmp=$(mktemp -d /tmp/nr-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S tests/install -B "$tmp/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
"$tmp/cmake/consumer"
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/cmake/admin_consumer"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 tests/install/consumer.c -o "$tmp/pc-consumer" \
    $(pkg-config --cflags --libs --static nebula-resource-sqlite)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-consumer"
# shellcheck disable=SC2046
cc -std=c11 tests/install/admin_consumer.c -o "$tmp/pc-admin-consumer" \
    $(pkg-config --cflags --libs nebula-resource-admin nebula-resource-sqlite)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-admin-consumer"
# the C++ layer: a project of its own with one find_package line (examples/cpp/sqlite)
cmake -S examples/cpp/sqlite -B "$tmp/cpp" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cpp" >/dev/null
"$tmp/cpp/sqlite_app" >/dev/null
# shellcheck disable=SC2046
c++ -std=c++17 examples/cpp/sqlite/main.cpp -o "$tmp/pc-cpp-app" \
    $(pkg-config --cflags --libs --static nebula-resource-sqlite)
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc-cpp-app" >/dev/null
echo "install check: find_package and pkg-config consumers (C and C++) built and ran"
