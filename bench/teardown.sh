#!/usr/bin/env bash
# The teardown's cost: rinit's own CPU time (/proc/PID/schedstat, read
# when it has exited, before it is reaped) to tear down N leftovers that
# end on SIGTERM, as a subreaper and as PID 1, N = 1000, 3000, 10000
# (COUNTS="..." to change), the median of REPEATS runs (default 3).
#
#   bench/teardown.sh [NAME=PATH ...]   (needs root and python3)
#
# Without arguments it measures the shipped static rinit
# (scripts/build-static.sh); with NAME=PATH pairs, those binaries, e.g. a
# before/after: bench/teardown.sh before=/path/to/old/rinit after=target/release/rinit.
# Also run by `TEARDOWN_ONLY=1 bench/compare.sh`. 10,000 leftovers are
# 10,000 processes for a few seconds: pid_max must allow them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
counts=${COUNTS:-1000 3000 10000}
repeats=${REPEATS:-3}
cpu=$top/tests/helpers/teardown_cpu.py
spread=$top/tests/helpers/spread.py

inits=("$@")
if [ ${#inits[@]} -eq 0 ]; then
    inits=("rinit=$("$top/scripts/build-static.sh")")
fi

# The median of the CPU milliseconds of $repeats runs of "$@".
median_ms() {
    local runs=()
    for _ in $(seq "$repeats"); do
        runs+=("$("$@" 2>/dev/null | sed -n 's/^RINIT-EXIT 0 CPU-MS //p')")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p"
}

printf '%-14s %8s %16s %12s %8s\n' init leftovers subreaper_cpu_ms pid1_cpu_ms ratio
for spec in "${inits[@]}"; do
    name=${spec%%=*} path=${spec#*=}
    for n in $counts; do
        sub=$(median_ms unshare --pid --fork --mount-proc python3 "$cpu" "$path" --grace 30s python3 "$spread" "$n")
        pid1=$(median_ms python3 "$cpu" --pid1 "$path" --grace 30s python3 "$spread" "$n")
        ratio=$(python3 -c "print(f'{float(\"${sub:-0}\") / max(float(\"${pid1:-0}\"), 0.001):.1f}')")
        printf '%-14s %8s %16s %12s %8s\n' "$name" "$n" "${sub:-?}" "${pid1:-?}" "$ratio"
    done
done
