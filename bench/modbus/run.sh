#!/bin/sh
# Modbus TCP figures for docs/performance.md: our engine on the sim port (busy-poll
# default and off) against libmodbus 3.1.6's server, with a lean client and with
# libmodbus's client (a table each), same run, rounds rotated, median round; the
# load average is printed with each table (the goal is relative, so all servers
# share whatever load the machine has).
# Usage: bench/modbus/run.sh [build-dir] (default build/sim-release)
#        REQUESTS=20000 ROUNDS=9 by default; CLIENT=lean|libmodbus|both (both).
#        bench_modbus --help explains the columns and the clients.
set -eu
case "${1:-}" in
-h|--help) sed -n '2,9{s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
-*) echo "bench/modbus/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/modbus/run.sh: one build directory at most (try --help)" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/sim-release}
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target bench_modbus >/dev/null
"$BUILD/bin/bench_modbus" --client "${CLIENT:-both}" "${REQUESTS:-20000}" "${ROUNDS:-9}"
