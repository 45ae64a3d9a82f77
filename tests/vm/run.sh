#!/bin/sh
# The VM suite: boots rinit as the real PID 1 of a pure cgroup-v2 machine
# (Debian's cloud kernel with cgroup_no_v1=all, under qemu) for amd64 and
# arm64 in parallel, runs tests/vm/guest.sh in it, and checks the serial
# log. Prints each scenario's PASS/FAIL line, `ARCH: N passed, N failed`
# per arch and `N passed, N failed` overall; a failed arch's serial log is
# printed in full. Exits 1 on any failure (a missing `Attempted to kill
# init` line is one).
#
# Env:
#   RINIT_AMD64, RINIT_ARM64  static rinit binaries to test (default: built
#                            here, scripts/build-static.sh for amd64, a
#                            rust-lld release build for arm64)
#   ARCHES     "amd64 arm64" (default) or one of them
#   ACCEL      tcg (default) or kvm (used for the host's own arch only; the
#              kvm-pvm of some cloud hosts does not boot stock kernels)
#   VM_CACHE   kernels, busybox and initramfs (default target/vm)
#   VM_REFRESH=1  fetch the newest kernel again (the cache keeps the first)
#   TIMEOUT    seconds per boot (default 300)
# Needs root (mknod, apt-get); installs qemu, cpio, busybox-static when
# missing. Not run by `cargo test`; .ci/run calls it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/vm
cache=${VM_CACHE:-$top/target/vm}
arches=${ARCHES:-amd64 arm64}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

triple() { case $1 in amd64) echo x86_64-unknown-linux-musl ;; arm64) echo aarch64-unknown-linux-musl ;; esac; }

need=""
for arch in $arches; do
    case $arch in
        amd64) command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86" ;;
        arm64) command -v qemu-system-aarch64 >/dev/null || need="$need qemu-system-arm" ;;
        *) echo "vm: ARCHES holds amd64 and/or arm64, not $arch" >&2; exit 2 ;;
    esac
done
command -v cpio >/dev/null || need="$need cpio"
[ -x /bin/busybox ] || need="$need busybox-static"
if [ -n "$need" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of packages
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# The kernel (vmlinuz, brd.ko) of the newest linux-image-cloud-ARCH, and for
# arm64 Debian's arm64 busybox-static, through apt's architecture options
# so that the host's dpkg architectures stay as they are.
fetch() {
    arch=$1 dir=$cache/$1
    [ -z "${VM_REFRESH:-}" ] && [ -f "$dir/vmlinuz" ] && [ -f "$dir/kernel.pkg" ] && return 0
    apt_arch="-o APT::Architectures::=$(dpkg --print-architecture) -o APT::Architectures::=$arch"
    # shellcheck disable=SC2086 # $apt_arch is a list of options
    apt-get $apt_arch update -qq
    # shellcheck disable=SC2086
    pkg=$(apt-cache $apt_arch depends "linux-image-cloud-$arch:$arch" | awk '/Depends: linux-image-/ { print $2; exit }')
    [ -n "$pkg" ] || { echo "vm: apt knows no linux-image-cloud-$arch" >&2; return 1; }
    rm -rf "$dir/deb" && mkdir -p "$dir/deb"
    # shellcheck disable=SC2086
    (cd "$dir/deb" && apt-get $apt_arch download -q "$pkg" "busybox-static:$arch" >/dev/null)
    [ "$arch" = "$(dpkg --print-architecture)" ] || apt-get update -qq # drops the foreign lists
    for deb in "$dir"/deb/*.deb; do dpkg-deb -x "$deb" "$dir/deb/x"; done
    cp "$dir"/deb/x/boot/vmlinuz-* "$dir/vmlinuz"
    brd=$(find "$dir/deb/x/lib/modules" -name 'brd.ko*' | head -n 1)
    case $brd in
        *.xz) xz -dc "$brd" >"$dir/brd.ko" ;;
        *.zst) zstd -qdc "$brd" >"$dir/brd.ko" ;;
        *) cp "$brd" "$dir/brd.ko" ;;
    esac
    cp "$dir/deb/x/bin/busybox" "$dir/busybox"
    echo "${pkg%:*}" >"$dir/kernel.pkg"
    rm -rf "$dir/deb"
}

rinit_for() {
    arch=$1 triple=$(triple "$1")
    case $arch in
        amd64) given=${RINIT_AMD64:-} ;;
        arm64) given=${RINIT_ARM64:-} ;;
    esac
    if [ -n "$given" ]; then
        echo "$given"
    elif [ "$arch" = amd64 ]; then
        "$top/scripts/build-static.sh"
    else
        rustup target add "$triple" >/dev/null 2>&1 || true
        (cd "$top" && RUSTFLAGS="-C linker=rust-lld -C target-feature=+crt-static -C relocation-model=static" \
            cargo build --quiet --release --target "$triple" >&2)
        echo "$top/target/$triple/release/rinit"
    fi
}

# newc cpio + gzip: rinit, busybox and its applets, guest.sh, vmtool,
# brd.ko, and /dev/console (the kernel opens it for PID 1's fds).
build_initramfs() {
    arch=$1 rinit=$2 dir=$cache/$1
    root=$dir/root
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/mnt" "$root/lib/modules"
    install -m 0755 "$dir/busybox" "$root/bin/busybox"
    # The host's busybox-static is the same Debian build: the same applets.
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    ln -s bin "$root/sbin"
    install -m 0755 "$rinit" "$root/rinit"
    install -m 0755 "$here/guest.sh" "$root/guest.sh"
    install -m 0755 "$dir/vmtool" "$root/vmtool"
    cp "$dir/brd.ko" "$root/lib/modules/brd.ko"
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) >"$dir/initramfs.gz"
}

boot() {
    arch=$1 dir=$cache/$1
    case $arch in
        amd64) qemu="qemu-system-x86_64" console=ttyS0 native=x86_64 ;;
        arm64) qemu="qemu-system-aarch64 -machine virt -cpu cortex-a57" console=ttyAMA0 native=aarch64 ;;
    esac
    accel="-accel tcg"
    if [ "${ACCEL:-tcg}" = kvm ] && [ "$(uname -m)" = "$native" ]; then
        accel="-accel kvm"
        [ "$arch" = amd64 ] && qemu="$qemu -cpu host" || qemu="qemu-system-aarch64 -machine virt -cpu host"
    fi
    t0=$(date +%s)
    set +e
    # shellcheck disable=SC2086 # $qemu and $accel are lists of words
    timeout "${TIMEOUT:-300}" $qemu $accel -m 256M -smp 1 \
        -nodefaults -no-reboot -display none -monitor none -serial "file:$dir/serial.raw" \
        -kernel "$dir/vmlinuz" -initrd "$dir/initramfs.gz" \
        -append "console=$console panic=-1 cgroup_no_v1=all quiet rdinit=/rinit -- -v --grace 2s --stuck-timeout 2s /guest.sh all" \
        </dev/null >"$dir/qemu.out" 2>&1
    echo $? >"$dir/qemu.rc"
    set -e
    echo $(($(date +%s) - t0)) >"$dir/wall"
    tr -d '\r' <"$dir/serial.raw" >"$dir/serial.log"
}

holds() { if "$@"; then echo 1; else echo 0; fi; }

# The verdicts of one arch, from its serial log: the guest's lines, then
# what only the host can see once the guest script has exited.
check() {
    arch=$1 dir=$cache/$1 log=$cache/$1/serial.log
    verdicts=$dir/verdicts
    grep -E '^(PASS|FAIL) ' "$log" >"$verdicts" || true
    host() { # NAME CHECK WHY
        if [ "$2" = 1 ]; then echo "PASS $1"; else echo "FAIL $1: $3"; fi >>"$verdicts"
    }
    host guest-finished "$(holds grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$log")" "no closing 'N passed, N failed' line from guest.sh (qemu exit $(cat "$dir/qemu.rc"))"
    host pid1-kill-all-reaches-other-sessions "$(holds grep -q '^pid1-daemon: got SIGTERM' "$log")" "the daemon in its own session got no SIGTERM from the top rinit's kill(-1)"
    writer=$(sed -n 's/^pid1-stuck-writer \([0-9]*\)$/\1/p' "$log")
    stuck=$(sed -n 's/.*ERROR stuck exit: \([0-9]*\) process(es) survived SIGKILL for [0-9]* ms (--stuck-timeout): \([0-9 ]*\); exiting anyway$/\1:\2/p' "$log")
    host pid1-stuck-report-lists-only-the-writer "$(holds test -n "$writer" -a "$stuck" = "1:$writer")" "want '1:$writer' (count:pids), the report says '${stuck:-nothing}'"
    hex=$(grep -o 'Attempted to kill init! exitcode=0x[0-9a-f]*' "$log" | head -n 1 | sed 's/.*=//')
    if [ -z "$hex" ]; then
        host pid1-exit-code 0 "no 'Attempted to kill init' line (qemu exit $(cat "$dir/qemu.rc"))"
    else
        code=$(((hex >> 8) & 255))
        host pid1-exit-code "$(holds [ "$code" = 0 ])" "rinit exited with $code, the guest script's status"
    fi
}

started=$(date +%s)
for arch in $arches; do
    dir=$cache/$arch
    mkdir -p "$dir"
    fetch "$arch"
    rinit=$(rinit_for "$arch")
    file "$rinit" 2>/dev/null | grep -q 'statically linked' || [ ! -x /usr/bin/file ] ||
        { echo "vm: $rinit is not a static binary" >&2; exit 1; }
    rustc --edition 2021 -O --target "$(triple "$arch")" -C linker=rust-lld -C target-feature=+crt-static \
        -C relocation-model=static -C panic=abort -C strip=symbols "$here/vmtool.rs" -o "$dir/vmtool"
    build_initramfs "$arch" "$rinit"
    echo "vm: $arch: kernel $(sed 's/^linux-image-//' "$dir/kernel.pkg"), rinit $rinit ($(wc -c <"$rinit") bytes)"
done
built=$(date +%s)

pids=""
for arch in $arches; do
    boot "$arch" &
    pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids

total_pass=0 total_fail=0
for arch in $arches; do
    dir=$cache/$arch
    check "$arch"
    pass=$(grep -c '^PASS ' "$dir/verdicts" || true)
    fail=$(grep -c '^FAIL ' "$dir/verdicts" || true)
    if [ "$fail" != 0 ]; then
        echo "== $arch: serial log ($dir/serial.log)"
        cat "$dir/serial.log"
        [ -s "$dir/qemu.out" ] && { echo "== $arch: qemu"; cat "$dir/qemu.out"; }
    fi
    echo "== $arch ($(sed 's/^linux-image-//' "$dir/kernel.pkg"), boot $(cat "$dir/wall") s)"
    sed "s/^/$arch: /" "$dir/verdicts"
    echo "$arch: $pass passed, $fail failed"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
done
echo "vm: build $((built - started)) s, boots $(($(date +%s) - built)) s"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
