#!/bin/sh
# The bench control socket of `meterlab device --control PATH` (issue 18): a
# plain unix-socket client (python3, not the runner's code) pulls the link and
# restores it (the device's "IP:" lines, then GET /api/v1/status with curl),
# presses the button briefly (a soft reset: ResetCause soft), and gets clear
# errors for a bad command or a fault the device does not have; a path that is
# not a socket is a usage error (exit 2); the socket is gone after a stop.
#
# usage: test_device_control.sh METERLAB
set -u
ML=${1:?usage: $0 METERLAB}
T=$(mktemp -d /tmp/device-control.XXXXXX)
DEV=""
cleanup() {
    [ -n "$DEV" ] && kill "$DEV" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; echo "--- device output:"; cat "$T/out"; exit 1; }

# ctl COMMAND...: one line each to the socket (a number: sleep that many
# seconds), print the answer lines joined by '|'
ctl() {
    python3 - "$T/c.sock" "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
out = []
for c in sys.argv[2:]:
    if c[0].isdigit():
        time.sleep(float(c))
        continue
    f.write(c + "\n")
    f.flush()
    out.append(f.readline().strip())
print("|".join(out))
PY
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_line PATTERN N: until the device printed PATTERN N times (5 s)
wait_line() {
    i=0
    while [ "$(grep -c -- "$1" "$T/out")" -lt "$2" ]; do
        i=$((i + 1)); [ $i -gt 50 ] && fail "no '$1' line (#$2) within 5 s"
        sleep 0.1
    done
}

# a regular file where the socket should go: usage error, the file is kept
: > "$T/file"
"$ML" device --product p1 --modbus-port 0 --http-port 0 --control "$T/file" > "$T/out" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--control on a regular file: exit $rc, want 2"
grep -q "exists and is not a socket" "$T/out" || fail "no clear error for --control on a file"
[ -f "$T/file" ] || fail "the regular file was removed"

# fixed ports: a reboot of the sim device listens on the same ones again
"$ML" device --product p1 --modbus-port "$(free_port)" --http-port "$(free_port)" \
    --https-port "$(free_port)" --state-dir "$T/state" --control "$T/c.sock" > "$T/out" 2>&1 &
DEV=$!
wait_line "stop with Ctrl-C" 1
grep -q "^  control        $T/c.sock" "$T/out" || fail "the banner does not name the control socket"
# the API is on HTTPS, trusted through the device's own certificate
HTTP=$(sed -n 's|^  HTTPS *\(https://[^ ]*\) .*|\1|p' "$T/out")
[ -n "$HTTP" ] || fail "no HTTPS address in the banner"
curl() { command curl --cacert "$T/state/https_cert.pem" "$@"; }
wait_line "IP: yes" 1

# the link: pulled and back
a=$(ctl "fault link_down"); [ "$a" = "ok" ] || fail "fault link_down answered '$a'"
wait_line "IP: none" 2
curl -s -m 2 -o /dev/null "${HTTP}api/v1/status" && fail "the HTTP API answered while the link was down"
a=$(ctl "fault link_up"); [ "$a" = "ok" ] || fail "fault link_up answered '$a'"
wait_line "IP: yes" 2
i=0
until curl -s -m 2 "${HTTP}api/v1/status" > "$T/status" && grep -q '"IpAddress":"[0-9]' "$T/status"; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "no address in GET /api/v1/status after link_up: $(cat "$T/status")"
    sleep 0.1
done
grep -q '"ResetCause":"power-on"' "$T/status" || fail "ResetCause before the button: $(cat "$T/status")"

# the button: a short press is a soft reset
a=$(ctl "button press" 0.3 "button release")
[ "$a" = "ok|ok" ] || fail "button press, release answered '$a'"
i=0
until curl -s -m 2 "${HTTP}api/v1/status" > "$T/status" && grep -q '"ResetCause":"soft"' "$T/status"; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "no soft reset after a short press: $(cat "$T/status")"
    sleep 0.1
done

# errors name what is wrong
a=$(ctl "bogus")
case "$a" in "error: unknown command 'bogus'"*) ;; *) fail "bad command answered '$a'" ;; esac
a=$(ctl "fault power_cycle")
case "$a" in "error: fault 'power_cycle': not a network fault"*) ;; *) fail "fault power_cycle answered '$a'" ;; esac

kill -TERM "$DEV"
wait "$DEV"
DEV=""
[ -e "$T/c.sock" ] && fail "the control socket is left after the stop"
echo "PASS"
