#!/usr/bin/env python3
"""Cgroup trees nested past PATH_MAX, made and removed one component at a
time through directory descriptors (an absolute path that deep is refused
with ENAMETOOLONG).

  deep_cgroups.py build DIR LEVELS [--sleeper] [--freeze]
      LEVELS nested sub-cgroups of a 20-character name under the cgroup DIR;
      --sleeper moves a new `sleep 1000` (stdio on /dev/null) into the
      deepest, --freeze then writes FROZEN to its v1 freezer.state. Prints
      the depth in bytes of the deepest path.
  deep_cgroups.py remove DIR
      Test clean-up: thaws (v1) and kills (cgroup.kill) what is there, then
      removes every cgroup of the tree at DIR, deepest first.
"""
import os
import subprocess
import sys
import time

NAME = "nested-twenty-chars-"  # 20 characters


def write_at(fd, name, text):
    try:
        f = os.open(name, os.O_WRONLY, dir_fd=fd)
    except FileNotFoundError:
        return False
    try:
        os.write(f, text.encode())
    except OSError:
        return False
    finally:
        os.close(f)
    return True


def build(top, levels, sleeper, freeze):
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(NAME, dir_fd=fd)
        sub = os.open(NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = sub
    if sleeper:
        null = open(os.devnull, "r+b")
        child = subprocess.Popen(
            ["sleep", "1000"], stdin=null, stdout=null, stderr=null
        )
        assert write_at(fd, "cgroup.procs", str(child.pid))
        if freeze:
            assert write_at(fd, "freezer.state", "FROZEN")
    print(len(top) + levels * (len(NAME) + 1))


def remove(top):
    if not os.path.isdir(top):
        return
    write_at(os.open(top, os.O_RDONLY | os.O_DIRECTORY), "cgroup.kill", "1")
    # Down the (single-child) chain, keeping every level open.
    chain = [(os.open(top, os.O_RDONLY | os.O_DIRECTORY), None)]
    while True:
        fd = chain[-1][0]
        write_at(fd, "freezer.state", "THAWED")
        subs = [e.name for e in os.scandir(fd) if e.is_dir(follow_symlinks=False)]
        if not subs:
            break
        chain.append((os.open(subs[0], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), subs[0]))
    for i in range(len(chain) - 1, 0, -1):
        for _ in range(100):
            try:
                os.rmdir(chain[i][1], dir_fd=chain[i - 1][0])
                break
            except OSError:
                time.sleep(0.01)
    for fd, _ in chain:
        os.close(fd)
    for _ in range(100):
        try:
            os.rmdir(top)
            break
        except OSError:
            time.sleep(0.01)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "build":
        build(args[1], int(args[2]), "--sleeper" in args, "--freeze" in args)
    elif args[0] == "remove":
        remove(args[1])
    else:
        sys.exit(f"usage: {sys.argv[0]} build DIR LEVELS [--sleeper] [--freeze] | remove DIR")
