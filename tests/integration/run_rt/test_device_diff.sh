#!/bin/sh
# `meterlab run --dut device`: a broken expectation fails (exit 1) with a
# readable diff - expected, seen, file:line:column - for a Modbus register, an
# HTTP answer and an MQTT window, and the device child is gone afterwards.
#
# usage: test_device_diff.sh METERLAB SCENARIO_DIR
set -u
ML=${1:?usage: $0 METERLAB SCENARIO_DIR}
SCN=${2:?usage: $0 METERLAB SCENARIO_DIR}
T=$(mktemp -d /tmp/device-diff.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

cat > "$T/broken.yaml" <<'Y'
# duts: sim device
name: device-diff
product: p1
device: {mqtt: on, serial: SCDIFF0001}
meter: {protocol: dsmr50, interval_s: 1, from: 1, values: {p_imp: 1500}}
duration: 4
steps:
  - at: 2
    expect:
      modbus: {p: 1400}
      http: {path: /api/v1/status, json: {Meter.TelegramsPass: 99}}
  - within: [1, 3]
    expect:
      mqtt: {topic: power_instant, fields: {P: 1400}}
Y
"$ML" run --dut device "$T/broken.yaml" > "$T/out" 2>&1
rc=$?
cat "$T/out"
[ $rc -eq 1 ] || fail "exit $rc, want 1"
grep -q "FAIL $T/broken.yaml:10:16  t=2\.[0-9]* s  modbus p (FC03 0x8016 f32 CDAB, client 1)" "$T/out" \
    || fail "modbus diff header"
grep -q "expected: 1400 ± 0.001 W" "$T/out" || fail "modbus expected line"
grep -q "seen:     1500 W (registers" "$T/out" || fail "modbus seen line"
grep -q "http GET /api/v1/status" "$T/out" || fail "http diff header"
grep -q "Meter.TelegramsPass: expected 99 ± 1e-06, seen 2" "$T/out" || fail "http field diff"
grep -q "mqtt power_instant in \[1.000, 3.000\] s" "$T/out" || fail "mqtt diff header"
grep -q "closest: P: expected 1400 ± 1e-06, seen 1500" "$T/out" || fail "mqtt closest message"
grep -q "0 passed, 1 failed" "$T/out" || fail "summary"
# the child (meterlab device) was stopped
sleep 0.5
if pgrep -f "device --product p1 .*--serial SCDIFF0001" > /dev/null; then
    fail "a meterlab device child is still running"
fi
echo "device diff: ok"
