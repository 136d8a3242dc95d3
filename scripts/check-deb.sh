#!/usr/bin/env bash
# check-deb.sh BUILD_DIR - build the Debian packages of a built BUILD_DIR with
# CPack (`cpack -G DEB`, cmake/Package.cmake), check what each holds and what
# it depends on, unpack both into a temporary root with `dpkg -x` (nothing is
# installed on the system, so it runs as root or not, any number of times),
# then check the unpacked tree and build and run the consumers against it as
# check-install.sh does for an installed prefix (scripts/lib/consumers.sh).
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
runtime=$(echo "$tmp"/out/nebula-resource_*.deb)
dev=$(echo "$tmp"/out/nebula-resource-dev_*.deb)
[ -f "$runtime" ] && [ -f "$dev" ] || nr_fail "cpack made: $(ls "$tmp/out")"
version=$(dpkg-deb -f "$runtime" Version)
echo "packages: $(basename "$runtime") $(basename "$dev")"

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
for deb in "$runtime" "$dev"; do
    dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$tmp/$(basename "$deb").list"
done
has "$runtime" '^/usr/lib/libnebula-resource\.so\.0$' '^/usr/lib/libnebula-resource\.so\.0\.' \
    '^/usr/lib/libnebula-resource-admin\.so\.0$' '^/usr/lib/libnebula-resource-sqlite\.so\.0$' \
    '^/usr/bin/nebula-resource$' '^/usr/share/man/man1/nebula-resource\.1\.gz$'
lacks "$runtime" '^/usr/include/' '\.a$' '\.so$' '\.pc$' '\.cmake$'
has "$dev" '^/usr/include/nebula/resource\.h$' '^/usr/include/nebula/export\.h$' \
    '^/usr/include/nebula/sqlite\.h$' '^/usr/lib/libnebula-resource\.a$' \
    '^/usr/lib/libnebula-resource\.so$' '^/usr/lib/libnebula-resource-sqlite\.a$' \
    '^/usr/lib/pkgconfig/nebula-resource\.pc$' '^/usr/lib/pkgconfig/nebula-resource-admin\.pc$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResourceConfig\.cmake$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResource-core-targets\.cmake$' \
    '^/usr/lib/cmake/NebulaResource/NebulaResource-postgres-dependencies\.cmake$'
lacks "$dev" '\.so\.[0-9]' '^/usr/bin/' '^/usr/share/man/'

# ---- what each package depends on ----------------------------------------------------
# Every dependency must be met on this machine (the packages the build used),
# except the -dev package's own runtime package, which must be this one.
runtime_deps=$(dpkg-deb -f "$runtime" Depends)
dev_deps=$(dpkg-deb -f "$dev" Depends)
for want in libc6 libjansson4 libsqlite3-0 libmicrohttpd; do
    grep -q "$want" <<<"$runtime_deps" || nr_fail "nebula-resource does not depend on $want: $runtime_deps"
done
grep -qF "nebula-resource (= $version)" <<<"$dev_deps" ||
    nr_fail "nebula-resource-dev does not depend on nebula-resource (= $version): $dev_deps"
for want in libjansson-dev libsqlite3-dev libmicrohttpd-dev; do
    grep -q "$want" <<<"$dev_deps" || nr_fail "nebula-resource-dev does not depend on $want: $dev_deps"
done
met() { # one Depends entry: "name (op version) | name ..."
    local alt name op ver have
    IFS='|' read -ra alts <<<"$1"
    for alt in "${alts[@]}"; do
        read -r name op ver <<<"$(sed -E 's/[(),]/ /g' <<<"$alt")"
        name=${name%%:*}
        if [ "$name" = nebula-resource ]; then
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
for deps in "$runtime_deps" "$dev_deps"; do
    IFS=',' read -ra entries <<<"$deps"
    for entry in "${entries[@]}"; do
        met "$entry" || nr_fail "dependency not met here: $entry"
    done
done
echo "nebula-resource depends on: $runtime_deps"
echo "nebula-resource-dev depends on: $dev_deps"

# The runtime package tells packages built against it what to depend on.
dpkg-deb -e "$runtime" "$tmp/control"
grep -qF "libnebula-resource 0 nebula-resource (>= $version)" "$tmp/control/shlibs" ||
    nr_fail "no shlibs entry for libnebula-resource in nebula-resource"
{ cat "$tmp/control/triggers" "$tmp/control/postinst" 2>/dev/null || true; } | grep -q ldconfig ||
    nr_fail "nebula-resource does not run ldconfig"

# ---- unpacked: the tree, its program, the consumers ----------------------------------
dpkg -x "$runtime" "$tmp/root"
dpkg -x "$dev" "$tmp/root"
nr_check_tree "$tmp/root/usr"
mkdir -p "$tmp/work"
nr_run_consumers "$tmp/root/usr" "$tmp/work"
echo "deb check: both packages built, unpacked, and their consumers built and ran"
