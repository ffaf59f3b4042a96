#!/bin/sh
# meterlab decode reads its input in blocks (64 KiB; 4,096 bytes before). A telegram cut
# off by a new start ('/' or STX) that is the first byte of a block gets its verdict with nothing
# consumed; every telegram after it must still be reported (issue 17: the TIC loop
# dropped the rest of the block, 4 of 7 good frames came out).
# Usage: test_decode_boundary.sh <meterlab> <scenarios/telegrams dir>
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

# The stream: as many good telegrams as fit, noise, the first 400 bytes of one more,
# so that the start of the next lands at offset BLOCK exactly, then 7 good telegrams.
# Prints how many came before the cut one.
BLOCK=${BLOCK:-65536}
make_stream() { # telegram file, output
    python3 - "$1" "$2" "$BLOCK" <<'PY'
import sys
t = open(sys.argv[1], "rb").read()
block = int(sys.argv[3])
head = t * ((block - 400) // len(t))
cut = t[:400]
noise = b" " * (block - len(head) - len(cut))
s = head + noise + cut
assert len(s) == block and t[0:1] in (b"/", b"\x02")
open(sys.argv[2], "wb").write(s + t * 7)
print(len(head) // len(t))
PY
}
want() { # good ones before, reason of the cut one
    i=0
    while [ $i -lt "$1" ]; do echo ok; i=$((i + 1)); done
    echo "frame_fail:$2"
    for i in 1 2 3 4 5 6 7; do echo ok; done
}

# verdicts and reasons of a decode output, one "verdict[:reason]" per line
verdicts() {
    python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    print(o["verdict"] + (":" + o["reason"] if "reason" in o else ""))
' "$1"
}

k=$(make_stream "$DIR/tic/std-1ph.bin" "$TMP/tic.bin")
want_tic=$(want "$k" "cut off by a new STX")
"$ML" decode "$TMP/tic.bin" >"$TMP/tic.json"
check "TIC: exit 1 (one frame failed)" $(( $? == 1 ? 0 : 1 ))
got=$(verdicts "$TMP/tic.json")
[ "$got" = "$want_tic" ]
check "TIC: STX cut-off on the block boundary, then all 7 good frames" $?
[ "$got" = "$want_tic" ] || echo "$got"
python3 - "$TMP/tic.json" <<'PY'
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
# every good frame is std-1ph.bin: EAST 012345678 Wh (scenarios/telegrams/tic/gen_frames.py)
assert all(l["reading"]["e_imp_wh"] == 12345678 for l in ls if l["verdict"] == "ok"), ls
assert [l["bytes"] for l in ls if l["verdict"] != "ok"] == [400], ls
PY
check "TIC: values of the good frames, bytes of the cut one" $?
cat "$TMP/tic.bin" | "$ML" decode - >"$TMP/tic-stdin.json"
cmp -s "$TMP/tic.json" "$TMP/tic-stdin.json"
check "TIC: the same from a pipe" $?

k=$(make_stream "$DIR/dsmr/dsmr50_spec_3ph.txt" "$TMP/p1.txt")
want_p1=$(want "$k" "cut off by a new telegram")
"$ML" decode "$TMP/p1.txt" >"$TMP/p1.json"
check "P1: exit 1 (one telegram failed)" $(( $? == 1 ? 0 : 1 ))
got=$(verdicts "$TMP/p1.json")
[ "$got" = "$want_p1" ]
check "P1: '/' cut-off on the block boundary, then all 7 good telegrams" $?
[ "$got" = "$want_p1" ] || echo "$got"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
