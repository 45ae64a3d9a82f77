# Blocks every signal it can and reports each one it receives, as
# "GOT <signo> from <pid>", until it gets the signal named in argv[1].
import os, signal, sys

stop = int(sys.argv[1])
# 32 and 33 belong to glibc, which refuses to block them.
sigs = set(range(1, 65)) - {9, 19, 32, 33}
signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
print(f"READY {os.getpid()} {os.getpgrp()}", flush=True)
while True:
    info = signal.sigwaitinfo(sigs)
    print(f"GOT {info.si_signo} from {info.si_pid}", flush=True)
    if info.si_signo == stop:
        sys.exit(0)
