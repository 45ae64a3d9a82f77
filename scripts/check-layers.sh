#!/bin/sh
# The layer rule: syscalls (libc, nix, unsafe) and /proc paths live in
# src/os/ only; everything else is pure logic or drives src/os/. Test
# modules are checked too: a unit test that reads the real /proc or calls
# libc depends on the host it runs on, which is what the fake trees and
# the os layer's names (io::ErrorKind, sys::POLLIN, ...) are for.
# Comment lines are skipped (docs may name /proc/PID/stat); the one
# allowed `unsafe` is the attribute exporting the C entry point in main.rs.
# Exit 1 listing the offending lines, 0 when clean.
set -eu
cd "$(dirname "$0")/.."

found=$(
    find src -name '*.rs' -not -path 'src/os/*' | sort | xargs awk '
        {
            code = $0
            # Comments: whole-line ones, and a trailing " // ..." one.
            if (code ~ /^[[:space:]]*\/\//) next
            sub(/[[:space:]]\/\/.*$/, "", code)
            if (FILENAME == "src/main.rs" && code == "#[unsafe(no_mangle)]") next
            if (code ~ /(^|[^[:alnum:]_])(libc|nix)::/ ||
                code ~ /(^|[^[:alnum:]_])unsafe([^[:alnum:]_]|$)/ ||
                code ~ /"\/proc(\/|")/)
                print FILENAME ":" FNR ":" $0
        }'
)
if [ -n "$found" ]; then
    echo "check-layers: libc::, nix::, unsafe or a /proc path outside src/os/:" >&2
    echo "$found" >&2
    exit 1
fi
