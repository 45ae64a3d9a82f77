# Counts a burst of queued real-time signals (and coalescing standard ones).
# argv: SIG COUNT SELF_SEND. With SELF_SEND=1 it sends the burst to PID 1
# itself (signals from inside the namespace); otherwise it waits for them.
# Prints "COUNT <n> USR1 <k>" and exits 42.
import os, signal, sys, time

sig, count, self_send = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
signal.pthread_sigmask(signal.SIG_BLOCK, {sig, signal.SIGUSR1})
print("READY", flush=True)
if self_send:
    for i in range(count):
        os.kill(1, sig)
        if i % 100 == 0:
            os.kill(1, signal.SIGUSR1)
got = usr1 = 0
deadline = time.monotonic() + 20
while got < count and time.monotonic() < deadline:
    info = signal.sigtimedwait({sig, signal.SIGUSR1}, 1)
    if info is None:
        continue
    if info.si_signo == sig:
        got += 1
    else:
        usr1 += 1
# Let the last standard signals arrive too.
while signal.sigtimedwait({signal.SIGUSR1}, 0.2):
    usr1 += 1
print(f"COUNT {got} USR1 {usr1}", flush=True)
sys.exit(42)
