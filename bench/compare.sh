#!/usr/bin/env bash
# Measures rinit against tini-static, catatonit, dumb-init and tino in one
# run, on this machine, and prints a table (also written as JSON).
#
#   bench/compare.sh [OUT.json]      (default bench/results.json; needs root)
#
# It builds the shipped static rinit (scripts/build-static.sh) and the harness (bench/harness), installs
# the peers if they are missing (tini, catatonit, dumb-init and hyperfine
# from Debian; tino with cargo install --locked for the musl target), then
# runs bench/harness for every init. See README "Benchmarks".
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/bench/results.json}
export DEBIAN_FRONTEND=noninteractive

missing=()
for pkg in tini catatonit dumb-init hyperfine util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -q && apt-get install -y -q "${missing[@]}"
fi
tino=${TINO:-$HOME/.cargo/bin/tino}
if [ ! -x "$tino" ]; then
    # --locked: tino's newest dependencies want a newer rustc than ours.
    cargo install --locked tino --target x86_64-unknown-linux-musl
fi
catatonit=$(command -v catatonit || echo /usr/libexec/podman/catatonit)

rinit=$("$top/scripts/build-static.sh")
cargo build --quiet --release --manifest-path "$top/bench/harness/Cargo.toml"

exec "$top/bench/harness/target/release/rinit-bench" measure --out "$out" \
    --init rinit="$rinit" \
    --init tini-static=/usr/bin/tini-static \
    --init catatonit="$catatonit" \
    --init dumb-init=/usr/bin/dumb-init \
    --init tino="$tino"
