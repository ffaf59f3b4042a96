#!/bin/sh
# Every meterlab subcommand answers --help with exit 0; bad use exits 2 with a message.
set -u
ML="$1"
fail=0
"$ML" --help >/dev/null || { echo "FAIL: meterlab --help"; fail=1; }
cmds=$("$ML" --help | awk '/^commands:/{f=1;next} f && /^  [a-z]/{print $1}')
[ -n "$cmds" ] || { echo "FAIL: no commands listed"; fail=1; }
for c in $cmds; do
    out=$("$ML" "$c" --help 2>&1); rc=$?
    [ $rc -eq 0 ] || { echo "FAIL: meterlab $c --help exit $rc"; fail=1; }
    echo "$out" | grep -q "usage: meterlab $c" || { echo "FAIL: meterlab $c --help has no usage line"; fail=1; }
    out2=$("$ML" help "$c" 2>&1); rc=$?
    [ $rc -eq 0 ] && [ "$out2" = "$out" ] || { echo "FAIL: meterlab help $c (exit $rc) differs from $c --help"; fail=1; }
done
err=$("$ML" help no-such-command 2>&1); rc=$?
[ $rc -eq 2 ] || { echo "FAIL: help on an unknown command exit $rc, want 2"; fail=1; }
err=$("$ML" no-such-command 2>&1); rc=$?
[ $rc -eq 2 ] || { echo "FAIL: unknown command exit $rc, want 2"; fail=1; }
echo "$err" | grep -q "not a command" || { echo "FAIL: unknown command message: $err"; fail=1; }
"$ML" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "FAIL: no command should exit 2"; fail=1; }
n=$(echo "$cmds" | wc -w)
if [ $fail -eq 0 ]; then echo "$n passed, 0 failed"; else echo "0 passed, $fail failed"; fi
exit $fail
