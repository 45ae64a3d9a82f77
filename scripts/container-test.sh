#!/bin/sh
# Stages a build context (static musl rinit, static busybox, the scenario
# script), builds Dockerfile.test with docker or podman, and runs it: every
# scenario runs inside the container with rinit as PID 1.
#
# Environment:
#   RINIT=path     use this static rinit instead of building one
#                  (scripts/build-static.sh)
#   BUSYBOX=path   a static busybox (default: busybox from busybox-static)
#   ENGINE=docker|podman   (default: docker if it answers, else podman)
#   IMAGE=name     image tag (default: localhost/rinit-test:latest)
#   KEEP_IMAGE=1   do not remove the image afterwards
# Exit status: the container's (0 when every scenario passed).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
image=${IMAGE:-localhost/rinit-test:latest}

if [ -z "${RINIT:-}" ]; then
    RINIT=$("$top/scripts/build-static.sh")
fi
BUSYBOX=${BUSYBOX:-$(command -v busybox || true)}
for bin in "$RINIT" "$BUSYBOX"; do
    [ -n "$bin" ] && [ -x "$bin" ] || { echo "container-test: no executable at '$bin' (install busybox-static or set BUSYBOX)" >&2; exit 2; }
    if command -v file >/dev/null && ! file -L "$bin" | grep -Eq 'static(ally|-pie)? linked'; then
        echo "container-test: $bin is not statically linked" >&2
        exit 2
    fi
done

if [ -z "${ENGINE:-}" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
case "$ENGINE" in
    podman)
        # runc with cgroupfs works on hybrid cgroup hosts, where crun does
        # not; runc refuses podman's default rlimits there.
        engine="podman --runtime ${PODMAN_RUNTIME:-runc} --cgroup-manager ${PODMAN_CGROUP_MANAGER:-cgroupfs}"
        run_flags="--ulimit nofile=20000:20000 --ulimit nproc=4096:4096"
        ;;
    docker) engine=docker run_flags= ;;
    *) echo "container-test: ENGINE must be docker or podman, not '$ENGINE'" >&2; exit 2 ;;
esac

context=$(mktemp -d)
cleanup() {
    rm -rf "$context"
    [ -n "${KEEP_IMAGE:-}" ] || $engine rmi -f "$image" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cp "$RINIT" "$context/rinit"
cp "$BUSYBOX" "$context/busybox"
cp "$top/tests/container/scenarios.sh" "$context/scenarios.sh"
chmod 0755 "$context/rinit" "$context/busybox" "$context/scenarios.sh"

$engine build --quiet -f "$top/Dockerfile.test" -t "$image" "$context" >/dev/null
$engine image inspect --format 'image size: {{.Size}} bytes' "$image" 2>/dev/null || true
set +e
# shellcheck disable=SC2086 # run_flags is a list of flags
$engine run --rm $run_flags "$image"
rc=$?
echo "container exit code: $rc"
exit $rc
