#!/bin/sh
# Builds the static musl rinit that ships and prints its path on stdout.
#
# The shipped build rebuilds std with panic=immediate-abort (cargo
# -Zbuild-std, enabled on the stable toolchain with RUSTC_BOOTSTRAP=1; needs
# the rust-src component, which this script adds): that drops std's panic
# and backtrace machinery (gimli, addr2line, libunwind), about 330 KB that
# an init which never unwinds does not need. The only difference in
# behaviour: a panic aborts without a message (rinit has no panicking path it
# expects to reach). If that build fails, or with RINIT_PLAIN_BUILD=1, it
# falls back to the plain stable build (`cargo build --release --target
# x86_64-unknown-linux-musl`), which behaves the same and is larger.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
target=x86_64-unknown-linux-musl
cd "$top"
rustup target add "$target" >/dev/null 2>&1 || true
if [ -z "${RINIT_PLAIN_BUILD:-}" ] && rustup component add rust-src >/dev/null 2>&1 \
    && RUSTC_BOOTSTRAP=1 \
       RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -Zunstable-options -Cpanic=immediate-abort" \
       cargo build --quiet --release --target "$target" -Zbuild-std=std,panic_abort --target-dir "$top/target/small" >&2; then
    echo "$top/target/small/$target/release/rinit"
else
    [ -n "${RINIT_PLAIN_BUILD:-}" ] || echo "build-static: the small build failed; using the plain stable build" >&2
    cargo build --quiet --release --target "$target" >&2
    echo "$top/target/$target/release/rinit"
fi
