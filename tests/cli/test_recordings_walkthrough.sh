#!/bin/sh
# The walk-through of docs/hil.md, "A folder of recordings becomes a regression suite",
# step by step on tests/data/recordings (raw dumps written by tests/data/make_recordings.py:
# DSMR 2.2 starting mid-telegram, DSMR 5 with a bad CRC and noise, DSMR 3.0 read at 8N1
# with its parity bits, Linky standard and historic):
#  1. `meterlab record --from DIR -o SUITE --expect-values` imports every dump; the
#     protocols, line settings, instants and values it finds are the hand-chosen ones;
#  2. each capture emits the same telegrams as its dump (`emit | decode` = `decode`);
#  3. `meterlab run SUITE/*.yaml` passes;
#  4. one value changed in one capture: the run fails (exit 1) naming it;
#  5. --from FILE, --count, and bad use.
# usage: test_recordings_walkthrough.sh MET RECORDINGS_DIR
set -u
MET=$1
REC=$2
W=$(mktemp -d /tmp/ml-walk-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
cd "$W" || exit 2
cp -r "$REC" recordings

# 1. the folder becomes a suite
"$MET" record --from recordings -o suite --expect-values 2>record.log
rc=$?
cat record.log
[ $rc -eq 0 ] || fail "1. record --from recordings: exit $rc"
[ "$(ls suite/*.yaml | wc -l)" -eq 5 ] || fail "1. not 5 captures: $(ls suite)"
# what was found, as hand-chosen in make_recordings.py
want() { grep -q -- "$2" "suite/$1.yaml" || { cat "suite/$1.yaml"; fail "1. $1: no '$2'"; }; }
want kitchen-dsmr22 '^meter: {protocol: dsmr30}'
want kitchen-dsmr22 'from recordings/kitchen-dsmr22.txt: dsmr30 at 9600 7E1'
want kitchen-dsmr22 '3 telegrams: 3 ok, 0 crc_fail, 0 frame_fail'
want kitchen-dsmr22 'modbus: {p: 420,'
want kitchen-dsmr22 'modbus: {p: 1230,'
want kitchen-dsmr22 'modbus: {p: 2050,'
# no clock in DSMR 2.2: the protocol's period, 10 s
want kitchen-dsmr22 'at: 11.000, telegram'
want kitchen-dsmr22 'at: 21.000, telegram'
want garage-dsmr50 'dsmr50 at 115200 8N1'
want garage-dsmr50 '4 telegrams: 3 ok, 1 crc_fail'
# the meter clock says 10 s apart (DSMR 5 sends every second: the clock wins); the bad
# telegram has no reading, so no clock: halfway between its neighbours
want garage-dsmr50 'at: 11.000, telegram.*# ok'
want garage-dsmr50 'at: 21.000, telegram.*# crc_fail'
want garage-dsmr50 'at: 31.000, telegram.*# ok'
want garage-dsmr50 'modbus: {l1_u: 232.4, l1_i: 14, p: 3111'
want garage-dsmr50 'utc_start: 1796641199' # 2026-12-07 12:00:00 CET - 1 s
want garage-dsmr50 'telegrams_pass: 3, telegrams_fail: 1'
want attic-dsmr30-8bit 'parity bit (bit 7) cleared'
want attic-dsmr30-8bit 'modbus: {p: 670,'
want linky-standard '^product: tic'
want linky-standard 'tic at 9600 7E1'
want linky-standard 'at: 3.000, telegram' # DATE 2 s apart
want linky-standard 'at: 5.000, telegram'
want linky-standard 'p: 2600'
want linky-historic 'tic_historic at 1200 7E1'
want linky-historic 'status: {tic_historic: true}'
echo "1. 5 dumps -> 5 captures; protocols, line settings, instants and values as written"

# 2. a capture sends what its dump held (same telegrams, verdicts and values)
for d in kitchen-dsmr22.txt garage-dsmr50.txt linky-standard.bin linky-historic.bin; do
    n=${d%.*}
    "$MET" decode "recordings/$d" >"$n.dump.jsonl"
    "$MET" emit -q "suite/$n.yaml" | "$MET" decode >"$n.emit.jsonl"
    cmp -s "$n.dump.jsonl" "$n.emit.jsonl" ||
        { diff "$n.dump.jsonl" "$n.emit.jsonl" | head; fail "2. $n: the capture does not emit its dump"; }
done
echo "2. emit of each capture decodes like its dump"

# 3. the suite passes
"$MET" run suite/*.yaml >run.log 2>&1
rc=$?
cat run.log
[ $rc -eq 0 ] || fail "3. meterlab run on the suite: exit $rc"
grep -q '^5 passed, 0 failed' run.log || fail "3. not 5 passed"

# 4. a changed value fails the run
cp suite/kitchen-dsmr22.yaml kitchen.good
sed -i 's/modbus: {p: 1230,/modbus: {p: 1231,/' suite/kitchen-dsmr22.yaml
cmp -s suite/kitchen-dsmr22.yaml kitchen.good && fail "4. could not change a value"
"$MET" run suite/*.yaml >broken.log 2>&1
rc=$?
[ $rc -eq 1 ] || { cat broken.log; fail "4. a changed value: exit $rc, not 1"; }
grep -q '^4 passed, 1 failed' broken.log || { cat broken.log; fail "4. not exactly the changed capture failed"; }
grep -A1 'FAIL suite/kitchen-dsmr22.yaml' broken.log | grep -q 'expected: 1231' ||
    { cat broken.log; fail "4. the failure does not name the changed value"; }
echo "4. changed value: exit 1, $(grep -m1 'FAIL suite/kitchen-dsmr22' broken.log)"
cp kitchen.good suite/kitchen-dsmr22.yaml

# 5. one dump, --count, and bad use
"$MET" record --from recordings/garage-dsmr50.txt --count 2 -q -o one.yaml || fail "5. --from FILE exit $?"
[ "$(grep -c 'telegram: {file' one.yaml)" -eq 2 ] || fail "5. --count 2 kept $(grep -c 'telegram: {file' one.yaml)"
[ "$("$MET" emit -q one.yaml | "$MET" decode | grep -c '"verdict":"ok"')" -eq 2 ] ||
    fail "5. the --from FILE capture does not emit its 2 telegrams"
printf 'no meter here\r\n' >empty.txt
"$MET" record --from empty.txt -o e.yaml 2>e.log
[ $? -eq 1 ] || fail "5. a dump without telegrams: not exit 1"
grep -q 'no good P1 telegram or TIC frame' e.log || fail "5. no reason for the empty dump: $(cat e.log)"
"$MET" record --from recordings/garage-dsmr50.txt --protocol tic -o t.yaml 2>/dev/null
[ $? -eq 1 ] || fail "5. --protocol tic on a P1 dump: not exit 1"
"$MET" record --from nowhere -o x.yaml 2>/dev/null
[ $? -eq 2 ] || fail "5. --from a missing path: not exit 2"
"$MET" record --from recordings -o x.yaml 2>/dev/null
[ $? -eq 2 ] || fail "5. --from DIR -o x.yaml: not exit 2"
[ -e x.yaml ] && fail "5. --from DIR -o x.yaml created x.yaml"
"$MET" record --from recordings -o x --line 9600,7E1 2>/dev/null
[ $? -eq 2 ] || fail "5. --from with --line: not exit 2"
"$MET" record --from recordings/garage-dsmr50.txt -o x.txt 2>/dev/null
[ $? -eq 2 ] || fail "5. --from FILE -o x.txt: not exit 2"
echo "5. --from FILE, --count, empty dump (1), wrong protocol (1), bad use (2)"
echo PASS
