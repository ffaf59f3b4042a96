#!/bin/sh
# Record/play round trip over a pty pair (issue 10): `meterlab play` writes a
# scenario's meter into one end in real time, `meterlab record` captures it from
# the other end (autodetecting the protocol and line), then
#  1. the capture decodes (firmware parsers, `meterlab decode`) to exactly what the
#     played scenario's meter sends (`meterlab emit | meterlab decode`), verdicts included;
#  2. the arrival times follow the scenario's instants (0.5 s apart at --speed 2: each
#     gap within 0.3-0.7 s so a loaded CI machine passes, their mean within 0.45-0.55 s);
#  3. `meterlab run` on the capture (values decoded at capture time as Modbus
#     expectations, telegram counters, P1 out) passes against the simulated device,
#     and fails once one recorded value is changed.
# usage: test_roundtrip.sh MET PTYPAIR SCENARIO...
set -u
MET=$1
PAIR=$2
shift 2
W=$(mktemp -d /tmp/ml-hil-XXXXXX)
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

for SCN in "$@"; do
    name=$(basename "$SCN" .yaml)
    echo "== $name"
    "$MET" emit "$SCN" -q | "$MET" decode >"$W/$name.expected.jsonl"
    n=$(wc -l <"$W/$name.expected.jsonl")
    [ "$n" -ge 4 ] || fail "$name: the scenario sends only $n telegrams"

    "$PAIR" --timeout 60 >"$W/$name.pair" &
    PAIR_PID=$!
    i=0
    while [ ! -s "$W/$name.pair" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    read -r A B <"$W/$name.pair" || fail "no pty pair"

    "$MET" record --port "$B" --count "$n" --duration 30 --expect-values \
        -o "$W/$name-capture.yaml" 2>"$W/$name.record.log" &
    REC_PID=$!
    sleep 0.5
    "$MET" play --port "$A" --speed 2 "$SCN" 2>"$W/$name.play.log" || {
        cat "$W/$name.play.log"
        fail "$name: play exit $?"
    }
    wait "$REC_PID"
    rrc=$?
    REC_PID=
    kill "$PAIR_PID"
    wait "$PAIR_PID" 2>/dev/null
    PAIR_PID=
    cat "$W/$name.play.log" "$W/$name.record.log"
    [ $rrc -eq 0 ] || fail "$name: record exit $rrc"

    # 1. same decoded values and verdicts
    cat "$W/$name-capture"/* | "$MET" decode >"$W/$name.got.jsonl"
    if ! cmp -s "$W/$name.expected.jsonl" "$W/$name.got.jsonl"; then
        diff "$W/$name.expected.jsonl" "$W/$name.got.jsonl" | head -20
        fail "$name: the capture does not decode to what was played"
    fi
    echo "decoded values equal: $n telegrams, $(grep -c '"verdict":"ok"' "$W/$name.got.jsonl") ok"

    # 2. recorded instants: the scenario's 1 s interval at speed 2
    grep -o 'at: [0-9.]*, telegram' "$W/$name-capture.yaml" | awk '
        { t = $2 + 0; if (NR > 1) { d = t - p; s += d; if (d < 0.3 || d > 0.7) bad++ } p = t }
        END { m = s / (NR - 1); printf "arrival gaps: mean %.3f s\n", m
              if (NR < 4 || bad || m < 0.45 || m > 0.55) { print "bad gaps: " bad " of " NR - 1; exit 1 } }' ||
        { grep 'telegram: {file' "$W/$name-capture.yaml"; fail "$name: arrival times are not 0.5 s apart"; }

    # 3. the capture is a regression test that passes, and fails when a value changes
    "$MET" run "$W/$name-capture.yaml" || fail "$name: meterlab run on the capture"
    grep -q 'modbus: {' "$W/$name-capture.yaml" || fail "$name: no value expectations written"
    sed '0,/modbus: {\([a-z0-9_]*\): [-0-9.e+]*/s//modbus: {\1: 987654/' \
        "$W/$name-capture.yaml" >"$W/$name-broken.yaml"
    cmp -s "$W/$name-capture.yaml" "$W/$name-broken.yaml" && fail "$name: could not break a value"
    "$MET" run --quiet "$W/$name-broken.yaml" >"$W/$name.broken.log" 2>&1
    brc=$?
    [ $brc -eq 1 ] || { cat "$W/$name.broken.log"; fail "$name: a changed value gave exit $brc, not 1"; }
    echo "changed value detected: $(grep -m1 expected: "$W/$name.broken.log")"
done
# Ctrl-C: record stops, writes what it has (nothing: exit 1); play stops (exit 1)
"$PAIR" --timeout 30 >"$W/stop.pair" &
PAIR_PID=$!
i=0
while [ ! -s "$W/stop.pair" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
read -r A B <"$W/stop.pair" || fail "no pty pair"
"$MET" record --port "$B" --probe 0.2 -o "$W/stop.yaml" 2>"$W/stop.log" &
REC_PID=$!
sleep 0.6 # nothing arrives yet: the record goes through the settings
"$MET" play -q --port "$A" --speed 4 "$1" &
PLAY_PID=$!
sleep 1.2
kill -INT "$PLAY_PID"
wait "$PLAY_PID"
prc=$?
sleep 0.3
kill -INT "$REC_PID"
wait "$REC_PID"
rrc=$?
REC_PID=
[ $prc -eq 1 ] || fail "play stopped by SIGINT: exit $prc, not 1"
[ $rrc -eq 0 ] || { cat "$W/stop.log"; fail "record stopped by SIGINT after telegrams: exit $rrc, not 0"; }
grep -q "telegram: {file: \"stop/000001" "$W/stop.yaml" || fail "record stopped by SIGINT wrote no capture"
grep -q "trying 9600 7E1" "$W/stop.log" || fail "record did not search the line settings before data came"
echo "SIGINT: play exit $prc, record exit $rrc, $(grep -c 'telegram: {file' "$W/stop.yaml") telegrams kept"
# --protocol tic on a P1 stream: P1 never counts, only the TIC settings are tried
"$MET" record --port "$B" --protocol tic --probe 0.2 --duration 1.5 -o "$W/wrong.yaml" 2>"$W/wrong.log" &
REC_PID=$!
"$MET" play -q --port "$A" --speed 8 "$1"
wait "$REC_PID"
rrc=$?
REC_PID=
[ $rrc -eq 1 ] || { cat "$W/wrong.log"; fail "record --protocol tic of P1: exit $rrc, not 1"; }
grep -q "trying 115200" "$W/wrong.log" && fail "record --protocol tic tried 115200 8N1"
grep -q "trying 1200 7E1" "$W/wrong.log" || fail "record --protocol tic did not try 1200 7E1"
grep -q "^steps: \[\]" "$W/wrong.yaml" || fail "record --protocol tic of P1 kept telegrams"
echo "--protocol tic on P1: exit 1, nothing kept"
# bad use
"$MET" play --port /nonexistent/tty "$1" 2>/dev/null
[ $? -eq 2 ] || fail "play on a missing port: not exit 2"
"$MET" record --port "$B" 2>/dev/null
[ $? -eq 2 ] || fail "record without -o: not exit 2"
echo "PASS"
