#!/usr/bin/env bash
# shellcheck disable=SC2016 # the backticks below are markdown, not commands
# config_doc_test.sh ROOT TOOL - scripts/config-doc.sh fails on a table that
# differs from its schema, shows the difference, and --write mends it: on a
# copy of ROOT's docs, so the tree itself is never touched.
set -euo pipefail
root=$1 tool=$2
script=$root/scripts/config-doc.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "config_doc_test: $*" >&2; exit 1; }

mkdir -p "$tmp/docs" "$tmp/drivers"
cp "$root"/README.md "$tmp/"
cp "$root"/docs/*.md "$tmp/docs/"
for d in "$root"/drivers/*/; do
    mkdir -p "$tmp/drivers/$(basename "$d")"
    cp "$d"README.md "$tmp/drivers/$(basename "$d")/"
done
check() { "$script" --check --tool "$tool" --root "$tmp" >"$tmp/out" 2>&1; }

# the copy is as good as the tree
check || fail "the unchanged copy does not pass: $(cat "$tmp/out")"

# a default changed by hand in the pool table (pool is in every build)
sed -i 's/^| `max_size` *| int *| `10` /| `max_size`                         | int    | `11` /' "$tmp/docs/pool.md"
cmp -s "$tmp/docs/pool.md" "$root/docs/pool.md" && fail "the test could not alter docs/pool.md"
rc=0
check || rc=$?
[ $rc = 1 ] || fail "an altered table gave status $rc, not 1: $(cat "$tmp/out")"
grep -q '^-| `max_size` .*`11`' "$tmp/out" || fail "the diff does not show the altered row: $(cat "$tmp/out")"
grep -q '^+| `max_size` .*`10`' "$tmp/out" || fail "the diff does not show the schema's row: $(cat "$tmp/out")"

# a row the schema does not have
sed -i '/^| `min_idle` /a | `no_such_field` | int | `1` | | made up |' "$tmp/docs/pool.md"
rc=0
check || rc=$?
[ $rc = 1 ] || fail "an extra row gave status $rc, not 1"

# --write puts the schema's table back, byte for byte
"$script" --write --tool "$tool" --root "$tmp" >/dev/null
cmp -s "$tmp/docs/pool.md" "$root/docs/pool.md" || fail "--write did not restore docs/pool.md"
check || fail "after --write the check still fails: $(cat "$tmp/out")"

# a marker without its end, and an unknown schema name, are usage errors
printf '<!-- config-table: pool -->\n' >>"$tmp/docs/pool.md"
rc=0
check || rc=$?
[ $rc = 2 ] || fail "a marker without its end gave status $rc, not 2"
cp "$root/docs/pool.md" "$tmp/docs/pool.md"
sed -i 's/^<!-- config-table: pool -->$/<!-- config-table: poool -->/' "$tmp/docs/pool.md"
rc=0
check || rc=$?
[ $rc = 2 ] || fail "an unknown schema name gave status $rc, not 2"
grep -q 'no schema named "poool"' "$tmp/out" || fail "the unknown name is not reported: $(cat "$tmp/out")"
echo "config_doc_test: ok"
