#!/bin/sh
# meterlab decode on TIC input: autodetection, values written by hand from the
# frames (the benchmark frame std-3ph.bin, producer and historic frames), verdicts and
# exit codes.
# Usage: test_decode_tic.sh <meterlab> <tic corpus dir>
set -u
ML=$1
DIR=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
check() { # name, status
    if [ "$2" -eq 0 ]; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi
}

"$ML" decode "$DIR/std-3ph.bin" >"$TMP/std.json"
check "bench frame exits 0" $?
python3 - "$TMP/std.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert (o["verdict"], o["protocol"], o["mode"]) == ("ok", "tic", "standard"), o
assert o["groups"] == 53 and o["groups_bad"] == 0, o
r, pi, lab = o["reading"], o["power_instant"], o["labels"]
assert r["e_imp_wh"] == 15234567 and pi["E_IMPORT"] == 15234567   # EAST 015234567
assert r["e_imp_t2_wh"] == 3278677                                 # EASF02 003278677
assert r["l1_u_v"] == 232 and r["l3_u_v"] == 233                   # URMS1/3
assert r["l2_i_a"] == 2                                            # IRMS2 002
assert pi["l1"]["P"] == 708 and pi["l3"]["P"] == 910               # SINSTS1/3 (VA)
assert pi["ts"] == 1681552805        # DATE E230415120005: 12:00:05 CEST = 10:00:05 UTC
assert lab["ADSC"] == "041876097147" and lab["PRM"] == "09876543210123"
assert lab["EASD01"] == 7901234
assert lab["SMAXSN1-1"]["time"] == "2023-04-14T19:10:03"
assert o["stge"]["raw"] == "013A4301"
PY
check "bench frame values" $?

"$ML" decode "$DIR/std-1ph-noisy.bin" >"$TMP/noisy.json"
check "noisy frame exits 1" $(( $? == 1 ? 0 : 1 ))
python3 - "$TMP/noisy.json" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[0])
assert o["verdict"] == "crc_fail" and o["groups_bad"] == 3, o
assert "power_instant" not in o          # not published: a group was bad
assert "l1_i_a" not in o["reading"]      # IRMS1 had the bad checksum: no value
assert "EAST" not in o["labels"]         # EAST's label was damaged
PY
check "noisy frame: bad groups give no values" $?

"$ML" decode "$DIR/hist-1ph.bin" >"$TMP/hist.json"
check "historic frame exits 1" $(( $? == 1 ? 0 : 1 ))
python3 - "$TMP/hist.json" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read().splitlines()[0])
assert o["mode"] == "historic" and o["error"] == "historic mode not supported", o
assert "reading" not in o and "power_instant" not in o
PY
check "historic frame reported, never parsed" $?

"$ML" decode "$DIR/std-1ph-eot.bin" >"$TMP/eot.json"
python3 - "$TMP/eot.json" <<'PY'
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert [l["verdict"] for l in ls] == ["frame_fail", "ok"], ls
assert ls[0]["reason"] == "interrupted by EOT"
PY
check "EOT-cut frame then a good one" $?

cat "$DIR/std-3ph.bin" | "$ML" decode - >"$TMP/stdin.json"
check "stdin input" $?
cmp -s "$TMP/stdin.json" "$TMP/std.json"
check "stdin gives the same output" $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
