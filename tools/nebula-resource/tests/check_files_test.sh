#!/bin/bash
# check_files_test.sh BIN - `check` (and `run`, which loads the same way) on
# what is not a readable regular config file: a FIFO, a directory, a
# character device and a socket are refused at once, naming what they are
# (a FIFO used to block for ever); a file over the 16 MiB limit is refused
# naming the limit and its size, one of exactly 16 MiB is read.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fail() {
    echo "FAIL: $*"
    exit 1
}

# expect FILE RULE: `check FILE` exits 1 at once and prints exactly the
# problem and the summary; stderr stays empty.
expect() {
    local file=$1 rule=$2
    timeout 30 "$bin" check "$file" > out.txt 2> err.txt
    local status=$?
    [ $status = 124 ] && fail "check $file: still running after 30 s"
    [ $status = 1 ] || fail "check $file: status $status, expected 1"
    printf '%s: $: %s\n%s: invalid: 1 problem\n' "$file" "$rule" "$file" > want.txt
    diff -u want.txt out.txt || fail "check $file: output differs (- expected, + got)"
    [ -s err.txt ] && fail "check $file: unexpected stderr: $(cat err.txt)"
    return 0
}

mkfifo fifo.json || fail "mkfifo"
expect fifo.json "cannot read the file: it is a FIFO (named pipe), not a regular file"
# a FIFO with a writer waiting is refused too, and the writer is not read
(echo '{"resources": []}' > fifo.json) &
writer=$!
expect fifo.json "cannot read the file: it is a FIFO (named pipe), not a regular file"
kill $writer 2> /dev/null
wait $writer 2> /dev/null

mkdir dir.json
expect dir.json "cannot read the file: it is a directory, not a regular file"
expect /dev/null "cannot read the file: it is a character device, not a regular file"
if command -v python3 > /dev/null; then
    python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' sock.json ||
        fail "cannot make a socket"
    expect sock.json "cannot read the file: it is a socket, not a regular file"
fi
expect missing.json "cannot read the file: No such file or directory"

# `run` loads the config the same way: refused at once, on stderr
timeout 30 "$bin" run fifo.json > out.txt 2> err.txt
status=$?
[ $status = 1 ] || fail "run fifo.json: status $status, expected 1"
grep -qxF 'fifo.json: $: cannot read the file: it is a FIFO (named pipe), not a regular file' \
    err.txt || fail "run fifo.json: no such line on stderr: $(cat err.txt)"

# the size limit: 16 MiB is read, one byte more is not
limit=$((16 * 1024 * 1024))
{
    printf '{"resources": []}'
    head -c $((limit - 17)) /dev/zero | tr '\0' ' '
} > max.json
[ "$(stat -c %s max.json)" = $limit ] || fail "max.json is not $limit bytes"
"$bin" check max.json > out.txt 2>&1 || fail "check of a $limit-byte file: $(cat out.txt)"
grep -qxF "max.json: valid: 0 resources; start order: (none)" out.txt ||
    fail "check of a $limit-byte file: $(cat out.txt)"
cp max.json big.json
printf ' ' >> big.json
expect big.json \
    "cannot read the file: it is larger than the 16 MiB limit for a config file (got $((limit + 1)) bytes)"
echo "ok: check refuses what is not a regular file, and files over the size limit"
