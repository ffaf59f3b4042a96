#!/bin/sh
# bench/ed25519/run-target.sh [BUILD_DIR]: run bench_ed25519_target.elf (default
# build/target) in qemu-system-arm -M mps2-an386 with -icount shift=0 (1
# instruction = 1 ns of virtual time) and print its console lines: the
# microseconds of 1 and 10 verifications = thousands of instructions.
set -u
case "${1:-}" in -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
dir="${1:-build/target}"
elf="$dir/bin/bench_ed25519_target.elf"
[ -f "$elf" ] || { echo "run-target.sh: no $elf (cmake --build --preset target)" >&2; exit 2; }
log=$(mktemp)
timeout 300 "${QEMU:-qemu-system-arm}" -M mps2-an386 -icount shift=0 -nographic -monitor none \
    -serial stdio -kernel "$elf" </dev/null >"$log" 2>&1 &
q=$!
while kill -0 $q 2>/dev/null && ! grep -qE "verified|FAILED" "$log"; do sleep 0.2; done
kill $q 2>/dev/null
wait $q 2>/dev/null
tr -d '\r' <"$log"
grep -q "bench_ed25519: verified" "$log"; rc=$?
rm -f "$log"
exit $rc
