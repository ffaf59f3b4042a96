#!/usr/bin/env bash
# tests/target/qemu_boot.sh IMAGE.elf
#
# Boots IMAGE in qemu-system-arm -M mps2-an386 with UART0 on stdio and checks
# the boot_banner output: the banner, then "tick 2" (time advances), and the
# echo of a line typed on the console (UART RX interrupts and timestamps).
# Passes when all appear within 10 s; then stops QEMU. Exit 0 pass, 1 fail,
# 2 usage. Prints the first lines QEMU's console showed.
set -u
elf="${1:-}"
if [ -z "$elf" ] || [ ! -f "$elf" ]; then
    echo "usage: $0 IMAGE.elf (got '${elf}')" >&2
    exit 2
fi
qemu="${QEMU:-qemu-system-arm}"
limit_s="${QEMU_BOOT_LIMIT_S:-10}"

work=$(mktemp -d)
log="$work/console.log"
fifo="$work/stdin"
mkfifo "$fifo"
qpid=""
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    exec 3>&- 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# UART0 is the first -serial; -monitor none keeps the QEMU monitor off stdio.
timeout 20 "$qemu" -M mps2-an386 -nographic -monitor none -serial stdio \
    -kernel "$elf" <"$fifo" >"$log" 2>&1 &
qpid=$!
exec 3>"$fifo" # hold the console's input open; QEMU would see EOF otherwise

banner='meterlab boot: '
start=$(date +%s%N)
sent=0
ok=0
while :; do
    now=$(date +%s%N)
    elapsed_ms=$(((now - start) / 1000000))
    if grep -q "$banner" "$log" && grep -q '^tick 2 ' "$log"; then
        if [ $sent -eq 0 ]; then
            printf 'ping\r' >&3 # type a line on the console
            sent=1
        elif grep -q '^echo: ping ' "$log"; then
            ok=1
            break
        fi
    fi
    if [ $elapsed_ms -ge $((limit_s * 1000)) ] || ! kill -0 "$qpid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

echo "--- first console lines (${elapsed_ms} ms) ---"
tr -d '\r' <"$log" | head -n 8
echo "---"
if [ $ok -eq 1 ]; then
    echo "qemu_boot: PASS: banner, tick 2 and console echo within ${elapsed_ms} ms"
    exit 0
fi
grep -q "$banner" "$log" || echo "qemu_boot: FAIL: no banner ('$banner') within ${limit_s} s"
grep -q '^tick 2 ' "$log" || echo "qemu_boot: FAIL: no 'tick 2' within ${limit_s} s"
[ $sent -eq 1 ] && echo "qemu_boot: FAIL: console line 'ping' was not echoed"
exit 1
