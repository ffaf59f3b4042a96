#!/bin/sh
# meterlab run's virtual-time options (docs/target.md, "Virtual time"): a bad
# --vtime-pace or --vtime-max value, or --vtime without --dut qemu, is a usage
# error (exit 2) whose message names the option and the value; --help lists them.
# usage: test_run_vtime_opts.sh METERLAB SCENARIO
set -u
ML=${1:?usage: $0 METERLAB SCENARIO}
SCN=${2:?usage: $0 METERLAB SCENARIO}
T=$(mktemp -d /tmp/run-vtime-opts.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
for bad in 0 -1 abc 2x ""; do
    "$ML" run --dut qemu --vtime-pace "$bad" "$SCN" > "$T/out" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "--vtime-pace '$bad': exit $rc, want 2"
    grep -q -- "--vtime-pace '$bad': needs a number > 0" "$T/out" || { cat "$T/out"; fail "--vtime-pace '$bad': the error does not name it"; }
done
for bad in -1 abc; do
    "$ML" run --dut qemu --vtime-max "$bad" "$SCN" > "$T/out" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "--vtime-max '$bad': exit $rc, want 2"
    grep -q -- "--vtime-max '$bad'" "$T/out" || { cat "$T/out"; fail "--vtime-max '$bad': the error does not name it"; }
done
"$ML" run --vtime-pace 2 "$SCN" > "$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--vtime-pace without --dut qemu: exit $rc, want 2"
grep -q -- "--vtime goes with --dut qemu" "$T/out" || { cat "$T/out"; fail "--vtime-pace without --dut qemu: no reason"; }
"$ML" run --help > "$T/help" 2>&1 || fail "run --help"
for opt in --vtime --vtime-max --vtime-pace; do
    grep -q -- "  $opt " "$T/help" || fail "run --help does not list $opt"
done
echo PASS
