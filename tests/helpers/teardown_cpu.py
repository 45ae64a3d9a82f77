# Runs argv[1:] (rinit and its arguments) as a child and prints
# "RINIT-EXIT <code> CPU-MS <ms>": the CPU time rinit itself used
# (/proc/PID/schedstat), read once it has exited but before it is reaped,
# so that neither the processes it reaped nor anything after counts.
# With --pid1 first, the child is PID 1 of a new PID namespace with its
# own /proc (as `unshare --pid --fork --mount-proc`); otherwise it is an
# ordinary child, so rinit is a subreaper.
import ctypes, os, subprocess, sys

args = sys.argv[1:]
pid1 = args[:1] == ["--pid1"]
if pid1:
    args = args[1:]
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
    MS_REC, MS_PRIVATE = 0x4000, 0x40000
    if libc.unshare(CLONE_NEWPID) != 0:
        sys.exit(f"unshare: {os.strerror(ctypes.get_errno())}")


def mount_proc():
    # In the child: PID 1 of the new namespace, in a mount namespace of
    # its own, so that /proc is the new namespace's.
    if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(
        b"none", b"/", None, MS_REC | MS_PRIVATE, None
    ) != 0 or libc.mount(b"proc", b"/proc", b"proc", 0, None) != 0:
        os._exit(125)


child = subprocess.Popen(args, preexec_fn=mount_proc if pid1 else None)
os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
with open(f"/proc/{child.pid}/schedstat") as f:
    cpu_ns = int(f.read().split()[0])
code = child.wait()
print(f"RINIT-EXIT {code} CPU-MS {cpu_ns / 1e6:.1f}", flush=True)
