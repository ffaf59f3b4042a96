#!/bin/sh
# The QA bench's acceptance run (issue 22): two rigs, each a simulated Smart P1/A1
# Connect whose P1 input and console are exported by ser2net on loopback and
# opened as rfc2217:// (tests/integration/run_rt/bench_sim.py), locked, with a
# power cycle mid-scenario through the rig's power commands. `meterlab run
# --rig A --rig B` plays the scenarios on both rigs at once: a testsuite per rig
# in the JUnit, the console (with the boot banner after the power cycle) in each
# testcase, reboots counted from the console. A second run on a held rig fails
# at once; SIGTERM mid-run leaves no process or temp dir behind.
#
# usage: test_rig_bench.sh METERLAB
set -u
ML=${1:?usage: $0 METERLAB}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/rig-bench.XXXXXX)
BENCH=""
RUN=""
cleanup() {
    [ -n "$RUN" ] && kill "$RUN" 2>/dev/null
    [ -n "$BENCH" ] && { kill "$BENCH" 2>/dev/null; wait "$BENCH" 2>/dev/null; }
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; [ -f "$T/bench.log" ] && cat "$T/bench.log"; exit 1; }
command -v ser2net >/dev/null || fail "ser2net is not installed (tools/bootstrap)"

python3 "$HERE/bench_sim.py" serve "$T" "$ML" rig-a rig-b > "$T/bench.log" 2>&1 &
BENCH=$!
i=0
while [ ! -f "$T/ready" ]; do
    i=$((i + 1)); [ $i -gt 300 ] && fail "the simulated bench did not start"
    kill -0 $BENCH 2>/dev/null || fail "the simulated bench ended"
    sleep 0.1
done
grep -q 'rfc2217://127.0.0.1:' "$T/rig-a.yaml" || fail "the rig's ports are not rfc2217://"

# scenario NAME DURATION REBOOTS: a power cycle at 4 s, reboots checked at the end
scenario() {
    cat > "$T/$1.yaml" <<Y
# duts: device rig
name: $1
product: p1
meter: {protocol: dsmr50, interval_s: 1, from: 1}
duration: $2
steps:
  - within: [2.5, 3]
    expect: {led: normal}
  - at: 4
    power: cycle
  - within: [9, 12]
    expect: {reboots: $3, led: normal}
Y
}
scenario cycle-1 12 1
scenario cycle-2 12 1
scenario cycle-wrong 12 0

# 1. two rigs at once: each plays one scenario, both pass
"$ML" run --dut rig --rig "$T/rig-a.yaml" --rig "$T/rig-b.yaml" --junit "$T/j.xml" \
    "$T/cycle-1.yaml" "$T/cycle-2.yaml" > "$T/run.out" 2>&1
rc=$?
cat "$T/run.out"
[ $rc -eq 0 ] || fail "two rigs: exit $rc"
grep -q "^rig-a: \[ 1/1\] cycle-1 .*pass" "$T/run.out" || fail "rig-a did not play cycle-1"
grep -q "^rig-b: \[ 1/1\] cycle-2 .*pass" "$T/run.out" || fail "rig-b did not play cycle-2"
grep -q "^2 passed, 0 failed (2 scenarios" "$T/run.out" || fail "summary"
for r in rig-a rig-b; do
    grep -q "<testsuite name=\"rig.$r\" tests=\"1\" failures=\"0\" errors=\"0\"" "$T/j.xml" ||
        fail "no testsuite for $r in the JUnit"
done
# the console of each testcase, with the banner of the boot after the power cycle
n=$(grep -c "console (seconds since the scenario's start):" "$T/j.xml")
[ "$n" -eq 2 ] || fail "console in $n of 2 testcases"
n=$(grep -c '^\[ *[0-9.]*\] meterlab device: Smart P1/A1 Connect' "$T/j.xml")
[ "$n" -eq 2 ] || fail "$n boot banners on the consoles, want one per power cycle (2)"
grep -q '^\[ *[0-9.]*\] *\[ *[0-9.]* s\] telegrams: ' "$T/j.xml" || fail "no timed console lines"

# 2. the reboots check counts the console's banners: expecting none fails with the count
"$ML" run --dut rig --rig "$T/rig-a.yaml" "$T/cycle-wrong.yaml" > "$T/wrong.out" 2>&1
rc=$?
cat "$T/wrong.out"
[ $rc -eq 1 ] || fail "reboots: 0 after a power cycle must fail (exit $rc)"
grep -q "lines starting with 'meterlab device: Smart' on the console" "$T/wrong.out" ||
    fail "the reboots diff does not say it counted the console"

# a console nobody exports: the scenario is an error naming the console's URL
DEADP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed "s|console: {path: \"rfc2217://127.0.0.1:[0-9]*\"|console: {path: \"rfc2217://127.0.0.1:$DEADP\"|; s|^lock:.*||" \
    "$T/rig-a.yaml" > "$T/deadcon.yaml"
grep -q ":$DEADP" "$T/deadcon.yaml" || fail "could not point the console at a dead port"
"$ML" run --dut rig --rig "$T/deadcon.yaml" "$T/cycle-1.yaml" > "$T/deadcon.out" 2>&1
rc=$?
cat "$T/deadcon.out"
[ $rc -eq 2 ] || fail "a dead console port: exit $rc, want 2"
grep -q "console: rfc2217://127.0.0.1:$DEADP" "$T/deadcon.out" || fail "the error does not name the console port"

# 3. SIGTERM mid-run (its own session, its own TMPDIR): both rigs busy, the locks held
scenario long-1 40 1
scenario long-2 40 1
mkdir "$T/tmp"
TMPDIR="$T/tmp" setsid "$ML" run --dut rig --rig "$T/rig-a.yaml" --rig "$T/rig-b.yaml" \
    --junit "$T/stop.xml" "$T/long-1.yaml" "$T/long-2.yaml" > "$T/stop.out" 2>&1 &
RUN=$!
RUN_SID=$RUN
i=0
while ! grep -q "^rig rig-b:" "$T/stop.out"; do
    i=$((i + 1)); [ $i -gt 200 ] && { cat "$T/stop.out"; fail "the run did not start"; }
    sleep 0.1
done
sleep 6 # past the power cycles
"$ML" run --dut rig --rig "$T/rig-a.yaml" "$T/cycle-1.yaml" > "$T/busy.out" 2>&1
rc=$?
cat "$T/busy.out"
[ $rc -eq 2 ] || fail "a run on a held rig: exit $rc, want 2"
grep -q "rig 'rig-a' is in use" "$T/busy.out" || fail "the busy run does not name the rig"
[ -n "$(ls "$T/tmp")" ] || fail "the run has no temp dir under TMPDIR (the check below would prove nothing)"
kill -TERM $RUN
wait $RUN
rc=$?
RUN=""
cat "$T/stop.out"
[ $rc -eq 143 ] || fail "SIGTERM: exit $rc, want 143"
grep -q "interrupted by SIGTERM" "$T/stop.out" || fail "no 'interrupted by SIGTERM'"
n=$(grep -c '<error message="interrupted">' "$T/stop.xml")
[ "$n" -eq 2 ] || fail "JUnit: $n interrupted testcases, want 2 (one per rig)"
sleep 0.5
left=$(ps -eo pid=,sid=,stat=,args= | awk -v s=$RUN_SID '$2 == s && $3 !~ /^Z/')
[ -z "$left" ] || { echo "$left"; fail "processes of the run left behind"; }
[ -z "$(ls "$T/tmp")" ] || { ls -l "$T/tmp"; fail "temp dirs left behind"; }
echo "PASS: two rigs over rfc2217, power cycle, console in JUnit, lock, SIGTERM"
