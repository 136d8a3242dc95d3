# shellcheck shell=bash
# consumers.sh - checks of an installed tree, sourced by check-install.sh
# (a `cmake --install` prefix) and check-deb.sh (the Debian packages
# unpacked). The consumers are built with the commands of the README's "Use
# from CMake" and "Use from pkg-config" sections, and every one is run.
# Expects to be sourced from the top of the source tree, under set -euo pipefail.

# The SOVERSION: the major of the top-level project() version (docs/ABI.md).
NR_SOVERSION=$(sed -n 's/^project(NebulaResource VERSION \([0-9]*\)\..*/\1/p' CMakeLists.txt)
[ -n "$NR_SOVERSION" ] || {
    echo "FAIL: no project(NebulaResource VERSION X.Y.Z) in CMakeLists.txt" >&2
    exit 1
}

nr_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# nr_quiet WORKDIR COMMAND...: run COMMAND, showing its output only when it fails.
nr_quiet() {
    local log=$1/quiet.log
    shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        nr_fail "$*"
    fi
}

# nr_resolved_from BINARY LIBRARY DIR: the dynamic loader finds LIBRARY
# (e.g. libnebula-resource.so.$NR_SOVERSION) for BINARY inside DIR.
nr_resolved_from() {
    local where
    where=$(ldd "$1" | awk -v lib="$2" '$1 == lib { print $3 }')
    [ -n "$where" ] || nr_fail "$1 does not load $2"
    case $(readlink -f "$where") in
    "$(readlink -f "$3")"/*) ;;
    *) nr_fail "$1 loads $2 from $where, not from $3" ;;
    esac
}

# nr_check_tree PREFIX: the libraries with their SONAME, links and rpath,
# one pkg-config file each, the program running from its own rpath, its man page.
nr_check_tree() {
    local prefix=$1 libdir=$1/lib lib base dyn soname n=0 out
    for lib in "$libdir"/libnebula-resource*.so; do
        base=$(basename "$lib" .so)
        n=$((n + 1))
        dyn=$(readelf -d "$lib")
        soname=$(sed -n 's/.*Library soname: \[\(.*\)\]/\1/p' <<<"$dyn")
        [ "$soname" = "$base.so.$NR_SOVERSION" ] ||
            nr_fail "$lib: SONAME '$soname', not $base.so.$NR_SOVERSION"
        [ -L "$lib" ] && [ -L "$libdir/$soname" ] || nr_fail "$lib or $soname is not a link"
        [ -f "$libdir/$base.a" ] || nr_fail "no static $base.a beside $lib"
        [ -f "$libdir/pkgconfig/${base#lib}.pc" ] || nr_fail "no pkg-config file ${base#lib}.pc"
        grep -q 'R.*PATH.*\[\$ORIGIN\]' <<<"$dyn" || nr_fail "$lib: no \$ORIGIN rpath"
    done
    [ "$n" -ge 2 ] || nr_fail "$libdir: expected the core and at least one more library, found $n"
    local prog=$prefix/bin/nebula-resource
    [ -x "$prog" ] || nr_fail "$prog is not installed"
    out=$(env -u LD_LIBRARY_PATH "$prog" --version) || nr_fail "$prog --version"
    grep -q "^nebula-resource $NR_SOVERSION\\." <<<"$out" || nr_fail "$prog --version says: $out"
    nr_resolved_from "$prog" libnebula-resource.so.$NR_SOVERSION "$libdir"
    nr_resolved_from "$prog" libnebula-resource-admin.so.$NR_SOVERSION "$libdir"
    local man=$prefix/share/man/man1/nebula-resource.1.gz
    out=$(zcat "$man") || nr_fail "man page $man is not gzip"
    grep -q '^\.TH NEBULA-RESOURCE 1' <<<"$out" || nr_fail "man page $man"
    echo "tree: $n libraries (shared + static + .pc each), the program runs from its rpath, man page"
}

# nr_run_consumers PREFIX WORKDIR
nr_run_consumers() {
    local prefix=$1 work=$2 root out
    root=$(pwd)
    unset LD_LIBRARY_PATH
    # -- CMake: find_package(NebulaResource 1.0 REQUIRED COMPONENTS sqlite admin testing)
    nr_quiet "$work" cmake -S tests/install -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
    nr_quiet "$work" cmake --build "$work/cmake"
    "$work/cmake/consumer"
    "$work/cmake/consumer_static"
    "$work/cmake/admin_consumer"
    "$work/cmake/admin_consumer_static"
    "$work/cmake/testing_consumer"
    "$work/cmake/testing_consumer_static"
    nr_resolved_from "$work/cmake/testing_consumer" libnebula-resource-testing.so.$NR_SOVERSION "$prefix/lib"
    nr_resolved_from "$work/cmake/consumer" libnebula-resource-sqlite.so.$NR_SOVERSION "$prefix/lib"
    nr_resolved_from "$work/cmake/admin_consumer" libnebula-resource-admin.so.$NR_SOVERSION "$prefix/lib"
    out=$(ldd "$work/cmake/consumer_static" "$work/cmake/admin_consumer_static" \
        "$work/cmake/testing_consumer_static")
    if grep -q libnebula <<<"$out"; then
        nr_fail "a consumer of the nebula::*_static targets loads a shared libnebula-resource"
    fi

    # -- the fleet library alone (when it was built: it needs hiredis), with a
    # pkg-config that sees none of the other libraries' dependencies; refused
    # with its reason when hiredis cannot be found
    if [ -e "$prefix/lib/libnebula-resource-fleet.so" ]; then
        NR_HIDE_PKG="sqlite3 libpq libcurl rdkafka libmongoc-1.0 libmicrohttpd" \
            nr_quiet "$work" cmake -S tests/install/fleet -B "$work/fleet" -G Ninja \
            -DCMAKE_PREFIX_PATH="$prefix" \
            -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh"
        nr_quiet "$work" cmake --build "$work/fleet"
        "$work/fleet/fleet_consumer"
        "$work/fleet/fleet_consumer_static"
        nr_resolved_from "$work/fleet/fleet_consumer" libnebula-resource-fleet.so.$NR_SOVERSION "$prefix/lib"
        if ldd "$work/fleet/fleet_consumer_static" | grep -q libnebula; then
            nr_fail "the consumer of nebula::fleet_static loads a shared libnebula-resource"
        fi
        if out=$(NR_HIDE_PKG=hiredis cmake -S tests/install/missing -B "$work/missing-fleet" \
            -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DNR_ASK=fleet \
            -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh" 2>&1); then
            nr_fail "find_package(NebulaResource REQUIRED COMPONENTS fleet) without hiredis succeeded"
        fi
        out=$(tr -s ' \n' '  ' <<<"$out")
        grep -qF "the component fleet needs pkg-config module hiredis (Debian: libhiredis-dev)" \
            <<<"$out" || nr_fail "no reason given for the component fleet without hiredis: $out"
        echo "cmake: the fleet component alone, shared and static, ran; refused without hiredis"
    else
        echo "cmake: no fleet library in this installation (built without it: no hiredis, or NR_BUILD_FLEET=OFF)"
    fi

    # -- the loop adapters (when both were built: they need libuv and
    # libevent), with a pkg-config that sees none of the drivers' client
    # libraries; each refused with its reason when its loop cannot be found
    if [ -e "$prefix/lib/libnebula-resource-libuv.so" ] &&
        [ -e "$prefix/lib/libnebula-resource-libevent.so" ]; then
        NR_HIDE_PKG="sqlite3 libpq hiredis libcurl rdkafka libmongoc-1.0 libmicrohttpd" \
            nr_quiet "$work" cmake -S tests/install/loop -B "$work/loop" -G Ninja \
            -DCMAKE_PREFIX_PATH="$prefix" \
            -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh"
        nr_quiet "$work" cmake --build "$work/loop"
        "$work/loop/loop_consumer"
        "$work/loop/loop_consumer_static"
        nr_resolved_from "$work/loop/loop_consumer" libnebula-resource-libuv.so.$NR_SOVERSION "$prefix/lib"
        nr_resolved_from "$work/loop/loop_consumer" libnebula-resource-libevent.so.$NR_SOVERSION \
            "$prefix/lib"
        if ldd "$work/loop/loop_consumer_static" | grep -q libnebula; then
            nr_fail "the consumer of nebula::libuv_static and nebula::libevent_static loads a shared libnebula-resource"
        fi
        local comp module deb
        for comp in libuv:libuv:libuv1-dev libevent:libevent_core:libevent-dev; do
            IFS=: read -r comp module deb <<<"$comp"
            if out=$(NR_HIDE_PKG=$module cmake -S tests/install/missing -B "$work/missing-$comp" \
                -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DNR_ASK=$comp \
                -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh" 2>&1); then
                nr_fail "find_package(NebulaResource REQUIRED COMPONENTS $comp) without $module succeeded"
            fi
            out=$(tr -s ' \n' '  ' <<<"$out")
            grep -qF "the component $comp needs pkg-config module $module (Debian: $deb)" <<<"$out" ||
                nr_fail "no reason given for the component $comp without $module: $out"
        done
        echo "cmake: the libuv and libevent components, shared and static, ran; each refused without its loop"
    else
        echo "cmake: no loop adapters in this installation (built without libuv or libevent)"
    fi

    # -- CMake: two components, with a pkg-config that sees none of the others'
    # dependencies: they are not looked for.
    NR_HIDE_PKG="sqlite3 libcurl rdkafka libmongoc-1.0 libmicrohttpd" \
        nr_quiet "$work" cmake -S tests/install/components -B "$work/components" -G Ninja \
        -DCMAKE_PREFIX_PATH="$prefix" \
        -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh"
    nr_quiet "$work" cmake --build "$work/components"
    "$work/components/pg_redis_consumer"
    "$work/components/pg_redis_consumer_static"

    # -- CMake: what cannot be found says why, and REQUIRED fails
    if out=$(cmake -S tests/install/missing -B "$work/missing-nosuch" -G Ninja \
        -DCMAKE_PREFIX_PATH="$prefix" -DNR_ASK="sqlite;nosuch" 2>&1); then
        nr_fail "find_package(NebulaResource REQUIRED COMPONENTS sqlite nosuch) succeeded"
    fi
    out=$(tr -s ' \n' '  ' <<<"$out")
    grep -qF "the component nosuch is not part of this installation" <<<"$out" ||
        nr_fail "no reason given for the missing component nosuch: $out"
    if out=$(NR_HIDE_PKG=sqlite3 cmake -S tests/install/missing -B "$work/missing-dep" -G Ninja \
        -DCMAKE_PREFIX_PATH="$prefix" -DNR_ASK=sqlite \
        -DPKG_CONFIG_EXECUTABLE="$root/tests/install/pkg-config-hiding.sh" 2>&1); then
        nr_fail "find_package(NebulaResource REQUIRED COMPONENTS sqlite) without sqlite3 succeeded"
    fi
    out=$(tr -s ' \n' '  ' <<<"$out")
    grep -qF "the component sqlite needs pkg-config module sqlite3 (Debian: libsqlite3-dev)" \
        <<<"$out" || nr_fail "no reason given for the component sqlite without sqlite3: $out"
    echo "cmake: components found, loaded alone, and refused with their reason"

    # -- pkg-config: shared by default, fully static with --static
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    local rpath
    rpath=$(pkg-config --variable=libdir nebula-resource)
    # shellcheck disable=SC2046
    cc -std=c11 tests/install/consumer.c -o "$work/pc-consumer" \
        $(pkg-config --cflags --libs nebula-resource-sqlite) -Wl,-rpath,"$rpath"
    "$work/pc-consumer"
    nr_resolved_from "$work/pc-consumer" libnebula-resource-sqlite.so.$NR_SOVERSION "$prefix/lib"
    # shellcheck disable=SC2046
    cc -static -std=c11 tests/install/consumer.c -o "$work/pc-consumer-static" \
        $(pkg-config --cflags --libs --static nebula-resource-sqlite) 2>"$work/static-link.log" ||
        {
            cat "$work/static-link.log" >&2
            nr_fail "static link with pkg-config --static"
        }
    "$work/pc-consumer-static"
    out=$(file -L "$work/pc-consumer-static")
    grep -q 'statically linked' <<<"$out" ||
        nr_fail "pc-consumer-static is not statically linked"
    # shellcheck disable=SC2046
    cc -std=c11 tests/install/admin_consumer.c -o "$work/pc-admin-consumer" \
        $(pkg-config --cflags --libs nebula-resource-admin nebula-resource-sqlite) \
        -Wl,-rpath,"$rpath"
    "$work/pc-admin-consumer"
    # shellcheck disable=SC2046
    cc -std=c11 tests/install/components/pg_redis_consumer.c -o "$work/pc-pg-redis-consumer" \
        $(pkg-config --cflags --libs nebula-resource-postgres nebula-resource-redis) \
        -Wl,-rpath,"$rpath"
    "$work/pc-pg-redis-consumer"
    # shellcheck disable=SC2046
    cc -std=c11 tests/install/testing_consumer.c -o "$work/pc-testing-consumer" \
        $(pkg-config --cflags --libs nebula-resource-testing) -Wl,-rpath,"$rpath"
    "$work/pc-testing-consumer"
    if [ -e "$prefix/lib/libnebula-resource-libuv.so" ] &&
        [ -e "$prefix/lib/libnebula-resource-libevent.so" ]; then
        # shellcheck disable=SC2046
        cc -std=c11 tests/install/loop/loop_consumer.c -o "$work/pc-loop-consumer" \
            $(pkg-config --cflags --libs nebula-resource-libuv nebula-resource-libevent \
                nebula-resource-testing) -Wl,-rpath,"$rpath"
        "$work/pc-loop-consumer"
    fi
    if [ -e "$prefix/lib/libnebula-resource-fleet.so" ]; then
        # shellcheck disable=SC2046
        cc -std=c11 tests/install/fleet/fleet_consumer.c -o "$work/pc-fleet-consumer" \
            $(pkg-config --cflags --libs nebula-resource-fleet) -Wl,-rpath,"$rpath"
        "$work/pc-fleet-consumer"
        nr_resolved_from "$work/pc-fleet-consumer" libnebula-resource-fleet.so.$NR_SOVERSION "$prefix/lib"
        # shellcheck disable=SC2046
        cc -static -std=c11 tests/install/fleet/fleet_consumer.c -o "$work/pc-fleet-consumer-static" \
            $(pkg-config --cflags --libs --static nebula-resource-fleet) 2>"$work/static-link.log" ||
            {
                cat "$work/static-link.log" >&2
                nr_fail "static link of the fleet consumer with pkg-config --static"
            }
        "$work/pc-fleet-consumer-static"
    fi
    echo "pkg-config: shared and static (--static) consumers built and ran"
}
