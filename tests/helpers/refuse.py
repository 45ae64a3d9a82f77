# Runs a command under a seccomp filter that refuses some syscalls with
# one errno, as a restrictive container profile (EPERM) or an old kernel
# (ENOSYS) would, and allows every other call:
#
#   refuse.py --errno EPERM|ENOSYS SYSCALL[:ARG0][,SYSCALL[:ARG0]...] -- CMD...
#
# SYSCALL:ARG0 refuses the call only when its first argument is ARG0:
# prctl:36 is PR_SET_CHILD_SUBREAPER, prctl:1 PR_SET_PDEATHSIG, waitid:3
# waitid(P_PIDFD). The filter is a classic BPF program of our own (no
# libseccomp), installed with no_new_privs; it stays on across exec and
# fork, so the command and everything it starts get the same refusals.
# Exit 2 on a usage error, 1 when the filter cannot be installed.
import ctypes, errno, os, platform, struct, sys

# seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
NR_OFFSET, ARCH_OFFSET, ARG0_OFFSET = 0, 4, 16

ARCHES = {
    "x86_64": (0xC000003E, {
        "prctl": 157, "waitid": 247, "signalfd": 282, "signalfd4": 289,
        "getrandom": 318, "pidfd_send_signal": 424, "pidfd_open": 434,
        "close_range": 436, "clone3": 435, "eventfd2": 290,
    }),
    "aarch64": (0xC00000B7, {
        "prctl": 167, "waitid": 95, "signalfd4": 74, "getrandom": 278,
        "pidfd_send_signal": 424, "pidfd_open": 434, "close_range": 436,
        "clone3": 435, "eventfd2": 19,
    }),
}

BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def usage(why):
    sys.stderr.write(f"refuse.py: {why}\n"
                     "usage: refuse.py --errno EPERM|ENOSYS SYSCALL[:ARG0][,...] -- CMD...\n")
    sys.exit(2)


def program(arch, numbers, rules, err):
    def insn(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)

    out = [
        insn(BPF_LD_W_ABS, ARCH_OFFSET),
        # Another ABI (32-bit compat): not ours to refuse.
        insn(BPF_JEQ_K, arch, 1, 0),
        insn(BPF_RET_K, SECCOMP_RET_ALLOW),
    ]
    for name, arg0 in rules:
        nr = numbers[name]
        out.append(insn(BPF_LD_W_ABS, NR_OFFSET))
        if arg0 is None:
            out.append(insn(BPF_JEQ_K, nr, 0, 1))
        else:
            # The low 32 bits of args[0] (little-endian on both arches):
            # prctl's option and waitid's idtype are ints.
            out.append(insn(BPF_JEQ_K, nr, 0, 3))
            out.append(insn(BPF_LD_W_ABS, ARG0_OFFSET))
            out.append(insn(BPF_JEQ_K, arg0, 0, 1))
        out.append(insn(BPF_RET_K, SECCOMP_RET_ERRNO | err))
    out.append(insn(BPF_RET_K, SECCOMP_RET_ALLOW))
    return b"".join(out), len(out)


def main(argv):
    if len(argv) < 5 or argv[0] != "--errno" or argv[3] != "--":
        usage("expected --errno ERRNO SYSCALLS -- CMD...")
    err = getattr(errno, argv[1], None)
    if argv[1] not in ("EPERM", "ENOSYS") or err is None:
        usage(f"unsupported errno {argv[1]!r}")
    machine = platform.machine()
    if machine not in ARCHES:
        usage(f"no syscall table for {machine}")
    arch, numbers = ARCHES[machine]
    rules = []
    for spec in argv[2].split(","):
        name, _, arg0 = spec.partition(":")
        if name not in numbers:
            usage(f"unknown syscall {name!r} (known: {', '.join(sorted(numbers))})")
        rules.append((name, int(arg0, 0) if arg0 else None))
    command = argv[4:]

    code, count = program(arch, numbers, rules, err)
    filters = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(count, ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        sys.stderr.write(f"refuse.py: PR_SET_NO_NEW_PRIVS: {os.strerror(ctypes.get_errno())}\n")
        sys.exit(1)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        sys.stderr.write(f"refuse.py: PR_SET_SECCOMP: {os.strerror(ctypes.get_errno())}\n")
        sys.exit(1)
    sys.stdout.flush()
    os.execvp(command[0], command)


main(sys.argv[1:])
