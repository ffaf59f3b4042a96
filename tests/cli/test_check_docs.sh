#!/bin/sh
# tools/check-docs finds a stale option, tool and key in a copy of the docs: each
# kind of mention it claims to check fails it (a check that cannot fail is a bug).
# usage: test_check_docs.sh METERLAB SOURCE_ROOT
set -u
ML=$1
ROOT=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
fail=0
copy() {
    rm -rf "$T/r" && mkdir -p "$T/r" &&
        cp -r "$ROOT/docs" "$ROOT/README.md" "$ROOT/Makefile" "$T/r/" &&
        mkdir -p "$T/r/tools" && cp -r "$ROOT/sim" "$ROOT/firmware" "$T/r/" &&
        cp -r "$ROOT/tools/meterlab" "$T/r/tools/" && for f in "$ROOT"/tools/*; do
            [ -f "$f" ] && cp "$f" "$T/r/tools/"
        done
    return 0
}
expect() { # NAME PATTERN: the last check-docs run printed PATTERN
    if ! grep -q "$2" "$T/out"; then
        echo "FAIL $1: not reported; output:"
        cat "$T/out"
        fail=1
    else
        echo "ok   $1: $(grep "$2" "$T/out" | head -1)"
    fi
}
copy
"$ROOT/tools/check-docs" --root "$T/r" "$ML" >"$T/out" 2>&1 || {
    echo "FAIL: the unchanged docs do not pass"
    cat "$T/out"
    exit 1
}
# one copy with one stale mention of each kind; each must be reported
sed -i 's/^| `phases` | 3 |/| `phase_count` | 3 |/' "$T/r/docs/scenarios.md"
sed -i 's/^| `timeouts.modbus_s`/| `timeouts.modbus_ms`/' "$T/r/docs/hil.md"
sed -i 's/^| `MQTT.Site` |/| `MQTT.Sites` |/' "$T/r/docs/config.md"
echo 'Run `meterlab run --no-such-flag x.yaml`.' >>"$T/r/docs/testing.md"
echo 'Run `tools/no-such-tool` and `make no-such-target`.' >>"$T/r/docs/testing.md"
"$ROOT/tools/check-docs" --root "$T/r" "$ML" >"$T/out" 2>&1
rc=$?
[ $rc -eq 1 ] || { echo "FAIL: exit $rc with stale docs (want 1)"; cat "$T/out"; fail=1; }
expect "scenario key" 'docs/scenarios.md:[0-9]*: key `phase_count`'
expect "rig key" 'docs/hil.md:[0-9]*: key `timeouts.modbus_ms`'
expect "config key" 'docs/config.md:[0-9]*: key `MQTT.Sites`'
expect "option" 'meterlab run has no option --no-such-flag'
expect "tool" 'tools/no-such-tool does not exist'
expect "make target" "'make no-such-target' is not a Makefile target"
[ "$(grep -c . "$T/out")" -eq 7 ] || { echo "FAIL: more reports than stale mentions:"; cat "$T/out"; fail=1; }
exit $fail
