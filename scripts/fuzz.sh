#!/bin/sh
# Runs every fuzz target (.fuzz/fuzz_targets/) for SECONDS each (default 60)
# and prints one line per target. Exit 1 if any target found a crash or a
# broken invariant (the input is kept under .fuzz/artifacts/TARGET/, the
# log under .fuzz/target/logs/), 0 otherwise.
#
# Installs cargo-fuzz when it is missing. Builds on the stable toolchain,
# as the shipped build does: RUSTC_BOOTSTRAP=1 lets it take the nightly
# flags cargo-fuzz passes (-Zsanitizer=address, the coverage passes).
# Targets run one at a time; the corpus of each (.fuzz/corpus/TARGET/, seeds
# checked in as seed-*) grows between runs on the same checkout.
set -eu
seconds=${1:-60}
case $seconds in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install --locked --quiet cargo-fuzz --version 0.13.2
fi
cargo fuzz build --fuzz-dir .fuzz >&2
# The binaries are run directly: `cargo fuzz run` would build again.
bin=.fuzz/target/x86_64-unknown-linux-gnu/release

logs=.fuzz/target/logs
mkdir -p "$logs"
failed=0
for target in $(cargo fuzz list --fuzz-dir .fuzz); do
    log=$logs/$target.log
    mkdir -p ".fuzz/corpus/$target" ".fuzz/artifacts/$target"
    start=$(date +%s)
    # -timeout: one input running 10 s is a hang, and a finding. The outer
    # timeout only guards against libFuzzer itself not stopping.
    if timeout $((seconds + 300)) "$bin/$target" -artifact_prefix=".fuzz/artifacts/$target/" \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        ".fuzz/corpus/$target" >"$log" 2>&1; then
        result=ok
    else
        found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | head -n 1)
        result="FAILED: ${found:-no input saved}; log $log"
        failed=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "fuzz $target: ${runs:-?} runs in $(($(date +%s) - start)) s: $result"
done
exit $failed
