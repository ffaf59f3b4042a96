#!/bin/sh
# meterlab run --shard I/N (issue 22, CI matrices): shard I runs scenarios I,
# I+N, ... of the list; the shards together run each scenario exactly once;
# a bad I/N is a usage error (exit 2).
# usage: test_run_shard.sh METERLAB SCENARIO_DIR
set -u
ML=${1:?usage: $0 METERLAB SCENARIO_DIR}
SCN=${2:?usage: $0 METERLAB SCENARIO_DIR}
T=$(mktemp -d /tmp/run-shard.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
A="$SCN/p1-meter-type-sdm630.yaml"; B="$SCN/p1-meter-type-pro380.yaml"; C="$SCN/p1-dsmr30.yaml"
ran() { grep -o '^\[ *[0-9]*/[0-9]*\] [^ ]*' "$1" | awk '{print $NF}' | sort | tr '\n' ' '; }
"$ML" run --shard 1/2 --junit "$T/1.xml" "$A" "$B" "$C" > "$T/1" 2>&1 || { cat "$T/1"; fail "shard 1/2"; }
"$ML" run --shard 2/2 --junit "$T/2.xml" "$A" "$B" "$C" > "$T/2" 2>&1 || { cat "$T/2"; fail "shard 2/2"; }
cat "$T/1" "$T/2"
[ "$(ran "$T/1")" = "p1-dsmr30 p1-meter-type-sdm630 " ] || fail "shard 1/2 ran: $(ran "$T/1")"
[ "$(ran "$T/2")" = "p1-meter-type-pro380 " ] || fail "shard 2/2 ran: $(ran "$T/2")"
grep -q "shard 1/2: 2 of 3 scenarios" "$T/1" || fail "shard 1/2 does not say what it runs"
grep -q 'tests="2"' "$T/1.xml" || fail "JUnit of shard 1/2"
grep -q 'tests="1"' "$T/2.xml" || fail "JUnit of shard 2/2"
for bad in 3/2 0/2 2 x/2 1/0 1/2x; do
    "$ML" run --shard "$bad" "$A" > "$T/bad" 2>&1
    rc=$?
    [ $rc -eq 2 ] || fail "--shard $bad: exit $rc, want 2"
    grep -q -- "--shard '$bad'" "$T/bad" || fail "--shard $bad: the error does not name it"
done
echo PASS
