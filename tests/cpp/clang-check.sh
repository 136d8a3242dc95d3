#!/usr/bin/env bash
# clang-check.sh CLANGXX SOURCE_DIR OUT_DIR CORE_LIB [DRIVER=LIB]...
#
# Build the C++ layer's test program (tests/cpp) with clang++ at the
# project's warning level, warnings as errors, against the libraries the
# build made, and run it; compile each public C++ header on its own and
# every C++ example the same way (compile only: ctest runs the examples of
# the main build). DRIVER is
# sqlite, postgres or redis, LIB its static library.
set -euo pipefail
cxx=$1
src=$2
out=$3
core=$4
shift 4
mkdir -p "$out"

flags=(-std=c++17 -Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter -Werror -O1 -g
    -I"$src/include" -I"$src/tests/cpp")
libs=()
modules=(jansson)
examples=()
hpps=()
for arg in "$@"; do
    drv=${arg%%=*}
    lib=${arg#*=}
    case $drv in
    sqlite) modules+=(sqlite3) ;;
    postgres) modules+=(libpq) ;;
    redis) modules+=(hiredis) ;;
    *)
        echo "clang-check.sh: unknown driver $drv" >&2
        exit 2
        ;;
    esac
    flags+=(-I"$src/drivers/$drv/include" "-DNR_CPP_WITH_${drv^^}=1")
    libs+=("$lib")
    examples+=("$src/examples/cpp/$drv/main.cpp")
    hpps+=("$src/drivers/$drv/include/nebula/$drv.hpp")
done
read -r -a cflags <<<"$(pkg-config --cflags "${modules[@]}")"
read -r -a ldflags <<<"$(pkg-config --libs "${modules[@]}")"

echo "== $("$cxx" --version | head -1)"
"$cxx" "${flags[@]}" "${cflags[@]}" "$src/tests/cpp/test_cpp.cpp" "$src/tests/cpp/headers.cpp" \
    "${libs[@]}" "$core" "${ldflags[@]}" -pthread -lm -o "$out/test_cpp"
# each public C++ header compiles on its own, first in its file
for h in "$src"/include/nebula/*.hpp "${hpps[@]}"; do
    echo "#include \"nebula/$(basename "$h")\"" |
        "$cxx" "${flags[@]}" "${cflags[@]}" -fsyntax-only -x c++ - || {
        echo "clang-check.sh: $h does not compile on its own" >&2
        exit 1
    }
done
echo "== every public .hpp compiles on its own"
for ex in "${examples[@]}"; do
    echo "== compile $ex"
    "$cxx" "${flags[@]}" "${cflags[@]}" -fsyntax-only "$ex"
done
"$out/test_cpp"
