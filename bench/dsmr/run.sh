#!/bin/sh
# DSMR parser figures for docs/performance.md:
#  1. throughput (median of 5 runs) from a release (-O2) build,
#  2. instructions per telegram: callgrind Ir with N=1000 minus N=0, / 1000,
#  3. Cortex-M4 -Os .text of dsmr.c.o + crc.c.o (arm-none-eabi-size).
# Usage: bench/dsmr/run.sh [build-dir] (default build/sim-release; configured as a
#        -O2 Release build when it does not exist yet). TELEGRAM=FILE picks the input.
set -eu
case "${1:-}" in
-h|--help) sed -n '2,7{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
-*) echo "bench/dsmr/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/dsmr/run.sh: one build directory at most (try --help)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/sim-release}
TELEGRAM=${TELEGRAM:-$ROOT/scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt}
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
fi
cmake --build "$BUILD" --target bench_dsmr >/dev/null
BIN=$BUILD/bin/bench_dsmr
"$BIN" "$TELEGRAM"

ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" --iterations "$1" "$TELEGRAM" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
I0=$(ir 0)
I1=$(ir 1000)
echo "callgrind: N=0 $I0 Ir, N=1000 $I1 Ir -> $(( (I1 - I0) / 1000 )) instructions per telegram"

CC=arm-none-eabi-gcc
INC=$($CC -print-file-name=include)
TMP=$(mktemp -d)
for src in firmware/core/dsmr/dsmr.c firmware/core/common/crc.c; do
    $CC -mcpu=cortex-m4 -mthumb -Os -ffreestanding -nostdinc -isystem "$INC" -std=c11 \
        -I"$ROOT/firmware/core" -I"$ROOT/firmware/core/common" -I"$ROOT/firmware/config" \
        -I"$ROOT/firmware/hal" -c "$ROOT/$src" -o "$TMP/$(basename "$src" .c).o"
done
arm-none-eabi-size "$TMP/dsmr.o" "$TMP/crc.o"
arm-none-eabi-size "$TMP/dsmr.o" "$TMP/crc.o" | awk 'NR > 1 { t += $1 } END { print "Cortex-M4 -Os text, dsmr.o + crc.o: " t " B" }'
rm -rf "$TMP"
