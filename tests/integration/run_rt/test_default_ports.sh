#!/bin/sh
# The Smart Connect's own ports (manual 002 §5.3 and §7: Modbus TCP on 502; the web
# page on 80/443), checked where a test may bind privileged ports: a network
# namespace of its own (unshare -rn: root in a user namespace, only loopback), so
# the test never touches the host's ports. `meterlab device` without --modbus-port
# and --http-port takes the device's defaults as root there; real peers check them:
# mbpoll (Modbus TCP master) reads the telegram's values from 502, curl reads the
# landing page on 80 and the status over HTTPS on 443.
#
# usage: run_in_netns.sh test_default_ports.sh METERLAB TELEGRAM
# (tests/integration/mdns/run_in_netns.sh makes the namespace, or skips with 77)
# exit 0 pass, 1 fail
set -u
ML=${1:?usage: $0 METERLAB TELEGRAM}
TEL=${2:?usage: $0 METERLAB TELEGRAM}

# inside the namespace
T=$(mktemp -d /tmp/default-ports.XXXXXX)
DEV=""
cleanup() {
    [ -n "$DEV" ] && kill "$DEV" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; echo "--- device output:"; cat "$T/out"; exit 1; }

[ "$(id -u)" = 0 ] || fail "not root in the namespace (id -u: $(id -u))"

"$ML" device --product p1 > "$T/out" 2>&1 &
DEV=$!
i=0
until grep -q '^  P1 in ' "$T/out" && grep -q 'IP: yes' "$T/out"; do
    i=$((i + 1)); [ $i -gt 100 ] && fail "the device did not start within 10 s"
    kill -0 "$DEV" 2>/dev/null || fail "the device exited"
    sleep 0.1
done
grep -q '^  Modbus TCP     port 502,' "$T/out" || fail "the banner does not name Modbus TCP port 502"
P1=$(sed -n 's/^  P1 in  *\(\/dev\/[^ ]*\).*/\1/p' "$T/out")
[ -n "$P1" ] || fail "no P1 pty in the banner"
cat "$TEL" > "$P1"

# Modbus TCP on 502: total active power 0x8016 and L1 voltage 0x8006, float32 CDAB
# (mbpoll's default word order), input registers, 0-based addresses; polled until
# the telegram is decoded (5 s)
poll() {
    mbpoll -m tcp -a 1 -0 -r "$1" -c 1 -t 3:float -1 -o 2 -p 502 127.0.0.1 2>&1
}
i=0
until out=$(poll 32790) && echo "$out" | grep -q '^\[32790\]:[[:space:]]*1193$'; do
    i=$((i + 1)); [ $i -gt 50 ] && fail "total power on 502 within 5 s: $out (want 1193)"
    sleep 0.1
done
out=$(poll 32774) || fail "mbpoll on port 502: $out"
echo "$out" | grep -q '^\[32774\]:[[:space:]]*220.1$' || fail "L1 voltage on 502: $out (want 220.1)"

# the web page: plain HTTP on 80 serves the landing page, the API is on HTTPS 443
code=$(curl -s -o "$T/land" -w '%{http_code}' --max-time 5 http://127.0.0.1/) ||
    fail "curl http://127.0.0.1:80/ failed"
[ "$code" = 200 ] || fail "GET / on port 80: HTTP $code, want 200 (the landing page)"
grep -qi 'https://' "$T/land" || fail "the landing page on 80 does not point at https"
LOGIN=$(sed -n 's/^  login  *\([^ ]*\) \/ \([^ ]*\).*/\1:\2/p' "$T/out")
code=$(curl -sk -o "$T/status" -w '%{http_code}' --max-time 5 -u "$LOGIN" \
    https://127.0.0.1/api/v1/status) || fail "curl https://127.0.0.1:443/api/v1/status failed"
[ "$code" = 200 ] || fail "GET /api/v1/status on 443: HTTP $code, want 200"
echo "ok: Modbus TCP 502 (1193 W, 220.1 V), landing page on 80, status over HTTPS on 443"
exit 0
