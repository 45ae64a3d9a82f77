#!/bin/sh
# The VM suite: boots rinit as the real PID 1 of a machine under qemu, on a
# matrix of Debian's cloud kernels (bullseye's 5.10, bookworm's 6.1,
# trixie's 6.12), amd64 and arm64, each in two cgroup layouts: `v2`, pure
# cgroup2 (cgroup_no_v1=all), and `hybrid`, the v1 freezer and memory
# controllers beside cgroup2 (mounted by the guest, as on hosts booted with
# systemd.unified_cgroup_hierarchy=0). Every boot runs every scenario of
# tests/vm/guest.sh, JOBS boots at a time, then the host checks each serial
# log. Prints each scenario's PASS/FAIL/SKIP line, a `SUITE ARCH LAYOUT
# (kernel, boot N s): N passed, N failed, N skipped` line per boot and
# `N passed, N failed, N skipped` overall; a failed boot's serial log is
# printed in full. Exits 1 on any failure (a missing `Attempted to kill
# init` line is one).
#
# Env:
#   RINIT_AMD64, RINIT_ARM64  static rinit binaries to test (default: built
#                            here, scripts/build-static.sh for amd64, a
#                            rust-lld release build for arm64)
#   KERNELS    Debian suites whose cloud kernel to boot (default "bullseye
#              bookworm trixie")
#   ARCHES     "amd64 arm64" (default) or one of them
#   LAYOUTS    "v2 hybrid" (default) or one of them
#   JOBS       boots at a time (default 2; each boot is one TCG thread)
#   ACCEL      tcg (default) or kvm (used for the host's own arch only; the
#              kvm-pvm of some cloud hosts does not boot stock kernels)
#   VM_CACHE   apt state, kernels, busybox, initramfs, logs (default target/vm)
#   VM_REFRESH=1  fetch the newest kernels again (the cache keeps the first)
#   TIMEOUT    seconds per boot (default 300)
# Needs root (mknod, apt-get); installs qemu, cpio, busybox-static when
# missing. Not run by `cargo test`; .ci/run calls it.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/vm
cache=${VM_CACHE:-$top/target/vm}
kernels=${KERNELS:-bullseye bookworm trixie}
arches=${ARCHES:-amd64 arm64}
layouts=${LAYOUTS:-v2 hybrid}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

triple() { case $1 in amd64) echo x86_64-unknown-linux-musl ;; arm64) echo aarch64-unknown-linux-musl ;; esac; }

# One boot: SUITE ARCH LAYOUT. Its serial log, qemu's output and exit code
# and its wall time go to $cache/boots/SUITE-ARCH-LAYOUT.
boot() {
    suite=$1 arch=$2 layout=$3
    kdir=$cache/$suite-$arch dir=$cache/boots/$suite-$arch-$layout
    rm -rf "$dir" && mkdir -p "$dir"
    case $arch in
        # no_timer_check: under TCG on a busy host, 5.10's IO-APIC timer
        # check can fail and panic the boot ("IO-APIC + timer doesn't work").
        amd64) qemu="qemu-system-x86_64" console="ttyS0 no_timer_check" native=x86_64 ;;
        arm64) qemu="qemu-system-aarch64 -machine virt -cpu cortex-a57" console=ttyAMA0 native=aarch64 ;;
    esac
    case $layout in
        v2) cgroups=cgroup_no_v1=all ;;
        hybrid) cgroups="" ;;
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
        -kernel "$kdir/vmlinuz" -initrd "$kdir/initramfs.gz" \
        -append "console=$console panic=-1 $cgroups quiet rdinit=/rinit -- -v --grace 2s --stuck-timeout 2s /guest.sh all $layout" \
        </dev/null >"$dir/qemu.out" 2>&1
    echo $? >"$dir/qemu.rc"
    set -e
    echo $(($(date +%s) - t0)) >"$dir/wall"
    tr -d '\r' <"$dir/serial.raw" >"$dir/serial.log"
    echo "vm: $suite $arch $layout booted ($(cat "$dir/wall") s)"
}

if [ "${1:-}" = --boot ]; then
    shift
    boot "$@"
    exit 0
fi

need=""
for arch in $arches; do
    case $arch in
        amd64) command -v qemu-system-x86_64 >/dev/null || need="$need qemu-system-x86" ;;
        arm64) command -v qemu-system-aarch64 >/dev/null || need="$need qemu-system-arm" ;;
        *) echo "vm: ARCHES holds amd64 and/or arm64, not $arch" >&2; exit 2 ;;
    esac
done
for layout in $layouts; do
    case $layout in v2 | hybrid) ;; *) echo "vm: LAYOUTS holds v2 and/or hybrid, not $layout" >&2; exit 2 ;; esac
done
command -v cpio >/dev/null || need="$need cpio"
[ -x /bin/busybox ] || need="$need busybox-static"
if [ -n "$need" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of packages
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# apt with a private state for SUITE: its own sources (SUITE and its
# security suite), lists and cache under $cache/apt/SUITE, both
# architectures; the host's sources, lists and dpkg architectures stay as
# they are.
apt_in() {
    suite=$1 tool=$2
    shift 2
    st=$cache/apt/$suite
    "$tool" -o Dir::State="$st" -o Dir::State::status="$st/status" -o Dir::Cache="$st/cache" \
        -o Dir::Etc::SourceList="$st/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null \
        -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 -o Acquire::Languages=none \
        -o APT::Sandbox::User=root "$@"
}

apt_update() {
    suite=$1 st=$cache/apt/$1
    mkdir -p "$st/lists/partial" "$st/cache/archives/partial"
    : >"$st/status"
    keys=/usr/share/keyrings/debian-archive-keyring.gpg
    printf 'deb [signed-by=%s] http://deb.debian.org/debian %s main\ndeb [signed-by=%s] http://deb.debian.org/debian-security %s-security main\n' \
        "$keys" "$suite" "$keys" "$suite" >"$st/sources.list"
    apt_in "$suite" apt-get update -qq
}

# SUITE ARCH: vmlinuz, brd.ko and kernel.pkg of the newest
# linux-image-cloud-ARCH of SUITE and its security suite (the higher
# version of the two) in $cache/SUITE-ARCH. A version the index lists but
# the archive does not serve yet (404) gives way, with a line, to the next.
fetch_kernel() {
    suite=$1 arch=$2 dir=$cache/$1-$2
    rm -rf "$dir" && mkdir -p "$dir/deb"
    pkg=""
    for version in $(apt_in "$suite" apt-cache madison "linux-image-cloud-$arch:$arch" | awk '{ print $3 }' | sort -rV); do
        want=$(apt_in "$suite" apt-cache show "linux-image-cloud-$arch:$arch=$version" | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
        [ -n "$want" ] || continue
        if (cd "$dir/deb" && apt_in "$suite" apt-get download -q "$want:$arch" >/dev/null 2>"$dir/download.err"); then
            pkg=$want
            break
        fi
        echo "vm: $suite $arch: $want (linux-image-cloud-$arch $version) cannot be downloaded: $(grep -o '[0-9]* *Not Found\|E: .*' "$dir/download.err" | head -n 1); trying the next version" >&2
    done
    [ -n "$pkg" ] || { echo "vm: $suite has no downloadable linux-image-cloud-$arch" >&2; return 1; }
    dpkg-deb -x "$dir"/deb/*.deb "$dir/deb/x"
    cp "$dir"/deb/x/boot/vmlinuz-* "$dir/vmlinuz"
    brd=$(find "$dir/deb/x/lib/modules" "$dir/deb/x/usr/lib/modules" -name 'brd.ko*' 2>/dev/null | head -n 1)
    case $brd in
        "") echo "vm: $pkg has no brd module" >&2; return 1 ;;
        *.xz) xz -dc "$brd" >"$dir/brd.ko" ;;
        *.zst) zstd -qdc "$brd" >"$dir/brd.ko" ;;
        *) cp "$brd" "$dir/brd.ko" ;;
    esac
    echo "${pkg%:*}" >"$dir/kernel.pkg"
    rm -rf "$dir/deb"
}

# ARCH: Debian's busybox-static of the host's suite (the host's busybox
# names the applets to link) in $cache/ARCH/busybox.
fetch_busybox() {
    suite=$1 arch=$2 dir=$cache/$2
    rm -rf "$dir/deb" && mkdir -p "$dir/deb"
    (cd "$dir/deb" && apt_in "$suite" apt-get download -q "busybox-static:$arch" >/dev/null)
    dpkg-deb -x "$dir"/deb/*.deb "$dir/deb/x"
    cp "$dir/deb/x/bin/busybox" "$dir/busybox"
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

# newc cpio + gzip: rinit, busybox and its applets, guest.sh, vmtool, the
# kernel's brd.ko, and /dev/console (the kernel opens it for PID 1's fds).
build_initramfs() {
    suite=$1 arch=$2 rinit=$3 kdir=$cache/$1-$2 adir=$cache/$2
    root=$kdir/root
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/mnt" "$root/lib/modules"
    install -m 0755 "$adir/busybox" "$root/bin/busybox"
    # The host's busybox-static is the same Debian build: the same applets.
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    ln -s bin "$root/sbin"
    install -m 0755 "$rinit" "$root/rinit"
    install -m 0755 "$here/guest.sh" "$root/guest.sh"
    install -m 0755 "$adir/vmtool" "$root/vmtool"
    cp "$kdir/brd.ko" "$root/lib/modules/brd.ko"
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
    (cd "$root" && find . | cpio -o -H newc --quiet | gzip -6) >"$kdir/initramfs.gz"
    rm -rf "$root"
}

holds() { if "$@"; then echo 1; else echo 0; fi; }

# The verdicts of one boot, from its serial log: the guest's lines, then
# what only the host can see once the guest script has exited.
check() {
    dir=$1 log=$1/serial.log
    verdicts=$dir/verdicts
    grep -E '^(PASS|FAIL|SKIP) ' "$log" >"$verdicts" || true
    host() { # NAME CHECK WHY
        if [ "$2" = 1 ]; then echo "PASS $1"; else echo "FAIL $1: $3"; fi >>"$verdicts"
    }
    host guest-finished "$(holds grep -qE '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log")" "no closing 'N passed, N failed, N skipped' line from guest.sh (qemu exit $(cat "$dir/qemu.rc"))"
    host pid1-kill-all-reaches-other-sessions "$(holds grep -q '^pid1-daemon: got SIGTERM' "$log")" "the daemon in its own session got no SIGTERM from the top rinit's kill(-1)"
    # The stuck report must list exactly the tasks the guest left stuck:
    # the writer, and in the hybrid layout the v1-frozen task.
    want=$(sed -n 's/^pid1-stuck-\(writer\|frozen\) \([0-9]*\)$/\2/p' "$log" | sort -n | tr '\n' ' ')
    listed=$(sed -n 's/.*ERROR stuck exit: [0-9]* process(es) survived SIGKILL for [0-9]* ms (--stuck-timeout): \([0-9 ]*\); exiting anyway$/\1/p' "$log" |
        tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
    count=$(sed -n 's/.*ERROR stuck exit: \([0-9]*\) process(es) survived SIGKILL.*/\1/p' "$log")
    n=$(echo "$want" | wc -w)
    host pid1-stuck-report-lists-only-the-stuck-tasks "$(holds test -n "$want" -a "$listed" = "$want" -a "$count" = "$n")" \
        "want $n: $want, the report says ${count:-nothing}: ${listed:-nothing}"
    frozen=$(sed -n 's/^pid1-stuck-frozen \([0-9]*\)$/\1/p' "$log")
    if [ -n "$frozen" ]; then
        host pid1-stuck-report-names-the-v1-freezer "$(holds grep -q "ERROR pid $frozen .*frozen by the cgroup v1 freezer" "$log")" \
            "no line for pid $frozen saying 'frozen by the cgroup v1 freezer'"
    fi
    hex=$(grep -o 'Attempted to kill init! exitcode=0x[0-9a-f]*' "$log" | head -n 1 | sed 's/.*=//')
    if [ -z "$hex" ]; then
        host pid1-exit-code 0 "no 'Attempted to kill init' line (qemu exit $(cat "$dir/qemu.rc"))"
    else
        code=$(((hex >> 8) & 255))
        host pid1-exit-code "$(holds [ "$code" = 0 ])" "rinit exited with $code, the guest script's status"
    fi
}

started=$(date +%s)
. /etc/os-release
host_suite=${VERSION_CODENAME:?the host is not Debian: no VERSION_CODENAME in /etc/os-release}
# Fetch only what the cache lacks; the suites' apt lists in parallel.
stale=""
for suite in $kernels; do
    for arch in $arches; do
        if [ -n "${VM_REFRESH:-}" ] || [ ! -f "$cache/$suite-$arch/kernel.pkg" ]; then
            stale="$stale $suite"
            break
        fi
    done
done
for arch in $arches; do
    [ -f "$cache/$arch/busybox" ] || { stale="$stale $host_suite"; break; }
done
pids=""
for suite in $(echo "$stale" | tr ' ' '\n' | sort -u); do
    apt_update "$suite" &
    pids="$pids $!"
done
for pid in $pids; do wait "$pid"; done
for suite in $kernels; do
    for arch in $arches; do
        if [ -n "${VM_REFRESH:-}" ] || [ ! -f "$cache/$suite-$arch/kernel.pkg" ]; then
            fetch_kernel "$suite" "$arch"
        fi
    done
done
for arch in $arches; do
    mkdir -p "$cache/$arch"
    [ -f "$cache/$arch/busybox" ] || fetch_busybox "$host_suite" "$arch"
    rinit=$(rinit_for "$arch")
    file "$rinit" 2>/dev/null | grep -q 'statically linked' || [ ! -x /usr/bin/file ] ||
        { echo "vm: $rinit is not a static binary" >&2; exit 1; }
    rustc --edition 2021 -O --target "$(triple "$arch")" -C linker=rust-lld -C target-feature=+crt-static \
        -C relocation-model=static -C panic=abort -C strip=symbols "$here/vmtool.rs" -o "$cache/$arch/vmtool"
    echo "vm: $arch: rinit $rinit ($(wc -c <"$rinit") bytes)"
    for suite in $kernels; do
        build_initramfs "$suite" "$arch" "$rinit"
        echo "vm: $suite $arch: kernel $(sed 's/^linux-image-//' "$cache/$suite-$arch/kernel.pkg")"
    done
done
built=$(date +%s)

# The boots, JOBS at a time; arm64 first (its boots are the longer).
for arch in arm64 amd64; do
    case " $arches " in *" $arch "*) ;; *) continue ;; esac
    for suite in $kernels; do
        for layout in $layouts; do echo "$suite $arch $layout"; done
    done
done | xargs -P "${JOBS:-2}" -L 1 sh "$0" --boot

total_pass=0 total_fail=0 total_skip=0 summary="" retried=""
for suite in $kernels; do
    for arch in $arches; do
        for layout in $layouts; do
            dir=$cache/boots/$suite-$arch-$layout
            check "$dir"
            name="$suite $arch $layout"
            # A boot that failed is booted once more, and both are told: the
            # top rinit's stuck report was lost from the serial log once in
            # about 12-25 emulated boots (trixie arm64), unsent at the panic;
            # rinit now drains the console first, and the retry stays until
            # that has run clean long enough (docs/testing.md). A check that
            # fails twice fails the suite.
            if grep -q '^FAIL ' "$dir/verdicts"; then
                first=$(grep '^FAIL ' "$dir/verdicts")
                echo "== $name: failed; booting it once more. The first boot's failures:"
                echo "$first"
                cp "$dir/serial.log" "$dir.first.log"
                # shellcheck disable=SC2086 # three words
                sh "$0" --boot $name
                check "$dir"
                grep -q '^FAIL ' "$dir/verdicts" || {
                    retried="$retried$name: $(echo "$first" | tr '\n' ' ')
"
                }
            fi
            pass=$(grep -c '^PASS ' "$dir/verdicts" || true)
            fail=$(grep -c '^FAIL ' "$dir/verdicts" || true)
            skip=$(grep -c '^SKIP ' "$dir/verdicts" || true)
            if [ "$fail" != 0 ]; then
                echo "== $name: serial log ($dir/serial.log)"
                cat "$dir/serial.log"
                [ -s "$dir/qemu.out" ] && { echo "== $name: qemu"; cat "$dir/qemu.out"; }
            fi
            line="$name ($(sed 's/^linux-image-//' "$cache/$suite-$arch/kernel.pkg"), boot $(cat "$dir/wall") s): $pass passed, $fail failed, $skip skipped"
            echo "== $line"
            sed "s/^/$suite $arch $layout: /" "$dir/verdicts"
            summary="$summary$line
"
            total_pass=$((total_pass + pass))
            total_fail=$((total_fail + fail))
            total_skip=$((total_skip + skip))
        done
    done
done
echo "== vm: the matrix"
printf '%s' "$summary"
echo "vm: fetch and build $((built - started)) s, boots $(($(date +%s) - built)) s (${JOBS:-2} at a time)"
[ -z "$retried" ] || printf 'vm: RETRIED: these boots passed only when booted again; their first failures:\n%s' "$retried"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
