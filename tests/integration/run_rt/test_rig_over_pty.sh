#!/bin/sh
# The rig path of `meterlab run` in CI, without hardware (issue 10): three
# stand-alone simulated devices (P1, TIC, P1MB) on ptys, a rig file per device
# that points at their pty paths and ports, and the scenarios marked
# `# duts: ... rig` of that product run with `--dut rig`. Then what a rig
# lacks is skipped (a button scenario on a rig without button commands), and
# a broken expectation fails with a diff through the same path.
#
# usage: test_rig_over_pty.sh METERLAB SCENARIO_DIR
set -u
ML=${1:?usage: $0 METERLAB SCENARIO_DIR}
SCN=${2:?usage: $0 METERLAB SCENARIO_DIR}
T=$(mktemp -d /tmp/rig-over-pty.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME ARGS...: a device in the background, its banner in $T/NAME.log
start() {
    name=$1; shift
    "$ML" device "$@" --state-dir "$T/$name.state" > "$T/$name.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while ! grep -q "stop with Ctrl-C" "$T/$name.log" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 150 ] && { cat "$T/$name.log"; fail "$name did not start"; }
        sleep 0.1
    done
}
field() { awk -v k="$2" 'index($0, "  " k " ") == 1 { sub("^  " k " +", ""); print; exit }' "$T/$1.log"; }

P1_MB=$(free_port); P1_HTTP=$(free_port); TIC_MB=$(free_port); TIC_HTTP=$(free_port)
# the bench broker the P1 board publishes to (the rig's mqtt.url)
MQ=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQ" > "$T/mosquitto.conf"
mosquitto -c "$T/mosquitto.conf" > "$T/mosquitto.log" 2>&1 &
PIDS="$PIDS $!"
start p1 --product p1 --serial SC00000001 --p1-in pty --p1-out pty \
    --modbus-port "$P1_MB" --http-port "$P1_HTTP" \
    --mqtt "mqtt://127.0.0.1:$MQ" --mqtt-site brussels
start tic --product tic --serial TC00000001 --p1-in pty --p1-out none \
    --modbus-port "$TIC_MB" --http-port "$TIC_HTTP"
start p1mb --product p1mb --variant sdm630 --serial MB00000001 --p1-in pty --rs485 pty

# rig NAME PRODUCT: write $T/NAME.yaml from the device's banner
rig() {
    name=$1; product=$2
    in=$(field "$name" "P1 in" | awk '{print $1}')
    [ -n "$in" ] || in=$(field "$name" "TIC in" | awk '{print $1}')
    [ -n "$in" ] || fail "no input pty in the $name banner"
    {
        echo "name: ci-$name-over-pty"
        echo "dut: {product: $product}"
        echo "serial:"
        echo "  inject: {path: $in}"
        out=$(field "$name" "P1 out" | awk '{print $1}')
        [ -n "$out" ] && [ "$out" != none ] && echo "  p1_out: {path: $out}"
        rs=$(field "$name" "RS485" | awk '{print $1}')
        [ -n "$rs" ] && echo "  rs485: {path: $rs, line: \"9600 8E1\", slave_id: 16}"
        pw=$(field "$name" "login" | awk '{print $3}')
        if [ -n "$pw" ]; then
            mb=$(field "$name" "Modbus TCP" | sed -n 's/^port \([0-9]*\).*/\1/p')
            http=$(sed -n 's/.*@127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$T/$name.log" | head -1)
            echo "network: {host: 127.0.0.1, modbus_port: $mb, http_port: $http,"
            echo "          http_user: user, http_password: \"$pw\"}"
        fi
        [ "$name" = p1 ] && echo "mqtt: {url: \"mqtt://127.0.0.1:$MQ\", user: bench, password: x}"
        echo "timeouts: {boot_s: 10, modbus_s: 1, http_s: 5}"
    } > "$T/$name.yaml"
}
rig p1 p1
rig tic tic
rig p1mb p1mb

# the rig subset of each product, the three rigs at once
total=0
JOBS=""
for name in p1 tic p1mb; do
    files=$(grep -l "^# duts:.*[ ,]rig" "$SCN"/*.yaml | xargs grep -l "^product: $name\$")
    [ -n "$files" ] || fail "no scenario marked for rig with product $name"
    echo "$files" | wc -l > "$T/$name.n"
    ( "$ML" run --dut rig --rig "$T/$name.yaml" --junit "$T/$name.xml" $files > "$T/$name.out" 2>&1
      echo $? > "$T/$name.rc" ) &
    JOBS="$JOBS $!"
done
for j in $JOBS; do wait "$j"; done
for name in p1 tic p1mb; do
    n=$(cat "$T/$name.n"); rc=$(cat "$T/$name.rc")
    cat "$T/$name.out"
    [ "$rc" -eq 0 ] || { cat "$T/$name.yaml"; fail "--dut rig ($name) exited $rc"; }
    grep -q "^$n passed, 0 failed" "$T/$name.out" || fail "--dut rig ($name): not all $n passed"
    grep -q 'classname="scenario.rig"' "$T/$name.xml" || fail "JUnit of --dut rig ($name)"
    total=$((total + n))
done

# what the rig lacks is skipped with the reason, never passed
cat > "$T/button.yaml" <<'Y'
# duts: sim rig
name: rig-button
product: p1
meter: {protocol: dsmr50, interval_s: 1, from: 1}
duration: 2
steps:
  - {at: 1, action: {button: press}}
  - {at: 1.5, expect: {led: normal}}
Y
"$ML" run --dut rig --rig "$T/p1.yaml" "$T/button.yaml" > "$T/button.out" 2>&1
rc=$?
cat "$T/button.out"
[ $rc -eq 1 ] || fail "a skipped scenario decided nothing: exit 1 without --allow-skips (got $rc)"
"$ML" run --dut rig --rig "$T/p1.yaml" --allow-skips "$T/button.yaml" > "$T/button.out" 2>&1
rc=$?
cat "$T/button.out"
[ $rc -eq 0 ] || fail "with --allow-skips a skipped scenario must not fail (exit $rc)"
grep -q "SKIP" "$T/button.out" || fail "the button scenario was not skipped"
grep -q "button" "$T/button.out" || fail "the skip does not name the button"
grep -q "0 passed, 0 failed, 1 skipped" "$T/button.out" || fail "skip not counted"

# a rig's board keeps counting across scenarios: counters are judged from the
# scenario's start (this board has counted every telegram of the runs above)
cat > "$T/counters.yaml" <<'Y'
# duts: sim rig
name: rig-counters
product: p1
meter: {protocol: dsmr50, interval_s: 1, from: 1, to: 4}
duration: 5
steps:
  - within: [4.2, 5]
    expect: {counters: {telegrams_pass: 4, telegrams_fail: 0}}
Y
"$ML" run --dut rig --rig "$T/p1.yaml" "$T/counters.yaml" "$T/counters.yaml" > "$T/counters.out" 2>&1
rc=$?
cat "$T/counters.out"
[ $rc -eq 0 ] || fail "counters must count from the scenario's start (exit $rc)"
grep -q "^2 passed, 0 failed" "$T/counters.out" || fail "the counter scenario twice on one board"

# a device: setting a rig's Smart Connect lacks is set through its HTTP API (PATCH
# /api/v1/config and a reset), verified, and put back after the scenario (the P1
# board runs the default meter type); a P1MB's variant is its image: not
# applicable, with the reason (the P1MB board is an SDM630)
sed 's/^device: {mqtt: on, site: brussels}/device: {mqtt: on, site: brussels, meter_type: Eastron-SDM630}/' \
    "$SCN/p1-emucs171-belgium.yaml" > "$T/mtype.yaml"
grep -q Eastron-SDM630 "$T/mtype.yaml" || fail "could not set a meter type in p1-emucs171-belgium"
mtype() { # the P1 board's meter type now, from its own API
    curl -s -u "user:$(field p1 login | awk '{print $3}')" \
        "http://127.0.0.1:$(sed -n 's/.*@127\.0\.0\.1:\([0-9]*\)\/.*/\1/p' "$T/p1.log" | head -1)/api/v1/config" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["MeterType"])'
}
before=$(mtype)
[ "$before" = PhoenixContact-EMPro ] || fail "the P1 board's meter type is '$before' before the run"
"$ML" run --dut rig -v --rig "$T/p1.yaml" "$T/mtype.yaml" > "$T/mtype.out" 2>&1
rc=$?
cat "$T/mtype.out"
[ $rc -eq 0 ] || fail "mtype: the board given meter type Eastron-SDM630 must pass (exit $rc)"
grep -qF 'device: settings {"MeterType":"Eastron-SDM630"} (PATCH /api/v1/config, reset)' "$T/mtype.out" ||
    fail "mtype: the settings were not applied through the HTTP API"
after=$(mtype)
[ "$after" = PhoenixContact-EMPro ] || fail "mtype: the board's meter type was not put back ('$after')"
sed 's/^device: {variant: sdm630}/device: {variant: pro380}/' "$SCN/p1mb-sdm630.yaml" > "$T/variant.yaml"
grep -q pro380 "$T/variant.yaml" || fail "could not change the variant of p1mb-sdm630"
"$ML" run --dut rig --rig "$T/p1mb.yaml" "$T/variant.yaml" > "$T/variant.out" 2>&1
rc=$?
cat "$T/variant.out"
[ $rc -eq 1 ] || fail "variant: a variant the board does not have must not pass (exit $rc)"
grep -q "SKIP not applicable: .*asked" "$T/variant.out" || fail "variant: not reported not applicable"
grep -q "register 0xF003" "$T/variant.out" || fail "variant: the reason does not say where it looked"

# a broken expectation fails with a readable diff through the rig path
sed 's/value: 2300, tolerance: 0.5/value: 2400, tolerance: 0.5/' "$SCN/p1mb-sdm630.yaml" > "$T/broken.yaml"
grep -q 2400 "$T/broken.yaml" || fail "could not break p1mb-sdm630"
"$ML" run --dut rig --rig "$T/p1mb.yaml" "$T/broken.yaml" > "$T/broken.out" 2>&1
rc=$?
cat "$T/broken.out"
[ $rc -eq 1 ] || fail "a broken expectation must exit 1 (got $rc)"
grep -q "expected: 2400 ± 0.5 W" "$T/broken.out" || fail "no expected line in the diff"
grep -q "seen:     2300 W" "$T/broken.out" || fail "no seen line in the diff"

echo "rig over pty: $total scenarios passed on 3 simulated devices through --dut rig"
