#!/usr/bin/env bash
# stack_report.sh DIR [N]: the N (default 8) largest stack frames among the
# GCC -fstack-usage files (*.su) under DIR (the port and apps compile with it).
# Frames marked "dynamic" (alloca, VLAs) are flagged; there should be none.
# For call paths, read the -fcallgraph-info=su files (*.ci, VCG format) beside them.
set -u
dir="${1:?usage: stack_report.sh DIR [N]}"
n="${2:-8}"
files=$(find "$dir" -name '*.su' 2>/dev/null)
[ -n "$files" ] || { echo "stack report: no *.su under $dir"; exit 0; }
# file:line:col:function <TAB> bytes <TAB> static|dynamic|bounded
cat $files | awk -F'\t' '{ split($1, a, ":"); printf "%6d  %-8s %s (%s)\n", $2, $3, a[4], a[1] }' |
    sed 's#([^)]*/#(#' | sort -rn >"${TMPDIR:-/tmp}/ml_stack.$$"
echo "stack report: largest frames (bytes, kind, function):"
head -n "$n" "${TMPDIR:-/tmp}/ml_stack.$$"
grep -q 'dynamic' "${TMPDIR:-/tmp}/ml_stack.$$" && echo "stack report: WARNING: dynamic frames present"
rm -f "${TMPDIR:-/tmp}/ml_stack.$$"
exit 0
