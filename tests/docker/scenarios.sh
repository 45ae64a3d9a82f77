# shellcheck shell=bash
# The scenarios of the Docker suite, sourced by tests/docker/run.sh (which
# provides DOCKER, IMG, R, RINIT, TINI and the engine). Each sc_NAME MODE
# INIT runs one scenario with INIT (rinit, or tini: the package's
# docker-init) in MODE:
#   init        docker run --init: the daemon's init-path, run as
#               /sbin/docker-init -- CMD
#   entrypoint  the image's ENTRYPOINT ["/rinit", "--"] (["/docker-init", "--"])
#   subreaper   a shell is PID 1 (/sh-wrap) and runs `/rinit -- CMD`
#               (`/docker-init -s -- CMD`) as its child
# prints what it saw and returns non-zero when rinit (or tini) got it wrong.

D() { timeout 60 $DOCKER "$@"; }

# Sets RUN to the `docker run` command line: run_line MODE INIT [OPTS] -- CMD...
# STOP_IMAGE=usr1 picks the images with STOPSIGNAL SIGUSR1.
# REFUSE_SPEC=ERRNO:SYSCALL,... (rinit only) puts refuse (refuse.rs) before
# rinit in each mode, with REFUSE=REFUSE_SPEC in the container's
# environment: as the init-path (it execs the image's /rinit), as the
# ENTRYPOINT ["/refuse", "--", "/rinit", "--"], and under sh-wrap as
# `/refuse -- /rinit -- CMD`.
run_line() {
    local mode=$1 init=$2 opts=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    local sfx=${STOP_IMAGE:+-$STOP_IMAGE} ep=$init-ep
    if [ -n "${REFUSE_SPEC:-}" ]; then
        opts+=(-e "REFUSE=$REFUSE_SPEC")
        init=refuse ep=refuse-ep
    fi
    local common=(run --label rinit-docker-test --network none "${opts[@]}")
    case $mode in
        init)
            use_init "$init"
            RUN=(D "${common[@]}" --init "$IMG:base$sfx" "$@")
            ;;
        entrypoint) RUN=(D "${common[@]}" "$IMG:$ep$sfx" "$@") ;;
        subreaper)
            local words=(/rinit --)
            [ "$init" = tini ] && words=(/docker-init -s --)
            [ "$init" = refuse ] && words=(/refuse -- /rinit --)
            RUN=(D "${common[@]}" --entrypoint /sh-wrap "$IMG:base$sfx" "${words[@]}" "$@")
            ;;
    esac
}

# Puts INIT at the daemon's init-path (a rename: running containers keep
# the binary they mounted).
use_init() {
    local src=$RINIT
    [ "$1" = tini ] && src=$TINI
    [ "$1" = nogit ] && src=$RINIT_NOGIT_BIN
    [ "$1" = refuse ] && src=$R/refuse
    cp "$src" "$R/bin/.docker-init.new" && mv -f "$R/bin/.docker-init.new" "$R/bin/docker-init"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a < b)}'; }

# Waits up to 10 s for TEXT in the container's output.
wait_log() { # container text
    local i
    for i in $(seq 100); do
        D logs "$1" 2>&1 | grep -qF -- "$2" && return 0
        sleep 0.1
    done
    echo "never printed '$2': $(D logs "$1" 2>&1 | tail -3 | tr '\n' ' ')"
    return 1
}

exit_code_of() { D wait "$1"; }

ZOMBIES='z=0; for f in /proc/[0-9]*/stat; do read -r l < $f 2>/dev/null || continue; case "${l##*) }" in Z*) z=$((z+1));; esac; done; echo zombies=$z'

# A container whose command traps SIGNAL (exit CODE on it) and says ready.
TRAPPER='trap "echo got $0; exit $1" $0; echo ready; while :; do sleep 0.05; done'

# --- docker info -------------------------------------------------------------------

# docker info and docker version read the init's commit from `--version`.
info_check() { # init: what the init-path binary is; want_commit
    local init=$1 want=$2 before comp id
    use_init "$init"
    before=$(wc -l <"$R/dockerd.log")
    id=$(D info --format '{{.InitCommit.ID}}')
    comp=$(D version --format '{{range .Server.Components}}{{if eq .Name "docker-init"}}{{.Version}} commit {{index .Details "GitCommit"}}{{end}}{{end}}')
    echo "docker info InitCommit.ID=$id; docker version component: ${comp:-none}"
    if tail -n +"$((before + 1))" "$R/dockerd.log" | grep -F 'docker-init version'; then
        return 1
    fi
    [ -n "$comp" ] || return 1
    [ -z "$want" ] || [ "$id" = "$want" ]
}

sc_info_version_git() {
    local sha
    sha=$("$RINIT" --version | sed -n 's/.* - git\.\([0-9a-f]*\).*/\1/p')
    [ -n "$sha" ] || { echo "$RINIT --version names no git commit: $("$RINIT" --version)"; return 1; }
    info_check rinit "$sha"
}

sc_info_version_nogit() {
    if [ "$2" = tini ]; then info_check tini ""; return; fi
    echo "built without .git: $("$RINIT_NOGIT_BIN" --version)"
    info_check nogit ""
}

# --- PID 1, exit codes ---------------------------------------------------------------

sc_pid1() {
    local mode=$1 init=$2 out want
    # The command's parent, the parent's name for itself, and an orphan's
    # parent (the reaper).
    run_line "$mode" "$init" --rm -- sh -c '(sleep 1 & echo $! > /tmp/orphan); sleep 0.2; read -r o < /tmp/orphan; read -r l < /proc/$o/stat; set -- ${l##*) }; echo "parent=$PPID reaper=$2 $(/proc/$PPID/exe --version 2>&1 | head -1)"'
    out=$("${RUN[@]}" 2>&1)
    echo "$out"
    want="tini version 0"
    # rinit prints tini's form too, the only one dockerd parses.
    [ "$init" = rinit ] && want="tini version [0-9.]*_rinit"
    case $mode in
        init | entrypoint) echo "$out" | grep -q "^parent=1 reaper=1 $want" ;;
        subreaper) echo "$out" | grep -Eq "^parent=([0-9]+) reaper=\1 $want" && ! echo "$out" | grep -q '^parent=1 ' ;;
    esac
}

sc_exit_codes() {
    local mode=$1 init=$2 got=() bad=0 c
    for c in 'exit 3' 'kill -KILL $$' 'kill -SEGV $$'; do
        run_line "$mode" "$init" --rm -- sh -c "$c"
        "${RUN[@]}" >/dev/null 2>&1
        got+=($?)
    done
    run_line "$mode" "$init" --rm -- /no/such/command
    "${RUN[@]}" >/dev/null 2>&1
    got+=($?)
    echo "exit codes ${got[*]} (want 3 137 139 127)"
    [ "${got[*]}" = "3 137 139 127" ]
}

# --- docker stop, kill, signals ---------------------------------------------------------

stop_case() { # mode init name docker-stop-args want-code max-seconds [run opts --] cmd...
    local mode=$1 init=$2 name=$3 stopargs=$4 want=$5 max=$6 t0 took code
    shift 6
    run_line "$mode" "$init" -d --name "$name" "$@"
    "${RUN[@]}" >/dev/null || { echo "cannot start"; return 1; }
    wait_log "$name" ready || return 1
    t0=$(now)
    # shellcheck disable=SC2086
    D stop $stopargs "$name" >/dev/null
    took=$(since "$t0")
    code=$(exit_code_of "$name")
    echo "exit $code (want $want) after ${took} s (want < ${max} s)"
    [ "$code" = "$want" ] && lt "$took" "$max"
}

sc_stop_trap() { stop_case "$1" "$2" c-stop-trap "" 42 2 -- sh -c "$TRAPPER" TERM 42; }
sc_stop_plain() { stop_case "$1" "$2" c-stop-plain "" 143 2 -- sh -c 'echo ready; exec sleep 1000'; }
sc_stop_ignored() {
    # Ignores TERM: only the engine's SIGKILL after -t ends it.
    stop_case "$1" "$2" c-stop-ign "-t 2" 137 5 -- sh -c 'trap "" TERM; echo ready; while :; do sleep 0.05; done'
}

sc_stopsignal() {
    local mode=$1 init=$2
    # The image's STOPSIGNAL SIGUSR1, then --stop-signal USR2 on the run.
    STOP_IMAGE=usr1 stop_case "$mode" "$init" c-stopsig "" 10 2 -- sh -c "$TRAPPER" USR1 10 || return 1
    stop_case "$mode" "$init" c-stopsig2 "" 12 2 --stop-signal USR2 -- sh -c "$TRAPPER" USR2 12
}

sc_kill_s() {
    local mode=$1 init=$2 code
    run_line "$mode" "$init" -d --name c-kill -- sh -c 'trap "echo got HUP" HUP; trap "echo got USR1" USR1; trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done'
    "${RUN[@]}" >/dev/null || return 1
    wait_log c-kill ready || return 1
    D kill -s HUP c-kill >/dev/null && wait_log c-kill "got HUP" || return 1
    D kill -s USR1 c-kill >/dev/null && wait_log c-kill "got USR1" || return 1
    D kill -s TERM c-kill >/dev/null
    code=$(exit_code_of c-kill)
    echo "HUP and USR1 reached the command; TERM: exit $code (want 7)"
    [ "$code" = 7 ]
}

# kill from inside the container, at PID 1.
sc_signals_inside() {
    local mode=$1 init=$2 code
    run_line "$mode" "$init" -d --name c-inside -- sh -c 'trap "echo got USR1" USR1; trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done'
    "${RUN[@]}" >/dev/null || return 1
    wait_log c-inside ready || return 1
    D exec c-inside kill -USR1 1 && wait_log c-inside "got USR1" || return 1
    D exec c-inside kill -TERM 1
    code=$(exit_code_of c-inside)
    echo "kill -USR1 1 reached the command; kill -TERM 1: exit $code (want 7)"
    [ "$code" = 7 ]
}

# --- zombies, pause ------------------------------------------------------------------

sc_zombies() {
    local mode=$1 init=$2 out
    run_line "$mode" "$init" --rm -- sh -c 'i=0; while [ $i -lt 50 ]; do (sleep 0.2 &); i=$((i+1)); done; sleep 1.5; '"$ZOMBIES"
    out=$("${RUN[@]}" 2>&1)
    echo "50 orphans: $out"
    [ "$out" = zombies=0 ] || return 1
    # docker exec's orphans: its process is not a descendant of the init,
    # but its orphans are the PID namespace's, so PID 1's. (Under a shell
    # PID 1 they are the shell's, not rinit's.)
    [ "$mode" = subreaper ] && return 0
    run_line "$mode" "$init" -d --name c-zomb -- sh -c 'echo ready; exec sleep 1000'
    "${RUN[@]}" >/dev/null || return 1
    wait_log c-zomb ready || return 1
    D exec c-zomb sh -c 'i=0; while [ $i -lt 20 ]; do sleep 0.2 & i=$((i+1)); done; exit 0'
    sleep 1
    out=$(D exec c-zomb sh -c "$ZOMBIES")
    echo "20 docker exec orphans: $out"
    [ "$out" = zombies=0 ]
}

sc_pause() {
    local mode=$1 init=$2 a b c code t0 took
    run_line "$mode" "$init" -d --name c-pause -- sh -c 'trap "exit 5" TERM; i=0; echo ready; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done'
    "${RUN[@]}" >/dev/null || return 1
    wait_log c-pause ready || return 1
    D pause c-pause >/dev/null || return 1
    a=$(cat "$(D inspect -f '{{.GraphDriver.Data.UpperDir}}' c-pause)/tmp/n")
    sleep 0.5
    b=$(cat "$(D inspect -f '{{.GraphDriver.Data.UpperDir}}' c-pause)/tmp/n")
    D unpause c-pause >/dev/null || return 1
    sleep 0.5
    c=$(D exec c-pause cat /tmp/n)
    t0=$(now)
    D stop c-pause >/dev/null
    took=$(since "$t0")
    code=$(exit_code_of c-pause)
    echo "paused: counter $a then $b; unpaused: $c; stop: exit $code (want 5) after $took s"
    [ "$a" = "$b" ] && [ "$c" -gt "$b" ] && [ "$code" = 5 ] && lt "$took" 2
}

# --- terminals and stdin ---------------------------------------------------------------

sc_tty() {
    local mode=$1 init=$2 out code
    run_line "$mode" "$init" --rm -t -- sh -c '[ -t 0 ] && [ -t 1 ] && echo tty-ok; exit 5'
    out=$("${RUN[@]}" </dev/null 2>&1 | tr -d '\r')
    code=${PIPESTATUS[0]}
    echo "-t: '$out', exit $code (want tty-ok, 5)"
    [ "$out" = tty-ok ] && [ "$code" = 5 ]
}

# docker run -it under a pseudo-terminal (script), ^C typed: the command
# in the terminal's foreground gets SIGINT.
sc_tty_ctrl_c() {
    local mode=$1 init=$2 code
    run_line "$mode" "$init" --rm -it -- sh -c 'echo ready; exec sleep 1000'
    (sleep 3; for _ in 1 2 3 4 5 6 7 8 9 10; do printf '\003'; sleep 1; done) |
        timeout 40 script -qefc "$DOCKER $(printf '%q ' "${RUN[@]:1}")" /dev/null >"$R/ctrlc.$init.out" 2>&1
    code=${PIPESTATUS[1]}
    echo "-it, ^C: exit $code (want 130); output: $(tr -d '\r' <"$R/ctrlc.$init.out" | tr '\n' ' ')"
    [ "$code" = 130 ]
}

sc_stdin() {
    local mode=$1 init=$2 out
    run_line "$mode" "$init" --rm -i -- sh -c 'read -r a; read -r b; echo "$b $a"; cat >/dev/null; echo eof'
    out=$(printf 'one\ntwo\nthree\n' | "${RUN[@]}" 2>&1 | tr '\n' ' ')
    echo "-i: '$out' (want 'two one eof ')"
    [ "$out" = "two one eof " ]
}

# --- restricted containers ---------------------------------------------------------------

sc_restricted() {
    local mode=$1 init=$2 out code
    run_line "$mode" "$init" --rm --user 1000 --cap-drop ALL --read-only -- sh -c '(sleep 0.2 &); (sleep 0.2 &); sleep 0.8; echo "uid=$(id -u) $('"$ZOMBIES"')"; exit 4'
    out=$("${RUN[@]}" 2>&1)
    code=$?
    echo "$out; exit $code (want uid=1000 zombies=0, 4)"
    [ "$out" = "uid=1000 zombies=0" ] && [ "$code" = 4 ] || return 1
    stop_case "$mode" "$init" c-restr "" 9 2 --user 1000 --cap-drop ALL --read-only -- sh -c "$TRAPPER" TERM 9
}

# A daemon in another session (setsid) is still running when the command
# exits: it gets SIGTERM and time to flush, not the kernel's SIGKILL.
sc_daemon_flush() {
    local mode=$1 init=$2 out code
    run_line "$mode" "$init" --rm -- sh -c 'setsid sh -c "trap \"echo flushed; exit 0\" TERM; echo started; while :; do sleep 0.05; done" & sleep 0.5; exit 0'
    # stdout alone: the daemon's shell reports its killed sleep on stderr.
    out=$("${RUN[@]}" 2>/dev/null | tr '\n' ' ')
    code=${PIPESTATUS[0]}
    echo "output '$out', exit $code (want 'started flushed ', 0)"
    [ "$out" = "started flushed " ] && [ "$code" = 0 ]
}

# --- rinit's own features in Docker (no docker-init counterpart) ---------------------------

report_exit_code() { # file
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["main_child"]["exit_code"])' "$1" 2>&1
}

sc_report_file() {
    local mode=$1 init=$2 code got f=$R/report-$1.json
    echo stale >"$f"
    run_line "$mode" "$init" --rm -v "$f:/report.json" -e RINIT_REPORT=/report.json -- sh -c 'exit 3'
    "${RUN[@]}" >/dev/null 2>&1
    code=$?
    got=$(report_exit_code "$f")
    echo "exit $code; the bind-mounted file's report says exit_code $got (want 3, 3)"
    [ "$code" = 3 ] && [ "$got" = 3 ]
}

sc_report_dir() {
    local mode=$1 init=$2 code got d=$R/reports-$1
    mkdir -p "$d"
    run_line "$mode" "$init" --rm -v "$d:/out" -e RINIT_REPORT=/out/report.json -- sh -c 'exit 3'
    "${RUN[@]}" >/dev/null 2>&1
    code=$?
    got=$(report_exit_code "$d/report.json")
    echo "exit $code; the report in the bind-mounted directory says exit_code $got (want 3, 3)"
    [ "$code" = 3 ] && [ "$got" = 3 ]
}

sc_leaks_fail() {
    local mode=$1 init=$2 code err
    run_line "$mode" "$init" --rm -e RINIT_LEAKS=fail -e RINIT_GRACE=1s -- sh -c 'sleep 100 & exit 0'
    err=$("${RUN[@]}" 2>&1 >/dev/null)
    code=$?
    echo "exit $code (want 99); $(echo "$err" | grep -c 'leak') leak line(s)"
    [ "$code" = 99 ]
}

# /sys/fs/cgroup is read-only in a container: one warning, the command runs.
sc_cgroup_readonly() {
    local mode=$1 init=$2 code out err
    run_line "$mode" "$init" --rm -e RINIT_MEMORY_LIMIT=64M -- sh -c 'echo ran'
    out=$("${RUN[@]}" 2>"$R/cg.err")
    code=$?
    err=$(cat "$R/cg.err")
    echo "exit $code, stdout '$out', stderr: $err"
    [ "$code" = 0 ] && [ "$out" = ran ] && [ "$(echo "$err" | grep -c .)" = 1 ] && echo "$err" | grep -q '^rinit: WARN'
}

sc_cgroup_required() {
    local mode=$1 init=$2 code out
    run_line "$mode" "$init" --rm -e RINIT_MEMORY_LIMIT=64M -e RINIT_CGROUP_REQUIRED=1 -- sh -c 'echo ran'
    out=$("${RUN[@]}" 2>"$R/cgr.err")
    code=$?
    echo "exit $code (want 1), stdout '$out' (want none), stderr: $(cat "$R/cgr.err")"
    [ "$code" = 1 ] && [ -z "$out" ]
}

# tini's -s and -g are accepted (rinit is a subreaper and signals the group
# anyway), so `tini -s -g --` entrypoints can switch.
sc_tini_flags() {
    local mode=$1 init=$2 out code bin=/rinit
    [ "$init" = tini ] && bin=/docker-init
    case $mode in
        entrypoint) RUN=(D run --label rinit-docker-test --network none --rm --entrypoint $bin "$IMG:base" -s -g -- sh -c 'echo ran; exit 3') ;;
        subreaper) RUN=(D run --label rinit-docker-test --network none --rm --entrypoint /sh-wrap "$IMG:base" $bin -s -g -- sh -c 'echo ran; exit 3') ;;
    esac
    out=$("${RUN[@]}" 2>&1)
    code=$?
    echo "$bin -s -g -- CMD: exit $code, output '$out' (want 3, 'ran')"
    [ "$code" = 3 ] && [ "$out" = ran ]
}

# --- seccomp ---------------------------------------------------------------------

# Under the engine's built-in default seccomp profile (no --security-opt),
# alone or with REFUSE_SPEC's calls refused on top of it (refuse stacks a
# second filter; the most restrictive result wins): an inherited descriptor
# (close_range at start-up), a daemon in another session left behind (the
# teardown's pidfds as a subreaper), the exit code, and rinit's stderr: no
# error, no complaint about the descriptors (close_range failing has a
# fallback), one warning at most (the first refused pidfd call's, or an old
# kernel's "no pidfds"). The command prints how many filters it runs under,
# so a refusal that was never installed fails the scenario.
seccomp_case() { # mode init errno (none: the default profile alone)
    local mode=$1 init=$2 errno=$3 out code warns filters=1
    local REFUSE_SPEC=
    if [ "$errno" != none ]; then
        REFUSE_SPEC=$errno:pidfd_open,pidfd_send_signal,close_range filters=2
    fi
    run_line "$mode" "$init" --rm -- sh -c 'sed -n "s/^Seccomp_filters:[[:space:]]*/filters=/p" /proc/self/status; setsid sh -c "trap \"echo flushed; exit 0\" TERM; while :; do sleep 0.05; done" & sleep 0.5; exit 3'
    "${RUN[@]}" >"$R/seccomp.out" 2>"$R/seccomp.err"
    code=$?
    out=$(tr '\n' ' ' <"$R/seccomp.out")
    warns=$(grep -c '^rinit: WARN' "$R/seccomp.err")
    echo "exit $code (want 3), stdout '$out' (want 'filters=$filters flushed '), stderr: $(tr '\n' ' ' <"$R/seccomp.err")"
    [ "$code" = 3 ] && [ "$out" = "filters=$filters flushed " ] && [ "$warns" -le 1 ] &&
        ! grep -Eq '^rinit: ERROR|inherited descriptors|^refuse:' "$R/seccomp.err"
}
sc_seccomp_default() { seccomp_case "$1" "$2" none; }
sc_seccomp_eperm() { seccomp_case "$1" "$2" EPERM; }
sc_seccomp_enosys() { seccomp_case "$1" "$2" ENOSYS; }

# --- readiness, pause, stop delay ---------------------------------------------

# HEALTHCHECK CMD ["/rinit", "probe", "http://..."]: unhealthy while nothing
# answers, healthy once busybox httpd serves the page.
sc_healthcheck() {
    local status i seen_unhealthy=no
    D run -d --label rinit-docker-test --network none --name c-health $IMG:health \
        sh -c 'mkdir -p /tmp/www && echo ok >/tmp/www/index.html && while [ ! -e /tmp/go ]; do sleep 0.1; done; exec httpd -f -p 127.0.0.1:8080 -h /tmp/www' >/dev/null || return 1
    for i in $(seq 150); do
        status=$(D inspect -f '{{.State.Health.Status}}' c-health)
        [ "$status" = unhealthy ] && { seen_unhealthy=yes; break; }
        sleep 0.1
    done
    D exec c-health touch /tmp/go
    for i in $(seq 150); do
        status=$(D inspect -f '{{.State.Health.Status}}' c-health)
        [ "$status" = healthy ] && break
        sleep 0.1
    done
    echo "unhealthy before the server: $seen_unhealthy; then: $status (want yes, healthy)"
    D rm -f c-health >/dev/null
    [ "$seen_unhealthy" = yes ] && [ "$status" = healthy ]
}

# rinit -P as a container's only process: docker exec's orphans reaped,
# docker stop ends it at once with 0.
sc_pause_mode() {
    local t0 took code z
    D run -d --label rinit-docker-test --network none --name c-pausemode --entrypoint /rinit $IMG:base -P >/dev/null || return 1
    D exec c-pausemode sh -c '(sleep 0.2 &); (sleep 0.2 &)'
    sleep 0.6
    z=$(D exec c-pausemode sh -c "$ZOMBIES")
    t0=$(now)
    D stop c-pausemode >/dev/null
    took=$(since "$t0")
    code=$(exit_code_of c-pausemode)
    D rm -f c-pausemode >/dev/null
    echo "$z; docker stop: exit $code after $took s (want zombies=0, 0, < 2 s)"
    [ "$z" = zombies=0 ] && [ "$code" = 0 ] && lt "$took" 2
}

# RINIT_STOP_DELAY=1s: docker stop's SIGTERM reaches the app a second later.
sc_stop_delay() {
    local mode=$1 init=$2 t0 took code
    run_line "$mode" "$init" -d --name c-stopdelay -e RINIT_STOP_DELAY=1s -- sh -c "$TRAPPER" TERM 42
    "${RUN[@]}" >/dev/null || return 1
    wait_log c-stopdelay ready || return 1
    t0=$(now)
    D stop c-stopdelay >/dev/null
    took=$(since "$t0")
    code=$(exit_code_of c-stopdelay)
    echo "exit $code after $took s (want 42, between 1 and 3 s)"
    [ "$code" = 42 ] && lt 1 "$took" && lt "$took" 3
}

# --- the list --------------------------------------------------------------------

run_all() {
    local all="init entrypoint subreaper"
    if wanted info_version_nogit/-; then
        RINIT_NOGIT_BIN=$(nogit_build) || RINIT_NOGIT_BIN=/nonexistent
    fi
    scenario info_version_git - no
    scenario info_version_nogit - yes
    scenario pid1 "$all" yes
    scenario exit_codes "$all" yes
    scenario stop_trap "$all" yes
    scenario stop_plain "$all" yes
    scenario stop_ignored "$all" yes
    scenario stopsignal "$all" yes
    scenario kill_s "$all" yes
    scenario signals_inside "init entrypoint" yes
    scenario zombies "$all" yes
    scenario pause "init entrypoint" yes
    scenario tty "init entrypoint" yes
    scenario tty_ctrl_c "init entrypoint" yes
    scenario stdin "init entrypoint" yes
    scenario restricted "$all" yes
    scenario daemon_flush "$all" yes
    scenario report_file "init entrypoint" no
    scenario report_dir "init entrypoint" no
    scenario leaks_fail "init entrypoint" no
    scenario cgroup_readonly "init entrypoint" no
    scenario cgroup_required "init entrypoint" no
    scenario tini_flags "entrypoint subreaper" yes
    scenario seccomp_default "$all" no
    scenario seccomp_eperm "$all" no
    scenario seccomp_enosys "$all" no
    scenario healthcheck - no
    scenario pause_mode - no
    scenario stop_delay "init entrypoint" no
}
