#!/usr/bin/env bash
# ab-hooks.sh - what lifecycle hooks cost the acquire/release fast path: a
# base revision against the current tree, both built with release flags,
# run alternately on the scenarios a-d of docs/PERFORMANCE.md.
#
#   bench/ab-hooks.sh BASE_REV [--rounds N] [--seconds S]
#
# BASE_REV is built in a temporary git worktree under build/ab-hooks/ (removed
# at the end); the current tree (uncommitted changes included) in
# build/ab-hooks/current. Each round runs every scenario once per side, the
# sides in an order that alternates between rounds:
#   base        bench_pool of BASE_REV (with --hooks none when it knows it)
#   none        the current tree, no hook registry
#   empty       the current tree, a registry with no hooks
#   after       the current tree, one after hook on acquire and release
# and prints the median ops/s of each side and its ratio to base, then the
# paired ratios: in each round, each side over the base run next to it in
# time, with the median and the spread (lowest, highest) over the rounds.
# The paired median cancels the machine's slow drift, which the ratio of
# medians does not.
# Defaults: 5 rounds of 2 s. Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
    echo "usage: bench/ab-hooks.sh BASE_REV [--rounds N] [--seconds S]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
base_rev=$1
shift
rounds=5
seconds=2
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) usage ;;
    esac
done
git rev-parse --verify -q "$base_rev^{commit}" >/dev/null || {
    echo "ab-hooks.sh: $base_rev is not a revision" >&2
    exit 2
}

work=$root/build/ab-hooks
src=$work/base-src
mkdir -p "$work"
cleanup() { git -C "$root" worktree remove --force "$src" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
git -C "$root" worktree add --detach -q "$src" "$base_rev"

# Release flags, as bench/run-peers.sh builds the library.
build() { # source dir, build dir
    cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DNR_BUILD_TESTS=OFF -DNR_BUILD_TOOLS=OFF \
        -DNR_BUILD_EXAMPLES=OFF -DNR_BUILD_BENCH=ON -DNR_BUILD_ADMIN=OFF -DNR_DRIVER_SQLITE=OFF \
        -DNR_DRIVER_POSTGRES=OFF -DNR_DRIVER_REDIS=OFF -DNR_DRIVER_HTTP=OFF -DNR_DRIVER_KAFKA=OFF \
        -DNR_DRIVER_MONGO=OFF >/dev/null
    cmake --build "$2" --target bench_pool -j 2 | grep -v "^\[" || true
}
echo "building $base_rev and the current tree (release flags)"
build "$src" "$work/base"
build "$root" "$work/current"
base_bin=$work/base/bench/bench_pool
cur_bin=$work/current/bench/bench_pool
base_hooks=()
if "$base_bin" --hooks none --seconds 0.01 >/dev/null 2>&1; then
    base_hooks=(--hooks none)
fi

scenarios=("a:1:8" "b:2:8" "c:8:4" "d:32:4")
sides=(base none empty after)
declare -A results

run_side() { # side, threads, size -> M ops/s
    local bin=$cur_bin args=(--hooks "$1")
    if [ "$1" = base ]; then
        bin=$base_bin
        args=("${base_hooks[@]}")
    fi
    "$bin" --threads "$2" --size "$3" --seconds "$seconds" "${args[@]}" |
        sed -n 's/.*: \([0-9.]*\) M ops\/s.*/\1/p'
}

for ((r = 1; r <= rounds; r++)); do
    order=("${sides[@]}")
    if ((r % 2 == 0)); then
        order=(after empty none base)
    fi
    for sc in "${scenarios[@]}"; do
        IFS=: read -r name threads size <<<"$sc"
        for side in "${order[@]}"; do
            v=$(run_side "$side" "$threads" "$size")
            results[$name:$side]="${results[$name:$side]:-} $v"
        done
    done
    echo "round $r of $rounds done"
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {
    if (NR == 0) { print 0; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "base $base_rev against the current tree; median of $rounds rounds x $seconds s, M ops/s"
printf '%-10s %10s %10s %10s %10s %8s %8s %8s\n' scenario base none empty after none/b empty/b after/b
for sc in "${scenarios[@]}"; do
    IFS=: read -r name threads size <<<"$sc"
    declare -A med=()
    for side in "${sides[@]}"; do
        med[$side]=$(echo "${results[$name:$side]}" | median)
    done
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
    printf '%-10s %10s %10s %10s %10s %8s %8s %8s\n' "$name T=$threads M=$size" "${med[base]}" \
        "${med[none]}" "${med[empty]}" "${med[after]}" "$(ratio "${med[none]}" "${med[base]}")" \
        "$(ratio "${med[empty]}" "${med[base]}")" "$(ratio "${med[after]}" "${med[base]}")"
done

# paired: round by round, side / base of the same round
paired() { # base values, side values -> "median (low-high)"
    awk -v b="$1" -v s="$2" 'BEGIN {
        nb = split(b, bv, " "); ns = split(s, sv, " "); n = 0
        for (i = 1; i <= nb && i <= ns; i++) if (bv[i] > 0) r[++n] = sv[i] / bv[i]
        if (n == 0) { print "-"; exit }
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        med = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
        printf "%.3f (%.2f-%.2f)", med, r[1], r[n] }'
}
echo
echo "paired ratios to base, median (lowest-highest) of $rounds rounds"
printf '%-14s %20s %20s %20s\n' scenario none/base empty/base after/base
for sc in "${scenarios[@]}"; do
    IFS=: read -r name threads size <<<"$sc"
    printf '%-14s %20s %20s %20s\n' "$name T=$threads M=$size" \
        "$(paired "${results[$name:base]}" "${results[$name:none]}")" \
        "$(paired "${results[$name:base]}" "${results[$name:empty]}")" \
        "$(paired "${results[$name:base]}" "${results[$name:after]}")"
done
