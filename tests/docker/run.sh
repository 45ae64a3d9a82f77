#!/usr/bin/env bash
# The Docker suite: rinit under a real Docker engine, as the daemon's --init
# (init-path), as ENTRYPOINT ["/rinit","--"] and as a subreaper under a shell
# PID 1, side by side with the docker-init (tini) the package ships where it
# applies. Run as root; `.ci/run` runs it after the host tests, `cargo test`
# never does.
#
# It installs Debian's docker.io if missing, then starts its own containerd
# and dockerd (no systemd needed) with a private root, sockets, pidfiles and
# daemon.json (init-path: the rinit under test), --iptables=false
# --bridge=none, containers with --network none; nothing is written to
# /etc/docker. Images are built FROM scratch from busybox-static. At the end
# (a trap, also on failure or ^C) every container and image is removed, the
# daemons it started are stopped by pid and the private root is deleted.
#
# Environment:
#   RINIT=path          the static rinit under test (default: built with
#                       scripts/build-static.sh)
#   RINIT_NOGIT=path    rinit built from a tree without .git, for the
#                       info_version_nogit scenario (default: built here from
#                       `git archive HEAD`, cached in target/docker-nogit)
#   DOCKER_SCENARIOS="name ..."  run only these: a scenario name
#                       (exit_codes) or one mode of it (exit_codes/init)
#   KEEP_ROOT=1         keep the private root (logs, reports) for a look
#
# Output: one line per scenario and mode, `PASS`/`FAIL`, rinit's detail and,
# where it applies, docker-init's result for comparison (only rinit's result
# counts); dockerd's log if anything failed; `N passed, N failed` last.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/docker
say() { echo "docker-suite: $*" >&2; }
suite_start=$(date +%s.%N)

[ "$(id -u)" = 0 ] || { say "run me as root"; exit 2; }

# --- the engine ---------------------------------------------------------------
if [ ! -x /usr/sbin/dockerd ] || [ ! -x /usr/bin/containerd ]; then
    say "installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends docker.io >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends docker.io >&2; } \
        || { say "cannot install docker.io"; exit 2; }
fi
for tool in python3 script; do
    command -v $tool >/dev/null || { say "needs $tool"; exit 2; }
done
TINI=
for t in /usr/bin/docker-init /usr/libexec/docker/docker-init; do
    [ -x "$t" ] && { TINI=$(readlink -f "$t"); break; }
done
[ -n "$TINI" ] || { say "the docker.io package ships no docker-init"; exit 2; }
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || { say "needs a static busybox (busybox-static) at $BUSYBOX"; exit 2; }

if [ -z "${RINIT:-}" ]; then
    RINIT=$("$top/scripts/build-static.sh") || { say "cannot build rinit"; exit 2; }
fi
RINIT=$(readlink -f "$RINIT")

# Short path: the daemons' unix sockets live under it (108 bytes at most).
R=$(mktemp -d /tmp/rinit-docker.XXXXXX)
chmod 0711 "$R"
export DOCKER_HOST=unix://$R/docker.sock DOCKER_CONFIG=$R/client
DOCKER=/usr/bin/docker # the package's client, the daemon's version
CONTAINERD_PID= DOCKERD_PID= MADE_DIRS=
failed_any=0

stop_pid() { # pid name: TERM, up to 20 s, then KILL
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    say "$2 (pid $pid) ignored SIGTERM for 20 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        local ids
        ids=$(timeout 60 $DOCKER ps -aq 2>/dev/null)
        [ -z "$ids" ] || timeout 120 $DOCKER rm -f $ids >/dev/null 2>&1
        ids=$(timeout 60 $DOCKER images -aq 2>/dev/null | sort -u)
        [ -z "$ids" ] || timeout 120 $DOCKER rmi -f $ids >/dev/null 2>&1
        timeout 60 $DOCKER system prune -af --volumes >/dev/null 2>&1
    fi
    stop_pid "$DOCKERD_PID" dockerd
    stop_pid "$CONTAINERD_PID" containerd
    # Shims of containers that outlived the daemons: ours name our root.
    local p d
    for p in /proc/[0-9]*; do
        grep -qsF "$R/" "$p/cmdline" 2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    # Mounts the daemons left under the private root, innermost first.
    awk -v r="$R/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    for d in $MADE_DIRS; do rmdir "$d" 2>/dev/null; done
    if [ -n "${KEEP_ROOT:-}" ]; then say "kept $R"; else rm -rf "$R"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_engine() {
    mkdir -p "$R/containerd" "$R/client" "$R/bin"
    cat >"$R/containerd/config.toml" <<EOF
version = 2
root = "$R/containerd/root"
state = "$R/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$R/containerd/containerd.sock"
[ttrpc]
  address = "$R/containerd/containerd.sock.ttrpc"
[debug]
  address = "$R/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$R/containerd/opt"
EOF
    # Directories the daemons make whatever their flags say (containerd's
    # shim sockets, dockerd's plugin sockets): removed afterwards if they
    # are new and empty.
    local d
    for d in /run/containerd/s /run/containerd /run/docker/plugins /run/docker; do
        [ -e "$d" ] || MADE_DIRS="$MADE_DIRS $d"
    done
    # The init-path file is swapped between rinit and docker-init for the
    # side-by-side runs (dockerd runs it for `docker info` and bind-mounts it
    # at each start, so a swap takes effect at once).
    cp "$RINIT" "$R/bin/docker-init"
    cat >"$R/daemon.json" <<EOF
{"init-path": "$R/bin/docker-init", "iptables": false, "bridge": "none", "ip-masq": false,
 "deprecated-key-path": "$R/key.json"}
EOF
    local t0 t1 i
    t0=$(date +%s.%N)
    containerd --config "$R/containerd/config.toml" >"$R/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    for i in $(seq 300); do [ -S "$R/containerd/containerd.sock" ] && break; sleep 0.1; done
    dockerd --containerd "$R/containerd/containerd.sock" --data-root "$R/data" --exec-root "$R/exec" \
        -H "unix://$R/docker.sock" --pidfile "$R/docker.pid" --config-file "$R/daemon.json" \
        >"$R/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for i in $(seq 600); do
        $DOCKER version >/dev/null 2>&1 && break
        kill -0 $DOCKERD_PID 2>/dev/null || break
        sleep 0.1
    done
    if ! $DOCKER version >/dev/null 2>&1; then
        say "dockerd did not answer within 60 s; its log:"
        cat "$R/dockerd.log" "$R/containerd.log" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    ENGINE_START=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    echo "engine: $($DOCKER version --format 'dockerd {{.Server.Version}}, API {{.Server.APIVersion}}'), up in ${ENGINE_START} s (root $R)"
}

IMG=rinit-docker-test
build_images() {
    local ctx=$R/context
    mkdir -p "$ctx"
    cp "$BUSYBOX" "$ctx/busybox"
    cp "$RINIT" "$ctx/rinit"
    cp "$TINI" "$ctx/docker-init"
    cp "$here/sh-wrap" "$ctx/sh-wrap"
    cp "$R/refuse" "$ctx/refuse"
    chmod 0755 "$ctx"/*
    $DOCKER build -q --network none -f "$here/Dockerfile" -t $IMG:base "$ctx" >/dev/null || return 1
    # Per mode: the init as ENTRYPOINT; and each with STOPSIGNAL SIGUSR1.
    local init ep stop
    for init in rinit tini; do
        case $init in rinit) ep='["/rinit", "--"]' ;; tini) ep='["/docker-init", "--"]' ;; esac
        printf 'FROM %s:base\nENTRYPOINT %s\n' $IMG "$ep" | $DOCKER build -q -t $IMG:$init-ep - >/dev/null || return 1
        printf 'FROM %s:base\nENTRYPOINT %s\nSTOPSIGNAL SIGUSR1\n' $IMG "$ep" |
            $DOCKER build -q -t $IMG:$init-ep-usr1 - >/dev/null || return 1
    done
    printf 'FROM %s:base\nSTOPSIGNAL SIGUSR1\n' $IMG | $DOCKER build -q -t $IMG:base-usr1 - >/dev/null || return 1
    # The seccomp scenarios' refusals, stacked on the engine's default
    # profile: refuse as the ENTRYPOINT before rinit.
    printf 'FROM %s:base\nENTRYPOINT ["/refuse", "--", "/rinit", "--"]\n' $IMG |
        $DOCKER build -q -t $IMG:refuse-ep - >/dev/null || return 1
    # A HEALTHCHECK in the exec form a distroless image would use: rinit is
    # the only program it runs.
    printf 'FROM %s:rinit-ep\nHEALTHCHECK --interval=1s --timeout=3s --retries=2 CMD ["/rinit", "probe", "http://127.0.0.1:8080/"]\n' $IMG |
        $DOCKER build -q -t $IMG:health - >/dev/null || return 1
}

# refuse (tests/docker/refuse.rs), static, with rustc alone: stacks a
# seccomp filter refusing some calls on the engine's profile, then execs.
build_refuse() {
    local triple
    case $(uname -m) in
        x86_64) triple=x86_64-unknown-linux-musl ;;
        aarch64) triple=aarch64-unknown-linux-musl ;;
        *) say "no refuse build for $(uname -m)"; return 1 ;;
    esac
    rustc --edition 2021 -O --target $triple -C linker=rust-lld -C target-feature=+crt-static \
        -C relocation-model=static -C panic=abort -C strip=symbols "$here/refuse.rs" -o "$R/refuse"
}

# rinit built from a tree without .git (what a source tarball gives).
nogit_build() {
    if [ -n "${RINIT_NOGIT:-}" ]; then echo "$RINIT_NOGIT"; return; fi
    local src=$R/nogit-src
    mkdir -p "$src"
    git -C "$top" archive HEAD | tar -x -C "$src" || return 1
    (cd "$src" && cargo build --release --quiet --target-dir "$top/target/docker-nogit") >&2 || return 1
    echo "$top/target/docker-nogit/release/rinit"
}

# --- running scenarios ----------------------------------------------------------
# shellcheck source=tests/docker/scenarios.sh
. "$here/scenarios.sh"

passed=0 failed=0
wanted() { # name/mode
    [ -z "${DOCKER_SCENARIOS:-}" ] && return 0
    local w
    for w in $DOCKER_SCENARIOS; do
        [ "$w" = "$1" ] || [ "$w" = "${1%%/*}" ] && return 0
    done
    return 1
}

# Runs FN MODE INIT in a subshell under a watchdog; its output is the detail.
attempt() { # seconds fn mode init
    local secs=$1 fn=$2 mode=$3 init=$4 out rc
    out=$(
        "$fn" "$mode" "$init" 2>&1 &
        pid=$!
        (sleep "$secs" & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s; echo "watchdog: over ${secs} s"; kill -TERM $pid 2>/dev/null) &
        dog=$!
        wait $pid
        rc=$?
        kill -TERM $dog 2>/dev/null
        wait $dog 2>/dev/null
        exit $rc
    )
    rc=$?
    # Whatever the scenario left running goes now.
    local ids
    ids=$($DOCKER ps -aq --filter label=rinit-docker-test 2>/dev/null)
    [ -z "$ids" ] || $DOCKER rm -f $ids >/dev/null 2>&1
    printf '%s' "$(echo "$out" | tr '\n' ';' | sed 's/;*$//; s/;/; /g')"
    return $rc
}

# scenario NAME "MODES" SIDE_BY_SIDE(yes|no) [SECONDS]
scenario() {
    local name=$1 modes=$2 side=$3 secs=${4:-60} mode detail tdetail trc t0 t1
    for mode in $modes; do
        wanted "$name/$mode" || continue
        t0=$(date +%s.%N)
        if detail=$(attempt "$secs" "sc_$name" "$mode" rinit); then rc=0; else rc=1; fi
        t1=$(date +%s.%N)
        local line
        line="$name/$mode ($(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s): rinit: ${detail:-ok}"
        if [ "$side" = yes ]; then
            if tdetail=$(attempt "$secs" "sc_$name" "$mode" tini); then trc=pass; else trc=FAIL; fi
            line="$line | docker-init: $trc${tdetail:+ ($tdetail)}"
        fi
        if [ $rc = 0 ]; then
            passed=$((passed + 1))
            echo "PASS $line"
        else
            failed=$((failed + 1))
            echo "FAIL $line"
        fi
    done
}

build_refuse || { say "cannot build tests/docker/refuse.rs"; exit 1; }
start_engine
build_images || { say "cannot build the images; dockerd's log:"; cat "$R/dockerd.log" >&2; exit 1; }
echo "rinit under test: $RINIT ($("$RINIT" --version)); docker-init: $TINI ($("$TINI" --version))"

run_all

suite_end=$(date +%s.%N)
echo "suite wall time: $(awk -v a="$suite_start" -v b="$suite_end" 'BEGIN {printf "%.0f", b - a}') s (engine start ${ENGINE_START} s)"
if [ $failed -gt 0 ]; then
    echo "== dockerd's log"
    cat "$R/dockerd.log"
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
