#!/bin/sh
# TIC parser benchmark: frames/s (median of 5) and instructions per frame with
# callgrind ((N=1000 minus N=0) / 1000) from a -O2 build (RelWithDebInfo).
# Usage: bench/tic/run.sh [build-dir]   (default build/sim-release)
set -eu
case "${1:-}" in
-h|--help) sed -n '2,4{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
-*) echo "bench/tic/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/tic/run.sh: one build directory at most (try --help)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/sim-release}
frame=$root/scenarios/telegrams/tic/std-3ph.bin
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" >/dev/null
cmake --build "$build" --target bench_tic >/dev/null || { echo "build failed" >&2; exit 2; }
bin=$build/bin/bench_tic
"$bin" "$frame"
count() {
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --iterations "$1" "$frame" \
        >/dev/null 2>&1
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
    rm -f "$out"
}
i0=$(count 0)
i1=$(count 1000)
echo "tic: instructions per frame (callgrind, (N=1000 - N=0)/1000): $(( (i1 - i0) / 1000 ))"
