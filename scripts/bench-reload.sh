#!/bin/bash
# bench-reload.sh BIN [RELOADS [HOLD_US [THREADS [MODE]]]] - `nebula-resource
# bench` through many reloads in a row: RELOADS (default 200) times, the
# file is rewritten and SIGHUP sent, each waited for (30 s at most) by the
# bench's `bench: reload N` line. Four steps in turn: a new driver config
# with max_size 4, min_idle 1 (new pool); a new driver config with
# max_size 2, min_idle 0 (new pool); min_idle 2 (in place); max_size 1..5
# (in place). MODE `credential` also changes the file credential the
# resource uses before every reload (rotated each time); `tenant` makes the
# resource tenant-partitioned. Prints the bench's results; the status is
# the bench's (1 when an acquire failed). docs/reload.md shows figures.
set -u
bin=${1:?usage: bench-reload.sh BIN [RELOADS [HOLD_US [THREADS [credential|tenant]]]]}
n=${2:-200}
hold=${3:-50}
threads=${4:-8}
mode=${5:-}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2> /dev/null; rm -rf "$dir"' EXIT
cred="" use="" part=""
if [ "$mode" = credential ]; then
    cred='"credentials": {"pw": {"file": "'"$dir"'/pw"}},'
    use='"credential": "pw",'
    echo s0 > "$dir/pw"
fi
[ "$mode" = tenant ] && part='"partition": "tenant",'
write() { # busy_timeout_ms max_size min_idle
    cat > "$dir/c.json.new" <<JSON
{"manager": {"workers": 2, "maintain_interval_ms": 100}, $cred
 "resources": [{"id": "db", "driver": "sqlite", $use $part
   "config": {"path": "$dir/db.sqlite", "busy_timeout_ms": $1},
   "pool": {"max_size": $2, "min_idle": $3, "acquire_timeout_ms": 2000}}]}
JSON
    mv "$dir/c.json.new" "$dir/c.json"
}
wait_line() { # ERE
    local _
    for _ in $(seq 1 6000); do
        grep -qE "$1" "$dir/out" && return 0
        kill -0 $pid 2> /dev/null || break
        sleep 0.005
    done
    echo "bench-reload.sh: no line /$1/:" >&2
    cat "$dir/out" >&2
    exit 1
}
write 5000 4 1
"$bin" bench "$dir/c.json" --resource db --threads "$threads" --seconds 3600 \
    --hold-us "$hold" > "$dir/out" 2>&1 &
pid=$!
wait_line "^SIGHUP to reload"
for i in $(seq 1 "$n"); do
    case $((i % 4)) in
    1) write $((5000 + i)) 4 1 ;;
    2) write $((5000 + i)) 2 0 ;;
    3) write $((5000 + i - 1)) 2 2 ;;
    0) write $((5000 + i - 2)) $((1 + i % 5)) 1 ;;
    esac
    [ "$mode" = credential ] && echo "s$i" > "$dir/pw"
    kill -HUP $pid
    wait_line "^bench: reload $i at "
done
kill -INT $pid
wait $pid
status=$?
pid=
sed -n '/^results for/,$p' "$dir/out"
exit $status
