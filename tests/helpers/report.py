# Reads the stuck section of a rinit --report JSON document with a real parser and prints its
# facts one per line, for the tests to match:
#   MAIN pid=2 code=4 signal=None timeout_ms=1000
#   TASK pid=3 tid=4 class=fuse state=D exiting=False wchan=request_wait_answer
#        pending=SIGKILL shared=SIGKILL fuse=41:1 freezer=None waiting_for= stack=ok
#   ABORT aborted=41 errors=
import json, sys

doc = json.load(open(sys.argv[1]))
assert doc["schema_version"] == 2, doc
m = doc["main_child"]
stuck = doc["stuck"]
print(f"MAIN pid={m['pid']} code={m['exit_code']} signal={m['signal']} timeout_ms={stuck['stuck_timeout_ms']}")
for t in stuck["tasks"]:
    fuse = ",".join(f"{c['connection']}:{c['waiting']}" for c in t["fuse"])
    freezer = t["freezer"]["state"] if t["freezer"] else None
    stack = "ok" if t["stack"] is not None else "error:" + t["stack_error"]
    print(
        f"TASK pid={t['pid']} tid={t['tid']} class={t['class']} state={t['state']} exiting={t['exiting']} "
        f"wchan={t['wchan']} pending={'+'.join(t['pending'])} shared={'+'.join(t['shared_pending'])} "
        f"fuse={fuse} freezer={freezer} waiting_for={'+'.join(map(str, t['waiting_for']))} "
        f"live_threads={'+'.join(map(str, t['live_threads']))} nspid={'+'.join(map(str, t['nspid']))} stack={stack}"
    )
    assert t["explanation"] and t["remedy"], t
if stuck["fuse_abort"] is not None:
    a = stuck["fuse_abort"]
    print(f"ABORT aborted={'+'.join(map(str, a['aborted']))} errors={'|'.join(a['errors'])}")
