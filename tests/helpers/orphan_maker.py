# Makes exactly argv[1] orphans, each a process named argv[2] (by prctl
# PR_SET_NAME) whose parent exits at once; waits until rinit has reaped
# them all (no zombie left), then exits 0. rinit must be its parent.
import ctypes, os, sys, time

count, name = int(sys.argv[1]), sys.argv[2].encode()
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
            os.close(w)
            os.read(r, 1)  # returns at EOF: every orphan is named by then
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
os.close(r)
os.close(w)

def zombies_or_orphans():
    # Everything but the namespace's init, rinit and this process.
    skip, found = (1, os.getppid(), os.getpid()), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in skip:
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            found += 1
    return found

deadline = time.monotonic() + 30
while zombies_or_orphans() and time.monotonic() < deadline:
    time.sleep(0.02)
print(f"LEFT {zombies_or_orphans()}", flush=True)
