#!/bin/sh
# meterlab decode on the DSMR corpus: every file gives exactly one "ok" JSON line and
# exit 0; a damaged telegram gives crc_fail and exit 1; a missing file exit 2.
# Usage: test_decode.sh <meterlab> <corpus dir>
set -u
ML=$1
DIR=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
check() { # name, condition result
    if [ "$2" -ne 0 ]; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi
}
for f in "$DIR"/*.txt; do
    b=$(basename "$f" .txt)
    "$ML" decode "$f" >"$TMP/$b.json"
    echo "$b $?" >>"$TMP/rc.txt"
done
# One python for all files (a python start per file made this test slow on a loaded box).
python3 - "$TMP" <<'PY'
import json, os, sys
tmp = sys.argv[1]
keys = ["ts", "P", "P+", "P-", "E_IMPORT", "E_EXPORT", "U12", "U31", "U32", "Q", "Q+", "Q-",
        "EQ1", "EQ2", "EQ3", "EQ4", "PF", "S", "PFAIL", "LPFAIL", "l1", "l2", "l3"]
# Real-meter telegrams (issue 21), values written by hand from the telegram text.
expect = {
    "dsmr42_spec_fgroup": {"l1_i_a": 1, "l3_p_imp_w": 3333, "l2_p_exp_w": 5555},
    "emucs_units_without_star": {"e_imp_t1_wh": 1234567, "p_imp_w": 1234, "l1_u_v": 231.5,
                                 "l1_i_a": 5.31},
    "smarty_unitless": {"q_imp_var": 120, "q_exp_var": 34, "s_imp_va": 1600, "p_imp_w": 1500,
                        "l1_u_v": 230, "l1_i_a": 6, "e_imp_wh": 123456},
    "dsmr30_text_two_lines": {"text": "Hello, world! Meter connected to the grid!"},
    "dsmr50_text_plain_slash": {"text": "Onderhoud 12/05 10:00-12:00, zie example.nl/p1/storing!"},
    "channel_1-1_registers": {"e_imp_t1_wh": 1234567, "e_exp_t1_wh": 2000, "p_imp_w": 500},
    "smarty_ldn_then_equipment": {"equipment": "E0044007131650618"},
    "smarty_equipment_then_ldn": {"equipment": "E0044007131650618"},
    "dsmr50_summer_time": {"ts": 1686823200, "ts_dst": 1},
}
fail = 0
for line in open(os.path.join(tmp, "rc.txt")):
    name, rc = line.split()
    try:
        assert rc == "0", "exit " + rc
        lines = open(os.path.join(tmp, name + ".json")).read().splitlines()
        assert len(lines) == 1, lines
        o = json.loads(lines[0])
        assert o["verdict"] == "ok" and o["protocol"] == "dsmr", o
        pi = o["power_instant"]
        assert list(pi) == keys, list(pi)
        for ph in ("l1", "l2", "l3"):
            assert list(pi[ph]) == ["U", "I", "P", "P+", "P-", "Q", "Q+", "Q-", "S", "VSAGS",
                                    "VSWELLS"]
        assert isinstance(o["reading"], dict)
        for k, v in expect.get(name, {}).items():
            assert o["reading"].get(k) == v, (k, o["reading"].get(k), v)
        if name == "e350_placeholder_dates":
            assert "ts" not in o["reading"] and "gas_m3" not in o["reading"], o["reading"]
        print("ok: " + name)
    except AssertionError as e:
        print("FAIL: %s: %s" % (name, e))
        fail = 1
sys.exit(fail)
PY
[ $? -eq 0 ] || fail=1

# All files concatenated, read from stdin: one line per telegram.
cat "$DIR"/*.txt | "$ML" decode - >"$TMP/all.json"
rc=$?
n=$(ls "$DIR"/*.txt | wc -l)
check "stdin, $n telegrams" $((rc + $(grep -c '"verdict":"ok"' "$TMP/all.json") - n))

# Damaged byte: crc_fail, exit 1.
sed 's/01.193/02.193/' "$DIR/dsmr50_spec_3ph.txt" >"$TMP/bad.txt"
"$ML" decode "$TMP/bad.txt" >"$TMP/bad.json"
rc=$?
grep -q '"verdict":"crc_fail"' "$TMP/bad.json"
check "crc_fail exit 1" $(( (rc != 1) + $? ))

# Nothing in the input: exit 1. Missing file: exit 2 with a message.
printf 'noise only\r\n' | "$ML" decode >/dev/null 2>&1
check "no telegram exit 1" $(( $? != 1 ))
"$ML" decode "$TMP/does-not-exist" >/dev/null 2>"$TMP/err"
rc=$?
grep -q "cannot open" "$TMP/err"
check "missing file exit 2" $(( (rc != 2) + $? ))
"$ML" decode --help | grep -q "usage: meterlab decode"
check "--help" $?

# JSON escaping of texts (also inside the 8-byte fast path): quotes, backslashes, bytes
# that are no printable ASCII. A DSMR 3.0 style telegram without CRC, plain-text message.
printf '/ISk5\\2MT382-1000\r\n\r\n0-0:96.13.0(He said "no" \\ twice, caf\351 ok!)\r\n!\r\n' |
    "$ML" decode - >"$TMP/esc.json"
python3 - "$TMP/esc.json" <<'PY'
import json, sys
o = json.loads(open(sys.argv[1]).read())
assert o["reading"]["text"] == 'He said "no" \\ twice, caf\u00e9 ok!', o["reading"]["text"]
assert o["reading"]["header"] == "ISk5\\2MT382-1000", o["reading"]["header"]
PY
check "JSON escapes" $?

# --std-offset: the S/W clock of a meter on GMT/IST (12:00 S = 11:00 UTC); bad values exit 2.
"$ML" decode --std-offset 0 "$DIR/dsmr50_summer_time.txt" | grep -q '"ts":1686826800,'
check "--std-offset 0" $?
"$ML" decode "$DIR/dsmr50_summer_time.txt" | grep -q '"ts":1686823200,'
check "default CET" $?
"$ML" decode --std-offset 2000 "$DIR/dsmr50_summer_time.txt" >/dev/null 2>"$TMP/err"
check "--std-offset out of range exit 2" $(( $? != 2 ))

# Progress line on stderr: under a pty (script) for a big input, never into a pipe or file.
head -c 6000000 /dev/zero >"$TMP/big.bin"
cat "$DIR/dsmr50_summer_time.txt" >>"$TMP/big.bin"
if command -v script >/dev/null 2>&1; then
    script -qec "\"$ML\" decode \"$TMP/big.bin\" >/dev/null" /dev/null >"$TMP/tty.txt" 2>&1
    grep -q "meterlab decode: 5 of 5 MB (100 %), 1 telegrams" "$TMP/tty.txt"
    check "progress line on a terminal" $?
else
    echo "skip: progress line (no script(1))"
fi
"$ML" decode "$TMP/big.bin" >/dev/null 2>"$TMP/err"
check "no progress line into a file" $(( $? + $(wc -c <"$TMP/err") ))
exit $fail
