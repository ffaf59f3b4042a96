#!/bin/sh
# The QA bench's acceptance run with a real-board path (issue 22, items 6 and 8):
# two rigs, the P1MB target image in QEMU driven only through rig actions
# (`driver: qemu`: power = start/quit QEMU, reset = QMP system_reset, flash = the
# image QEMU boots) and a
# simulated Smart P1/A1 Connect (power commands), every port of both exported
# by ser2net on loopback and opened as rfc2217:// (the P1MB's Modbus RTU too),
# both locked. `meterlab run --rig Q --rig A` plays a scenario with a power
# cycle mid-way on each (and a reset and a flash on the QEMU board): both pass, the JUnit has each rig's console with the
# boot after the cycle, reboots counted from it. A second run gets SIGTERM
# mid-scenario: exit 143, and nothing of it is left (processes of its session,
# QEMU included; temp dirs; the driver's port links).
#
# usage: test_rig_qemu_bench.sh METERLAB IMAGE_DIR
set -u
ML=${1:?usage: $0 METERLAB IMAGE_DIR}
IMGDIR=${2:?usage: $0 METERLAB IMAGE_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$ML" ] || { echo "skipped: $ML not built (make sim)"; exit 77; }
IMG=$(cd "$IMGDIR" && pwd)/p1mb_sdm630.elf
[ -f "$IMG" ] || { echo "FAIL: no image $IMG"; exit 1; }
T=$(mktemp -d /tmp/rig-qemu.XXXXXX)
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

python3 "$HERE/bench_sim.py" serve "$T" "$ML" "rig-q=$IMG" rig-a > "$T/bench.log" 2>&1 &
BENCH=$!
i=0
while [ ! -f "$T/ready" ]; do
    i=$((i + 1)); [ $i -gt 300 ] && fail "the simulated bench did not start"
    kill -0 $BENCH 2>/dev/null || fail "the simulated bench ended"
    sleep 0.1
done
grep -q 'rs485: {path: "rfc2217://127.0.0.1:' "$T/rig-q.yaml" || fail "RS485 is not rfc2217://"
grep -q '^driver: qemu' "$T/rig-q.yaml" || fail "rig-q has no driver: qemu"

# p1mb NAME DURATION: a power cycle at 4 s, a reset (QMP system_reset) at 6.5 s, the
# image flashed at 8 s; RTU reads before and after; reboots 3
p1mb() {
    cat > "$T/$1.yaml" <<Y
# duts: rig
name: $1
product: p1mb
device: {variant: sdm630}
meter: {protocol: dsmr50, interval_s: 1, from: 1, values: {p_imp: 2300}}
duration: $2
steps:
  - at: 3
    expect: {modbus: {p: {value: 2300, tolerance: 0.5}}}
  - at: 4
    power: cycle
  - at: 6.5
    reset: true
  - at: 8
    flash: $IMG
  - within: [10, 11]
    expect: {reboots: 3, modbus: {p: {value: 2300, tolerance: 0.5}}}
Y
}
# p1 NAME DURATION: the same on the simulated Smart P1/A1 Connect
p1() {
    cat > "$T/$1.yaml" <<Y
# duts: rig
name: $1
product: p1
meter: {protocol: dsmr50, interval_s: 1, from: 1}
duration: $2
steps:
  - within: [2.5, 3]
    expect: {led: normal}
  - at: 4
    power: cycle
  - within: [9, 11]
    expect: {reboots: 1, led: normal}
Y
}
p1mb q-cycle 11
p1 a-cycle 11

# 1. two rigs at once, each plays its product's scenario; both pass
"$ML" run --dut rig --rig "$T/rig-q.yaml" --rig "$T/rig-a.yaml" --junit "$T/j.xml" \
    "$T/q-cycle.yaml" "$T/a-cycle.yaml" > "$T/run.out" 2>&1
rc=$?
cat "$T/run.out"
[ $rc -eq 0 ] || fail "two rigs: exit $rc"
grep -q "^rig rig-q: P1MB on RS485 rfc2217://127.0.0.1:[0-9]* (Modbus RTU 9600 8E1, slave 16), variant sdm630" \
    "$T/run.out" || fail "the QEMU board was not asked over rfc2217:// before the run"
grep -q "^rig-q: \[ 1/1\] q-cycle .*pass" "$T/run.out" || fail "rig-q did not pass q-cycle"
grep -q "^rig-a: \[ 1/1\] a-cycle .*pass" "$T/run.out" || fail "rig-a did not pass a-cycle"
for r in rig-q rig-a; do
    grep -q "<testsuite name=\"rig.$r\" tests=\"1\" failures=\"0\" errors=\"0\"" "$T/j.xml" ||
        fail "no passing testsuite for $r in the JUnit"
done
# each rig's console in its testcase: a banner per boot of the scenario (the boot
# before the run is not the scenario's), the QEMU board's telegram lines
python3 - "$T/j.xml" <<'P' || fail "the consoles in the JUnit"
import sys, re, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1])
out = {s.get("name"): s.find("testcase").findtext("system-out") for s in t.iter("testsuite")}
q, a = out["rig.rig-q"], out["rig.rig-a"]
for name, text, banner, want in (("rig-q", q, "meterlab p1mb: variant sdm630", 3),
                                 ("rig-a", a, "meterlab device: Smart P1/A1 Connect", 1)):
    n = len(re.findall(r"^\[ *[0-9.]+\] " + re.escape(banner), text, re.M))
    if n != want:
        sys.exit(f"{name}: {n} boot banners on the console, want {want} (cycle, reset, flash)\n{text}")
if not re.search(r"^\[ *[0-9.]+\] telegrams: [0-9]+ ok", q, re.M):
    sys.exit("rig-q: no telegram lines on the QEMU board's console\n" + q)
P
[ -z "$(ls -A "$T/rig-q.ports" 2>/dev/null)" ] || fail "the driver left its port links: $(ls "$T/rig-q.ports")"

# 2. SIGTERM mid-run (its own session and TMPDIR): both rigs busy past their cycles
p1mb q-long 40
p1 a-long 40
mkdir "$T/tmp"
TMPDIR="$T/tmp" setsid "$ML" run --dut rig --rig "$T/rig-q.yaml" --rig "$T/rig-a.yaml" \
    --junit "$T/stop.xml" "$T/q-long.yaml" "$T/a-long.yaml" > "$T/stop.out" 2>&1 &
RUN=$!
RUN_SID=$RUN
i=0
while ! grep -q "^rig rig-a:" "$T/stop.out"; do
    i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/stop.out"; fail "the run did not start"; }
    sleep 0.1
done
sleep 7 # past the power cycles
n=$(ps -eo sid=,args= | awk -v s=$RUN_SID '$1 == s && /qemu-system-arm/' | wc -l)
[ "$n" -eq 1 ] || fail "$n QEMU processes in the run's session, want 1 (the check below would prove nothing)"
[ -n "$(ls -A "$T/rig-q.ports")" ] || fail "no port links while the run is on"
[ -n "$(ls -A "$T/tmp")" ] || fail "the run has no temp dir under TMPDIR (the check below would prove nothing)"
kill -TERM $RUN
wait $RUN
rc=$?
RUN=""
cat "$T/stop.out"
[ $rc -eq 143 ] || fail "SIGTERM: exit $rc, want 143"
n=$(grep -c '<error message="interrupted">' "$T/stop.xml")
[ "$n" -eq 2 ] || fail "JUnit: $n interrupted testcases, want 2 (one per rig)"
left=$(ps -eo pid=,sid=,stat=,args= | awk -v s=$RUN_SID '$2 == s && $3 !~ /^Z/')
[ -z "$left" ] || { echo "$left"; fail "processes of the run left behind"; }
[ -z "$(ls -A "$T/tmp")" ] || { ls -l "$T/tmp"; fail "temp dirs left behind"; }
[ -z "$(ls -A "$T/rig-q.ports")" ] || fail "port links left behind: $(ls "$T/rig-q.ports")"
echo "PASS: QEMU board + simulated board over rfc2217 (RTU too), power cycles, consoles, SIGTERM"
