# Two roles. "caller": open an inheritable descriptor at fd 7 and exec
# argv[2:] (rinit ...). "child": report its own descriptors and rinit's
# (its parent's) descriptors and working directory.
import os, sys, time

def fds(pid):
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return out

if sys.argv[1] == "caller":
    fd = os.open("/dev/null", os.O_RDONLY)
    os.dup2(fd, 7)
    os.close(fd)
    os.set_inheritable(7, True)
    print("CALLER_FDS " + ",".join(str(fd) for fd, t in sorted(fds("self").items()) if not t.endswith("/fd")), flush=True)
    os.execv(sys.argv[2], sys.argv[2:])

own = {fd: target for fd, target in fds("self").items() if not target.endswith("/fd")}
parent = os.getppid()
# rinit closes inherited descriptors right after spawning us: give it time.
deadline = time.monotonic() + 5
while 7 in fds(parent) and time.monotonic() < deadline:
    time.sleep(0.01)
theirs = fds(parent)
print("CHILD_FDS " + ",".join(str(fd) for fd in sorted(own)))
print("RINIT_FDS " + ",".join(f"{fd}={theirs[fd]}" for fd in sorted(theirs)))
print("RINIT_CWD " + os.readlink(f"/proc/{parent}/cwd"))
print("CHILD_CWD " + os.getcwd())
