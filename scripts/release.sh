#!/bin/sh
# Builds the release into dist/: for each target (named as Docker's
# TARGETARCH) rinit-<version>-<arch> and rinit-<arch>, a .deb
# (rinit_<version>_<debian arch>.deb: /usr/bin/rinit and its man page), and
# SHA256SUMS over all of them.
#
#   scripts/release.sh            build dist/
#   scripts/release.sh --check    build twice (the second time in a fresh
#                                 target directory) and compare every byte
#
# Env: RELEASE_TARGETS (default: every target that builds here, see the
# docs/building.md), DIST (default dist).
#
# Reproducible: scripts/build-static.sh remaps the build's paths; the .deb
# files get the commit's time (SOURCE_DATE_EPOCH, honoured by dpkg-deb),
# root ownership and fixed modes; the man page is gzipped with -n. build.rs
# embeds the commit's short sha, nothing time-based. The same commit, Rust
# toolchain and Debian musl packages give the same bytes.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
targets=${RELEASE_TARGETS:-amd64 arm64 arm 386 ppc64le s390x riscv64}
say() { echo "release: $*" >&2; }

if [ "${1:-}" = --check ]; then
    first=$top/target/release-check/a second=$top/target/release-check/b
    rm -rf "$top/target/release-check"
    DIST=$first "$0"
    say "second build, from a fresh target directory"
    CARGO_TARGET_DIR=$top/target/release-check/target DIST=$second "$0"
    if diff -r "$first" "$second" >&2; then
        say "reproducible: $(ls "$first" | wc -l) files identical"
        exit 0
    fi
    say "NOT reproducible: the files above differ"
    exit 1
fi

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
dist=${DIST:-$top/dist}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
rm -rf "$dist" && mkdir -p "$dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for arch in $targets; do
    case $arch in
        amd64 | arm64 | s390x | riscv64) deb=$arch ;;
        arm) deb=armhf ;;
        386) deb=i386 ;;
        ppc64le) deb=ppc64el ;;
        *) say "unknown target $arch"; exit 2 ;;
    esac
    binary=$(scripts/build-static.sh "$arch")
    install -m 0755 "$binary" "$dist/rinit-$version-$arch"
    install -m 0755 "$binary" "$dist/rinit-$arch"

    say "packaging rinit_${version}_$deb.deb"
    root=$work/$deb
    install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$root/usr/share/doc/rinit"
    install -m 0755 "$binary" "$root/usr/bin/rinit"
    gzip -9n <man/rinit.1 >"$root/usr/share/man/man1/rinit.1.gz"
    gzip -9n <CHANGELOG.md >"$root/usr/share/doc/rinit/changelog.gz"
    {
        echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
        echo "Upstream-Name: rinit"
        echo
        echo "Files: *"
        echo "License: MIT"
        sed 's/^$/./; s/^/ /' LICENSE
    } >"$root/usr/share/doc/rinit/copyright"
    chmod 0644 "$root/usr/share/man/man1/rinit.1.gz" "$root/usr/share/doc/rinit/"*
    cat >"$root/DEBIAN/control" <<EOF
Package: rinit
Version: $version
Architecture: $deb
Maintainer: rinit developers <rinit@users.noreply.github.com>
Installed-Size: $(du -sk --apparent-size "$root/usr" | cut -f1)
Section: admin
Priority: optional
Description: tiny static init for containers
 rinit runs a command as PID 1 (or as a child subreaper): it reaps zombies,
 forwards every signal to the command's process group, tears down what is
 left in bounded stages (SIGTERM, grace, SIGKILL), can put the command in a
 cgroup with a memory limit and report OOM kills, and reports the tasks
 stuck after SIGKILL. Statically linked: copy /usr/bin/rinit into any image.
EOF
    find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    dpkg-deb --root-owner-group -Zxz --build "$root" "$dist/rinit_${version}_$deb.deb" >/dev/null
done

(cd "$dist" && sha256sum -- * >SHA256SUMS)
say "dist: $(ls "$dist" | wc -l) files in $dist"
ls -l "$dist" >&2
