#!/usr/bin/env bash
# check-deb.sh BUILD_DIR - build the Debian packages of a built BUILD_DIR with
# CPack (`cpack -G DEB`, cmake/Package.cmake), check what each holds and what
# it depends on (a driver's package its own client library and no other
# driver's), then unpack them with `dpkg -x` into temporary roots (nothing is
# installed on the system, so it runs as root or not, any number of times):
# only the core, the PostgreSQL driver and -dev, where a PostgreSQL consumer
# is built and run; and all of them, where the tree is checked and the
# consumers built and run as check-install.sh does for an installed prefix
# (scripts/lib/consumers.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:?usage: check-deb.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/nr-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. scripts/lib/consumers.sh

for tool in cpack dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || nr_fail "$tool not found (Debian: cmake, dpkg-dev)"
done

# ---- build the packages ---------------------------------------------------------
if ! (cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") \
    >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log" >&2
    nr_fail "cpack -G DEB"
fi
pkg() { echo "$tmp/out/$1_"*.deb; }
runtime=$(pkg nebula-resource)
dev=$(pkg nebula-resource-dev)
tools=$(pkg nebula-resource-tools)
postgres=$(pkg nebula-resource-postgres)
for deb in "$runtime" "$dev" "$tools" "$postgres"; do
    [ -f "$deb" ] || nr_fail "cpack made: $(ls "$tmp/out")"
done
version=$(dpkg-deb -f "$runtime" Version)
echo "packages: $(cd "$tmp/out" && echo *.deb)"

# The library packages built, and the client library each one's Depends must
# name (dpkg-shlibdeps finds it); a package must name no other's.
# The fleet library and the Redis driver share hiredis.
declare -A client=([sqlite]=libsqlite3-0 [postgres]=libpq5 [redis]=libhiredis [http]=libcurl
    [kafka]=librdkafka [mongo]=libmongoc [admin]=libmicrohttpd [fleet]=libhiredis
    [libuv]=libuv1 [libevent]=libevent-core)
# the libraries the program does not link (no Depends of the tools package)
not_in_tools=" testing libuv libevent "
libs=()
for name in "${!client[@]}"; do
    [ -f "$(pkg "nebula-resource-$name")" ] && libs+=("$name")
done
for name in sqlite postgres admin testing; do
    [ -f "$(pkg "nebula-resource-$name")" ] || nr_fail "no package nebula-resource-$name"
done

# ---- what each package holds --------------------------------------------------------
# has PACKAGE PATTERN... : each extended regular expression matches a path in it
has() {
    local deb=$1 re
    shift
    for re in "$@"; do
        grep -Eq "$re" "$tmp/$(basename "$deb").list" || nr_fail "$(basename "$deb") lacks $re"
    done
}
lacks() {
    local deb=$1 re
    shift
    for re in "$@"; do
        if grep -Eq "$re" "$tmp/$(basename "$deb").list"; then
            nr_fail "$(basename "$deb") holds $(grep -E "$re" "$tmp/$(basename "$deb").list" | head -1)"
        fi
    done
}
for deb in "$tmp"/out/*.deb; do
    dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/$(basename "$deb").list"
done
has "$runtime" "^/usr/lib/libnebula-resource\\.so\\.$NR_SOVERSION\$" \
    "^/usr/lib/libnebula-resource\\.so\\.$NR_SOVERSION\\."
lacks "$runtime" '^/usr/lib/libnebula-resource-' '^/usr/bin/' '^/usr/share/man/' '^/usr/include/' \
    '\.a$' '\.so$' '\.pc$' '\.cmake$'
for name in "${libs[@]}"; do
    deb=$(pkg "nebula-resource-$name")
    has "$deb" "^/usr/lib/libnebula-resource-$name\\.so\\.$NR_SOVERSION\$" \
        "^/usr/lib/libnebula-resource-$name\\.so\\.$NR_SOVERSION\\."
    # only its own library
    others=$(grep -E '^/usr/lib/libnebula-resource' "$tmp/$(basename "$deb").list" |
        grep -vE "^/usr/lib/libnebula-resource-$name\\.so\\.$NR_SOVERSION" || true)
    [ -z "$others" ] || nr_fail "$(basename "$deb") holds $others"
    lacks "$deb" '^/usr/bin/' '^/usr/include/' '\.a$' '\.so$' '\.pc$' '\.cmake$'
done
has "$tools" '^/usr/bin/nebula-resource$' '^/usr/share/man/man1/nebula-resource\.1\.gz$'
lacks "$tools" '^/usr/lib/lib' '^/usr/include/'
has "$dev" '^/usr/include/nebula/resource\.h$' '^/usr/include/nebula/export\.h$' \
    '^/usr/include/nebula/sqlite\.h$' '^/usr/lib/libnebula-resource\.a$' \
    '^/usr/lib/libnebula-resource\.so$' '^/usr/lib/libnebula-resource-sqlite\.a$' \
    '^/usr/lib/pkgconfig/nebula-resource\.pc$' '^/usr/lib/pkgconfig/nebula-resource-admin\.pc$' \
    '^/usr/include/nebula/testing\.h$' '^/usr/include/nebula/testing_harness\.h$' \
    '^/usr/lib/libnebula-resource-testing\.a$' '^/usr/lib/libnebula-resource-testing\.so$' \
    '^/usr/lib/pkgconfig/nebula-resource-testing\.pc$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResource-testing-targets\.cmake$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResourceConfig\.cmake$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResource-core-targets\.cmake$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResource-postgres-dependencies\.cmake$'
lacks "$dev" '\.so\.[0-9]' '^/usr/bin/' '^/usr/share/man/'
# the fleet library, when it was built (hiredis): its package, its -dev part
fleet=$(pkg nebula-resource-fleet)
if [ -f "$fleet" ]; then
    has "$dev" '^/usr/include/nebula/fleet\.h$' '^/usr/include/nebula/budget\.h$' \
        '^/usr/lib/libnebula-resource-fleet\.a$' '^/usr/lib/libnebula-resource-fleet\.so$' \
        '^/usr/lib/pkgconfig/nebula-resource-fleet\.pc$' \
        '^/usr/lib/cmake/NebulaResource/NebulaResource-fleet-targets\.cmake$'
    echo "fleet: $(basename "$fleet")"
else
    # nebula/fleet.h stays: admin.h and config_file.h use its types
    lacks "$dev" 'libnebula-resource-fleet' 'nebula-resource-fleet\.pc$' 'NebulaResource-fleet-'
    echo "fleet: no package (built without the fleet library: no hiredis, or NR_BUILD_FLEET=OFF)"
fi

# ---- what each package depends on ----------------------------------------------------
# Every dependency must be met on this machine (the packages the build used),
# except the -dev package's own runtime package, which must be this one.
# names DEPENDS WANT...: each WANT is a package named in DEPENDS
names() {
    local deps=$1 want
    shift
    for want in "$@"; do
        grep -qE "(^|, |\| )$want[^,]*" <<<"$deps" || return 1
    done
}
all_deps=()
runtime_deps=$(dpkg-deb -f "$runtime" Depends)
dev_deps=$(dpkg-deb -f "$dev" Depends)
tools_deps=$(dpkg-deb -f "$tools" Depends)
names "$runtime_deps" libc6 libjansson4 ||
    nr_fail "nebula-resource does not depend on libc6 and libjansson4: $runtime_deps"
for name in "${!client[@]}"; do
    names "$runtime_deps" "${client[$name]}" &&
        nr_fail "nebula-resource depends on ${client[$name]}: $runtime_deps"
done
for name in "${libs[@]}"; do
    deps=$(dpkg-deb -f "$(pkg "nebula-resource-$name")" Depends)
    names "$deps" "${client[$name]}" ||
        nr_fail "nebula-resource-$name does not depend on ${client[$name]}: $deps"
    grep -qF "nebula-resource (= $version)" <<<"$deps" ||
        nr_fail "nebula-resource-$name does not depend on nebula-resource (= $version): $deps"
    for other in "${!client[@]}"; do
        [ "$other" = "$name" ] && continue
        if [ "${client[$other]}" != "${client[$name]}" ] && names "$deps" "${client[$other]}"; then
            nr_fail "nebula-resource-$name depends on ${client[$other]} (the $other library's): $deps"
        fi
        grep -qF "nebula-resource-$other " <<<"$deps" &&
            nr_fail "nebula-resource-$name depends on nebula-resource-$other: $deps"
    done
    echo "nebula-resource-$name depends on: $deps"
    all_deps+=("$deps")
done
for name in "${libs[@]}"; do
    grep -qF "nebula-resource-$name (= $version)" <<<"$dev_deps" ||
        nr_fail "nebula-resource-dev does not depend on nebula-resource-$name (= $version): $dev_deps"
    if [[ $not_in_tools == *" $name "* ]]; then
        if grep -qF "nebula-resource-$name " <<<"$tools_deps"; then
            nr_fail "nebula-resource-tools depends on nebula-resource-$name: $tools_deps"
        fi
    else
        grep -qF "nebula-resource-$name (= $version)" <<<"$tools_deps" ||
            nr_fail "nebula-resource-tools does not depend on nebula-resource-$name (= $version): $tools_deps"
    fi
done
# the loop adapters' -dev packages, for their pkg-config files' Requires
for name in libuv libevent; do
    [ -f "$(pkg "nebula-resource-$name")" ] || continue
    want=$([ $name = libuv ] && echo libuv1-dev || echo libevent-dev)
    grep -q "$want" <<<"$dev_deps" || nr_fail "nebula-resource-dev does not depend on $want: $dev_deps"
done
grep -qF "nebula-resource (= $version)" <<<"$dev_deps" ||
    nr_fail "nebula-resource-dev does not depend on nebula-resource (= $version): $dev_deps"
# the testing library: the -dev package's headers need it; the program does not link it
grep -qF "nebula-resource-testing (= $version)" <<<"$dev_deps" ||
    nr_fail "nebula-resource-dev does not depend on nebula-resource-testing: $dev_deps"
if grep -qF "nebula-resource-testing " <<<"$tools_deps"; then
    nr_fail "nebula-resource-tools depends on nebula-resource-testing: $tools_deps"
fi
for want in libjansson-dev libsqlite3-dev libmicrohttpd-dev; do
    grep -q "$want" <<<"$dev_deps" || nr_fail "nebula-resource-dev does not depend on $want: $dev_deps"
done
if [ -f "$fleet" ]; then
    grep -q libhiredis-dev <<<"$dev_deps" ||
        nr_fail "nebula-resource-dev does not depend on libhiredis-dev (the fleet library's): $dev_deps"
fi
met() { # one Depends entry: "name (op version) | name ..."
    local alt name op ver have
    IFS='|' read -ra alts <<<"$1"
    for alt in "${alts[@]}"; do
        read -r name op ver <<<"$(sed -E 's/[(),]/ /g' <<<"$alt")"
        name=${name%%:*}
        if [[ $name == nebula-resource || $name == nebula-resource-* ]]; then
            have=$version
        else
            have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null) || continue
            [ -n "$have" ] || continue
        fi
        if [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$ver"; then
            return 0
        fi
    done
    return 1
}
for deps in "$runtime_deps" "$dev_deps" "$tools_deps" "${all_deps[@]}"; do
    IFS=',' read -ra entries <<<"$deps"
    for entry in "${entries[@]}"; do
        met "$entry" || nr_fail "dependency not met here: $entry"
    done
done
echo "nebula-resource depends on: $runtime_deps"
echo "nebula-resource-dev depends on: $dev_deps"
echo "nebula-resource-tools depends on: $tools_deps"

# The runtime package tells packages built against it what to depend on.
dpkg-deb -e "$runtime" "$tmp/control"
grep -qF "libnebula-resource $NR_SOVERSION nebula-resource (>= $version)" "$tmp/control/shlibs" ||
    nr_fail "no shlibs entry for libnebula-resource in nebula-resource"
dpkg-deb -e "$postgres" "$tmp/control-pg"
grep -qF "libnebula-resource-postgres $NR_SOVERSION nebula-resource-postgres (>= $version)" \
    "$tmp/control-pg/shlibs" || nr_fail "no shlibs entry in nebula-resource-postgres"
{ cat "$tmp/control/triggers" "$tmp/control/postinst" 2>/dev/null || true; } | grep -q ldconfig ||
    nr_fail "nebula-resource does not run ldconfig"

# ---- the core, one driver and -dev: a PostgreSQL program ------------------------------
dpkg -x "$runtime" "$tmp/pg"
dpkg -x "$postgres" "$tmp/pg"
dpkg -x "$dev" "$tmp/pg"
if ls "$tmp/pg/usr/lib" | grep -E "^libnebula-resource-[a-z]+\\.so\\.$NR_SOVERSION\$" | grep -vq postgres; then
    nr_fail "the PostgreSQL root holds another driver: $(ls "$tmp/pg/usr/lib")"
fi
mkdir -p "$tmp/pgwork"
(
    unset LD_LIBRARY_PATH
    nr_quiet "$tmp/pgwork" cmake -S tests/install/postgres -B "$tmp/pgwork/cmake" -G Ninja \
        -DCMAKE_PREFIX_PATH="$tmp/pg/usr"
    nr_quiet "$tmp/pgwork" cmake --build "$tmp/pgwork/cmake"
    "$tmp/pgwork/cmake/pg_consumer"
    nr_resolved_from "$tmp/pgwork/cmake/pg_consumer" libnebula-resource-postgres.so.$NR_SOVERSION "$tmp/pg/usr/lib"
    nr_resolved_from "$tmp/pgwork/cmake/pg_consumer" libnebula-resource.so.$NR_SOVERSION "$tmp/pg/usr/lib"
    export PKG_CONFIG_PATH="$tmp/pg/usr/lib/pkgconfig"
    # shellcheck disable=SC2046
    cc tests/install/postgres/pg_consumer.c -o "$tmp/pgwork/pg_consumer_pc" \
        $(pkg-config --cflags --libs nebula-resource-postgres) \
        -Wl,-rpath,"$tmp/pg/usr/lib"
    "$tmp/pgwork/pg_consumer_pc"
    if ldd "$tmp/pgwork/cmake/pg_consumer" | grep -E 'librdkafka|libmongoc|libhiredis|libsqlite3'; then
        nr_fail "the PostgreSQL consumer loads another driver's client library"
    fi
)
echo "core + postgres + dev: a PostgreSQL consumer built (CMake, pkg-config) and ran"

# ---- unpacked: the tree, its program, the consumers ----------------------------------
for deb in "$tmp"/out/*.deb; do
    dpkg -x "$deb" "$tmp/root"
done
nr_check_tree "$tmp/root/usr"
mkdir -p "$tmp/work"
nr_run_consumers "$tmp/root/usr" "$tmp/work"
echo "deb check: the packages built, unpacked (core + postgres + dev, and all), and their consumers built and ran"
