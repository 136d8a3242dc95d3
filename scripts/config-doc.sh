#!/usr/bin/env bash
# config-doc.sh - the config tables of the docs, made from the schemas.
#
# A table lives between two markers in a markdown file:
#
#   <!-- config-table: postgres -->
#   (the table config_doc prints for "postgres")
#   <!-- /config-table -->
#
# The words after "config-table:" are config_doc's arguments: a schema name,
# or "A and B" (A's fields that B has too), or "A minus B" (those it has not).
#
#   --check   exit 1, with a diff, when a table differs from what the schema
#             gives (the test run does this: a README cannot drift)
#   --write   rewrite the tables that differ
#   --tool P  the config_doc program (default: $NR_CONFIG_DOC, else the first
#             build/*/tools/config-doc/config_doc)
#   --root D  the tree whose drivers/*/README.md, docs/*.md and README.md are
#             read (default: this script's tree)
#
# A table whose driver the tool was built without is left as it is, with a
# note; markers inside fenced code blocks are examples, left alone.
# Exit status: 0; 1 when --check found a difference; 2 for bad usage, a
# missing tool, an unknown schema name or a marker without its end.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mode='' tool=${NR_CONFIG_DOC:-} root=$here
while [ $# -gt 0 ]; do
    case $1 in
    --check | --write) mode=${1#--} ;;
    --tool) tool=$2; shift ;;
    --root) root=$2; shift ;;
    *) echo "usage: $0 --check|--write [--tool PATH] [--root DIR]" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$mode" ] || { echo "usage: $0 --check|--write [--tool PATH] [--root DIR]" >&2; exit 2; }
if [ -z "$tool" ]; then
    for t in "$here"/build/*/tools/config-doc/config_doc; do
        [ -x "$t" ] && { tool=$t; break; }
    done
fi
if [ -z "$tool" ] || [ ! -x "$tool" ]; then
    echo "config-doc: no config_doc program (give --tool)" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Print file $1 with every table between markers made anew.
render() {
    local file=$1 line args in_table=0 in_fence=0 keep=0 n=0 rc found=0 skipped=0
    while IFS= read -r line || [ -n "$line" ]; do
        n=$((n + 1))
        if [ $in_table = 1 ]; then
            if [ "$line" = "<!-- /config-table -->" ]; then
                in_table=0
                printf '%s\n' "$line"
            elif [ $keep = 1 ]; then
                printf '%s\n' "$line"
            fi
            continue
        fi
        printf '%s\n' "$line"
        # a marker shown in a fenced code block is an example, not a table
        if [[ $line == '```'* ]]; then
            in_fence=$((1 - in_fence))
            continue
        fi
        if [ $in_fence = 0 ] && [[ $line =~ ^\<\!--\ config-table:\ (.*)\ --\>$ ]]; then
            args=${BASH_REMATCH[1]}
            in_table=1 keep=0 found=$((found + 1))
            rc=0
            # shellcheck disable=SC2086
            "$tool" $args >"$tmp/table" 2>"$tmp/err" || rc=$?
            if [ $rc = 3 ]; then
                echo "config-doc: $file:$n: $args: not in this build, left as it is" >&2
                keep=1 skipped=$((skipped + 1))
            elif [ $rc != 0 ]; then
                echo "config-doc: $file:$n: $(cat "$tmp/err")" >&2
                return 2
            else
                printf '\n'
                cat "$tmp/table"
                printf '\n'
            fi
        fi
    done <"$file"
    if [ $in_table = 1 ]; then
        echo "config-doc: $file: a config-table marker has no <!-- /config-table -->" >&2
        return 2
    fi
    echo "$((found - skipped)) $skipped" >"$tmp/count"
}

status=0 tables=0 skipped=0
for file in "$root"/README.md "$root"/docs/*.md "$root"/drivers/*/README.md; do
    if [ ! -f "$file" ] || ! grep -q '^<!-- config-table: ' "$file"; then
        continue
    fi
    render "$file" >"$tmp/new" || exit 2
    read -r done_here skipped_here <"$tmp/count"
    tables=$((tables + done_here)) skipped=$((skipped + skipped_here))
    if ! cmp -s "$file" "$tmp/new"; then
        if [ "$mode" = check ]; then
            echo "config-doc: ${file#"$root"/} differs from its schema (scripts/config-doc.sh --write mends it):"
            diff -u "$file" "$tmp/new" || true
            status=1
        else
            cp "$tmp/new" "$file"
            echo "config-doc: wrote ${file#"$root"/}"
        fi
    fi
done
if [ $((tables + skipped)) = 0 ]; then
    echo "config-doc: no config-table marker under $root" >&2
    exit 2
fi
if [ $status = 0 ]; then
    echo "config-doc: $tables tables $([ "$mode" = check ] && echo "match their schemas" ||
        echo "made from their schemas")$([ $skipped = 0 ] || echo ", $skipped not in this build")"
fi
exit $status
