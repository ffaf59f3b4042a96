#!/usr/bin/env bash
# tests/target/qemu_boot.sh IMAGE.elf
#
# Boots IMAGE in qemu-system-arm -M $QEMU_MACHINE (default mps2-an386; the
# STM32F405 images: netduinoplus2) with the console UART on stdio and checks
# the boot_banner output: the banner, then "tick 2" (time advances), the
# echo of a line typed on the console (UART RX interrupts and timestamps), and
# after typing "reboot" the banner again with "reset soft" (SYSRESETREQ and the
# reset cause kept across resets). Passes when all appear within
# QEMU_BOOT_LIMIT_S (default 10 s); then stops QEMU. Exit 0 pass, 1 fail,
# 2 usage. Prints the first lines QEMU's console showed.
set -u
elf="${1:-}"
if [ -z "$elf" ] || [ ! -f "$elf" ]; then
    echo "usage: $0 IMAGE.elf (got '${elf}')" >&2
    exit 2
fi
qemu="${QEMU:-qemu-system-arm}"
limit_s="${QEMU_BOOT_LIMIT_S:-10}"
machine="${QEMU_MACHINE:-mps2-an386}"

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

# The console is the first -serial; -monitor none keeps the QEMU monitor off stdio.
timeout 20 "$qemu" -M "$machine" -nographic -monitor none -serial stdio \
    -kernel "$elf" <"$fifo" >"$log" 2>&1 &
qpid=$!
exec 3>"$fifo" # hold the console's input open; QEMU would see EOF otherwise

banner='meterlab boot: '
start=$(date +%s%N)
step=0 # 0: wait for banner + tick 2, 1: wait for the echo, 2: wait for the soft reset
while :; do
    now=$(date +%s%N)
    elapsed_ms=$(((now - start) / 1000000))
    case $step in
    0) if grep -q "$banner" "$log" && grep -q '^tick 2 ' "$log"; then
           printf 'ping\r' >&3 # type a line on the console
           step=1
       fi ;;
    1) if grep -q '^echo: ping ' "$log"; then
           printf 'reboot\r' >&3 # hal_sys_reboot(): the image must come back
           step=2
       fi ;;
    2) if grep -q 'reset soft, boot 2' "$log"; then
           step=3
           break
       fi ;;
    esac
    if [ $elapsed_ms -ge $((limit_s * 1000)) ] || ! kill -0 "$qpid" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

echo "--- first console lines (${elapsed_ms} ms) ---"
tr -d '\r' <"$log" | head -n 12
echo "---"
if [ $step -eq 3 ]; then
    echo "qemu_boot: PASS: banner, tick 2, console echo and soft reboot within ${elapsed_ms} ms"
    exit 0
fi
grep -q "$banner" "$log" || echo "qemu_boot: FAIL: no banner ('$banner') within ${limit_s} s"
grep -q '^tick 2 ' "$log" || echo "qemu_boot: FAIL: no 'tick 2' within ${limit_s} s"
[ $step -eq 1 ] && echo "qemu_boot: FAIL: console line 'ping' was not echoed (UART RX)"
[ $step -eq 2 ] && echo "qemu_boot: FAIL: no 'reset soft, boot 2' after 'reboot' (reset cause or flash lost)"
exit 1
