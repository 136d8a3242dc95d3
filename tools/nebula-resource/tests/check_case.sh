#!/bin/bash
# check_case.sh BIN CASE - run `BIN check CASE.json [CASE.args]` in tests/check
# and compare with CASE.expected: its first line is "# exit N" (the exit
# status), the rest the exact standard output; standard error must be empty.
# In CASE.expected, @DRIVERS@ stands for the drivers built in (they depend on
# the build). A known secret is in the environment and in secret.txt: it must
# never appear in the output.
#
#   check_case.sh --regen BIN CASE   writes CASE.expected from the program
set -u
regen=0
if [ "${1:-}" = "--regen" ]; then
    regen=1
    shift
fi
bin=$1
name=$2
cd "$(dirname "$0")/check" || exit 1
export NR_CLI_CHECK_SECRET=hunter2-do-not-print
unset NR_CLI_CHECK_UNSET_VARIABLE
secret=$NR_CLI_CHECK_SECRET
drivers=$("$bin" --version | sed -n 's/^drivers: //p')
args=()
[ -f "$name.args" ] && read -r -a args < "$name.args"
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$bin" check "$name.json" "${args[@]}" > "$out" 2> "$err"
status=$?
if [ $regen = 1 ]; then
    { echo "# exit $status"; sed "s/(built in: $drivers)/(built in: @DRIVERS@)/" "$out"; } > "$name.expected"
    exit 0
fi
fail=0
want_status=$(head -1 "$name.expected" | sed -n 's/^# exit //p')
if [ "$status" != "$want_status" ]; then
    echo "FAIL: exit status $status, expected $want_status"
    fail=1
fi
if ! diff -u <(tail -n +2 "$name.expected" | sed "s/@DRIVERS@/$drivers/") "$out"; then
    echo "FAIL: output differs from $name.expected (diff above: - expected, + got)"
    fail=1
fi
if [ -s "$err" ]; then
    echo "FAIL: unexpected standard error:"
    cat "$err"
    fail=1
fi
if grep -q "$secret" "$out" "$err"; then
    echo "FAIL: the secret appears in the output"
    fail=1
fi
[ $fail = 0 ] && echo "ok: $name (exit $status)"
exit $fail
