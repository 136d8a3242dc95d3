#!/bin/sh
# test_usdt.sh - check that a built library carries every USDT probe of the
# provider nebula_resource, each with its number of arguments.
#
# Usage: test_usdt.sh path/to/libnebula-resource.so
# Exit: 0 all probes present; 1 a probe is missing or wrong (or the file is
# unreadable); 77 (skip) when readelf is not installed.
set -u

lib=${1:-}
if [ -z "$lib" ]; then
    echo "usage: $0 path/to/libnebula-resource.so" >&2
    exit 1
fi
if [ ! -r "$lib" ]; then
    echo "FAIL: cannot read $lib" >&2
    exit 1
fi
if ! command -v readelf >/dev/null 2>&1; then
    echo "SKIP: readelf not found (binutils)" >&2
    exit 77
fi

notes=$(readelf -n "$lib" 2>&1) || {
    echo "FAIL: readelf -n $lib failed:" >&2
    echo "$notes" >&2
    exit 1
}

# One line per probe of our provider: "<name> <argument count>".
found=$(printf '%s\n' "$notes" | awk '
    /^[[:space:]]*Provider:/ { provider = $2; name = ""; next }
    /^[[:space:]]*Name:/     { name = $2; next }
    /^[[:space:]]*Arguments:/ {
        if (provider == "nebula_resource" && name != "")
            print name, NF - 1
        provider = ""; name = ""
    }')

if [ -z "$found" ]; then
    echo "FAIL: $lib has no USDT probe of provider nebula_resource" >&2
    echo "      (built with NR_WITH_USDT=OFF, or without <sys/sdt.h>?)" >&2
    exit 1
fi

status=0
for want in "acquire 3" "release 2" "create 3" "destroy 2" "health 3"; do
    name=${want% *}
    nargs=${want#* }
    got=$(printf '%s\n' "$found" | awk -v n="$name" '$1 == n { print $2 }' | sort -u)
    if [ -z "$got" ]; then
        echo "FAIL: probe nebula_resource:$name is missing from $lib" >&2
        status=1
    elif [ "$got" != "$nargs" ]; then
        echo "FAIL: probe nebula_resource:$name has $got argument(s) in some note; want $nargs" >&2
        status=1
    else
        count=$(printf '%s\n' "$found" | awk -v n="$name" '$1 == n' | wc -l)
        echo "ok: nebula_resource:$name ($nargs arguments, $count site(s))"
    fi
done
if [ "$status" -eq 0 ]; then
    echo "PASS: all 5 nebula_resource probes present in $lib"
fi
exit "$status"
