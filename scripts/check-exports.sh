#!/usr/bin/env bash
# check-exports.sh BUILD_DIR - every shared library built in BUILD_DIR
# exports the public API and nothing else (docs/packaging.md):
#   1. each dynamic symbol it defines (nm -D --defined-only) is an nr_* or NR_*
#      name: never an internal nr__* or nrc_* one, nor anything else;
#   2. each global nr_* symbol of the same objects (the static library beside
#      it) is exported, so no public function lacks its NR_API mark;
#   3. NR_API appears only in public headers.
# Names every offending symbol; exits 1 when there is one.
set -euo pipefail
export LC_ALL=C
build=$(cd "${1:?usage: check-exports.sh BUILD_DIR}" && pwd)
cd "$(dirname "$0")/.."

# Symbols the linker and the C runtime define in every shared object.
allowed_extra='^(_init|_fini|_edata|_end|__bss_start)$'

bad=0
mapfile -t libs < <(find "$build" -name 'libnebula-resource*.so' -not -path '*/_CPack_Packages/*' |
    sort)
[ ${#libs[@]} -gt 0 ] || {
    echo "FAIL: no libnebula-resource*.so under $build" >&2
    exit 1
}
for so in "${libs[@]}"; do
    name=$(basename "$so")
    archive=${so%.so}.a
    exported=$(nm -D --defined-only --format=posix "$so" | awk '{ print $1 }' | sort -u)
    wrong=$(grep -Ev '^(nr_[a-z0-9]|NR_[A-Z0-9])' <<<"$exported" | grep -Ev "$allowed_extra" || true)
    internal=$(grep -E '^(nr__|nrc_)' <<<"$exported" || true)
    if [ -n "$internal" ]; then
        echo "FAIL: $name exports internal symbols:" "$(tr "\n" " " <<<"$internal")" >&2
        bad=1
    fi
    wrong=$(grep -Ev '^(nr__|nrc_)' <<<"$wrong" || true)
    if [ -n "$wrong" ]; then
        echo "FAIL: $name exports symbols outside the public nr_/NR_ names:" "$(tr "\n" " " <<<"$wrong")" >&2
        bad=1
    fi
    if [ -f "$archive" ]; then
        public=$(nm --defined-only -g --format=posix "$archive" 2>/dev/null |
            awk 'NF >= 2 && $2 ~ /^[TDRBVW]$/ { print $1 }' | grep -E '^nr_[a-z0-9]' | sort -u || true)
        hidden=$(comm -23 <(echo "$public") <(echo "$exported") | grep -v '^$' || true)
        if [ -n "$hidden" ]; then
            echo "FAIL: $name does not export these public-named functions (NR_API missing" \
                "in their header, or an internal function needing the nr__ prefix):" "$(tr "\n" " " <<<"$hidden")" >&2
            bad=1
        fi
    else
        echo "FAIL: no static library $archive beside $so" >&2
        bad=1
    fi
    echo "$name: $(wc -l <<<"$exported") symbols exported"
done

if grep -rln 'NR_API' src tools drivers/*/src 2>/dev/null; then
    echo "FAIL: NR_API outside the public headers (files above)" >&2
    bad=1
fi
if [ "$bad" -ne 0 ]; then
    exit 1
fi
echo "exports check: ${#libs[@]} shared libraries export only their public API"
