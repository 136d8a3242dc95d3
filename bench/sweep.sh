#!/usr/bin/env bash
# sweep.sh - pool throughput over max_size 8 .. 10,000 (and optionally over
# thread counts), Nebula Resource beside HikariCP and the plain mutex pool
# (naive), on the peers harness's workload (acquire + touch + release, no
# hold; see ../shared/peers/README.md, "Workload definition").
#
#   bench/sweep.sh                 2 threads, max_size 8 .. 10000 (about 4 minutes)
#   THREADS="1 2 4 8 16 32" bench/sweep.sh     every thread count too (about 25 minutes)
#
# It builds the library with release flags (build/bench-release, as
# bench/run-peers.sh does), builds the harness's bench_naive, bench_nebula
# (bench/adapter_nebula.c) and its Java driver into $PEERS_WORK/build, then
# calls those binaries directly with --threads T --max M, one process per
# cell, interleaved: rep -> threads -> size -> peer, the peer order rotating.
# Each cell's median over the reps goes into one table per thread count:
# size, ops/s of each peer, ours / hikari, ours / (ours at the smallest
# size), and the range of ours over the reps. A cell whose correctness checks failed (lost update, object held
# twice, timeout) is marked (!); "others" is the most CPU (in cores) that
# other processes used during any run of that row: above about 0.3, rerun.
#
# Environment (defaults in brackets):
#   SIZES          max_size values [8 16 32 64 100 128 256 512 1000 1024 4096 10000]
#   THREADS        thread counts [2]
#   PEERS          columns, ours first [nebula hikari naive]
#   SECONDS_PER_CELL  timed seconds per run [1]
#   REPS           runs per cell; the table shows the median [2]
#   WARMUP_NATIVE  warm-up seconds of the C peers [0.3]
#   WARMUP_JVM     warm-up seconds of HikariCP [1]
#   JVM_FLAGS      [-Xms512m -Xmx512m -XX:+UseG1GC -XX:+AlwaysPreTouch]
#   TIMEOUT_MS     acquire timeout [30000]
#   PEERS_DIR      the harness [../shared/peers beside the checkout]
#   PEERS_WORK     its build directory [build/peers]
#   QUIET_CORES / QUIET_MAX / QUIET_BUDGET  before each run wait (at most
#                  QUIET_MAX s, QUIET_BUDGET s in the whole sweep) until other
#                  processes use < QUIET_CORES cores [0.3 / 5 / 120]
#   NO_INSTALL=1   do not apt-get missing packages
# Output: build/sweep-results/sweep-<UTC stamp>.{jsonl,md}, logs-<stamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
peers=${PEERS_DIR:-$root/../shared/peers}
[ -f "$peers/Makefile" ] || {
    echo "sweep.sh: the peers harness is not at $peers (set PEERS_DIR)" >&2
    exit 1
}
case ${1:-} in
"") ;;
-h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d'
    exit 0
    ;;
*)
    echo "sweep.sh: takes no arguments, only environment settings (see --help)" >&2
    exit 2
    ;;
esac
SIZES=${SIZES:-"8 16 32 64 100 128 256 512 1000 1024 4096 10000"}
THREADS=${THREADS:-2}
PEERS=${PEERS:-"nebula hikari naive"}
SECONDS_PER_CELL=${SECONDS_PER_CELL:-1}
REPS=${REPS:-2}
WARMUP_NATIVE=${WARMUP_NATIVE:-0.3}
WARMUP_JVM=${WARMUP_JVM:-1}
JVM_FLAGS=${JVM_FLAGS:-"-Xms512m -Xmx512m -XX:+UseG1GC -XX:+AlwaysPreTouch"}
TIMEOUT_MS=${TIMEOUT_MS:-30000}
QUIET_CORES=${QUIET_CORES:-0.3}
QUIET_MAX=${QUIET_MAX:-5}
QUIET_BUDGET=${QUIET_BUDGET:-120}
export PEERS_WORK=${PEERS_WORK:-$root/build/peers}
BUILD=$PEERS_WORK/build
read -r -a size_arr <<<"$SIZES"
read -r -a thr_arr <<<"$THREADS"
read -r -a peer_arr <<<"$PEERS"
for p in "${peer_arr[@]}"; do
    case $p in nebula | hikari | naive) ;; *)
        echo "sweep.sh: unknown peer '$p' (nebula, hikari, naive)" >&2
        exit 2
        ;;
    esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || {
    echo "sweep.sh: REPS must be a positive whole number" >&2
    exit 2
}

# ---- dependencies (PoolBench.java also compiles against Commons Pool2)
# shellcheck source=bench/need-packages.sh
. bench/need-packages.sh
bench_need_packages sweep.sh libhikaricp-java libslf4j-java libcommons-pool2-java

# ---- build: the library (release), then the harness's binaries
echo "== cmake --build build/bench-release --target nebula_resource_static" >&2
cmake -S . -B build/bench-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF \
    -DNR_BUILD_TOOLS=OFF -DNR_BUILD_EXAMPLES=OFF >/dev/null
if ! build_log=$(cmake --build build/bench-release --target nebula_resource_static 2>&1); then
    printf '%s\n' "$build_log" >&2
    echo "sweep.sh: the library did not build" >&2
    exit 1
fi
targets=()
for p in "${peer_arr[@]}"; do
    case $p in hikari) targets+=(java) ;; *) targets+=("$BUILD/bench_$p") ;; esac
done
echo "== make -f $peers/Makefile BUILD=$BUILD ${targets[*]}" >&2
make -s --no-print-directory -f "$peers/Makefile" "BUILD=$BUILD" \
    "EXTRA_ADAPTERS=nebula=$root/bench/adapter_nebula.c" "CFLAGS_nebula=-I$root/include" \
    "LIBS_nebula=$root/build/bench-release/libnebula-resource.a -ljansson -lpthread -lm" \
    "${targets[@]}" >&2
JAVA_CP="$BUILD/java:/usr/share/java/HikariCP.jar:/usr/share/java/slf4j-api.jar"
JAVA_CP="$JAVA_CP:/usr/share/java/slf4j-simple.jar:/usr/share/java/commons-pool2.jar"

peer_cmd() {
    case $1 in
    hikari) echo "java $JVM_FLAGS -cp $JAVA_CP PoolBench --peer hikari --warmup $WARMUP_JVM" ;;
    *) echo "$BUILD/bench_$1 --peer $1 --warmup $WARMUP_NATIVE" ;;
    esac
}

# ---- noise accounting (as the harness's run.sh does it): CPU that other
# processes used while a run lasted, in cores
HZ=$(getconf CLK_TCK)
cpu_snap() { awk '/^cpu /{t=$2+$3+$4+$5+$6+$7+$8+$9; print t, t-$5-$6-$9; exit}' /proc/stat; }
child_cpu() { # CHILD_CPU := user+sys seconds of this shell's waited-for children
    times >"$logs/.times"
    CHILD_CPU=$(awk 'NR==2{ for(i=1;i<=2;i++){ f=$i; m=substr(f,1,index(f,"m")-1);
        x=substr(f,index(f,"m")+1); sub(/s$/,"",x); t+=m*60+x } printf "%.3f", t }' "$logs/.times")
}

# busy cores of the whole machine over 0.3 s (nothing of ours runs then)
busy_cores() {
    local a b
    a=$(cpu_snap)
    sleep 0.3
    b=$(cpu_snap)
    awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN{split(a,x," ");split(b,y," ");
        dt=y[1]-x[1]; printf "%.2f", (dt > 0 ? n*(y[2]-x[2])/dt : 0)}'
}
QUIET_USED=0
wait_quiet() { # bounded wait for a quiet machine; adds the time to QUIET_USED
    local t0 t1 b
    t0=$(date +%s.%N)
    while :; do
        b=$(busy_cores)
        awk -v b="$b" -v q="$QUIET_CORES" 'BEGIN{exit !(b < q)}' && break
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" -v m="$QUIET_MAX" -v u="$QUIET_USED" -v B="$QUIET_BUDGET" \
            'BEGIN{w=b-a; exit !(w >= m || u + w >= B)}' && break
    done
    t1=$(date +%s.%N)
    QUIET_USED=$(awk -v u="$QUIET_USED" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", u+b-a}')
}

out=$root/build/sweep-results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$out/sweep-$stamp.jsonl
logs=$out/logs-$stamp
mkdir -p "$logs"
: >"$raw"
ncells=$((${#thr_arr[@]} * ${#size_arr[@]} * ${#peer_arr[@]} * REPS))
echo "== sweep: threads {$THREADS} x sizes {$SIZES} x peers {$PEERS} x $REPS reps," \
    "${SECONDS_PER_CELL}s each ($ncells runs) -> $raw" >&2
T0=$(date +%s)
k=0
for rep in $(seq 1 "$REPS"); do
    for t in "${thr_arr[@]}"; do
        for m in "${size_arr[@]}"; do
            n=${#peer_arr[@]}
            for ((i = 0; i < n; i++)); do
                peer=${peer_arr[$(((i + rep - 1 + k) % n))]}
                log=$logs/$peer-T$t-M$m-$rep.err
                cmd="$(peer_cmd "$peer") --threads $t --max $m --seconds $SECONDS_PER_CELL"
                cmd="$cmd --timeout-ms $TIMEOUT_MS --scenario T$t-M$m --rep $rep"
                wait_quiet
                child_cpu
                c0=$CHILD_CPU
                s0=$(cpu_snap)
                w0=$(date +%s.%N)
                rc=0
                # shellcheck disable=SC2086 # $cmd is a command line
                res=$(cd "$PEERS_WORK" && timeout -k 5 $((${SECONDS_PER_CELL%.*} + 120)) \
                    $cmd 2>"$log") || rc=$?
                w1=$(date +%s.%N)
                s1=$(cpu_snap)
                child_cpu
                c1=$CHILD_CPU
                [ -s "$log" ] || rm -f "$log"
                line=$(printf '%s\n' "$res" | grep '^{"peer"' | tail -1 || true)
                if [ $rc -ne 0 ] || [ -z "$line" ]; then
                    echo "   FAILED $peer T=$t M=$m rep $rep rc=$rc (see $log)" >&2
                    line="{\"peer\":\"$peer\",\"threads\":$t,\"max\":$m,\"failed\":true}"
                else
                    noise=$(awk -v a="$s0" -v b="$s1" -v c0="$c0" -v c1="$c1" -v w0="$w0" \
                        -v w1="$w1" -v hz="$HZ" 'BEGIN{split(a,x," ");split(b,y," ");
                        wall=w1-w0; o=(wall > 0 ? ((y[2]-x[2])/hz-(c1-c0))/wall : 0);
                        printf "%.2f", (o < 0 ? 0 : o)}')
                    line="{\"others_cores\":$noise,${line#\{}"
                fi
                printf '%s\n' "$line" >>"$raw"
                printf '%s\n' "$line" | python3 -c 'import json,sys
r = json.loads(sys.stdin.read())
if not r.get("failed"):
    ok = r["touch_ok"] in (True, None) and r["distinct_ok"] and not r["timeouts"] \
        and not r["check_violations"]
    print("   %-7s T=%-3d M=%-6d rep%d %14.0f ops/s  others %.2f%s" % (r["peer"], r["threads"],
          r["max"], r["rep"], r["ops_per_s"], r["others_cores"], "" if ok else "  !! CHECK FAILED"))
' >&2
            done
            k=$((k + 1))
        done
    done
done
rm -f "$logs/.times"
rmdir "$logs" 2>/dev/null || true
echo "== done in $(($(date +%s) - T0)) s ($QUIET_USED s of it waiting for a quiet machine)" >&2

md=$out/sweep-$stamp.md
status=0
python3 - "$raw" "$PEERS" "$SECONDS_PER_CELL" "$REPS" >"$md" <<'EOF' || status=$?
import json, statistics, sys
raw, peers, secs, reps = sys.argv[1], sys.argv[2].split(), sys.argv[3], int(sys.argv[4])
rows = [json.loads(l) for l in open(raw) if l.strip()]
ours = peers[0]

def fmt(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return "%.2f M" % (x / 1e6)
    return "%.0f k" % (x / 1e3)

def ok(r):
    return (not r.get("failed") and r["touch_ok"] in (True, None) and r["distinct_ok"]
            and not r["timeouts"] and not r["check_violations"])

bad = 0
for t in sorted({r["threads"] for r in rows}):
    sizes = sorted({r["max"] for r in rows if r["threads"] == t})
    med, spread, flag, others = {}, {}, {}, {}
    for m in sizes:
        for p in peers:
            rs = [r for r in rows if r["threads"] == t and r["max"] == m and r["peer"] == p]
            good = [r["ops_per_s"] for r in rs if not r.get("failed")]
            med[m, p] = statistics.median(good) if good else None
            spread[m, p] = (min(good), max(good)) if good else None
            flag[m, p] = "" if rs and all(ok(r) for r in rs) else " (!)"
            bad += flag[m, p] != ""
        others[m] = max((r.get("others_cores", 0) for r in rows
                         if r["threads"] == t and r["max"] == m and not r.get("failed")), default=0)
    base = med.get((sizes[0], ours))
    print()
    print("Throughput, %d threads (acquire + touch + release, ops/s; median of %d x %s s)"
          % (t, reps, secs))
    print()
    head = ["size"] + peers
    if "hikari" in peers and ours != "hikari":
        head.append("%s / hikari" % ours)
    head += ["%s / (%s at %d)" % (ours, ours, sizes[0])]
    if reps > 1:
        head.append("%s min .. max" % ours)
    head.append("others")
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for m in sizes:
        cells = ["{:,}".format(m)] + [fmt(med[m, p]) + flag[m, p] for p in peers]
        o = med[m, ours]
        if "hikari" in peers and ours != "hikari":
            h = med[m, "hikari"]
            cells.append("%.2f" % (o / h) if o and h else "-")
        cells.append("%.2f" % (o / base) if o and base else "-")
        if reps > 1:
            sp = spread[m, ours]
            cells.append("%s .. %s" % (fmt(sp[0]), fmt(sp[1])) if sp else "-")
        cells.append("%.2f" % others[m])
        print("| " + " | ".join(cells) + " |")
print()
if bad:
    print("(!) = a run failed or a correctness check failed (lost update, object held twice, "
          "timeout): see the logs and the raw lines.")
sys.exit(1 if bad else 0)
EOF
cat "$md"
echo "== results: $raw, $md" >&2
exit "$status"
