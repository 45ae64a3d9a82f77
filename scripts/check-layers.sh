#!/bin/sh
# The layer rule: syscalls (libc, nix, unsafe) and /proc paths live in
# src/os/ only; everything else is pure logic or drives src/os/. Test
# modules are checked too: a unit test that reads the real /proc or calls
# libc depends on the host it runs on, which is what the fake trees and
# the os layer's names (io::ErrorKind, sys::POLLIN, ...) are for.
# Comment lines are skipped (docs may name /proc/PID/stat); the one
# allowed `unsafe` is the attribute exporting the C entry point in main.rs.
#
# The read rule: no read_to_string outside tests, anywhere in src/. What
# rinit reads is /proc, cgroupfs and sysfs, and their files are bytes: a
# command name the kernel cut inside a character, a mount point in
# Latin-1. A read that demands UTF-8 fails on them, and the process (with
# everything below it) or every mount goes unseen; os::read_file reads
# bytes, os::read_text converts an ASCII control file lossily. Test code
# is `#[cfg(test)] mod NAME {` to the end of its file, and the files of
# `#[cfg(test)] mod NAME;`.
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

# Files that are test-only modules: `#[cfg(test)]` then `mod NAME;`, in
# DIR/NAME.rs or DIR/NAME/mod.rs (DIR: the declaring file's directory for
# mod.rs, lib.rs and main.rs, else the declaring file without its .rs).
test_files=$(
    find src -name '*.rs' | sort | xargs awk '
        FNR == 1 { prev = "" }
        prev ~ /^[[:space:]]*#\[cfg\(test\)\][[:space:]]*$/ &&
        $0 ~ /^[[:space:]]*(pub(\([a-z]+\))? )?mod [[:alnum:]_]+;/ {
            name = $0
            sub(/^.*mod /, "", name)
            sub(/;.*$/, "", name)
            dir = FILENAME
            if (dir ~ /\/(mod|lib|main)\.rs$/) sub(/\/[^\/]*$/, "", dir)
            else sub(/\.rs$/, "", dir)
            print dir "/" name ".rs"
            print dir "/" name "/mod.rs"
        }
        { prev = $0 }'
)
reads=$(
    find src -name '*.rs' | sort | grep -vxF "${test_files:-/}" | xargs awk '
        FNR == 1 { prev = ""; in_tests = 0 }
        prev ~ /^#\[cfg\(test\)\]/ && $0 ~ /^mod [[:alnum:]_]+ \{/ { in_tests = 1 }
        { prev = $0 }
        in_tests { next }
        {
            code = $0
            if (code ~ /^[[:space:]]*\/\//) next
            sub(/[[:space:]]\/\/.*$/, "", code)
            if (code ~ /read_to_string/) print FILENAME ":" FNR ":" $0
        }'
)
if [ -n "$reads" ]; then
    echo "check-layers: read_to_string outside tests (/proc, cgroupfs and sysfs files are bytes: use os::read_file or os::read_text):" >&2
    echo "$reads" >&2
    exit 1
fi

# src/runtime.rs is the loop and its dispatch, at most 400 lines: it grew
# from 423 to 899 once, unnoticed, and once past 400 by a few comments. A
# new feature is a pure module plus at most one arm there (its top says so).
lines=$(wc -l <src/runtime.rs)
if [ "$lines" -gt 400 ]; then
    echo "check-layers: src/runtime.rs has $lines lines (at most 400: move the new work into a module of its own)" >&2
    exit 1
fi
