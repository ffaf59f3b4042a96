#!/bin/sh
# meterlab fw-sign against openssl (the independent Ed25519 implementation):
# keygen writes a 0600 PKCS#8 key openssl reads and refuses the source tree;
# sign writes the documented header whose signature openssl verifies and whose
# SHA-256 sha256sum agrees with; verify tells good from tampered images.
#   test_fw_sign.sh METERLAB SOURCE_DIR
set -u
ML="$1"
SRC="$2"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# keygen: key files, mode, formats openssl understands
hex=$("$ML" fw-sign keygen --out "$T/k.pem") || bad "keygen exit $?"
[ "$(stat -c %a "$T/k.pem")" = 600 ] && ok || bad "secret key mode $(stat -c %a "$T/k.pem"), want 600"
ossl=$(openssl pkey -in "$T/k.pem" -pubout -outform DER | od -An -tx1 -v | tr -d ' \n' | cut -c25-)
[ "$ossl" = "$hex" ] && ok || bad "openssl derives public key $ossl, keygen printed $hex"
[ "$("$ML" fw-sign pubkey --pub "$T/k.pub.pem")" = "$hex" ] && ok || bad "pubkey --pub"
[ "$("$ML" fw-sign pubkey --key "$T/k.pem")" = "$hex" ] && ok || bad "pubkey --key"
"$ML" fw-sign keygen --out "$T/k.pem" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "exists" "$T/err" && ok || bad "keygen over an existing key: exit $rc"
"$ML" fw-sign keygen --out "$SRC/tests/cli/leak.pem" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "source tree" "$T/err" && [ ! -e "$SRC/tests/cli/leak.pem" ] && ok ||
    bad "keygen into the source tree: exit $rc"
# a key openssl made is accepted by sign
openssl genpkey -algorithm ed25519 -out "$T/o.pem" 2>/dev/null

# sign: header layout, signature checked by openssl
head -c 70000 /dev/urandom >"$T/payload"
"$ML" fw-sign sign --key "$T/k.pem" --fw-version 2.0.1 --out "$T/img" "$T/payload" >/dev/null ||
    bad "sign exit $?"
[ "$(stat -c %s "$T/img")" = 70128 ] && ok || bad "image size $(stat -c %s "$T/img"), want 70128"
h=$(head -c 128 "$T/img" | od -An -tx1 -v | tr -d ' \n')
[ "$(echo "$h" | cut -c1-24)" = "4d4c46570200000070110100" ] && ok ||
    bad "magic/version/length: $(echo "$h" | cut -c1-24)"
[ "$(head -c 17 "$T/img" | tail -c 5)" = "2.0.1" ] && ok || bad "version field"
[ "$(echo "$h" | cut -c57-120)" = "$(sha256sum "$T/payload" | cut -c1-64)" ] && ok || bad "sha256 field"
[ "$(echo "$h" | cut -c121-128)" = "$(echo "$hex" | cut -c1-8)" ] && ok || bad "key id field"
head -c 64 "$T/img" >"$T/signed"
tail -c +65 "$T/img" | head -c 64 >"$T/sig"
openssl pkeyutl -verify -pubin -inkey "$T/k.pub.pem" -rawin -in "$T/signed" -sigfile "$T/sig" \
    >/dev/null 2>&1 && ok || bad "openssl does not verify the header signature"
"$ML" fw-sign sign --key "$T/o.pem" --fw-version 1 --out "$T/img2" "$T/payload" >/dev/null &&
    "$ML" fw-sign verify --key "$T/o.pem" "$T/img2" >/dev/null && ok || bad "openssl-made key"

# verify: good, other key, flipped payload, flipped signature
"$ML" fw-sign verify --pub "$T/k.pub.pem" "$T/img" >/dev/null && ok || bad "verify good image"
"$ML" fw-sign verify --key "$T/o.pem" "$T/img" >"$T/out"; rc=$?
[ $rc -eq 1 ] && grep -q "another key" "$T/out" && ok || bad "other key: exit $rc"
cp "$T/img" "$T/bad"
printf '\001' | dd of="$T/bad" bs=1 seek=1000 conv=notrunc 2>/dev/null
"$ML" fw-sign verify --pub "$T/k.pub.pem" "$T/bad" >"$T/out"; rc=$?
[ $rc -eq 1 ] && grep -q sha256 "$T/out" && ok || bad "tampered payload: exit $rc"
cp "$T/img" "$T/bad"
printf '\001' | dd of="$T/bad" bs=1 seek=100 conv=notrunc 2>/dev/null
"$ML" fw-sign verify --pub "$T/k.pub.pem" "$T/bad" >"$T/out"; rc=$?
[ $rc -eq 1 ] && grep -q "bad signature" "$T/out" && ok || bad "tampered signature: exit $rc"

# usage errors
"$ML" fw-sign sign --key "$T/k.pem" --fw-version 12345678901234567 "$T/payload" 2>/dev/null
[ $? -eq 2 ] && ok || bad "too long version accepted"
"$ML" fw-sign sign --key "$T/payload" --fw-version 1 "$T/payload" 2>"$T/err"
[ $? -eq 2 ] && grep -q "not a PEM" "$T/err" && ok || bad "non-key file as --key"
"$ML" fw-sign frobnicate 2>/dev/null
[ $? -eq 2 ] && ok || bad "unknown subcommand"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
