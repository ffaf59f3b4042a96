#!/bin/sh
# usage: run_verdict.sh METERLAB SCENARIO.yaml
# Runs `meterlab run ARGS SCENARIO` once per line of the file
#   # verdict: ARGS | EXIT | TEXT
# and checks the exit code and that TEXT (a fixed string; @FILE@ stands for the
# scenario's path) is in the output. With ARGS containing --junit @XML@ the
# JUnit file is searched instead of the output.
set -u
ML=${1:?usage: $0 METERLAB SCENARIO.yaml}
F=${2:?usage: $0 METERLAB SCENARIO.yaml}
T=$(mktemp -d /tmp/verdict.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
n=0
fail=0
grep '^# verdict:' "$F" > "$T/lines" || { echo "FAIL: $F has no '# verdict:' line"; exit 1; }
while IFS='|' read -r args want text; do
    args=$(echo "${args#\# verdict:}" | sed "s#@XML@#$T/junit.xml#")
    want=$(echo "$want" | tr -d ' ')
    text=$(echo "$text" | sed 's/^ *//; s/ *$//' | sed "s#@FILE@#$F#")
    # shellcheck disable=SC2086
    "$ML" run $args "$F" > "$T/out" 2>&1
    rc=$?
    n=$((n + 1))
    where="$T/out"
    case "$args" in *--junit*) where="$T/junit.xml" ;; esac
    if [ "$rc" -ne "$want" ]; then
        cat "$T/out"; echo "FAIL: meterlab run$args: exit $rc, want $want"; fail=1
    elif ! grep -qF -- "$text" "$where"; then
        cat "$where"; echo "FAIL: meterlab run$args: no '$text'"; fail=1
    fi
done < "$T/lines"
[ $fail -eq 0 ] && echo "$n verdict(s) as expected: $F"
exit $fail
