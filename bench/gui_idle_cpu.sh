#!/bin/sh
# The CPU the GUI takes when nothing happens at 1x: `meterlab gui` in an Xvfb window for
# WARMUP + SECONDS real seconds; utime + stime of the process (/proc/PID/stat) over the
# last SECONDS, as a percentage of one core. docs/performance.md has the numbers.
#   bench/gui_idle_cpu.sh [METERLAB] [SECONDS] [-- extra gui options]
set -eu
M=${1:-build/sim/bin/meterlab}
SECS=${2:-20}
[ $# -ge 2 ] && shift 2 || shift $#
[ "${1:-}" = "--" ] && shift
WARMUP=5
command -v Xvfb >/dev/null || { echo "gui_idle_cpu: Xvfb not found (apt-get install xvfb)" >&2; exit 2; }
[ -x "$M" ] || { echo "gui_idle_cpu: $M is no program (build first)" >&2; exit 2; }
# a free display number
D=90
while [ -e /tmp/.X11-unix/X$D ] || [ -e /tmp/.X$D-lock ]; do D=$((D + 1)); done
Xvfb :$D -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
XPID=$!
trap 'kill $XPID 2>/dev/null || true' EXIT
sleep 1
DISPLAY=:$D "$M" gui --run-for $((WARMUP + SECS + 2)) "$@" >/dev/null 2>&1 &
GPID=$!
ticks() { awk '{print $14 + $15}' /proc/$GPID/stat; }
sleep $WARMUP
T0=$(ticks)
sleep "$SECS"
T1=$(ticks)
HZ=$(getconf CLK_TCK)
kill $GPID 2>/dev/null || true # a GUI without --run-for would run on
wait $GPID 2>/dev/null || true
awk -v a="$T0" -v b="$T1" -v hz="$HZ" -v s="$SECS" \
    'BEGIN { printf "gui idle at 1x: %.1f %% of a core (%d ticks in %d s)\n", (b - a) * 100 / hz / s, b - a, s }'
