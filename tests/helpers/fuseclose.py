# Opens argv[1] (a file on a FUSE mount whose daemon never answers FLUSH)
# and close()s it from a second thread, which then blocks in the kernel
# (fuse_flush -> request_wait_answer); the main thread just waits. With a
# second argument, it creates that file once the closer is blocked there.
# os.close releases the GIL, so the main thread keeps running.
import os, signal, sys, threading, time

fd = os.open(sys.argv[1], os.O_RDONLY)
closer_tid = []
started = threading.Event()

def closer():
    closer_tid.append(threading.get_native_id())
    print(f"closing tid={closer_tid[0]}", flush=True)
    started.set()
    os.close(fd)
    print("closed", flush=True)

threading.Thread(target=closer).start()
if len(sys.argv) > 2:
    started.wait()
    wchan = f"/proc/self/task/{closer_tid[0]}/wchan"
    deadline = time.monotonic() + 10
    while open(wchan).read() != "request_wait_answer":
        if time.monotonic() > deadline:
            sys.exit(f"the closer never blocked on the FUSE FLUSH ({wchan})")
        time.sleep(0.01)
    open(sys.argv[2], "w").close()
signal.pause()
