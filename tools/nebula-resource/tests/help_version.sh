#!/bin/bash
# help_version.sh BIN - the program's help and each command's (`help CMD`
# and `CMD --help` give the same text), --version with the built-in
# drivers, the drivers list, usage errors (status 2), and the man page
# renders with `man -l` without warnings.
set -u
bin=$1
docs=$(cd "$(dirname "$0")/../../../docs" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
"$bin" --help > "$tmp/help" || fail "--help: status is not 0"
for want in "Usage: nebula-resource COMMAND" "check CONFIG" "run CONFIG" "bench CONFIG" \
    "demo " "drivers " "help COMMAND"; do
    grep -qF -- "$want" "$tmp/help" || fail "--help lacks '$want'"
done
"$bin" help > "$tmp/help2" && cmp -s "$tmp/help" "$tmp/help2" || fail "'help' differs from --help"
for cmd in check run bench demo drivers; do
    "$bin" help $cmd > "$tmp/a" || fail "help $cmd: status is not 0"
    "$bin" $cmd --help > "$tmp/b" || fail "$cmd --help: status is not 0"
    cmp -s "$tmp/a" "$tmp/b" || fail "'help $cmd' and '$cmd --help' differ"
    head -1 "$tmp/a" | grep -q "^Usage: nebula-resource $cmd" || fail "help $cmd: no usage line"
done
grep -qF -- "--port N" <("$bin" help run) || fail "help run lacks --port"
grep -qF -- "--hold-us H" <("$bin" help bench) || fail "help bench lacks --hold-us"
grep -qF -- "--reload-every MS" <("$bin" help bench) || fail "help bench lacks --reload-every"
grep -qF -- "--print" <("$bin" help check) || fail "help check lacks --print"
grep -qF -- "--no-credentials" <("$bin" help check) || fail "help check lacks --no-credentials"
"$bin" help nope > /dev/null 2>&1
[ $? = 2 ] || fail "help nope: status is not 2"
"$bin" > /dev/null 2> "$tmp/err"
[ $? = 2 ] || fail "no command: status is not 2"
grep -q "^Usage:" "$tmp/err" || fail "no command: no usage on stderr"
"$bin" check --frobnicate > /dev/null 2>&1
[ $? = 2 ] || fail "check --frobnicate: status is not 2"

"$bin" --version > "$tmp/v" || fail "--version: status is not 0"
grep -qx "nebula-resource [0-9][0-9.]*" <(head -1 "$tmp/v") || fail "--version first line"
grep -qE "^drivers: (.*, )?sqlite(, .*)?$" "$tmp/v" || fail "--version lacks the driver list"
"$bin" drivers > "$tmp/d" || fail "drivers: status is not 0"
grep -qE "^sqlite +config keys: path busy_timeout_ms wal read_only create foreign_keys health_check$" "$tmp/d" ||
    fail "drivers does not list sqlite with its keys"
[ "$(wc -l < "$tmp/d")" = "$(sed -n 's/^drivers: //p' "$tmp/v" | tr ',' '\n' | wc -l)" ] ||
    fail "drivers and --version disagree"

if command -v man > /dev/null; then
    MANWIDTH=80 man -l "$docs/nebula-resource.1" > "$tmp/man" 2> "$tmp/manerr" ||
        fail "man -l failed: $(cat "$tmp/manerr")"
    [ -s "$tmp/manerr" ] && fail "man -l warned: $(cat "$tmp/manerr")"
    for want in NAME SYNOPSIS DESCRIPTION COMMANDS "CONFIGURATION FILE" "EXIT STATUS" \
        SIGNALS ENDPOINTS EXAMPLES "nebula-resource check" "nebula-resource run" \
        "nebula-resource bench" "nebula-resource demo"; do
        grep -qF -- "$want" "$tmp/man" || fail "the man page lacks '$want'"
    done
fi
echo "ok: help, version, drivers, man page"
