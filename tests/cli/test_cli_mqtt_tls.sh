#!/bin/sh
# meterlab device: bad MQTT TLS material (--mqtt-ca/--mqtt-cert/--mqtt-key) and bad
# broker URLs fail at start with exit 2 and a message naming the file or URL, instead
# of a device that stays "disabled" or "connecting" for ever. Certificates are made
# here with openssl.
set -u
ML="$1"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail=0
pass=0
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 -subj '/CN=test CA' 2>/dev/null &&
    openssl req -x509 $ec -keyout "$d/dev.key" -out "$d/dev.crt" -days 2 -subj '/CN=SC1' 2>/dev/null ||
    { echo "0 passed, 1 failed"; echo "FAIL: openssl could not make the test certificates"; exit 1; }
printf -- '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' > "$d/garbage.pem"

# expect_fail WANT_IN_MESSAGE ARGS...: exit 2 and WANT on stderr, within 10 s.
expect_fail() {
    want="$1"
    shift
    err=$(timeout 10 "$ML" device "$@" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 2 ]; then
        echo "FAIL: meterlab device $*: exit $rc, want 2"
        fail=$((fail + 1))
    elif ! echo "$err" | grep -qF -- "$want"; then
        echo "FAIL: meterlab device $*: message '$err' lacks '$want'"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

U="--product p1 --mqtt mqtt://127.0.0.1:8883"
expect_fail "CA file '$d/missing.pem'" $U --mqtt-ca "$d/missing.pem"
expect_fail "CA file '$d/garbage.pem': no PEM certificate" $U --mqtt-ca "$d/garbage.pem"
expect_fail "certificate file '$d/garbage.pem'" $U --mqtt-ca "$d/ca.crt" --mqtt-cert "$d/garbage.pem" --mqtt-key "$d/dev.key"
expect_fail "key file '$d/missing.key'" $U --mqtt-ca "$d/ca.crt" --mqtt-cert "$d/dev.crt" --mqtt-key "$d/missing.key"
expect_fail "key file '$d/ca.key': does not match" $U --mqtt-ca "$d/ca.crt" --mqtt-cert "$d/dev.crt" --mqtt-key "$d/ca.key"
expect_fail "needs both" $U --mqtt-cert "$d/dev.crt"
expect_fail "CA file '$d/missing.pem'" --target qemu $U --mqtt-ca "$d/missing.pem"
expect_fail "--mqtt 'mqtt://user@host': not a broker URL" --product p1 --mqtt mqtt://user@host
expect_fail "--mqtt 'mqtt://host:0': not a broker URL" --product p1 --mqtt mqtt://host:0

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
