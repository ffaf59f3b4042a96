#!/usr/bin/env bash
# tests/target/core_replay.sh IMAGE.elf HOST_CORE_REPLAY
#
# Runs the core replay (tests/replay/replay.h) on the Cortex-M4 in QEMU
# (mps2-an386, console UART0 on stdout) and on the host, and compares the two
# outputs line by line: every difference the target CPU makes in the parsers,
# the readings, the register templates or the Modbus framing is a failure,
# printed as a diff. Exit 0 same, 1 different or no end line, 2 usage; 77
# (skipped) when the host program is missing, unless ML_QEMU_REQUIRED=1.
set -u
elf="${1:-}"
host="${2:-}"
if [ -z "$elf" ] || [ ! -f "$elf" ] || [ -z "$host" ]; then
    echo "usage: $0 IMAGE.elf HOST_CORE_REPLAY" >&2
    exit 2
fi
if [ ! -x "$host" ]; then
    echo "core_replay: host program $host not built (make sim first)" >&2
    [ "${ML_QEMU_REQUIRED:-0}" = 1 ] && exit 1
    exit 77
fi
qemu="${QEMU:-qemu-system-arm}"
limit_s="${CORE_REPLAY_LIMIT_S:-240}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$host" >"$work/host.txt" || { echo "FAIL: host core_replay exit $?"; exit 1; }
want=$(tail -n 1 "$work/host.txt")

# QEMU prints the console on stdout; stop it at the end line (or the limit).
start=$(date +%s)
"$qemu" -M mps2-an386 -nographic -monitor none -serial stdio -kernel "$elf" \
    </dev/null >"$work/console.raw" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null; rm -rf "$work"' EXIT
while kill -0 "$qpid" 2>/dev/null && ! grep -q '^replay end: ' "$work/console.raw" &&
    [ $(($(date +%s) - start)) -lt "$limit_s" ]; do
    sleep 0.2
done
kill "$qpid" 2>/dev/null
wait "$qpid" 2>/dev/null
tr -d '\r' <"$work/console.raw" | sed '/^replay end: /q' >"$work/target.txt"
secs=$(($(date +%s) - start))

if ! grep -q '^replay end: ' "$work/target.txt"; then
    echo "FAIL: the target printed no end line within ${limit_s} s; its last lines:"
    tail -n 5 "$work/target.txt"
    exit 1
fi
lines=$(wc -l <"$work/host.txt")
if diff -u "$work/host.txt" "$work/target.txt" >"$work/diff.txt"; then
    echo "core replay: host and Cortex-M4 agree on all $lines lines ($want; QEMU ${secs} s)"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "FAIL: host and Cortex-M4 differ (first 60 lines of the diff):"
head -n 60 "$work/diff.txt"
echo "0 passed, 1 failed"
exit 1
