# Leaves argv[1] processes behind for rinit's teardown: forks them, each
# waiting for a signal with the default dispositions (SIGTERM ends it),
# then exits 0 once they all exist, so that rinit (a subreaper) inherits
# them all at once.
import os, signal, sys

count = int(sys.argv[1])
for _ in range(count):
    if os.fork() == 0:
        while True:
            signal.pause()
print(f"SPREAD {count}", flush=True)
