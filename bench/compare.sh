#!/usr/bin/env bash
# Measures rinit against tini-static, catatonit, dumb-init and tino in one
# run, on this machine, and prints a table (also written as JSON).
#
#   bench/compare.sh [OUT.json]      (default bench/results.json; needs root)
#
# EXTRA_INITS="NAME=PATH ..." measures more inits in the same interleaved
# run, e.g. a before/after of rinit:
#   EXTRA_INITS="rinit-before=/path/to/old/rinit" bench/compare.sh
# They are in the table and the JSON, but not peers in the targets' check.
# SYSCALLS_ONLY=1 only counts syscalls per event (deterministic, so fine on
# a busy machine), prints them and writes no JSON. CPU_ONLY=1 only measures
# each init's own CPU time (/proc/PID/schedstat) per forwarded signal and
# per reaped orphan, 1000 events a window, one at a time, 9 interleaved
# windows each (medians), every window on one CPU and in a cpu cgroup made
# for the run (bench/README.md says why), prints them and writes no JSON.
#
# It builds the shipped static rinit (scripts/build-static.sh) and the harness (bench/.harness), installs
# the peers if they are missing (tini, catatonit, dumb-init, hyperfine and strace
# from Debian; tino with cargo install --locked for the musl target), then
# runs bench/.harness for every init. See bench/README.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# TEARDOWN_ONLY=1: rinit's CPU time to tear down 1,000/3,000/10,000
# leftovers, as a subreaper and as PID 1 (bench/teardown.sh); no peers.
if [ -n "${TEARDOWN_ONLY:-}" ]; then
    exec "$top/bench/teardown.sh"
fi
out=$(realpath -m "${1:-$top/bench/results.json}")
export DEBIAN_FRONTEND=noninteractive

extra=()
for spec in ${EXTRA_INITS:-}; do
    path=${spec#*=}
    if [ "$path" = "$spec" ] || [ -z "${spec%%=*}" ]; then
        echo "compare.sh: EXTRA_INITS entry $spec is not NAME=PATH" >&2
        exit 2
    fi
    if [ ! -x "$path" ]; then
        echo "compare.sh: EXTRA_INITS entry $spec: $path is not an executable file" >&2
        exit 2
    fi
    extra+=(--extra "$spec")
done

missing=()
for pkg in tini catatonit dumb-init hyperfine util-linux strace; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q && apt-get install -y -q "${missing[@]}"
fi
tino=${TINO:-$HOME/.cargo/bin/tino}
if [ ! -x "$tino" ]; then
    rustup target add x86_64-unknown-linux-musl
    # --locked: tino's newest dependencies want a newer rustc than ours.
    cargo install --locked tino --target x86_64-unknown-linux-musl
fi
catatonit=$(command -v catatonit || echo /usr/libexec/podman/catatonit)

rinit=$("$top/scripts/build-static.sh")
cargo build --quiet --release --manifest-path "$top/bench/.harness/Cargo.toml"

if [ -n "${SYSCALLS_ONLY:-}" ]; then
    mode=(syscalls)
elif [ -n "${CPU_ONLY:-}" ]; then
    mode=(cpu --repeats 9)
else
    mode=(measure --out "$out")
fi

# The harness names binaries relative to the checkout (or by file name), so
# the results hold no build directory.
cd "$top"
exec "$top/bench/.harness/target/release/rinit-bench" "${mode[@]}" \
    --init rinit="$rinit" \
    --init tini-static=/usr/bin/tini-static \
    --init catatonit="$catatonit" \
    --init dumb-init=/usr/bin/dumb-init \
    --init tino="$tino" \
    "${extra[@]}"
