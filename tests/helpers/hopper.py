# A fork-and-exit "hopper": each generation forks the next and exits at
# once, so no pid lives long; it creates argv[1].hopping once it hops.
# Whichever generation gets SIGTERM appends its pid to argv[1] and exits: SIGTERM is blocked around the fork, so
# that one arriving meanwhile is handled, not lost to the exit. argv[2]
# is not read: a unique word in the command line, for the test to find
# any generation left.
import os, signal, sys

marker = sys.argv[1]


def on_term(_sig, _frame):
    with open(marker, "a") as f:
        f.write(f"{os.getpid()}\n")
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)
term = {signal.SIGTERM}
generation = 0
while True:
    generation += 1
    if generation == 100:
        open(marker + ".hopping", "w").close()
    signal.pthread_sigmask(signal.SIG_BLOCK, term)
    child = os.fork()
    # Runs the handler if SIGTERM came meanwhile, in either generation.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
    if child:
        os._exit(0)
