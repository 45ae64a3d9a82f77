//! The seccomp refusals of the Docker suite: stacks a seccomp filter that
//! makes some syscalls fail with one errno on top of whatever the process
//! already runs under (in a container: the engine's built-in default
//! profile), then execs a command. Seccomp filters stack and the most
//! restrictive result wins, so the command sees the engine's profile with
//! these calls refused, as an old runtime's profile (EPERM) or an old kernel
//! (ENOSYS) would refuse them. Built static by run.sh with `rustc` alone
//! (no dependencies), the counterpart of tests/helpers/refuse.py.
//!
//! `refuse [SPEC] -- CMD...` installs the filter and execs CMD (a path or a
//! name looked up in PATH). SPEC is `ERRNO:SYSCALL[,SYSCALL...]`, ERRNO one
//! of EPERM, ENOSYS or a number, SYSCALL a name below or a number; without
//! SPEC it comes from the REFUSE environment variable, e.g.
//! `REFUSE=EPERM:pidfd_open,pidfd_send_signal,close_range`.
//!
//! As the daemon's init-path (argv[0] ending in `docker-init`: dockerd runs
//! `/sbin/docker-init -- CMD...`) or when REFUSE_EXEC names a program, it
//! installs the filter from REFUSE and execs that program (default /rinit)
//! with all of its own arguments.
//!
//! The filter is a classic BPF program (no libseccomp): another audit
//! architecture (a 32-bit compat call) is allowed, a listed number returns
//! SECCOMP_RET_ERRNO with the errno, anything else is allowed. It is
//! installed with no_new_privs (the default profile allows prctl and
//! seccomp) and stays on across fork and exec. Exit 2 on a usage error, 1
//! when the filter cannot be installed, 127 when the exec fails.
use std::{
    env,
    ffi::{c_char, c_int, c_ulong, CString},
    io,
    os::unix::ffi::OsStrExt,
    process,
};

extern "C" {
    fn prctl(option: c_int, ...) -> c_int;
    fn execvp(file: *const c_char, argv: *const *const c_char) -> c_int;
}

#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

// The calls added since Linux 5.0 have one number on every architecture.
const SYSCALLS: &[(&str, u32)] = &[
    ("pidfd_send_signal", 424),
    ("pidfd_open", 434),
    ("clone3", 435),
    ("close_range", 436),
    ("pidfd_getfd", 438),
];

// seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7FFF_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const PR_SET_NO_NEW_PRIVS: c_int = 38;
const PR_SET_SECCOMP: c_int = 22;
const SECCOMP_MODE_FILTER: c_ulong = 2;

fn usage(why: &str) -> ! {
    eprintln!("refuse: {why}");
    eprintln!("usage: refuse [ERRNO:SYSCALL[,SYSCALL...]] -- CMD...  (or REFUSE=ERRNO:SYSCALL,... in the environment)");
    process::exit(2);
}

fn number(word: &str, names: &[(&str, u32)], what: &str) -> u32 {
    if let Some(&(_, n)) = names.iter().find(|(name, _)| *name == word) {
        return n;
    }
    word.parse()
        .unwrap_or_else(|_| usage(&format!("unknown {what} '{word}'")))
}

/// `ERRNO:SYSCALL[,SYSCALL...]` to the errno and the syscall numbers.
fn parse_spec(spec: &str) -> (u32, Vec<u32>) {
    let (errno, calls) = spec
        .split_once(':')
        .unwrap_or_else(|| usage(&format!("'{spec}' is not ERRNO:SYSCALL[,SYSCALL...]")));
    let errno = number(errno, &[("EPERM", 1), ("ENOSYS", 38)], "errno");
    if errno == 0 || errno > 4095 {
        usage(&format!("errno {errno} out of range"));
    }
    let numbers: Vec<u32> = calls
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| number(c, SYSCALLS, "syscall"))
        .collect();
    if numbers.is_empty() {
        usage(&format!("'{spec}' names no syscall"));
    }
    (errno, numbers)
}

fn program(errno: u32, numbers: &[u32]) -> Vec<SockFilter> {
    let insn = |code, k, jt, jf| SockFilter { code, jt, jf, k };
    let mut out = vec![
        insn(BPF_LD_W_ABS, ARCH_OFFSET, 0, 0),
        // Another ABI (32-bit compat): its numbers differ; not ours to refuse.
        insn(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        insn(BPF_RET_K, SECCOMP_RET_ALLOW, 0, 0),
    ];
    for &nr in numbers {
        out.push(insn(BPF_LD_W_ABS, NR_OFFSET, 0, 0));
        out.push(insn(BPF_JEQ_K, nr, 0, 1));
        out.push(insn(BPF_RET_K, SECCOMP_RET_ERRNO | errno, 0, 0));
    }
    out.push(insn(BPF_RET_K, SECCOMP_RET_ALLOW, 0, 0));
    out
}

fn install(errno: u32, numbers: &[u32]) -> io::Result<()> {
    let filter = program(errno, numbers);
    let prog = SockFprog {
        len: filter.len() as u16,
        filter: filter.as_ptr(),
    };
    // SAFETY: prctl with integer arguments; PR_SET_NO_NEW_PRIVS reads none
    // but the first.
    if unsafe {
        prctl(
            PR_SET_NO_NEW_PRIVS,
            1 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    } != 0
    {
        return Err(io::Error::other(format!(
            "prctl(PR_SET_NO_NEW_PRIVS): {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: prog and the instructions it points to live until the call
    // returns; the kernel copies the program.
    let rc = unsafe {
        prctl(
            PR_SET_SECCOMP,
            SECCOMP_MODE_FILTER,
            &prog as *const SockFprog,
            0 as c_ulong,
            0 as c_ulong,
        )
    };
    if rc != 0 {
        return Err(io::Error::other(format!(
            "prctl(PR_SET_SECCOMP): {}",
            io::Error::last_os_error()
        )));
    }
    Ok(())
}

fn exec(command: &[CString]) -> ! {
    let mut argv: Vec<*const c_char> = command.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of NUL-terminated strings
    // that outlive the call; execvp returns only on failure.
    unsafe { execvp(argv[0], argv.as_ptr()) };
    eprintln!(
        "refuse: exec {}: {}",
        command[0].to_string_lossy(),
        io::Error::last_os_error()
    );
    process::exit(127);
}

fn from_env() -> String {
    env::var("REFUSE").unwrap_or_else(|_| usage("REFUSE is not set"))
}

fn main() {
    let args: Vec<CString> = env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_else(|_| usage("NUL in an argument")))
        .collect();
    let argv0 = args.first().map(|a| a.to_bytes()).unwrap_or_default();
    let as_init = argv0.ends_with(b"docker-init");
    let target = env::var_os("REFUSE_EXEC");
    let (spec, command) = if as_init || target.is_some() {
        let target = target.unwrap_or_else(|| "/rinit".into());
        let mut command =
            vec![CString::new(target.as_bytes()).unwrap_or_else(|_| usage("NUL in REFUSE_EXEC"))];
        command.extend_from_slice(&args[1..]);
        (from_env(), command)
    } else {
        let dashes = args
            .iter()
            .position(|a| a.to_bytes() == b"--")
            .unwrap_or_else(|| usage("no '--' before the command"));
        let spec = match &args[1..dashes] {
            [] => from_env(),
            [spec] => spec.to_string_lossy().into_owned(),
            _ => usage("one SPEC at most before '--'"),
        };
        if dashes + 1 == args.len() {
            usage("no command after '--'");
        }
        (spec, args[dashes + 1..].to_vec())
    };
    let (errno, numbers) = parse_spec(&spec);
    if let Err(e) = install(errno, &numbers) {
        eprintln!("refuse: {e}");
        process::exit(1);
    }
    exec(&command);
}
