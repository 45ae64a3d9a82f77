# A caller with an unusual signal state: it blocks and ignores some signals,
# prints its own SigBlk/SigIgn, then execs argv[2:] (rinit ...). argv[1]
# says whether SIGPIPE is left ignored (as Python leaves it) or reset, and
# with ",chld-ignored" SIGCHLD is ignored too (`trap '' CHLD`).
import os, signal, sys

modes = sys.argv[1].split(",")
if "pipe-default" in modes:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
if "chld-ignored" in modes:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for s in (signal.SIGHUP, signal.SIGUSR2, 40):
    signal.signal(s, signal.SIG_IGN)
# Handlers do not survive exec; make sure nothing of Python's stays caught.
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM, signal.SIGWINCH, 36, 64})
status = open("/proc/self/status").read().splitlines()
for line in status:
    if line.startswith(("SigBlk:", "SigIgn:")):
        print("CALLER " + line.replace("\t", " "), file=sys.stderr, flush=True)
os.execv(sys.argv[2], sys.argv[2:])
