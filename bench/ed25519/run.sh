#!/bin/sh
# Ed25519 verification figures for docs/performance.md:
#  1. verifications/s of core/ed25519 and libsodium (median of 5 runs), -O2 build,
#  2. x86-64 instructions per verify: callgrind Ir with N=20 minus N=0, / 20,
#  3. Cortex-M4 instructions per verify: run-target.sh on build/target (if built).
# Usage: bench/ed25519/run.sh [build-dir] (default build/sim-release; configured as a
#        -O2 Release build when it does not exist yet).
set -eu
case "${1:-}" in
-h|--help) sed -n '2,7{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
-*) echo "bench/ed25519/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/ed25519/run.sh: one build directory at most (try --help)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/sim-release}
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" >/dev/null
fi
cmake --build "$BUILD" --target bench_ed25519 >/dev/null
BIN=$BUILD/bin/bench_ed25519
"$BIN"

ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" --iterations "$1" 2>&1 |
        sed -n 's/.*Collected : *\([0-9]*\).*/\1/p'
}
I0=$(ir 0)
I1=$(ir 20)
echo "callgrind: N=0 $I0 Ir, N=20 $I1 Ir -> $(( (I1 - I0) / 20 )) instructions per verify (x86-64)"

if [ -f "$ROOT/build/target/bin/bench_ed25519_target.elf" ]; then
    "$ROOT/bench/ed25519/run-target.sh" "$ROOT/build/target" | grep "verify:"
    echo "(Cortex-M4 under qemu -icount shift=0: microseconds x 1000 = instructions)"
else
    echo "no build/target/bin/bench_ed25519_target.elf: 'make target' for the Cortex-M4 figure"
fi
