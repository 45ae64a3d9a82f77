#!/bin/sh
# Builds the static musl rinit that ships for one target and prints its path
# on stdout; progress (what it installs, what it builds) goes to stderr.
#
#   scripts/build-static.sh [TARGET]
#
# TARGET is named as Docker's TARGETARCH[/TARGETVARIANT], so that a
# Dockerfile can pass its own: amd64, arm64, arm (or arm/v7: ARMv7
# hard-float), 386, ppc64le, s390x, riscv64. Default: the host's.
#
# The shipped build rebuilds std with panic=immediate-abort (cargo
# -Zbuild-std, enabled on the stable toolchain with RUSTC_BOOTSTRAP=1; needs
# the rust-src component, which this script adds): that drops std's panic
# and backtrace machinery (gimli, addr2line, libunwind), about 330 KB that
# an init which never unwinds does not need. The only difference in
# behaviour: a panic aborts without a message (rinit has no panicking path it
# expects to reach). If that build fails, or with RINIT_PLAIN_BUILD=1, it
# falls back to the plain stable build (`cargo build --release --target
# TRIPLE`), which behaves the same and is larger; that needs rustup's
# prebuilt std for the target (amd64, arm64 and 386 only).
#
# Every target links with rust-lld (shipped with rustc), so no C cross
# toolchain is needed. The musl C runtime (crt1.o, libc.a) comes from
# rustup's target for amd64, arm64 and 386, and from Debian's musl-dev for
# the others (riscv64 from trixie: bookworm has no riscv64), fetched once
# into RINIT_CROSS_CACHE (default target/cross) with a private apt state,
# so the host's apt lists and dpkg architectures stay as they are.
#
# Paths of the checkout, CARGO_HOME and RUSTUP_HOME are remapped, so the
# bytes do not depend on where or by whom it is built (scripts/release.sh
# --check compares two builds).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${RINIT_CROSS_CACHE:-$top/target/cross}
say() { echo "build-static: $*" >&2; }

host_target() {
    case $(uname -m) in
        x86_64) echo amd64 ;;
        aarch64 | arm64) echo arm64 ;;
        armv7* | armv8l) echo arm ;;
        i?86) echo 386 ;;
        ppc64le) echo ppc64le ;;
        s390x) echo s390x ;;
        riscv64) echo riscv64 ;;
        *) say "no target for this host's $(uname -m); name one"; exit 2 ;;
    esac
}

arch=${1:-$(host_target)}
# triple, Debian architecture, musl multiarch directory, the Debian suite
# that has musl for it, and its libgcc-N-dev (crtbegin.o, crtend.o and the
# unwinder libgcc_eh.a, which std's unwind crate names as -lunwind).
case $arch in
    amd64) triple=x86_64-unknown-linux-musl deb=amd64 ;;
    arm64) triple=aarch64-unknown-linux-musl deb=arm64 ;;
    386) triple=i686-unknown-linux-musl deb=i386 ;;
    arm | arm/v7) arch=arm triple=armv7-unknown-linux-musleabihf deb=armhf
        multiarch=arm-linux-musleabihf gccdir=arm-linux-gnueabihf suite=bookworm libgcc=libgcc-12-dev ;;
    ppc64le) triple=powerpc64le-unknown-linux-musl deb=ppc64el
        multiarch=powerpc64le-linux-musl gccdir=powerpc64le-linux-gnu suite=bookworm libgcc=libgcc-12-dev ;;
    s390x) triple=s390x-unknown-linux-musl deb=s390x
        multiarch=s390x-linux-musl gccdir=s390x-linux-gnu suite=bookworm libgcc=libgcc-12-dev ;;
    riscv64) triple=riscv64gc-unknown-linux-musl deb=riscv64
        multiarch=riscv64-linux-musl gccdir=riscv64-linux-gnu suite=trixie libgcc=libgcc-14-dev ;;
    *) say "unknown target '$arch' (amd64, arm64, arm, 386, ppc64le, s390x, riscv64)"; exit 2 ;;
esac

# Debian's musl-dev and libgcc-N-dev for $deb, unpacked, and the directory
# rustc searches for crt1.o, crti.o, crtbegin.o, crtend.o, crtn.o, libc.a
# and libunwind.a (printed).
debian_runtime() {
    dir=$cache/$deb
    if [ ! -f "$dir/runtime/libc.a" ]; then
        command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
            || { say "building for $arch needs apt-get and dpkg-deb (Debian's musl-dev:$deb)"; exit 1; }
        apt=$cache/apt-$suite
        mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
            >"$apt/sources.list"
        opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/nonexistent
              -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache -o APT::Architectures::=$deb
              -q"
        say "fetching Debian $suite's musl-dev:$deb and $libgcc:$deb into $dir"
        # shellcheck disable=SC2086 # $opts is a list of options
        apt-get $opts update >/dev/null
        rm -rf "$dir" && mkdir -p "$dir/deb" "$dir/x" "$dir/runtime"
        # shellcheck disable=SC2086
        (cd "$dir/deb" && apt-get $opts download "musl-dev:$deb" "$libgcc:$deb" >/dev/null 2>&1) \
            || { say "cannot download musl-dev:$deb and $libgcc:$deb from Debian $suite"; exit 1; }
        for pkg in "$dir"/deb/*.deb; do
            dpkg-deb -x "$pkg" "$dir/x"
            dpkg-deb -f "$pkg" Package Version | sed 's/^[^:]*: //' | paste -sd' ' >>"$dir/runtime/PACKAGES"
        done
        musl=$dir/x/usr/lib/$multiarch
        gcc=$(echo "$dir"/x/usr/lib/gcc/"$gccdir"/*)
        cp "$musl/crt1.o" "$musl/crti.o" "$musl/crtn.o" "$musl/libc.a" "$gcc/crtbegin.o" "$gcc/crtend.o" "$dir/runtime/"
        cp "$gcc/libgcc_eh.a" "$dir/runtime/libunwind.a"
        rm -rf "$dir/deb" "$dir/x"
    fi
    echo "$dir/runtime"
}

cd "$top"
target_dir=${CARGO_TARGET_DIR:-$top/target}
# Only the paths of this build are remapped: a flag per prefix.
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# --icf=all: lld folds functions (and read-only data) with identical code
# into one, e.g. the monomorphised copies that generic code leaves: 1.3 KB
# less. Rust promises no distinct addresses for functions or vtables
# (rustc's own MSVC builds link with /OPT:ICF).
flags="-C linker=rust-lld -C link-arg=--icf=all -C target-feature=+crt-static -C relocation-model=static"
flags="$flags --remap-path-prefix=$top=/rinit --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustup_home=/rustup"

say "adding rustup's $triple target"
if rustup target add "$triple" >/dev/null 2>&1; then
    runtime=""
else
    [ -n "${multiarch:-}" ] || { say "rustup cannot add $triple, which it ships; check the network"; exit 1; }
    say "rustup has no prebuilt $triple here; std is built from rust-src and linked against Debian's musl"
    runtime=$(debian_runtime)
    flags="$flags -L native=$runtime"
fi

if [ -z "${RINIT_PLAIN_BUILD:-}" ]; then
    say "adding rustup's rust-src component"
    if rustup component add rust-src >/dev/null 2>&1; then
        say "building rinit for $arch ($triple) with -Zbuild-std and panic=immediate-abort"
        # No unwind tables either: nothing unwinds in a panic=immediate-abort,
        # stripped binary, and .eh_frame was 45 KB of it. (A debugger still
        # walks frames of an unstripped build from its DWARF; profilers of
        # this init need an unstripped build anyway.)
        # std's optimize_for_size: its compact sorts (heapsort, a small
        # merge sort; still O(n log n)) and integer formatting instead of the
        # fast, large ones monomorphised per element type: 20 KB less.
        # -Zlocation-detail=none: no file:line:column strings for panics,
        # which abort without a message here anyway: 2.5 KB less.
        # -Zfmt-debug=none: every `{:?}` prints nothing; no message of rinit
        # formats with Debug (only tests, which run the normal build), so
        # the Debug impls go: 0.8 KB less.
        small="-Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no"
        small="$small -Zlocation-detail=none -Zfmt-debug=none"
        # LLVM's machine outliner (off by default on x86_64): repeated
        # instruction sequences become calls to one copy, 4.5 KB less. It
        # only moves code that LLVM proves equivalent; the whole integration
        # suite, run against a binary built with it, found nothing that the
        # build without it does not show too.
        small="$small -Cllvm-args=-enable-machine-outliner=always"
        if RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags $small" \
            cargo build --release --target "$triple" -Zbuild-std=std,panic_abort \
                -Zbuild-std-features=optimize_for_size \
                --target-dir "$target_dir/small" >&2; then
            echo "$target_dir/small/$triple/release/rinit"
            exit 0
        fi
    fi
    say "the small build failed; using the plain stable build"
fi
[ -z "$runtime" ] || { say "the plain build of $triple needs rustup's prebuilt std, which is not here"; exit 1; }
say "building rinit for $arch ($triple), plain"
RUSTFLAGS="$flags" cargo build --release --target "$triple" --target-dir "$target_dir" >&2
echo "$target_dir/$triple/release/rinit"
