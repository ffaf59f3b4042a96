#!/usr/bin/env bash
# tests/target/vtime_run.sh METERLAB SCENARIO [MORE meterlab run OPTIONS]: play
# SCENARIO once on the Smart Connect image with `meterlab run --dut qemu --vtime`
# (docs/target.md, "Virtual time"), even when its `# duts:` line leaves qemu out
# (scenarios/p1-24h-1s-telegrams.yaml: a day of real time): it runs from a copy
# whose `# duts:` line says qemu and whose `csv:` paths point into the
# scenario's own directory; nothing else changes. Passes when the scenario
# passes; prints the runner's summary (guest time, wall time). `make test-long`
# runs it (ctest qemu.vtime_24h, label long). Exit 77 when the host build has no
# meterlab.
set -u
ml="${1:?usage: $0 METERLAB SCENARIO [OPTIONS...]}"
scn="${2:?usage: $0 METERLAB SCENARIO [OPTIONS...]}"
shift 2
if [ ! -x "$ml" ]; then
    echo "skipped: $ml not built (build the host preset first: make sim)" >&2
    exit 77
fi
if [ ! -r "$scn" ]; then
    echo "vtime_run.sh: cannot read $scn" >&2
    exit 2
fi
dir=$(cd "$(dirname "$scn")" && pwd)
tmp=$(mktemp -d /tmp/ml-vtime-run-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/$(basename "$scn")
{
    echo "# duts: qemu (copy of $scn for tests/target/vtime_run.sh)"
    grep -v '^# duts:' "$scn" | sed -E "s#(csv: *)([^/ ][^ ,}]*)#\\1$dir/\\2#"
} >"$copy"
start=$(date +%s.%N)
"$ml" run --dut qemu --vtime "$@" "$copy"
rc=$?
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
    'BEGIN { printf "vtime_run.sh: %.1f s of wall time (load average now %s)\n", e - s, l }'
exit "$rc"
