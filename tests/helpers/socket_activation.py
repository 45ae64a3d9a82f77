#!/usr/bin/env python3
"""Socket activation as podman does it, around rinit.

socket_activation.py wrap LISTEN_PID RINIT ARGS...
    Listens on 127.0.0.1 (an ephemeral port) on fd 3, prints "port N",
    sets LISTEN_FDS=1 and LISTEN_PID (`self`: this process's pid, which
    rinit keeps through the exec, as podman's 1 is rinit's), and execs
    RINIT ARGS.
socket_activation.py serve
    The command: says what LISTEN_PID holds; when it is its own pid, as
    sd_listen_fds(3) requires, accepts one connection on fd 3 and answers
    "served by PID"; exit 0, else exit 1 without accepting.
"""
import os
import socket
import sys


def wrap(listen_pid, command):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    port = sock.getsockname()[1]
    if sock.fileno() != 3:
        os.dup2(sock.fileno(), 3)
        sock.close()
    os.set_inheritable(3, True)
    print(f"port {port}", flush=True)
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid()) if listen_pid == "self" else listen_pid
    os.execv(command[0], command)


def serve():
    listen_pid = os.environ.get("LISTEN_PID")
    print(f"LISTEN_PID={listen_pid} pid={os.getpid()} ppid={os.getppid()} LISTEN_FDS={os.environ.get('LISTEN_FDS')}", flush=True)
    if listen_pid != str(os.getpid()):
        sys.exit(1)
    listener = socket.socket(fileno=3)
    conn, _ = listener.accept()
    conn.sendall(f"served by {os.getpid()}\n".encode())
    conn.close()
    sys.exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "wrap":
        wrap(sys.argv[2], sys.argv[3:])
    else:
        serve()
