# Creates argv[1] orphans that all exit at the same moment, then waits until
# no zombie and no other process is left in the namespace (bounded), and
# prints "ZOMBIES <z> LEFT <n>".
import os, sys, time

count = int(sys.argv[1])
r, w = os.pipe()
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os.close(w)
            os.read(r, 1)  # returns at EOF, when the parent closes w
            os._exit(0)
        os._exit(0)
    os.waitpid(pid, 0)
os.close(r)
print(f"CREATED {count}", flush=True)
os.close(w)  # every orphan exits now

def others():
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                stat = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            found.append(stat[stat.rfind(")") + 2])
    return found

deadline = time.monotonic() + 30
while others() and time.monotonic() < deadline:
    time.sleep(0.05)
left = others()
print(f"ZOMBIES {left.count('Z')} LEFT {len(left)}", flush=True)
