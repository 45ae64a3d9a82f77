#!/bin/sh
# Scenarios that run inside the Dockerfile.test image, with rinit as PID 1
# and this script as its child. Busybox sh only. Prints one line per
# scenario and "N passed, N failed"; exits 1 if any failed.
#
# `scenarios.sh` runs them all; `scenarios.sh run NAME` runs one (the
# runner starts each in the background under a watchdog).

SCENARIOS="pid1 reap signals exit_codes teardown"

uptime_cs() { # centiseconds since boot
    read -r up _ < /proc/uptime
    echo "${up%.*}${up#*.}"
}

zombies() {
    n=0
    for f in /proc/[0-9]*/stat; do
        read -r line < "$f" 2>/dev/null || continue
        case "${line##*) }" in Z*) n=$((n + 1)) ;; esac
    done
    echo $n
}

# Waits up to $1 tenths of a second for the condition in $2.
wait_for() {
    i=0
    while ! eval "$2"; do
        i=$((i + 1))
        [ $i -gt "$1" ] && return 1
        sleep 0.1
    done
}

scenario_pid1() {
    [ "$(cat /proc/1/comm)" = rinit ] || { echo "PID 1 is $(cat /proc/1/comm), not rinit"; return 1; }
    [ "$RUNNER_PPID" = 1 ] || { echo "the command's parent is $RUNNER_PPID, not 1"; return 1; }
    echo "the command is pid $RUNNER_PID"
}

scenario_reap() {
    i=0
    # usleep, so the runner's own sleeps do not count.
    while [ $i -lt 200 ]; do
        (usleep 300000 &)
        i=$((i + 1))
    done
    wait_for 100 '[ "$(zombies)" = 0 ] && ! pidof usleep >/dev/null' || {
        echo "$(zombies) zombies left"
        return 1
    }
    echo "200 orphans reaped, 0 zombies"
}

scenario_signals() {
    rm -f /tmp/sig /tmp/sig-job-ready
    trap 'echo command >> /tmp/sig' USR1
    # The job says when its trap is set: a USR1 before that would kill it.
    sh -c 'trap "echo job >> /tmp/sig; exit 0" USR1; touch /tmp/sig-job-ready; while :; do sleep 0.05; done' &
    wait_for 50 '[ -e /tmp/sig-job-ready ]' || { echo "the job never set its trap"; return 1; }
    kill -USR1 1
    wait_for 50 'grep -q job /tmp/sig 2>/dev/null && grep -q command /tmp/sig' || {
        echo "USR1 sent to PID 1 reached: $(cat /tmp/sig 2>/dev/null | tr '\n' ' ')"
        return 1
    }
    echo "USR1 to PID 1 reached the command and a job in its process group"
}

scenario_exit_codes() {
    for want in 0 7 255; do
        /rinit -- sh -c "exit $want"
        got=$?
        [ $got = $want ] || { echo "exit $want gave $got"; return 1; }
    done
    /rinit -- sh -c 'kill -TERM $$'
    [ $? = 143 ] || { echo "death by TERM did not give 143"; return 1; }
    /rinit -- sh -c 'kill -KILL $$'
    [ $? = 137 ] || { echo "death by KILL did not give 137"; return 1; }
    /rinit -q -- /no/such/program
    [ $? = 127 ] || { echo "a missing program did not give 127"; return 1; }
    echo "0, 7, 255, 143, 137 and 127 come through"
}

scenario_teardown() {
    rm -f /tmp/td-*
    start=$(uptime_cs)
    # Each daemon removes its file once its trap is set; only then does the
    # main child exit (a SIGTERM before the trap would kill it outright).
    /rinit --grace 1s -- sh -c '
        touch /tmp/td-a /tmp/td-b
        setsid sh -c "trap \"echo flushed > /tmp/td-flushed; exit 0\" TERM; rm /tmp/td-a; while :; do sleep 0.05; done" &
        setsid sh -c "trap \"\" TERM; echo \$\$ > /tmp/td-stubborn; rm /tmp/td-b; while :; do sleep 0.05; done" &
        while [ -e /tmp/td-a ] || [ -e /tmp/td-b ]; do sleep 0.01; done
        exit 5'
    rc=$?
    took=$(($(uptime_cs) - start))
    [ $rc = 5 ] || { echo "exit code $rc, not the main child's 5"; return 1; }
    [ -s /tmp/td-flushed ] || { echo "the daemon's SIGTERM trap did not run"; return 1; }
    stubborn=$(cat /tmp/td-stubborn)
    ! kill -0 "$stubborn" 2>/dev/null || { echo "the daemon ignoring SIGTERM survived"; return 1; }
    [ $took -ge 100 ] || { echo "SIGKILL came after ${took}0 ms, before the 1 s grace"; return 1; }
    [ $took -lt 350 ] || { echo "teardown took ${took}0 ms"; return 1; }
    echo "daemon flushed on SIGTERM, stubborn one SIGKILLed after the grace (${took}0 ms)"
}

if [ "$1" = run ]; then
    "scenario_$2"
    exit $?
fi

# The runner: every scenario in the background, each with a watchdog that
# ignores the signals the scenarios send around.
trap 'interrupted=1' USR1
export RUNNER_PID=$$ RUNNER_PPID=$PPID
passed=0 failed=0 n=0
for name in $SCENARIOS; do
    n=$((n + 1))
    sh "$0" run "$name" > /tmp/out.$name 2>&1 &
    pid=$!
    (trap '' USR1 USR2 HUP; sleep 30; kill -KILL $pid 2>/dev/null) &
    watchdog=$!
    # A trapped signal (the signals scenario sends USR1 to the whole group)
    # interrupts `wait` with 128+n, whether or not the scenario is still
    # running: only a wait that no trap cut short tells its status.
    while :; do
        interrupted=0
        wait $pid
        rc=$?
        [ "$interrupted" = 1 ] || break
    done
    kill $watchdog 2>/dev/null
    detail=$(tail -n 1 /tmp/out.$name)
    if [ $rc = 0 ]; then
        passed=$((passed + 1))
        echo "ok $n - $name: $detail"
    else
        failed=$((failed + 1))
        echo "not ok $n - $name (exit $rc): $detail"
    fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
