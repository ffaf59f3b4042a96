#!/bin/sh
# A clean stop of `meterlab run --dut device` (issue 22): SIGTERM (then SIGINT)
# in the middle of a scenario stops the child device and its mosquitto,
# removes the run's temp dirs, writes the JUnit of what ran (the interrupted
# scenario as an error) and exits 143 (130).
#
# usage: test_run_stop.sh METERLAB SCENARIO_DIR
set -u
ML=${1:?usage: $0 METERLAB SCENARIO_DIR}
SCN=${2:?usage: $0 METERLAB SCENARIO_DIR}
T=$(mktemp -d /tmp/run-stop.XXXXXX)
RUN=""
cleanup() {
    [ -n "$RUN" ] && kill "$RUN" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# descendants PID: every process below PID
descendants() {
    for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done
}

# stop SIGNAL WANT_RC
stop() {
    sig=$1; want=$2
    rm -f "$T/j.xml"
    # TMPDIR is not used by the runner's mkdtemp; its temp dirs are /tmp/meterlab-run-*
    "$ML" run --dut device --junit "$T/j.xml" "$SCN/p1-emucs171-belgium.yaml" \
        "$SCN/p1mb-sdm630.yaml" > "$T/out" 2>&1 &
    RUN=$!
    # wait until the first scenario has a child (its device, its mosquitto)
    i=0
    while :; do
        kids=$(descendants "$RUN")
        n=$(echo "$kids" | grep -c .)
        [ "$n" -ge 1 ] && break
        i=$((i + 1)); [ $i -gt 300 ] && { cat "$T/out"; fail "no device child after 30 s"; }
        sleep 0.1
    done
    sleep 2
    kids=$(descendants "$RUN")
    dirs=""
    for k in $kids; do
        d=$(tr '\0' ' ' < /proc/$k/cmdline 2>/dev/null | grep -o '/tmp/meterlab-run-[A-Za-z0-9]*' | head -1)
        [ -n "$d" ] && dirs="$dirs $d"
    done
    [ -n "$dirs" ] || { ps -o pid,args -p $(echo $kids | tr ' ' ,) ; fail "no temp dir seen in the children's arguments"; }
    kill -"$sig" "$RUN"
    wait "$RUN"
    rc=$?
    RUN=""
    cat "$T/out"
    [ "$rc" -eq "$want" ] || fail "$sig: exit $rc, want $want"
    for k in $kids; do
        if kill -0 "$k" 2>/dev/null && ! grep -q '^State:.*Z' /proc/$k/status 2>/dev/null; then
            ps -o pid,args -p "$k"; fail "$sig: child $k left running"
        fi
    done
    for d in $dirs; do
        [ -e "$d" ] && fail "$sig: temp dir $d left behind"
    done
    [ -s "$T/j.xml" ] || fail "$sig: no JUnit written"
    grep -q 'tests="1"' "$T/j.xml" || { cat "$T/j.xml"; fail "$sig: JUnit must hold the one scenario that ran"; }
    grep -q '<error message="interrupted"' "$T/j.xml" || { cat "$T/j.xml"; fail "$sig: the interrupted scenario is no error"; }
    grep -q "interrupted by SIG$sig after 1 of 2" "$T/out" || fail "$sig: no summary of the stop"
}
stop TERM 143
stop INT 130
echo PASS
