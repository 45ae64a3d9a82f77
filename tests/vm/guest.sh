#!/bin/sh
# The VM suite's guest side (see run.sh). `guest.sh all` runs as the main
# child of rinit, the real PID 1 of a pure cgroup-v2 machine booted with
# nothing mounted; it runs every scenario as `guest.sh one NAME`, a child
# bounded by busybox timeout, which prints `PASS NAME` or `FAIL NAME: why`
# (and on failure what the scenario's rinit printed). It ends with
# `N passed, N failed`, then leaves behind, for the host to check in the
# serial log, a daemon in its own session that reports the SIGTERM of the
# top rinit's kill(-1) and a writer stuck on a frozen filesystem that must
# be the only task in the top rinit's stuck report (`pid1-stuck-writer PID`).
# Exits 0 only if every scenario passed.
#
# Scenarios that need their own rinit run /rinit again: as a subreaper
# child of this script, or as PID 1 of `unshare -pf --mount-proc`.
CG=/sys/fs/cgroup
FRZ=/mnt/frz
PATH=/bin

# fail WHY: the verdict, then what the scenario's commands printed.
fail() {
    echo "FAIL $scenario: $*"
    for f in "$d"/*; do
        [ -s "$f" ] && sed "s|^|    $scenario ${f##*/}: |" "$f"
    done
    exit 1
}

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
    n=$(($1 * 10))
    shift
    while ! "$@"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        sleep 0.1
    done
}

# Control files have size 0: read them.
nonempty() { grep -q . "$1" 2>/dev/null; }
missing() { [ ! -e "$1" ]; }
has_line() { grep -q -- "$2" "$1" 2>/dev/null; }
frozen() { grep -qx 'frozen 1' "$1/cgroup.events"; }

# rinit_run ARGS...: /rinit ARGS, stdout in $d/out, stderr in $d/err, exit code in $rc.
rinit_run() {
    /rinit "$@" >"$d/out" 2>"$d/err"
    rc=$?
}

warnings() { grep -c 'rinit: WARN' "$d/err"; }

# --- scenarios: each calls fail on the first check that does not hold -----

s_root_without_memory_required() {
    rinit_run --cgroup-required --memory-limit 32M -- echo ran
    [ "$rc" = 1 ] || fail "exit $rc, want 1"
    has_line "$d/out" ran && fail "the command ran"
    has_line "$d/err" 'ERROR cgroup .* is required, but .*memory is not enabled' || fail "no error naming the missing memory controller"
    ls -d $CG/rinit-* 2>/dev/null && fail "a cgroup was left behind"
    return 0
}

s_root_without_memory_warns() {
    rinit_run --memory-limit 32M -- echo ran
    [ "$rc" = 0 ] || fail "exit $rc, want 0"
    has_line "$d/out" ran || fail "the command did not run"
    [ "$(warnings)" = 1 ] && has_line "$d/err" 'WARN running without cgroup .*memory is not enabled' ||
        fail "want one warning naming the missing memory controller"
    ls -d $CG/rinit-* 2>/dev/null && fail "a cgroup was left behind"
    return 0
}

s_memory_max() {
    rinit_run --cgroup mm --memory-limit 32M -- sh -c "cat $CG/mm/memory.max /proc/self/cgroup"
    [ "$rc" = 0 ] || fail "exit $rc"
    has_line "$d/out" '^33554432$' || fail "memory.max is not 33554432"
    has_line "$d/out" '^0::/mm$' || fail "the child is not in /mm"
    [ -s "$d/err" ] && fail "rinit printed something"
    missing $CG/mm || fail "$CG/mm left behind"
}

s_oom_main_child() {
    rinit_run --memory-limit 32M -- /vmtool alloc 64
    [ "$rc" = 137 ] || fail "exit $rc, want 137"
    has_line "$d/err" 'ERROR OOM: main child [0-9]* was OOM-killed: it went over the memory limit 32 MiB' || fail "no OOM report for the main child"
}

s_oom_other_process() {
    rinit_run --memory-limit 32M -- sh -c '/vmtool alloc 64; echo alloc=$?'
    [ "$rc" = 0 ] || fail "exit $rc, want 0"
    has_line "$d/out" 'alloc=137' || fail "the allocation was not killed"
    has_line "$d/err" "ERROR OOM: the kernel's OOM killer killed 1 process(es) in cgroup" || fail "no OOM report for the other process"
}

# A limit below what exec needs: the child is OOM-killed in the cgroup it
# joined, before its exec completes.
s_oom_before_exec() {
    rinit_run --memory-limit 64K -- /vmtool alloc 1
    [ "$rc" = 137 ] || fail "exit $rc, want 137"
    has_line "$d/out" done && fail "the command ran"
    has_line "$d/err" 'ERROR OOM: main child [0-9]* was OOM-killed' || fail "no OOM report for the child killed before exec"
}

# rinit alone in a non-root cgroup moves itself into a leaf to enable memory.
s_leaf_move() {
    mkdir $CG/lm || fail "mkdir $CG/lm"
    sh -c "echo \$\$ > $CG/lm/cgroup.procs && exec /rinit --cgroup job --memory-limit 32M -- sh -c 'cat /proc/\$PPID/cgroup /proc/self/cgroup $CG/lm/job/memory.max'" \
        >"$d/out" 2>"$d/err"
    rc=$?
    [ "$rc" = 0 ] || fail "exit $rc"
    has_line "$d/out" '^0::/lm/job.rinit$' || fail "rinit not in /lm/job.rinit"
    has_line "$d/out" '^0::/lm/job$' || fail "the child not in /lm/job"
    has_line "$d/out" '^33554432$' || fail "memory.max not set"
    [ -s "$d/err" ] && fail "rinit printed something"
    [ -e $CG/lm/job ] || [ -e $CG/lm/job.rinit ] && fail "job or job.rinit left behind"
    has_line $CG/lm/cgroup.subtree_control memory && fail "+memory left in lm/cgroup.subtree_control"
    rmdir $CG/lm
}

# Not alone: enabling memory fails with EBUSY; one warning, runs without.
s_leaf_move_busy() {
    mkdir $CG/nb || fail "mkdir $CG/nb"
    sleep 1000 &
    other=$!
    echo $other >$CG/nb/cgroup.procs
    sh -c "echo \$\$ > $CG/nb/cgroup.procs && exec /rinit --cgroup job --memory-limit 32M -- cat /proc/self/cgroup" \
        >"$d/out" 2>"$d/err"
    rc=$?
    kill -KILL $other
    wait $other
    [ "$rc" = 0 ] || fail "exit $rc"
    has_line "$d/out" '^0::/nb$' || fail "the command did not run in /nb"
    [ "$(warnings)" = 1 ] && has_line "$d/err" 'WARN running without cgroup job: .*subtree_control' ||
        fail "want one warning about subtree_control"
    [ -e $CG/nb/job ] || [ -e $CG/nb/job.rinit ] && fail "job or job.rinit left behind"
    rmdir $CG/nb
}

# A member that is not rinit's descendant and ignores SIGTERM: cgroup.kill.
s_cgroup_kill_outsider() {
    (trap '' TERM && exec sleep 1000) &
    outsider=$!
    /rinit --cgroup ck --grace 1s -- sh -c 'while [ ! -e /tmp/ck.go ]; do sleep 0.1; done' >"$d/out" 2>"$d/err" &
    r=$!
    wait_for 5 nonempty $CG/ck/cgroup.procs || { kill -KILL $outsider $r; fail "no cgroup ck"; }
    echo $outsider >$CG/ck/cgroup.procs
    touch /tmp/ck.go
    wait $r
    rc=$?
    wait $outsider
    orc=$?
    [ "$rc" = 0 ] || fail "exit $rc"
    [ "$orc" = 137 ] || fail "the outsider ended with $orc, want 137 (SIGKILL)"
    missing $CG/ck || fail "$CG/ck left behind"
}

# A member of a sub-cgroup that exits on SIGTERM gets it in the graceful stage.
s_subcgroup_member_gets_sigterm() {
    sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' &
    member=$!
    /rinit --cgroup sc --grace 5s -- sh -c "mkdir $CG/sc/sub && while [ ! -e /tmp/sc.go ]; do sleep 0.1; done" >"$d/out" 2>"$d/err" &
    r=$!
    wait_for 5 test -d $CG/sc/sub || { kill -KILL $member $r; fail "no cgroup sc/sub"; }
    echo $member >$CG/sc/sub/cgroup.procs
    touch /tmp/sc.go
    wait $r
    rc=$?
    wait $member
    mrc=$?
    [ "$rc" = 0 ] || fail "exit $rc"
    [ "$mrc" = 0 ] || fail "the member ended with $mrc, want 0 (its SIGTERM trap)"
    missing $CG/sc || fail "$CG/sc left behind"
}

# Sub-cgroups, one frozen with a task in it: removed depth-first, and the
# same name works on the next run.
s_subcgroups_removed() {
    rinit_run --cgroup sd --grace 1s -- sh -c "
        mkdir -p $CG/sd/a/b $CG/sd/c || exit 1
        sh -c 'echo \$\$ > $CG/sd/c/cgroup.procs && exec sleep 1000' &
        n=50; while ! grep -q . $CG/sd/c/cgroup.procs && [ \$n -gt 0 ]; do n=\$((n - 1)); sleep 0.1; done
        echo 1 > $CG/sd/c/cgroup.freeze
        n=50; while ! grep -qx 'frozen 1' $CG/sd/c/cgroup.events && [ \$n -gt 0 ]; do n=\$((n - 1)); sleep 0.1; done
        grep -qx 'frozen 1' $CG/sd/c/cgroup.events"
    [ "$rc" = 0 ] || fail "first run: exit $rc"
    missing $CG/sd || fail "$CG/sd left behind: $(find $CG/sd -type d | tr '\n' ' ')"
    rinit_run --cgroup sd -- cat /proc/self/cgroup
    [ "$rc" = 0 ] || fail "second run: exit $rc"
    has_line "$d/out" '^0::/sd$' || fail "second run: the child is not in /sd"
    [ -s "$d/err" ] && fail "second run: rinit printed something"
    missing $CG/sd || fail "$CG/sd left behind by the second run"
}

# Frozen from outside while running (docker pause), then SIGTERM with
# --kill-after: SIGKILL reaches the frozen child. (It ignores SIGTERM: a
# default-fatal SIGTERM kills a v2-frozen task by itself.)
s_freeze_kill_after() {
    /rinit --cgroup fz --kill-after 1s --grace 1s -- sh -c "trap '' TERM && exec sleep 1000" >"$d/out" 2>"$d/err" &
    r=$!
    wait_for 5 nonempty $CG/fz/cgroup.procs || { kill -KILL $r; fail "no cgroup fz"; }
    echo 1 >$CG/fz/cgroup.freeze
    wait_for 5 frozen $CG/fz || { kill -KILL $r; fail "fz did not freeze"; }
    t0=$(date +%s)
    kill -TERM $r
    wait $r
    rc=$?
    t=$(($(date +%s) - t0))
    [ "$rc" = 137 ] || fail "exit $rc, want 137"
    [ "$t" -le 6 ] || fail "took $t s"
    missing $CG/fz || fail "$CG/fz left behind"
}

# Frozen between joining its cgroup and its exec: vmtool, woken by inotify
# at top priority, freezes the cgroup as soon as rinit (at the lowest) has
# created it, so the child is frozen as it joins. rinit must still act on
# SIGTERM and --kill-after.
s_frozen_before_exec() {
    sh -c "renice -n -20 -p \$\$ >/dev/null && exec /vmtool freeze-on-mkdir $CG fb" >"$d/watcher" 2>&1 &
    watcher=$!
    wait_for 5 has_line "$d/watcher" watching || { kill -KILL $watcher; fail "the watcher did not start"; }
    sh -c 'renice -n 19 -p $$ >/dev/null && exec /rinit --cgroup fb --kill-after 1s --grace 1s -- echo ran' >"$d/out" 2>"$d/err" &
    r=$!
    wait $watcher || { kill -KILL $r; fail "the watcher failed"; }
    wait_for 5 frozen $CG/fb || { kill -KILL $r; fail "fb did not freeze"; }
    has_line "$d/out" ran && { wait $r; fail "the child exec'd before the freeze (race lost)"; }
    kill -TERM $r
    # /proc/PID/exe of a zombie does not resolve: gone or exited.
    if ! wait_for 5 missing /proc/$r/exe; then
        echo 0 >$CG/fb/cgroup.freeze
        wait $r
        fail "rinit did not act on SIGTERM and --kill-after while its child was frozen before exec"
    fi
    wait $r
    rc=$?
    [ "$rc" = 137 ] || [ "$rc" = 143 ] || fail "exit $rc, want 137 or 143"
    has_line "$d/out" ran && fail "the command ran"
    missing $CG/fb || fail "$CG/fb left behind"
}

# A writer blocked on a frozen filesystem survives SIGKILL: rinit, PID 1 of
# a PID namespace, reports it (and only it), then exits.
s_stuck_in_pid_namespace() {
    fsfreeze --freeze $FRZ || fail "fsfreeze --freeze $FRZ"
    unshare -pf --mount-proc /rinit --grace 1s --stuck-timeout 1s -- \
        sh -c "sh -c 'echo x > $FRZ/pidns' & sleep 1; exit 3" >"$d/out" 2>"$d/err" &
    u=$!
    wait_for 20 has_line "$d/err" 'stuck exit'
    sleep 0.5
    fsfreeze --unfreeze $FRZ
    wait $u
    rc=$?
    [ "$rc" = 3 ] || fail "exit $rc, want 3"
    has_line "$d/err" 'ERROR stuck exit: 1 process(es) survived SIGKILL' || fail "no stuck report for exactly one process"
    has_line "$d/err" 'ERROR pid [0-9]* tid [0-9]* (sh) state D' || fail "the writer is not listed in state D"
}

# With swap on, --memory-limit still caps the memory: the 64 MiB allocation
# is OOM-killed instead of swapped out.
s_memory_limit_with_swap() {
    mkswap /dev/ram1 >/dev/null && swapon /dev/ram1 || fail "cannot turn swap on"
    awk '/^SwapTotal:/ { exit !($2 > 0) }' /proc/meminfo || { swapoff /dev/ram1; fail "no swap"; }
    rinit_run --memory-limit 32M -- /vmtool alloc 64
    swapoff /dev/ram1
    [ "$rc" = 137 ] || fail "exit $rc, want 137 (the allocation was not OOM-killed)"
    has_line "$d/err" 'ERROR OOM: main child [0-9]* was OOM-killed' || fail "no OOM report"
}

# --- driver --------------------------------------------------------------

one() {
    scenario=$1
    d=/tmp/s/$1
    rm -rf "$d" && mkdir -p "$d"
    "s_$(echo "$1" | tr - _)"
    echo "PASS $1"
}

passed=0
failed=0
run() {
    out=$(timeout -s KILL "${SCENARIO_TIMEOUT:-40}" /guest.sh one "$1")
    code=$?
    [ -n "$out" ] && echo "$out"
    if [ "$code" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "$out" | grep -q "^FAIL $1" || echo "FAIL $1: no verdict (exit $code; killed after ${SCENARIO_TIMEOUT:-40} s?)"
    fi
}

all() {
    # Before mounting anything: rinit started on an empty machine.
    if [ -e /proc/self ] || [ -n "$(ls /sys)" ]; then pid1_empty=0; else pid1_empty=1; fi
    mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t cgroup2 cgroup2 $CG &&
        mount -t tmpfs tmpfs /tmp && mount -t devtmpfs devtmpfs /dev || { echo "FAIL setup: mounts"; exit 1; }
    echo "guest: $(uname -m) kernel $(uname -r), pid $$, controllers $(cat $CG/cgroup.controllers)"
    if [ "$pid1_empty" = 1 ] && [ "$$" != 2 ] && [ "$PPID" = 1 ]; then
        echo "PASS pid1-empty-machine"
        passed=$((passed + 1))
    else
        echo "FAIL pid1-empty-machine: mounted at start: $pid1_empty = 0, pid $$, parent $PPID"
        failed=$((failed + 1))
    fi
    insmod /lib/modules/brd.ko rd_nr=2 rd_size=98304 &&
        mke2fs -q /dev/ram0 >/dev/null && mkdir -p $FRZ && mount /dev/ram0 $FRZ ||
        echo "guest: no ramdisk filesystem"

    run root-without-memory-required
    run root-without-memory-warns
    echo +memory >$CG/cgroup.subtree_control
    for s in memory-max oom-main-child oom-other-process oom-before-exec leaf-move leaf-move-busy \
        cgroup-kill-outsider subcgroup-member-gets-sigterm subcgroups-removed freeze-kill-after \
        frozen-before-exec stuck-in-pid-namespace memory-limit-with-swap; do
        run $s
    done

    # For the host: the top rinit's kill(-1) must reach a daemon in another
    # session, and its stuck report must list this writer alone.
    setsid sh -c 'trap "echo pid1-daemon: got SIGTERM; exit 0" TERM; while :; do sleep 1; done' &
    fsfreeze --freeze $FRZ
    sh -c "echo x > $FRZ/last" &
    echo "pid1-stuck-writer $!"
    sleep 1
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}

case ${1:-all} in
    all) all ;;
    one) one "$2" ;;
    *) echo "usage: guest.sh [all | one SCENARIO]" >&2; exit 2 ;;
esac
