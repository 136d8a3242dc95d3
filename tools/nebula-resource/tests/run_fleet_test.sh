#!/bin/bash
# run_fleet_test.sh BIN - `nebula-resource run` with a resource's "fleet"
# section, against the redis-server of drivers/redis/tests/with-redis.sh
# (NR_TEST_REDIS_*): the resource starts in its fleet budget, /status shows
# the budget's "fleet" object (budget, leases, mode, Redis up), a SIGHUP
# that changes only the budget sets it in Redis, one that changes another
# field of the section is refused with nothing changed, and SIGTERM gives
# the leases back. The Redis password (a credential ref) appears in no output.
set -u
bin=$1
. "$(dirname "$0")/../../../scripts/lib/services.sh"
svc_init cli-run-fleet
fail() {
    echo "FAIL: $*"
    echo "--- program output:"
    cat "$SVC_DIR/out.txt"
    exit 1
}
: "${NR_TEST_REDIS_PORT:?run under drivers/redis/tests/with-redis.sh}"
port=$(svc_freeport)
prefix=nrcli$$
write() { # budget lease_ttl_ms [extra resource]
    cat > "$SVC_DIR/config.json" <<JSON
{
  "manager": {"workers": 2, "maintain_interval_ms": 200, "health_interval_ms": 300},
  "credentials": {"redis-pw": {"env": "NR_TEST_REDIS_PASSWORD"}},
  "resources": [
    {"id": "orders-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/orders.db"},
     "pool": {"max_size": 4, "min_idle": 1},
     "fleet": {"budget": $1, "redis_host": "127.0.0.1", "redis_port": $NR_TEST_REDIS_PORT,
               "credential_ref": "redis-pw", "on_redis_down": "fail_closed",
               "min_per_process": 1, "lease_ttl_ms": $2, "prefix": "$prefix"}},
    {"id": "plain-db", "driver": "sqlite", "config": {"path": "$SVC_DIR/plain.db"}}${3:-}
  ]
}
JSON
}
write 6 10000
"$bin" run "$SVC_DIR/config.json" --port "$port" > "$SVC_DIR/out.txt" 2>&1 &
pid=$!
svc_track $pid
url=http://127.0.0.1:$port
svc_wait_for "/readyz of nebula-resource run" curl -sf "$url/readyz" || fail "never ready"
grep -q "orders-db .*fleet budget" "$SVC_DIR/out.txt" || fail "the start line does not say fleet budget"

fleet() { curl -s "$url/status" | jq -c '.resources[] | select(.id=="'"$1"'") | .fleet'; }
f=$(fleet orders-db)
[ "$(echo "$f" | jq .budget)" = 6 ] || fail "fleet budget in /status: $f"
[ "$(echo "$f" | jq -r .mode)" = fail_closed ] || fail "fleet mode in /status: $f"
[ "$(echo "$f" | jq .redis_up)" = true ] || fail "redis not up in /status: $f"
[ "$(echo "$f" | jq .local_limit)" -ge 1 ] || fail "no local limit in /status: $f"
[ "$(echo "$f" | jq .processes)" = 1 ] || fail "processes in /status: $f"
[ "$(echo "$f" | jq .renew_failures)" = 0 ] || fail "renew failures in /status: $f"
[ "$(fleet plain-db)" = null ] || fail "a resource without a fleet section has one in /status"
rcli() { redis-cli -h 127.0.0.1 -p "$NR_TEST_REDIS_PORT" -a "$NR_TEST_REDIS_PASSWORD" --no-auth-warning "$@"; }
[ "$(rcli get "$prefix:orders-db:budget")" = 6 ] || fail "the budget key in Redis"

wait_line() {
    for _ in $(seq 100); do
        grep -qF "$1" "$SVC_DIR/out.txt" && return 0
        sleep 0.1
    done
    fail "no line '$1'"
}
# a budget-only change: set in Redis
write 9 10000
kill -HUP $pid
wait_line "orders-db: fleet budget set to 9"
[ "$(rcli get "$prefix:orders-db:budget")" = 9 ] || fail "the budget key after the reload"
for _ in $(seq 50); do
    [ "$(fleet orders-db | jq .budget)" = 9 ] && break
    sleep 0.2
done
[ "$(fleet orders-db | jq .budget)" = 9 ] || fail "/status after the budget reload: $(fleet orders-db)"

# another field of the section: refused, nothing changed
write 9 20000
kill -HUP $pid
wait_line 'its "fleet" section changed other than its budget'
[ "$(fleet orders-db | jq .budget)" = 9 ] || fail "a refused reload changed the fleet"

# a resource with a fleet section added by a reload, then removed
cache=', {"id": "cache-db", "driver": "sqlite", "config": {"path": "'"$SVC_DIR"'/cache.db"},
          "fleet": {"budget": 3, "redis_port": '"$NR_TEST_REDIS_PORT"', "prefix": "'"$prefix"'",
                    "credential_ref": "redis-pw"}}'
write 9 10000 "$cache"
kill -HUP $pid
wait_line "added cache-db"
[ "$(fleet cache-db | jq .budget)" = 3 ] || fail "the added resource's fleet: $(fleet cache-db)"
[ "$(rcli get "$prefix:cache-db:budget")" = 3 ] || fail "the added budget key in Redis"
write 9 10000
kill -HUP $pid
wait_line "removed cache-db"
for _ in $(seq 50); do
    [ "$(rcli zcard "$prefix:cache-db:leases")" = 0 ] && break
    sleep 0.1
done
[ "$(rcli zcard "$prefix:cache-db:leases")" = 0 ] || fail "leases of the removed resource left"
[ "$(fleet orders-db | jq .budget)" = 9 ] || fail "orders-db's fleet after the removal"

grep -qF "$NR_TEST_REDIS_PASSWORD" "$SVC_DIR/out.txt" && fail "the Redis password in the output"
curl -s "$url/status" | grep -qF "$NR_TEST_REDIS_PASSWORD" && fail "the Redis password in /status"
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "shutdown complete" "$SVC_DIR/out.txt" || fail "no completed shutdown"
[ "$(rcli zcard "$prefix:orders-db:leases")" = 0 ] || fail "leases left in Redis after the exit"
echo "run fleet: the fleet section's budget, in /status, reloaded, given back"
