#!/usr/bin/env python3
"""A process that keeps forking and exiting: each generation forks the next
and exits at once, so its pid changes all the time and a single pass of
SIGKILL over a cgroup's members usually finds only its exited ancestors.
Ignores SIGTERM (inherited by every generation); stdio on /dev/null, so that
an escaped hopper holds no test's pipe. Prints "hopping" first.
"""
import os
import signal
import sys

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("hopping", flush=True)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
while True:
    try:
        if os.fork():
            os._exit(0)
    except OSError:
        pass
