#!/usr/bin/env bash
# test_doc_snippets.sh - the pages' snippets are in their files
# (scripts/check-doc-snippets.sh), and the check fails on one that is not:
# a copy of a page with one line of a snippet changed must be refused,
# naming the page and the file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=$root/scripts/check-doc-snippets.sh
"$check" "$root/docs/writing-a-driver.md"
# the drivers' event-loop examples are pieces of their tests
(cd "$root" && "$check" drivers/postgres/README.md drivers/redis/README.md)
# the event-loop page's code is taken from examples/event-loop
(cd "$root" && "$check" docs/event-loops.md)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the first line of the first snippet, altered
awk '/<!-- snippet:/{m=NR} m && NR==m+2 && !done {print $0 " /* drifted */"; done=1; next} {print}' \
    "$root/docs/writing-a-driver.md" >"$tmp/drifted.md"
if out=$("$check" "$tmp/drifted.md" 2>&1); then
    echo "FAIL: a drifted snippet passed the check" >&2
    exit 1
fi
case "$out" in
*"drifted.md:"*"is not in examples/memcached-driver/"*) echo "ok: the drifted snippet was refused" ;;
*)
    echo "FAIL: unexpected message: $out" >&2
    exit 1
    ;;
esac
