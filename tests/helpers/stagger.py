# Makes argv[1] orphans named argv[2] (prctl PR_SET_NAME) that exit one
# after another over argv[3] seconds, so that rinit often finds no child
# ready just as the next one exits; waits until rinit has reaped them all
# (bounded), then prints "LEFT <n>". rinit must be its parent.
import ctypes, os, sys, time

count, name, spread = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
start = time.monotonic() + 0.2
for i in range(count):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            libc.prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
            time.sleep(max(0.0, start + spread * i / count - time.monotonic()))
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)


def others():
    skip = (1, os.getppid(), os.getpid())
    return sum(1 for e in os.listdir("/proc") if e.isdigit() and int(e) not in skip)


deadline = time.monotonic() + spread + 30
while others() and time.monotonic() < deadline:
    time.sleep(0.02)
print(f"LEFT {others()}", flush=True)
