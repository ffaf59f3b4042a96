#!/bin/sh
# DSMR parser figures for docs/performance.md:
#  1. throughput (median of 5 runs) from a release (-O2) build,
#  2. parser instructions per telegram: callgrind Ir with N=1000 minus N=0, / 1000,
#  3. `meterlab decode` end to end, the same way (a file of 1000 telegrams minus none),
#  4. Cortex-M4 -Os .text of the dsmr module (libml_core_dsmr.a of the target preset) and
#     of crc.c.obj, the CRC it calls (arm-none-eabi-size),
#  5. with BIG_MB=N: decode N MB of telegrams from a pipe, max RSS and time.
# Usage: bench/dsmr/run.sh [build-dir] (default build/sim-release; configured as a
#        -O2 Release build when it does not exist yet). TELEGRAM=FILE picks the input.
set -eu
case "${1:-}" in
-h|--help) sed -n '2,10{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
-*) echo "bench/dsmr/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/dsmr/run.sh: one build directory at most (try --help)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/sim-release}
# The DSMR 5.0.2 example, byte-identical to the shared benchmark input (1071 bytes, CRC E47C).
TELEGRAM=${TELEGRAM:-$ROOT/scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt}
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
fi
cmake --build "$BUILD" --target bench_dsmr meterlab >/dev/null
BIN=$BUILD/bin/bench_dsmr
"$BIN" "$TELEGRAM"

ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" --iterations "$1" "$TELEGRAM" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
I0=$(ir 0)
I1=$(ir 1000)
echo "callgrind: N=0 $I0 Ir, N=1000 $I1 Ir -> $(( (I1 - I0) / 1000 )) instructions per telegram"

ML=$BUILD/bin/meterlab
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/n0"
i=0
while [ $i -lt 1000 ]; do cat "$TELEGRAM"; i=$((i + 1)); done >"$TMP/n1000"
dir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$ML" decode "$1" 2>&1 >/dev/null |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
D0=$(dir "$TMP/n0")
D1=$(dir "$TMP/n1000")
echo "meterlab decode: N=0 $D0 Ir, N=1000 $D1 Ir -> $(( (D1 - D0) / 1000 )) instructions per telegram"

TARGET=$ROOT/build/target
if [ ! -f "$TARGET/build.ninja" ]; then
    (cd "$ROOT" && cmake --preset target >/dev/null)
fi
cmake --build "$TARGET" --target ml_core_dsmr ml_core_common >/dev/null
arm-none-eabi-size "$TARGET/lib/libml_core_dsmr.a"
arm-none-eabi-size "$TARGET/lib/libml_core_common.a" | grep -E "text|crc\.c"
echo "Cortex-M4 -Os text, dsmr module: $(arm-none-eabi-size "$TARGET/lib/libml_core_dsmr.a" | awk 'NR > 1 { t += $1 } END { print t }') B;" \
    "with crc.c: $( (arm-none-eabi-size "$TARGET/lib/libml_core_dsmr.a"; arm-none-eabi-size "$TARGET/lib/libml_core_common.a" | grep 'crc\.c') | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { t += $1 } END { print t }') B"

if [ "${BIG_MB:-0}" -gt 0 ]; then
    # Telegrams from a pipe (no file of that size on disk): RSS stays that of a small input.
    n=$((BIG_MB * 1048576 / $(wc -c <"$TELEGRAM") + 1))
    python3 -c "import sys; t = open(sys.argv[1], 'rb').read(); o = sys.stdout.buffer
for _ in range(int(sys.argv[2])): o.write(t)" "$TELEGRAM" "$n" |
        /usr/bin/time -f "decode of $BIG_MB MB ($n telegrams) from a pipe: max RSS %M KiB, %e s" \
            "$ML" decode - >/dev/null
    /usr/bin/time -f "decode of one telegram: max RSS %M KiB" "$ML" decode "$TELEGRAM" >/dev/null
fi
