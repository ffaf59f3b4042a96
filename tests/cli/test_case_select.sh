#!/bin/sh
# A CUnit test binary runs one case by name (--case), lists its cases (--list), and a
# --case that names no case exits 2 instead of passing with nothing run.
# Usage: test_case_select.sh <any CUnit test binary of the tree>
set -u
T="$1"
fail=0
first=$("$T" --list | head -n 1)
[ -n "$first" ] || { echo "FAIL: --list printed no case"; fail=1; }
n=$("$T" --list | wc -l)
out=$("$T" --case "$first" 2>&1); rc=$?
[ $rc -eq 0 ] || { echo "FAIL: --case $first exit $rc"; fail=1; }
ran=$(echo "$out" | grep -c "Test: ")
[ "$ran" -eq 1 ] || { echo "FAIL: --case $first ran $ran cases, want 1"; fail=1; }
"$T" --case no_such_case_anywhere >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "FAIL: unknown --case exit $rc, want 2"; fail=1; }
"$T" --case >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "FAIL: --case without a name exit $rc, want 2"; fail=1; }
all=$("$T" 2>&1 | grep -c "Test: ")
[ "$all" -eq "$n" ] || { echo "FAIL: without --case ran $all of $n cases"; fail=1; }
if [ $fail -eq 0 ]; then echo "4 passed, 0 failed"; else echo "0 passed, $fail failed"; fi
exit $fail
