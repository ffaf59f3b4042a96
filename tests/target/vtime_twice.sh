#!/usr/bin/env bash
# tests/target/vtime_twice.sh METERLAB SCENARIO: `meterlab run --dut qemu --vtime`
# (the target image on QEMU's instruction-count clock, the timeline played on
# the guest's clock) twice on the same scenario. Both runs must pass, and every
# decided check must have seen the same thing in both: the same verdict and value
# (an HTTP check: its status; the JSON fields it asserts passed), without the
# instants at which they were decided. Fields a check does not assert (uptime,
# telegram age) may differ by the few ms where the runner's stops land. Exit 77 when the host build
# has no meterlab.
set -u
ml="${1:?usage: $0 METERLAB SCENARIO}"
scn="${2:?usage: $0 METERLAB SCENARIO}"
if [ ! -x "$ml" ]; then
    echo "skipped: $ml not built (build the host preset first: make sim)" >&2
    exit 77
fi
tmp=$(mktemp -d /tmp/ml-vtime-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# "  [   2.399 s] ok    modbus p (...): 325 W (...)" -> "ok    modbus p (...): 325 W (...)"
digest() {
    sed -n -e 's/^  \[ *[0-9.]* s\] \(ok\|FAIL\|fail\) /\1 /p' \
        -e 's/^  \(FAIL\|SKIP\) \([^ ]*\) *t=[0-9.]* s */\1 \2 /p' \
        -e 's/^       \(expected\|seen\): */  \1 /p' "$1" |
        sed -e 's/ in \[[0-9., ]*\] s//' -e 's/ since the start (GET [^)]*)$//' \
            -e 's/ (GET \/api\/v1\/status[^)]*)$//' -e 's/\(: status [0-9]*\); body .*/\1/'
}
rc=0
for i in 1 2; do
    "$ml" run --dut qemu --vtime -v "$scn" >"$tmp/run$i.txt" 2>&1
    st=$?
    grep -E '^\[ *[0-9]+/[0-9]+\] ' "$tmp/run$i.txt" | tail -1
    if [ "$st" != 0 ]; then
        echo "run $i: meterlab run exited $st:"
        sed 's/^/  | /' "$tmp/run$i.txt"
        rc=1
    fi
    digest "$tmp/run$i.txt" >"$tmp/d$i.txt"
done
n=$(grep -c '^ok ' "$tmp/d1.txt")
if [ "$n" -lt 5 ]; then
    echo "run 1 decided only $n checks (want at least 5):"
    sed 's/^/  | /' "$tmp/run1.txt"
    rc=1
fi
if ! diff -u "$tmp/d1.txt" "$tmp/d2.txt"; then
    echo "the two runs saw different things (diff above)"
    rc=1
fi
[ "$rc" = 0 ] && echo "both runs passed; the same $n checks saw the same values"
exit "$rc"
