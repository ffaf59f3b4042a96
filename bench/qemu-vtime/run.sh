#!/usr/bin/env bash
# Virtual time for the target image (docs/target.md, "Virtual time"; figures in
# docs/performance.md): plays a scenario on the Smart P1 Connect image in QEMU
# with `meterlab run --dut qemu --vtime` RUNS times and prints, per run, the
# wall time, the guest time covered, the speed (guest s per wall s) and a digest
# of every decided check (what was expected and seen, without instants), then
# how many runs gave the most common digest. Optionally the same
# scenario once on the wall clock (REALTIME=1) and the idle speed of the
# image under -icount (IDLE=1).
#
# usage: bench/qemu-vtime/run.sh [SCENARIO]   (default scenarios/demo.yaml)
# env:   RUNS (10), REALTIME (0/1), IDLE (0/1), BUILD (build/sim), TARGET_BIN
#        (build/target/bin), EXTRA (more `meterlab run` options, e.g. --vtime-max 10),
#        KEEP (a directory: every run's output is copied there as runN.txt)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scn=${1:-$root/scenarios/demo.yaml}
runs=${RUNS:-10}
build=${BUILD:-$root/build/sim}
export ML_TARGET_BIN=${TARGET_BIN:-$root/build/target/bin}
ml=$build/bin/meterlab
if [ ! -x "$ml" ] || [ ! -r "$ML_TARGET_BIN/smart_connect_p1.elf" ]; then
    echo "run.sh: needs $ml and $ML_TARGET_BIN/smart_connect_p1.elf (make sim target)" >&2
    exit 2
fi
tmp=$(mktemp -d /tmp/ml-vtime-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# A scenario not marked for qemu (scenarios/demo.yaml: 130 s of real time is over
# the make test budget, so its `# duts:` line leaves qemu out) runs from a copy
# whose first line says qemu; nothing else changes.
if [ -r "$scn" ] && ! grep -qE '^# duts:[^(]*[ ,]qemu([ ,(]|$)' "$scn"; then
    { echo "# duts: qemu (bench copy of $scn)"; grep -v '^# duts:' "$scn"; } >"$tmp/$(basename "$scn")"
    scn=$tmp/$(basename "$scn")
fi

# The checks of a -v run, without instants: "ok modbus p ...: 325 W", and the
# FAIL/SKIP blocks of the summary without their "t=..." field.
digest() {
    sed -n -e 's/^  \[ *[0-9.]* s\] \(ok\|FAIL\|fail\) /\1 /p' \
        -e 's/^  \(FAIL\|SKIP\) \([^ ]*\) *t=[0-9.]* s */\1 \2 /p' \
        -e 's/^       \(expected\|seen\): */  \1 /p' "$1" |
        sed -e 's/ *([0-9]* bytes)$//' -e 's/ in \[[0-9., ]*\] s//' \
            -e 's/ since the start (GET [^)]*)$//' -e 's/ (GET \/api\/v1\/status[^)]*)$//' \
            -e 's/\(: status [0-9]*\); body .*/\1/'
}

echo "scenario: $scn"
echo "host: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "qemu: $(qemu-system-arm --version | head -1)"
printf '%-4s %8s %8s %7s %6s  %-8s  %s\n' run wall_s guest_s speed fails digest load_avg_1min
for i in $(seq 1 "$runs"); do
    out=$tmp/run$i.txt
    load0=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086
    ML_VT_STATS=1 "$ml" run --dut qemu --vtime ${EXTRA:-} -v "$scn" >"$out" 2>&1
    line=$(grep -E '^\[ *[0-9]+/[0-9]+\] [^:]+ +(pass|FAIL|SKIP|ERROR)' "$out" | tail -1)
    guest=$(sed -n 's/.* t= *\([0-9.]*\) s .*/\1/p' <<<"$line")
    wall=$(sed -n 's/.*  \([0-9.]*\) s wall.*/\1/p' <<<"$line")
    # failed checks; "+E": the run ended in ERROR (no scenario result)
    fails=$(grep -c '^  FAIL ' "$out")
    if grep -qE '^\[ *[0-9]+/[0-9]+\] [^:]+ +ERROR' "$out"; then
        fails="$fails+E"
    fi
    if [ -n "${KEEP:-}" ]; then
        mkdir -p "$KEEP" && cp "$out" "$KEEP/run$i.txt"
    fi
    digest "$out" >"$tmp/d$i.txt"
    sum=$(md5sum <"$tmp/d$i.txt" | cut -c1-8)
    speed=$(awk -v g="$guest" -v w="$wall" 'BEGIN { if (w > 0) printf "%.1f", g / w }')
    printf '%-4s %8s %8s %7s %6s  %-8s  %s -> %s\n' "$i" "$wall" "$guest" "${speed}x" "$fails" \
        "$sum" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
    grep '^vtime:' "$out" | sed 's/^/     /'
done
# the most common digest, and the runs that differ from it
sums=$(for i in $(seq 1 "$runs"); do md5sum <"$tmp/d$i.txt" | cut -c1-8; done)
mode=$(sort <<<"$sums" | uniq -c | sort -rn | head -1)
same=$(awk '{print $1}' <<<"$mode")
modal=$(awk '{print $2}' <<<"$mode")
ref=1
for i in $(seq 1 "$runs"); do
    if [ "$(md5sum <"$tmp/d$i.txt" | cut -c1-8)" = "$modal" ]; then
        ref=$i
        break
    fi
done
echo "identical results: $same of $runs (the most common digest, $modal, first in run $ref)"
for i in $(seq 1 "$runs"); do
    if ! cmp -s "$tmp/d$ref.txt" "$tmp/d$i.txt"; then
        echo "--- run $ref vs run $i:"
        diff "$tmp/d$ref.txt" "$tmp/d$i.txt" | head -20
    fi
done
echo "checks of run $ref:"
sed 's/^/  /' "$tmp/d$ref.txt"

if [ "${REALTIME:-0}" = 1 ]; then
    "$ml" run --dut qemu -v "$scn" >"$tmp/rt.txt" 2>&1
    line=$(grep -E '^\[ *[0-9]+/[0-9]+\] [^:]+ +(pass|FAIL|SKIP|ERROR)' "$tmp/rt.txt" | tail -1)
    digest "$tmp/rt.txt" >"$tmp/drt.txt"
    echo "real time: $line"
    echo "real time vs virtual time (run $ref) checks:"
    diff "$tmp/d$ref.txt" "$tmp/drt.txt" && echo "  same"
fi

if [ "${IDLE:-0}" = 1 ]; then
    # boot_banner prints "tick N" every second of its clock: count them in 5 s of wall time
    img=$ML_TARGET_BIN/boot_banner.elf
    for ic in "" "-icount shift=0,sleep=off,align=off"; do
        # shellcheck disable=SC2086
        n=$(timeout 5 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial stdio \
            $ic -kernel "$img" </dev/null 2>/dev/null | grep -c '^tick ')
        echo "idle boot_banner ${ic:-(no -icount)}: $n guest s in 5 wall s"
    done
fi
[ "$same" = "$runs" ]
