#!/bin/sh
# The capture bugs of issue 21 item 2, each shown over a pty pair (`meterlab play` into
# one end, `meterlab record` on the other) or on files:
#  1. a DSMR 2.2 capture keeps the CR LF after '!' and passes its own replay;
#  2. bytes queued on the port before record listens are not captured;
#  3. a telegram cut off by the next one is timed by its own last byte;
#  4. emit emits a capture without meter: section;
#  5. play sends such a capture at the line settings of its bytes (9600 7E1 for DSMR 2.2),
#     and a new capture names its protocol (meter:) so play uses that;
#  6. record --port on a plain file says to use --from.
# usage: test_capture_fixes.sh MET PTYPAIR DIR   (DIR: this test's scenarios)
set -u
MET=$1
PAIR=$2
D=$3
W=$(mktemp -d /tmp/ml-capfix-XXXXXX)
PAIR_PID=
REC_PID=
cleanup() {
    [ -n "$REC_PID" ] && kill "$REC_PID" 2>/dev/null
    [ -n "$PAIR_PID" ] && kill "$PAIR_PID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
new_pair() {
    [ -n "$PAIR_PID" ] && { kill "$PAIR_PID"; wait "$PAIR_PID" 2>/dev/null; }
    rm -f "$W/pair"
    "$PAIR" --timeout 60 >"$W/pair" &
    PAIR_PID=$!
    i=0
    while [ ! -s "$W/pair" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    read -r A B <"$W/pair" || fail "no pty pair"
}
# record NAME SCENARIO N: capture N telegrams of SCENARIO played at speed 2
record() {
    "$MET" record --port "$B" --count "$3" --duration 20 --expect-values -o "$W/$1.yaml" \
        2>"$W/$1.record.log" &
    REC_PID=$!
    sleep 0.5
    "$MET" play -q --port "$A" --speed 2 "$2" || fail "$1: play exit $?"
    wait "$REC_PID"
    rrc=$?
    REC_PID=
    [ $rrc -eq 0 ] || { cat "$W/$1.record.log"; fail "$1: record exit $rrc"; }
}

# 1. DSMR 2.2: every kept telegram ends with "!\r\n", and the capture replays
new_pair
record d22 "$D/dsmr22-roundtrip.yaml" 4
for f in "$W"/d22/*.txt; do
    [ "$(tail -c 3 "$f" | od -An -c | tr -d ' ')" = '!\r\n' ] ||
        { od -c "$f" | tail -3; fail "1. $f does not end with ! CR LF"; }
done
"$MET" run "$W/d22.yaml" >"$W/d22.run" 2>&1 || { cat "$W/d22.run"; fail "1. the DSMR 2.2 capture fails its own replay"; }
grep -q 'modbus: {p: 4040' "$W/d22.yaml" || fail "1. the last value (4040 W) is not expected"
echo "1. DSMR 2.2 capture: 4 telegrams end with ! CR LF, its replay passes"

# 2. bytes queued on the port before record opened it are not captured
new_pair
"$MET" play -q --port "$A" --speed 20 "$D/dsmr22-roundtrip.yaml" || fail "2. play exit $?"
sleep 1 # play has drained its port; the pair forwards into B's queue meanwhile
"$MET" record --port "$B" --duration 1 -o "$W/stale.yaml" 2>"$W/stale.log"
src=$?
[ $src -eq 1 ] || { cat "$W/stale.log"; fail "2. record kept bytes queued before it listened (exit $src, not 1)"; }
grep -q '^steps: \[\]' "$W/stale.yaml" || fail "2. stale telegrams in the capture"
echo "2. queued bytes: not captured (exit 1, no telegrams)"

# 3. the cut-off telegram keeps its own time: 0.5 s after the one before (speed 2)
new_pair
record cut "$D/cutoff-roundtrip.yaml" 5
grep 'telegram: {file' "$W/cut.yaml" >"$W/cut.steps"
grep -q 'frame_fail' "$W/cut.steps" || { cat "$W/cut.steps"; fail "3. no cut-off telegram captured"; }
awk '{ t = $3 + 0 } /frame_fail/ { gp = t - p; cut = 1 } !/frame_fail/ && cut == 1 { gn = t - p; cut = 2 }
     { p = t }
     END { printf "3. cut-off telegram: %.3f s after the one before, %.3f s before the next\n", gp, gn
           # own time: 0.5 s after the one before and before the next; stamped with the
           # next one (the bug) it is 1.0 s after and 0.0 s before. Wide margins: a loaded
           # machine delays reads by a few 100 ms.
           if (gp < 0.2 || gp > 0.9 || gn < 0.1) exit 1 }' "$W/cut.steps" ||
    { cat "$W/cut.steps"; fail "3. the cut-off telegram is not timed by its own bytes"; }

# 4. emit takes a capture without meter: section
"$MET" emit "$D/dsmr22-recorded.yaml" -o "$W/emit.bin" || fail "4. emit refused a capture without meter:"
n=$("$MET" decode "$W/emit.bin" | grep -c '"verdict":"ok"')
[ "$n" -eq 2 ] || fail "4. emit of the capture: $n good telegrams, not 2"
echo "4. emit of a meter-less capture: 2 good telegrams"

# 5. play: the meter-less DSMR 2.2 capture and a new capture at 9600 7E1
new_pair
"$MET" play --port "$A" --speed 50 "$D/dsmr22-recorded.yaml" 2>"$W/play1.log" || fail "5. play exit $?"
grep -q " at 9600 7E1" "$W/play1.log" || { cat "$W/play1.log"; fail "5. play of a meter-less DSMR 2.2 capture not at 9600 7E1"; }
grep -q '^meter: {protocol: dsmr30}' "$W/d22.yaml" || fail "5. the DSMR 2.2 capture names no protocol"
"$MET" play --port "$A" --speed 50 "$W/d22.yaml" 2>"$W/play2.log" || fail "5. play exit $?"
grep -q " at 9600 7E1" "$W/play2.log" || { cat "$W/play2.log"; fail "5. play of a DSMR 2.2 capture not at 9600 7E1"; }
echo "5. play of DSMR 2.2 captures: $(grep -o 'at [0-9]* [78][NE]1' "$W/play2.log")"

# 6. a file is no port
printf '/x\r\n' >"$W/dump.txt"
"$MET" record --port "$W/dump.txt" -o "$W/f.yaml" 2>"$W/f.log"
[ $? -eq 2 ] || fail "6. record --port FILE: not exit 2"
grep -q -- "--from" "$W/f.log" || { cat "$W/f.log"; fail "6. record --port FILE does not point at --from"; }
echo "6. record --port FILE: exit 2, $(cat "$W/f.log")"
echo PASS
