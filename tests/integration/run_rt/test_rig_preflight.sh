#!/bin/sh
# `meterlab run --dut rig` before any scenario (issue 22): the board is asked
# who it is. A dead board (nothing on the RS485 pty, nothing on the HTTP
# port) and a board that is not the one the rig file names are setup errors
# (exit 2) naming the port and what was seen, not a row of FAILs. The rig's
# lock: a second run fails fast naming the holder; --wait queues.
#
# usage: test_rig_preflight.sh METERLAB SCENARIO_DIR
set -u
ML=${1:?usage: $0 METERLAB SCENARIO_DIR}
SCN=${2:?usage: $0 METERLAB SCENARIO_DIR}
T=$(mktemp -d /tmp/rig-preflight.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# expect_setup_error NAME TEXT... : the run exited 2, said "setup error", each TEXT, ran nothing
expect_setup_error() {
    name=$1; shift
    cat "$T/$name.out"
    rc=$(cat "$T/$name.rc")
    [ "$rc" -eq 2 ] || fail "$name: exit $rc, want 2 (setup error)"
    grep -q "setup error" "$T/$name.out" || fail "$name: no 'setup error'"
    for w in "$@"; do
        grep -qF -- "$w" "$T/$name.out" || fail "$name: the message does not say '$w'"
    done
    if grep -qE "FAIL|passed" "$T/$name.out"; then fail "$name: scenarios ran"; fi
}

# 1. a dead P1MB: a pty whose other side nobody serves (a USB adapter, board off)
python3 -c 'import os,sys,time
a=[os.openpty() for i in range(2)]
print(" ".join(os.ttyname(s) for m, s in a), flush=True); time.sleep(120)' > "$T/pty" &
PIDS="$PIDS $!"
i=0; while [ ! -s "$T/pty" ]; do i=$((i+1)); [ $i -gt 300 ] && fail "no pty"; sleep 0.1; done
DEAD=$(cut -d" " -f1 "$T/pty")
DEAD_IN=$(cut -d" " -f2 "$T/pty")
cat > "$T/dead.yaml" <<Y
name: dead-p1mb
dut: {product: p1mb, variant: sdm630}
serial:
  inject: {path: $DEAD_IN}
  rs485: {path: $DEAD, line: "9600 8E1", slave_id: 16}
timeouts: {modbus_s: 0.3}
Y
"$ML" run --dut rig --rig "$T/dead.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/dead.out" 2>&1
echo $? > "$T/dead.rc"
expect_setup_error dead "does not answer" "RS485 $DEAD"

# 1b. the same over the network: nothing at the RS485 port's rfc2217:// address
PORT=$(free_port)
sed "s|rs485: {path: $DEAD,|rs485: {path: \"rfc2217://127.0.0.1:$PORT\",|" "$T/dead.yaml" > "$T/deadnet.yaml"
grep -q "rfc2217://127.0.0.1:$PORT" "$T/deadnet.yaml" || fail "could not make deadnet.yaml"
"$ML" run --dut rig --rig "$T/deadnet.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/deadnet.out" 2>&1
echo $? > "$T/deadnet.rc"
expect_setup_error deadnet "cannot open RS485 rfc2217://127.0.0.1:$PORT"

# 1c. a QEMU board (driver: qemu) whose image is not there: a setup error naming it
cat > "$T/noimage.yaml" <<Y
name: qemu-p1mb
dut: {product: p1mb, variant: sdm630}
driver: qemu
qemu: {image: nothere/p1mb_sdm630.elf, ports: qemu-ports}
serial: {inject: {path: qemu-ports/inject}, rs485: {path: qemu-ports/rs485}}
Y
"$ML" run --dut rig --rig "$T/noimage.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/noimage.out" 2>&1
echo $? > "$T/noimage.rc"
expect_setup_error noimage "driver qemu: qemu.image $T/nothere/p1mb_sdm630.elf: No such file"
[ -z "$(ls -A "$T/qemu-ports")" ] || fail "the driver left its port links: $(ls "$T/qemu-ports")"

# 2. a dead Smart Connect: nothing listens on its HTTP port
PORT=$(free_port)
cat > "$T/deadsc.yaml" <<Y
name: dead-sc
dut: {product: p1}
serial: {inject: {path: $DEAD_IN}}
network: {host: 127.0.0.1, modbus_port: $PORT, http_port: $PORT}
timeouts: {http_s: 1}
Y
"$ML" run --dut rig --rig "$T/deadsc.yaml" "$SCN/p1-dsmr50-normal.yaml" > "$T/deadsc.out" 2>&1
echo $? > "$T/deadsc.rc"
expect_setup_error deadsc "does not answer" "http://127.0.0.1:$PORT"

# 3. a live P1MB (the stand-alone sim device) that is not the variant the rig names
"$ML" device --product p1mb --variant sdm630 --serial MB00000001 --p1-in pty --rs485 pty \
    --state-dir "$T/state" > "$T/dev.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! grep -q "stop with Ctrl-C" "$T/dev.log" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/dev.log"; fail "device did not start"; }
    sleep 0.1
done
IN=$(awk '/^  P1 in /{print $3; exit}' "$T/dev.log")
RS=$(awk '/^  RS485 /{print $2; exit}' "$T/dev.log")
[ -n "$IN" ] && [ -n "$RS" ] || { cat "$T/dev.log"; fail "no ptys in the banner"; }
rig() { # rig FILE VARIANT
    cat > "$1" <<Y
name: p1mb-bench
dut: {product: p1mb, variant: $2}
lock: bench.lock
serial:
  inject: {path: $IN}
  rs485: {path: $RS, line: "9600 8E1", slave_id: 16}
timeouts: {modbus_s: 1}
Y
}
rig "$T/wrong.yaml" pro380
"$ML" run --dut rig --rig "$T/wrong.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/wrong.out" 2>&1
echo $? > "$T/wrong.rc"
expect_setup_error wrong "variant pro380" "variant sdm630" "$RS"

# 4. the right board: preflight says what answered, the scenario runs
rig "$T/right.yaml" sdm630
"$ML" run --dut rig --rig "$T/right.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/right.out" 2>&1
rc=$?
cat "$T/right.out"
[ $rc -eq 0 ] || fail "the right board: exit $rc"
grep -q "rig p1mb-bench: P1MB on RS485 $RS" "$T/right.out" || fail "preflight line missing"

# 4b. the same board's RS485 exported by ser2net and named rfc2217://: Modbus RTU
# (libmodbus) through the runner's local pty for the remote port
if command -v ser2net >/dev/null; then
    NP=$(free_port)
    cat > "$T/ser2net.yaml" <<Y
connection: &rs
  accepter: telnet(rfc2217),tcp,127.0.0.1,$NP
  connector: serialdev,$RS,9600e81,local
Y
    ser2net -n -u -c "$T/ser2net.yaml" -P "$T/ser2net.pid" > /dev/null 2>&1 &
    PIDS="$PIDS $!"
    i=0
    until python3 -c "import socket; socket.create_connection(('127.0.0.1', $NP)).close()" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && fail "ser2net did not listen"; sleep 0.1
    done
    sed "s|rs485: {path: $RS,|rs485: {path: \"rfc2217://127.0.0.1:$NP\",|; s|^lock:.*||" \
        "$T/right.yaml" > "$T/net.yaml"
    "$ML" run --dut rig --rig "$T/net.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/net.out" 2>&1
    rc=$?
    cat "$T/net.out"
    [ $rc -eq 0 ] || fail "RS485 over rfc2217://: exit $rc"
    grep -q "rig p1mb-bench: P1MB on RS485 rfc2217://127.0.0.1:$NP" "$T/net.out" ||
        fail "RS485 over rfc2217://: no preflight line"
    grep -q "1 passed" "$T/net.out" || fail "RS485 over rfc2217://: the scenario did not pass"
else
    fail "ser2net is not installed (tools/bootstrap)"
fi

# 5. the lock: held by another process (this shell, fd 9), a run fails at once
# naming the lock; with --wait it waits, and runs once the holder lets go
exec 9>>"$T/bench.lock"
flock -n 9 || fail "cannot take the lock for the test"
"$ML" run --dut rig --rig "$T/right.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/busy.out" 2>&1 9>&-
echo $? > "$T/busy.rc"
expect_setup_error busy "is in use" "$T/bench.lock"
"$ML" run --dut rig --wait --rig "$T/right.yaml" "$SCN/p1mb-sdm630.yaml" > "$T/wait.out" 2>&1 9>&- &
WAITER=$!
sleep 3
if grep -q "rig p1mb-bench" "$T/wait.out"; then fail "--wait ran while the lock was held"; fi
kill -0 $WAITER 2>/dev/null || { cat "$T/wait.out"; fail "--wait did not wait"; }
exec 9>&-
wait $WAITER
rc=$?
cat "$T/wait.out"
[ $rc -eq 0 ] || fail "--wait: exit $rc"
grep -q "rig p1mb-bench: P1MB" "$T/wait.out" || fail "--wait: no preflight line"
echo "PASS"
