#!/usr/bin/env bash
# run-spike.sh - HikariCP's spike test beside Nebula Resource, in the same run.
#
#   bench/run-spike.sh [--create-ms 150] [--hold-ms 2] [--max 50] [--min-idle 5] [--threads 50]
#
# Every create takes create-ms, a request holds its instance hold-ms, the pool
# (max_size max, min_idle min-idle) is warmed first, then `threads` callers
# arrive at once and each makes one request. Runs REPS (default 3) interleaved
# reps of hikari (the peers harness's java/SpikeHikari.java), nebula-pool and
# nebula-manager (bench/bench_spike.c, release build), the peer order rotating
# from rep to rep, and prints a markdown table of the medians and the ratios
# ours / hikari. The flags go to both sides unchanged.
# Environment: PEERS_DIR (default ../shared/peers beside the checkout), REPS,
# SPIKE_JVM_FLAGS (default none), NO_INSTALL=1 (do not apt-get the jars).
# Raw JSON lines are kept in build/spike-results/spike-<UTC stamp>.jsonl, each
# run's stderr in build/spike-results/logs-<UTC stamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
REPS=${REPS:-3}
read -r -a jvm_flags <<<"${SPIKE_JVM_FLAGS:-}"

args=()
while [ $# -gt 0 ]; do
    case $1 in
    --create-ms | --hold-ms | --max | --min-idle | --threads)
        [[ ${2:-} =~ ^[0-9]+$ ]] || {
            echo "run-spike.sh: $1 wants a whole number" >&2
            exit 2
        }
        args+=("$1" "$2")
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d'
        exit 0
        ;;
    *)
        echo "run-spike.sh: unknown argument '$1' (see --help)" >&2
        exit 2
        ;;
    esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || {
    echo "run-spike.sh: REPS must be a positive whole number" >&2
    exit 2
}
java_dir=$peers/java
for f in SpikeHikari StubDataSource StubConnection Res; do
    [ -f "$java_dir/$f.java" ] || {
        echo "run-spike.sh: $java_dir/$f.java is missing (set PEERS_DIR)" >&2
        exit 1
    }
done

# ---- dependencies: a JDK and Debian's HikariCP and SLF4J jars
# shellcheck source=bench/need-packages.sh
. bench/need-packages.sh
bench_need_packages run-spike.sh libhikaricp-java libslf4j-java
jar() {
    local j
    for j in "$@"; do
        [ -f "/usr/share/java/$j" ] && {
            echo "/usr/share/java/$j"
            return
        }
    done
    echo "run-spike.sh: none of $* in /usr/share/java" >&2
    exit 1
}
hikari_jar=$(jar HikariCP.jar HikariCP-java7.jar)
cp_jars="$hikari_jar:$(jar slf4j-api.jar):$(jar slf4j-simple.jar)"

# ---- build: our side in release, the Java side into build/spike-java
echo "== cmake --build build/bench-release --target bench_spike" >&2
cmake -S . -B build/bench-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF >/dev/null
if ! build_log=$(cmake --build build/bench-release --target bench_spike 2>&1); then
    printf '%s\n' "$build_log" >&2
    echo "run-spike.sh: the build failed" >&2
    exit 1
fi
printf '%s\n' "$build_log" | grep -v "^\[" >&2 || true
spike=$root/build/bench-release/bench/bench_spike
jwork=$root/build/spike-java
mkdir -p "$jwork"
echo "== javac SpikeHikari.java -> $jwork" >&2
javac --release 17 -Xlint:-options -cp "$cp_jars" -d "$jwork" \
    "$java_dir/SpikeHikari.java" "$java_dir/StubDataSource.java" \
    "$java_dir/StubConnection.java" "$java_dir/Res.java"

# ---- interleaved reps
out=$root/build/spike-results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$out/spike-$stamp.jsonl
logs=$out/logs-$stamp
mkdir -p "$logs"
: >"$raw"
peer_list=(hikari nebula-pool nebula-manager)
run_peer() {
    case $1 in
    hikari) java "${jvm_flags[@]}" -cp "$jwork:$cp_jars" SpikeHikari "${args[@]}" ;;
    nebula-pool) "$spike" --mode pool "${args[@]}" ;;
    nebula-manager) "$spike" --mode manager "${args[@]}" ;;
    esac
}
echo "== spike: ${args[*]:-defaults}, $REPS reps -> $raw" >&2
for rep in $(seq 1 "$REPS"); do
    for i in 0 1 2; do
        peer=${peer_list[$(((i + rep - 1) % 3))]}
        log=$logs/$peer-$rep.err
        rc=0
        line=$(run_peer "$peer" 2>"$log" | grep '^{"peer"' | tail -1) || rc=$?
        if [ -z "$line" ]; then
            echo "   $peer rep $rep: no result (rc=$rc), see $log" >&2
            line="{\"peer\":\"$peer\",\"no_result\":true}"
        elif [ $rc -ne 0 ]; then
            echo "   $peer rep $rep: exit status $rc, see $log" >&2
        fi
        # SpikeHikari prints a failed request's exception instead of counting it
        if [ "$peer" = hikari ] && [ -n "$line" ]; then
            n=$(grep -cE '^[A-Za-z0-9_.$]+(Exception|Error)\b' "$log" || true)
            line="${line%\}},\"failed\":$n}"
        fi
        line="{\"rep\":$rep,${line#\{}"
        echo "   $line" >&2
        printf '%s\n' "$line" >>"$raw"
    done
done

python3 - "$raw" "${args[*]:-}" <<'EOF'
import json, statistics, sys
raw, flags = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(raw) if l.strip()]
peers = ["hikari", "nebula-pool", "nebula-manager"]
keys = ["connections_after", "creates", "spike_ms"]

def med(peer, key):
    v = [r[key] for r in rows if r["peer"] == peer and key in r]
    return statistics.median(v) if v else None

def fmt(x):
    if x is None:
        return "-"
    return "%.1f" % x if x != int(x) else "%d" % x

def ratio(a, b):
    return "-" if a is None or not b else "%.2f" % (a / b)

reps = max((r["rep"] for r in rows), default=0)
print()
print("Spike test (%s), median of %d reps" % (flags or "defaults: --create-ms 150 --hold-ms 2 "
      "--max 50 --min-idle 5 --threads 50", reps))
print()
print("| peer | connections_after | creates | spike_ms | max_wait_ms | failed (all reps) "
      "| connections / hikari | creates / hikari | spike_ms / hikari |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
h = {k: med("hikari", k) for k in keys}
bad = 0
for p in peers:
    m = {k: med(p, k) for k in keys + ["max_wait_ms"]}
    failed = sum(r.get("failed", 0) for r in rows if r["peer"] == p)
    missing = sum(1 for r in rows if r["peer"] == p and r.get("no_result"))
    bad += failed + missing
    fail = str(failed) + (" (+%d runs without a result)" % missing if missing else "")
    rat = ["", "", ""] if p == "hikari" else [ratio(m[k], h[k]) for k in keys]
    print("| %s | %s | %s | %s | %s | %s | %s |" % (p, fmt(m["connections_after"]),
          fmt(m["creates"]), fmt(m["spike_ms"]), fmt(m["max_wait_ms"]), fail, " | ".join(rat)))
print()
print("hikari reports no max_wait_ms; its failed count is the number of exceptions it printed.")
sys.exit(1 if bad else 0)
EOF
