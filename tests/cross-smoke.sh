#!/bin/sh
# Smoke set for the foreign-architecture builds, run under qemu-user:
#
#   tests/cross-smoke.sh [TARGET...]     (default: arm 386 ppc64le s390x riscv64)
#
# Each TARGET as scripts/build-static.sh names it; the binary is
# RINIT_<TARGET> (e.g. RINIT_ppc64le=dist/rinit-ppc64le) or built here. Prints
# a PASS/FAIL line per check and `N passed, N failed`; exits 1 on a failure.
#
# qemu-ARCH-static is called explicitly (binfmt_misc may not be registered),
# so rinit's children are the host's own /bin/sh and sleep: the kernel runs
# them natively, which exercises rinit's side (spawn, forwarding, reaping,
# exit decoding) without a target-arch shell. What qemu-user cannot show:
# PR_SET_CHILD_SUBREAPER is refused (EINVAL), so orphan reaping is only
# checked with rinit as PID 1 of a PID namespace; and qemu renumbers the
# real-time signals for its own use, so no RTMIN+N check here (amd64 and
# arm64 run those natively and in the VM suite). Needs root for unshare.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
targets=${*:-arm 386 ppc64le s390x riscv64}
passed=0 failed=0

command -v qemu-arm-static >/dev/null || {
    echo "cross-smoke: installing qemu-user-static" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
}

check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        echo "PASS $target: $1"
        passed=$((passed + 1))
    else
        echo "FAIL $target: $1: expected $2, got $3"
        failed=$((failed + 1))
    fi
}

# Runs rinit ($wrap: in a new PID namespace) in the background with a
# child that traps USR1, USR2 and TERM (exits 41, 42, 43) and says when it
# is ready; sends SIGNAL to rinit; prints the exit status.
forwarded() { # SIGNAL [RINIT-OPTIONS...]
    sig=$1
    shift
    ready=$(mktemp -u)
    mkfifo "$ready"
    # shellcheck disable=SC2086 # $wrap and $run are commands with arguments
    $wrap $run "$@" -- /bin/sh -c "trap 'exit 41' USR1; trap 'exit 42' USR2; trap 'exit 43' TERM; echo >$ready; while :; do sleep 0.05; done" &
    pid=$!
    read -r _ <"$ready"
    rm -f "$ready"
    # unshare --fork does not pass signals on: signal its child, rinit.
    [ -z "$wrap" ] || pid=$(cat "/proc/$pid/task/$pid/children")
    kill -s "$sig" $pid
    wait $!
    echo $?
}

for target in $targets; do
    case $target in
        amd64) qemu=qemu-x86_64-static machine='64-bit LSB.*x86-64' ;;
        arm64) qemu=qemu-aarch64-static machine='64-bit LSB.*ARM aarch64' ;;
        arm | arm/v7) target=arm qemu=qemu-arm-static machine='32-bit LSB.*ARM, EABI5' ;;
        386) qemu=qemu-i386-static machine='32-bit LSB.*Intel 80386' ;;
        ppc64le) qemu=qemu-ppc64le-static machine='64-bit LSB.*PowerPC' ;;
        s390x) qemu=qemu-s390x-static machine='64-bit MSB.*IBM S/390' ;;
        riscv64) qemu=qemu-riscv64-static machine='64-bit LSB.*RISC-V' ;;
        *) echo "cross-smoke: unknown target $target" >&2; exit 2 ;;
    esac
    binary=$(eval "echo \${RINIT_$target:-}")
    [ -n "$binary" ] || binary=$("$top/scripts/build-static.sh" "$target") || {
        check "build" built failed
        continue
    }
    run="$qemu $binary" wrap=""
    export RINIT_LOG=error # the subreaper warning is qemu's, not rinit's

    file -b "$binary" | grep -Eq "$machine" && m=ok || m=$(file -b "$binary")
    check "ELF for this architecture" ok "$m"
    file -b "$binary" | grep -q 'statically linked' && s=static || s=dynamic
    check "statically linked" static "$s"
    version=$($run --version)
    case $version in "tini version $(sed -n 's/^version = "\(.*\)"/\1/p' "$top/Cargo.toml")_rinit - "*) v=ok ;; *) v="$version" ;; esac
    check "--version" ok "$v"
    $run -- /bin/sh -c 'exit 7'
    check "exit code passed through" 7 $?
    $run -- /bin/sh -c 'kill -KILL $$'
    check "killed by SIGKILL gives 137" 137 $?
    $run --remap-exit 7 -- /bin/sh -c 'exit 7'
    check "--remap-exit 7" 0 $?
    $run -- /nonexistent/command 2>/dev/null
    check "missing command gives 127" 127 $?
    $run --no-such-option -- true 2>/dev/null
    check "usage error gives 2" 2 $?
    check "SIGUSR1 forwarded" 41 "$(forwarded USR1)"
    check "SIGTERM forwarded" 43 "$(forwarded TERM)"
    check "--rewrite USR1:USR2" 42 "$(forwarded USR1 --rewrite USR1:USR2)"
    # As PID 1 of a new PID namespace: an orphan that exits is reaped (no
    # zombie left while the main child still runs), and the exit code and a
    # SIGTERM from outside still arrive.
    # shellcheck disable=SC2086
    zombies=$(unshare --pid --fork --mount-proc $run -- /bin/sh -c \
        '(sleep 0.1 &); sleep 1; grep -l "^[0-9]* ([^)]*) Z" /proc/[0-9]*/stat | wc -l')
    check "PID 1: orphans reaped" 0 "$zombies"
    # shellcheck disable=SC2086
    unshare --pid --fork --mount-proc $run -- /bin/sh -c 'exit 5'
    check "PID 1: exit code" 5 $?
    wrap="unshare --pid --fork --mount-proc"
    check "PID 1: SIGTERM forwarded" 43 "$(forwarded TERM)"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
