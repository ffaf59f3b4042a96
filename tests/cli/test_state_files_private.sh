#!/bin/sh
# Issue 19 #8: the sim's state files hold the login (identity) and the stored
# Wi-Fi/MQTT passwords (flash.bin): created 0600 whatever the umask, and made
# 0600 again when an older run left them readable by others.
# usage: test_state_files_private.sh METERLAB
set -u
ML="$1"
d=$(mktemp -d /tmp/ml-state-XXXXXX)
fail=0
umask 022

# run the device until it printed its banner (state prepared, flash opened; at
# most 10 s), then stop it
run_device() {
    : >"$d/out"
    "$ML" device --product p1 --state-dir "$d/state" --modbus-port 0 --http-port 0 \
        --https-port 0 --p1-out none --quiet >"$d/out" 2>&1 &
    pid=$!
    i=0
    while [ $i -lt 100 ] && ! grep -q "stop with Ctrl-C" "$d/out"; do
        sleep 0.1
        i=$((i + 1))
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

check_mode() { # file want
    m=$(stat -c %a "$1" 2>/dev/null || echo missing)
    [ "$m" = "$2" ] || { echo "FAIL: $1 has mode $m, want $2"; fail=1; }
}

run_device
check_mode "$d/state/identity" 600
check_mode "$d/state/flash.bin" 600
check_mode "$d/state/https_key.pem" 600
check_mode "$d/state" 700

chmod 644 "$d/state/identity" "$d/state/flash.bin" "$d/state/https_key.pem"
run_device
check_mode "$d/state/identity" 600
check_mode "$d/state/flash.bin" 600
check_mode "$d/state/https_key.pem" 600

rm -rf "$d"
if [ $fail -eq 0 ]; then echo "7 passed, 0 failed"; else echo "FAIL"; fi
exit $fail
