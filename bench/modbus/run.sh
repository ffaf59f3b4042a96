#!/bin/sh
# Modbus TCP figures for docs/performance.md: our engine on the sim port (busy-poll
# default and off) against libmodbus 3.1.6's server, with a lean client and with
# libmodbus's client (a table each), same run, rounds rotated, median round; the
# load average is printed with each table (the goal is relative, so all servers
# share whatever load the machine has).
# Usage: bench/modbus/run.sh [build-dir] (default build/sim-release)
#        REQUESTS=20000 ROUNDS=9 by default.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build/sim-release}
if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target bench_modbus >/dev/null
"$BUILD/bin/bench_modbus" "${REQUESTS:-20000}" "${ROUNDS:-9}"
