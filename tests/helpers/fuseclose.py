# Opens argv[1] (a file on a FUSE mount whose daemon never answers FLUSH)
# and close()s it from a second thread, which then blocks in the kernel
# (fuse_flush -> request_wait_answer); the main thread just waits. With a
# second argument, it creates that file once the closer has started.
# os.close releases the GIL, so the main thread keeps running.
import os, signal, sys, threading, time

fd = os.open(sys.argv[1], os.O_RDONLY)

def closer():
    print(f"closing tid={threading.get_native_id()}", flush=True)
    os.close(fd)
    print("closed", flush=True)

threading.Thread(target=closer).start()
if len(sys.argv) > 2:
    # Tell the test the closer is (about to be) blocked.
    time.sleep(0.2)
    open(sys.argv[2], "w").close()
signal.pause()
