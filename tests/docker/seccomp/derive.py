#!/usr/bin/env python3
"""Writes Docker's default seccomp profile (default.json, moby v20.10.24's
profiles/seccomp/default.json, Apache-2.0) with pidfd_open,
pidfd_send_signal and close_range made to fail with one errno: what an old
runtime's profile (EPERM) or an old kernel (ENOSYS) shows rinit.

    derive.py DEFAULT.json EPERM|ENOSYS OUT.json
"""
import json
import sys

DENIED = ["pidfd_open", "pidfd_send_signal", "close_range"]
ERRNO = {"EPERM": 1, "ENOSYS": 38}

src, errno, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(src) as f:
    profile = json.load(f)
for rule in profile["syscalls"]:
    rule["names"] = [n for n in rule["names"] if n not in DENIED]
profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
# The profile's default is already EPERM; an explicit rule says so either way.
profile["syscalls"].append(
    {"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": ERRNO[errno], "args": []}
)
with open(out, "w") as f:
    json.dump(profile, f, indent=1)
