#!/usr/bin/env bash
# Runs the cgroup and stuck integration tests as on a pure cgroup v2 host,
# on a hybrid one: in a private mount namespace where /sys/fs/cgroup is
# cgroup2 alone (the v1 hierarchies and the tmpfs that holds them are
# unmounted). /proc/self/cgroup still lists the v1 hierarchies there; rinit
# and the tests must go by what is mounted.
#
# The cgroup2 mounted here is the host's unified hierarchy (the one at
# /sys/fs/cgroup/unified): the tests create only uniquely named cgroups
# under their own cgroup and remove them, as they do outside.
#
# Usage: tests/cgroup2-only.sh [LIBTEST ARGS...]
#   IT_BINARY           the prebuilt integration test binary (default: cargo
#                       test --test it builds and runs it)
#   RINIT_TEST_BINARY   the rinit under test (passed through)
#   RINIT_TEST_REQUIRE  the needs that must be met here (default below: what
#                       a v2-only host offers; v1 freezer and memory are not)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --inside ]; then
    if [ -z "${IT_BINARY:-}" ]; then
        # Built out here, so that the namespace only runs it.
        IT_BINARY=$(cargo test --test it --no-run --message-format=json-render-diagnostics |
            python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
    fi
    export IT_BINARY
    export RINIT_TEST_REQUIRE="${RINIT_TEST_REQUIRE_CGROUP2_ONLY:-root,pidns,cgroup2,fuse,python3}"
    exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift

umount --recursive /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# Prove the layout before trusting the results.
if grep -q ' - cgroup ' /proc/self/mountinfo; then
    echo "cgroup2-only: a cgroup v1 hierarchy is still mounted:" >&2
    grep ' - cgroup ' /proc/self/mountinfo >&2
    exit 1
fi
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || {
    echo "cgroup2-only: /sys/fs/cgroup is not cgroup2" >&2
    exit 1
}
echo "== cgroup2 only: $(grep ' /sys/fs/cgroup ' /proc/self/mountinfo)"
echo "== RINIT_TEST_REQUIRE=$RINIT_TEST_REQUIRE"

status=0
# libtest takes one filter: one run per group.
for group in cgroups:: stuck::; do
    echo "== $group (cgroup2 only)"
    "$IT_BINARY" "$group" "$@" || status=1
done
exit $status
