//! The only module with `unsafe`: raw signal masks, signalfd, waitpid,
//! kill, fork/exec, prctl, and the C runtime's argv. Every function is a thin
//! wrapper; policy lives elsewhere.
//!
//! One idiom throughout: the `libc` crate's declarations, each result
//! checked here (`check`), rather than a mix with nix's typed wrappers,
//! whose `Signal` enum cannot even name the real-time signals rinit
//! forwards.
//!
//! Raw syscalls rather than libc's wrappers for masks and signalfd: glibc and
//! musl both hide the signals they reserve for themselves (32..34) from
//! `sigprocmask`, and rinit must restore the caller's mask bit for bit.
#![allow(unsafe_code)]

use crate::signals::{Origin, SigSet, Signo};
use std::ffi::{CString, c_char, c_int};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

/// The arguments the C runtime handed to `main`, as Rust strings.
///
/// Only for the C entry point in `main.rs`, with the `argc` and `argv` the C
/// runtime passed it.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[cfg(not(test))]
pub fn args_from_c(argc: c_int, argv: *const *const c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStringExt;
    (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| {
            // SAFETY: the C runtime passes argc valid, NUL-terminated
            // strings in argv, alive for the whole process.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsString::from_vec(arg.to_bytes().to_vec())
        })
        .collect()
}

/// For the targets whose only unwinder in Debian is glibc's libgcc_eh
/// (ppc64le, s390x, riscv64): it asks `_dl_find_object`, which musl lacks,
/// for the unwind tables of a code address. Nothing in rinit unwinds (a
/// panic aborts), so "no object here" is the whole answer, and the link
/// succeeds against musl.
#[cfg(all(
    target_env = "musl",
    any(
        target_arch = "powerpc64",
        target_arch = "s390x",
        target_arch = "riscv64"
    )
))]
#[unsafe(no_mangle)]
extern "C" fn _dl_find_object(_pc: *mut libc::c_void, _result: *mut libc::c_void) -> c_int {
    -1
}

/// read(2), retried when a signal interrupts it.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes.
unsafe fn read_retrying(fd: c_int, buf: *mut libc::c_void, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: the caller guarantees `buf` holds `len` writable bytes.
        let n = unsafe { libc::read(fd, buf, len) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn sigprocmask(how: c_int, set: Option<SigSet>) -> io::Result<SigSet> {
    let new = set.map(|s| s.0);
    let mut old: u64 = 0;
    // SAFETY: both pointers reference live u64s (or NULL for "no new set");
    // the kernel sigset size on Linux is 8 bytes.
    check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            how,
            new.as_ref().map_or(std::ptr::null(), |n| n as *const u64),
            &mut old as *mut u64,
            8usize,
        )
    })?;
    Ok(SigSet(old))
}

/// Blocks `set` and returns the mask the process had before.
pub fn block_signals(set: SigSet) -> io::Result<SigSet> {
    sigprocmask(libc::SIG_BLOCK, Some(set))
}

/// sigaction(2) on SIGCHLD: sets `handler` (when given) and returns the
/// handler it had.
fn sigchld_handler(handler: Option<libc::sighandler_t>) -> io::Result<libc::sighandler_t> {
    // SAFETY: an all-zero sigaction is valid: no handler, no flags, an
    // empty mask.
    let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let new_ptr = handler.map_or(std::ptr::null(), |h| {
        new.sa_sigaction = h;
        &new as *const libc::sigaction
    });
    // SAFETY: both pointers reference live sigactions (or NULL for "no
    // change"); SIG_IGN and SIG_DFL run no code of ours.
    check(unsafe { libc::sigaction(libc::SIGCHLD, new_ptr, &mut old) }.into())?;
    Ok(old.sa_sigaction)
}

/// Sets SIGCHLD back to its default if the caller left it ignored, and
/// says whether it was. Ignored, it makes the kernel reap every child
/// itself (as SA_NOCLDWAIT does): waitpid would never report one, and
/// rinit would wait for its child forever.
pub fn unignore_sigchld() -> io::Result<bool> {
    if sigchld_handler(None)? != libc::SIG_IGN {
        return Ok(false);
    }
    sigchld_handler(Some(libc::SIG_DFL))?;
    Ok(true)
}

/// Takes a pending `sig` off the calling thread without waiting; false if
/// none was pending. A write that fails with EPIPE (SIGPIPE) or EFBIG
/// (SIGXFSZ) raises the signal at the writing thread itself, and the kernel
/// hands out a thread's own pending signals before the process's, so after
/// such a write this takes that one and leaves one another process sent to
/// be forwarded.
pub fn take_own_signal(sig: Signo) -> io::Result<bool> {
    let set: u64 = sig.bit();
    let no_wait = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the set points to a live u64 (the kernel sigset size on Linux
    // is 8 bytes), the timeout to a live timespec; a NULL siginfo is allowed.
    let taken = check(unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            &set as *const u64,
            std::ptr::null_mut::<libc::siginfo_t>(),
            &no_wait as *const libc::timespec,
            8usize,
        )
    });
    match taken {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A blocking, close-on-exec signalfd for `set`.
pub struct SignalFd {
    fd: OwnedFd,
    /// The signals it reports, which `wait_one` waits for too.
    set: u64,
}

impl SignalFd {
    pub fn new(set: SigSet) -> io::Result<SignalFd> {
        let mask = set.0;
        // SAFETY: the mask pointer is valid for 8 bytes; -1 asks for a new fd.
        let fd = check(unsafe {
            libc::syscall(
                libc::SYS_signalfd4,
                -1,
                &mask as *const u64,
                8usize,
                libc::SFD_CLOEXEC,
            )
        })?;
        // SAFETY: the kernel just returned this fd; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as c_int) };
        Ok(SignalFd { fd, set: mask })
    }

    pub fn as_raw_fd(&self) -> c_int {
        self.fd.as_raw_fd()
    }

    /// Sleeps until one of the signals is pending and takes it, with its
    /// sender: rt_sigtimedwait(2) on the same set, for when there is
    /// nothing but signals to wait for. It takes from the same pending
    /// signals a read of the signalfd would, and a wake-up in it costs
    /// rinit's CPU about 0.3 µs (5%) less per forwarded signal than one in
    /// that read (no file layer, no wait queue; `CPU_ONLY=1 bench/compare.sh`).
    /// The kernel unblocks the set for the call only and judges a default
    /// action by the mask from before it, so a signal is taken here, never
    /// acted on. One signal a call: while more are pending the next call
    /// returns at once (a syscall the read's batch would not make, no sleep).
    pub fn wait_one(&self, batch: &mut SignalBatch) -> io::Result<()> {
        // Emptied first, so that an error leaves no earlier signal in it.
        batch.clear();
        let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::uninit();
        let taken = loop {
            // SAFETY: the set points to a live u64 (the kernel sigset size
            // on Linux is 8 bytes), `info` to a siginfo_t the kernel fills;
            // a NULL timeout waits without one.
            match check(unsafe {
                libc::syscall(
                    libc::SYS_rt_sigtimedwait,
                    &self.set as *const u64,
                    info.as_mut_ptr(),
                    std::ptr::null::<libc::timespec>(),
                    8usize,
                )
            }) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        // SAFETY: the call succeeded, so the kernel filled `info` in full.
        let info = unsafe { info.assume_init() };
        if let Some(sig) = Signo::new(taken as i32) {
            // SAFETY: si_pid reads a field of the filled siginfo's union;
            // for codes without a sender it holds something else, which
            // `Origin::is_process` does not trust (as ssi_pid).
            let pid = unsafe { info.si_pid() };
            batch.received[0] = (
                sig,
                Origin {
                    pid: pid as u32,
                    code: info.si_code,
                },
            );
            batch.len = 1;
        }
        Ok(())
    }

    /// Puts the signals pending (up to a batch; the rest come with the
    /// next call), with their senders, in `batch`: after `poll` said the
    /// signalfd is readable. Nothing is allocated or zeroed per call.
    pub fn read_batch(&self, batch: &mut SignalBatch) -> io::Result<()> {
        // Emptied first, so that an error leaves no earlier signal in it.
        batch.clear();
        let mut infos = [const { std::mem::MaybeUninit::<libc::signalfd_siginfo>::uninit() };
            SignalBatch::CAPACITY];
        // SAFETY: the buffer is valid for its full size in bytes.
        let n = unsafe {
            read_retrying(
                self.fd.as_raw_fd(),
                infos.as_mut_ptr().cast(),
                std::mem::size_of_val(&infos),
            )
        }?;
        // signalfd only returns whole siginfos.
        let count = n / std::mem::size_of::<libc::signalfd_siginfo>();
        for info in &infos[..count] {
            // SAFETY: the kernel wrote the first `count` siginfos in full.
            let info = unsafe { info.assume_init_ref() };
            if let Some(sig) = Signo::new(info.ssi_signo as i32) {
                batch.received[batch.len] = (
                    sig,
                    Origin {
                        pid: info.ssi_pid,
                        code: info.ssi_code,
                    },
                );
                batch.len += 1;
            }
        }
        Ok(())
    }
}

/// Any signal: fills the unused slots of a [`SignalBatch`].
const SIGNO_UNUSED: Signo = crate::signals::SIGCHLD;

/// The signals one read of the signalfd returned, with their senders.
pub struct SignalBatch {
    received: [(Signo, Origin); SignalBatch::CAPACITY],
    len: usize,
}

impl Default for SignalBatch {
    fn default() -> Self {
        SignalBatch {
            received: [(SIGNO_UNUSED, Origin { pid: 0, code: 0 }); SignalBatch::CAPACITY],
            len: 0,
        }
    }
}

impl SignalBatch {
    /// Small: a burst beyond it only takes another read, not a sleep. The
    /// loop keeps one batch and has it filled in place: made, filled and
    /// moved on every wake-up, it cost about 400 of the 1,300 instructions
    /// rinit ran per reaped orphan (callgrind; bench/README.md).
    const CAPACITY: usize = 8;

    pub fn iter(&self) -> impl Iterator<Item = (Signo, Origin)> + '_ {
        self.received[..self.len].iter().copied()
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps the signals `keep` says yes to, in their order.
    pub fn retain(&mut self, mut keep: impl FnMut(Signo, Origin) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            let (sig, origin) = self.received[i];
            if keep(sig, origin) {
                self.received[kept] = (sig, origin);
                kept += 1;
            }
        }
        self.len = kept;
    }
}

/// poll's timeout for `t`, rounded up: waking before the deadline would
/// only spin. (No u128 division: the binary would carry one for this alone.)
fn poll_millis(t: Duration) -> c_int {
    let part_millisecond = !t.subsec_nanos().is_multiple_of(1_000_000);
    let millis = t.as_millis() + u128::from(part_millisecond);
    c_int::try_from(millis).unwrap_or(c_int::MAX)
}

/// Sleeps until one of `fds` (descriptor, poll events) is ready or
/// `timeout` passes (`None`: no timeout, so an idle rinit has no wake-ups at
/// all). Returns which descriptors are ready.
pub fn poll(fds: &[(c_int, i16)], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let millis = timeout.map_or(-1, poll_millis);
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds.
    match check(unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, millis) }.into())
    {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(vec![false; fds.len()]),
        Err(e) => Err(e),
        Ok(_) => Ok(pfds.iter().map(|p| p.revents != 0).collect()),
    }
}

/// A non-blocking, close-on-exec eventfd.
pub fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd has no memory arguments.
    let fd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }.into())?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// Which children a wait looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    Any,
    Pid(i32),
}

/// One step of draining `wait4(…, WNOHANG)`.
pub enum Reap {
    Exited { pid: i32, status: i32 },
    NoneReady,
    NoChildren,
}

/// Reaps one exited child of `which`, without waiting for one.
pub fn reap(which: Child) -> io::Result<Reap> {
    let pid = match which {
        Child::Any => -1,
        Child::Pid(pid) => pid,
    };
    let mut status: c_int = 0;
    loop {
        // SAFETY: status points to a live c_int; no rusage. No
        // WUNTRACED/WCONTINUED, so only terminated children are reported: a
        // stopped child is never mistaken for a dead one. wait4, not
        // waitpid: musl's waitpid is a cancellation point, a longer path
        // for the same syscall, taken twice per reaped orphan.
        let ret = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, std::ptr::null_mut()) };
        return match ret {
            0 => Ok(Reap::NoneReady),
            p if p > 0 => Ok(Reap::Exited { pid: p, status }),
            _ => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::ECHILD) => Ok(Reap::NoChildren),
                    Some(libc::EINTR) => continue,
                    _ => Err(err),
                }
            }
        };
    }
}

/// What `peek_exited` saw, leaving every child as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// This child has exited and is left unreaped.
    Exited(i32),
    NoneExited,
    NoChildren,
}

/// A child that has exited, left unreaped (WNOWAIT), so that its /proc
/// entry can still be read.
pub fn peek_exited() -> io::Result<Peek> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid only writes to it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid siginfo_t; WNOWAIT leaves the status in place.
        let ret = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if ret < 0 {
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::ECHILD) => Ok(Peek::NoChildren),
                Some(libc::EINTR) => continue,
                _ => Err(err),
            };
        }
        // SAFETY: waitid filled `info` for a child (si_pid 0: none ready).
        let pid = unsafe { info.si_pid() };
        return Ok(if pid > 0 {
            Peek::Exited(pid)
        } else {
            Peek::NoneExited
        });
    }
}

/// Whether this process has any child at all (alive or not yet reaped),
/// without reaping it. A failed peek counts as "yes": the callers only
/// skip work when there is certainly nothing to find.
pub fn has_children() -> bool {
    !matches!(peek_exited(), Ok(Peek::NoChildren))
}

/// Time since boot, suspend included: the clock of /proc/PID/stat's
/// start times.
pub fn boot_time() -> io::Result<Duration> {
    // SAFETY: an all-zero timespec is valid; clock_gettime only writes to it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid timespec.
    check(unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) }.into())?;
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// The unit of /proc/PID/stat's times; 0 when unknown.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory arguments.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).unwrap_or(0)
}

/// kill(2) for any signal number, real-time ones included.
pub fn kill(pid: i32, sig: Signo) -> io::Result<()> {
    // SAFETY: kill has no memory arguments.
    check(unsafe { libc::kill(pid, sig.number()) }.into()).map(drop)
}

/// What became of a signal sent with [`send_signal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// ESRCH: no such process or group; it is already gone, which is what
    /// a signal meant to end it wanted anyway.
    TargetGone,
}

/// kill(2), with ESRCH as an outcome rather than an error: processes exit
/// all the time between rinit's decision and its kill.
pub fn send_signal(pid: i32, sig: Signo) -> io::Result<Delivery> {
    match kill(pid, sig) {
        Ok(()) => Ok(Delivery::Sent),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Delivery::TargetGone),
        Err(e) => Err(e),
    }
}

/// A process pinned by a pidfd: a signal sent through it reaches that
/// process or nobody, never one that got its pid after it died.
pub struct PidFd(OwnedFd);

/// pidfd_open(2). Fails with ENOSYS before Linux 5.3 (see
/// a refusal: ENOSYS before Linux 5.3, EPERM from a seccomp profile) and ESRCH when the process is gone.
pub fn pidfd_open(pid: i32) -> io::Result<PidFd> {
    // SAFETY: pidfd_open takes a pid and flags, no pointers.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd as c_int) }))
}

/// pidfd_send_signal(2), with ESRCH (the process has exited) as an outcome
/// as in [`send_signal`].
pub fn pidfd_send_signal(pidfd: &PidFd, sig: Signo) -> io::Result<Delivery> {
    // SAFETY: a live pidfd; a NULL siginfo makes it the equivalent of
    // kill(2); flags must be 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.0.as_raw_fd(),
            sig.number(),
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match check(ret) {
        Ok(_) => Ok(Delivery::Sent),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Delivery::TargetGone),
        Err(e) => Err(e),
    }
}

/// Makes orphaned descendants reparent to this process.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a flag and no pointers.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) }.into())
        .map(drop)
}

/// PR_SET_PDEATHSIG with any signal number, real-time ones included.
pub fn set_parent_death_signal(sig: Signo) -> io::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and no pointers.
    check(
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                sig.number() as libc::c_ulong,
                0,
                0,
                0,
            )
        }
        .into(),
    )
    .map(drop)
}

pub fn getpid() -> i32 {
    // SAFETY: getpid has no arguments and cannot fail.
    unsafe { libc::getpid() }
}

/// Waits, at most `limit`, until a terminal on standard error has sent
/// what was written to it (its output queue, TIOCOUTQ, is empty); at once
/// when standard error is no terminal or the queue cannot be read. Written lines sit in a
/// terminal's queue until the driver sends them; when a machine's PID 1
/// exits, the kernel panics and a serial console's queue is never sent,
/// which lost the stuck-exit report on slow (emulated) consoles. Polled, not
/// tcdrain(3): that could wait forever on a line held by flow control.
pub fn drain_stderr(limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let mut queued: c_int = 0;
        // SAFETY: TIOCOUTQ writes one int to `queued`; on a descriptor that
        // is no terminal it fails with ENOTTY and writes nothing.
        if unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCOUTQ, &mut queued) } != 0
            || queued <= 0
            || std::time::Instant::now() >= deadline
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn getppid() -> i32 {
    // SAFETY: getppid has no arguments and cannot fail.
    unsafe { libc::getppid() }
}

/// The error numbers the rest of rinit tells apart (exit codes 126/127 of
/// a failed exec), so that nothing outside this layer names libc.
pub mod errno {
    pub use libc::{E2BIG, EACCES, EAGAIN, EBUSY, EFBIG, EINVAL, ENOEXEC, EPERM, EPIPE};
    pub use libc::{ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR};
}

/// poll(2) event bits for `poll`'s (descriptor, events) pairs.
pub const POLLIN: i16 = libc::POLLIN;
pub const POLLPRI: i16 = libc::POLLPRI;

/// `path` for a syscall; a NUL byte in it is EINVAL, as the kernel would
/// say of a path it cannot take.
fn c_path(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Mounts the fusectl filesystem on `dir`.
pub fn mount_fusectl(dir: &Path) -> io::Result<()> {
    let dir = c_path(dir)?;
    // SAFETY: every string is NUL-terminated and outlives the call; fusectl
    // takes no data (NULL).
    check(
        unsafe {
            libc::mount(
                c"fusectl".as_ptr(),
                dir.as_ptr(),
                c"fusectl".as_ptr(),
                0,
                std::ptr::null(),
            )
        }
        .into(),
    )
    .map(drop)
}

/// Unmounts `dir` lazily (MNT_DETACH), so a busy mount still goes away
/// once its last user does, instead of failing.
pub fn unmount_detached(dir: &Path) -> io::Result<()> {
    let dir = c_path(dir)?;
    // SAFETY: the path is NUL-terminated and outlives the call.
    check(unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) }.into()).map(drop)
}

/// Whether standard input is the controlling terminal and this process's
/// group is in its foreground: then the child may take the terminal.
pub fn owns_foreground_terminal() -> bool {
    // SAFETY: tcgetpgrp and getpgrp have no memory arguments; tcgetpgrp
    // fails (-1) when standard input is not this process's terminal.
    unsafe {
        let foreground = libc::tcgetpgrp(libc::STDIN_FILENO);
        foreground >= 0 && foreground == libc::getpgrp()
    }
}

/// A pipe whose two ends (read, write) close on exec.
fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [c_int; 2] = [-1; 2];
    // SAFETY: `fds` holds the two c_ints pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }.into())?;
    // SAFETY: the kernel just returned these fds; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Closes every descriptor above 2 but `keep` (rinit's own), so rinit pins
/// nothing its caller opened (the child already has its copies).
pub fn close_inherited_fds(keep: &[c_int]) -> io::Result<()> {
    // Sorted as c_int, not u32: the binary has the sort for i32 already,
    // and each element type costs a copy of it (2.7 KB).
    let mut keep: Vec<c_int> = keep.iter().copied().filter(|&fd| fd > 2).collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for fd in keep
        .into_iter()
        .map(|fd| fd as u32)
        .chain(std::iter::once(u32::MAX))
    {
        if fd > first {
            let last = if fd == u32::MAX { u32::MAX } else { fd - 1 };
            // SAFETY: close_range has no memory arguments; the range holds
            // only descriptors inherited from the caller, none of rinit's own.
            check(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) })?;
        }
        first = fd.saturating_add(1);
    }
    Ok(())
}

/// Eight bytes from the kernel's random pool, without /dev (which a
/// container may lack) and without waiting for the pool to be seeded.
pub fn random_u64() -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    let mut getrandom = |flags: libc::c_uint| {
        // SAFETY: the buffer is valid for its 8 bytes.
        check(unsafe { libc::syscall(libc::SYS_getrandom, bytes.as_mut_ptr(), bytes.len(), flags) })
    };
    match getrandom(libc::GRND_INSECURE) {
        // GRND_INSECURE is Linux 5.6+; older kernels refuse the flag.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => getrandom(libc::GRND_NONBLOCK),
        other => other,
    }?;
    Ok(u64::from_ne_bytes(bytes))
}

/// What the child needs, all prepared before fork: after fork only
/// async-signal-safe calls on these values are allowed.
pub struct SpawnSpec {
    /// Paths to try in order, from the PATH search.
    pub candidates: Vec<CString>,
    pub argv: Vec<CString>,
    /// The signal mask rinit's caller had.
    pub mask: SigSet,
    /// Whether the caller ignored SIGCHLD (rinit itself no longer does).
    pub sigchld_ignored: bool,
    pub take_terminal: bool,
    /// `cgroup.procs` files to write "0" to, so the child is in its cgroups
    /// before it execs and nothing it starts can escape them.
    pub join_cgroups: Vec<c_int>,
    /// The environment to exec with, when it is not rinit's own.
    pub env: Option<ChildEnv>,
}

/// An environment for the child: `entries`, and one more, `own_pid_var`
/// set to the child's own pid after the fork, when only the child knows
/// it.
pub struct ChildEnv {
    pub entries: Vec<CString>,
    pub own_pid_var: &'static str,
}

/// Room for `NAME=` and a pid: the name is a short literal, a pid at most
/// 10 digits, and the NUL.
const PID_ENTRY_LEN: usize = 64;

/// `n` in decimal at the start of `out`, with no allocation (it runs in
/// the forked child); returns how many bytes it wrote.
fn put_decimal(mut n: u32, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (at, digit) in digits[..len].iter().rev().enumerate() {
        out[at] = *digit;
    }
    len
}

/// The step of starting the child that failed. The child sends
/// `[stage as c_int, errno]` through the exec-status pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum SpawnStage {
    /// Forking (in rinit, not the child): no child was made.
    Fork = 0,
    JoinCgroup = 1,
    Exec = 2,
    ProcessGroup = 3,
    SignalMask = 4,
    /// Creating the exec-status pipe (in rinit, before the fork).
    Pipe = 5,
    SigchldDisposition = 6,
}

impl SpawnStage {
    fn from_code(code: c_int) -> Option<SpawnStage> {
        [
            SpawnStage::Fork,
            SpawnStage::JoinCgroup,
            SpawnStage::Exec,
            SpawnStage::ProcessGroup,
            SpawnStage::SignalMask,
            SpawnStage::Pipe,
            SpawnStage::SigchldDisposition,
        ]
        .into_iter()
        .find(|&stage| stage as c_int == code)
    }
}

/// Why the command could not be started: the program never ran.
#[derive(Debug)]
pub struct SpawnError {
    pub stage: SpawnStage,
    pub error: io::Error,
}

impl SpawnError {
    fn new(stage: SpawnStage, error: impl Into<io::Error>) -> SpawnError {
        SpawnError {
            stage,
            error: error.into(),
        }
    }
}

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// The read end of the exec-status pipe. The child holds the write end
/// until its exec closes it (close-on-exec), so the pipe reads as
/// end-of-file once the program runs (or the child died before it could),
/// and as `[stage, errno]` when a step failed.
pub struct ExecStatusPipe(OwnedFd);

impl ExecStatusPipe {
    pub fn as_raw_fd(&self) -> c_int {
        self.0.as_raw_fd()
    }

    /// Reads the child's status. Blocks until the child has exec'd, failed
    /// or died: call it when poll says the pipe is readable, or once the
    /// child is reaped (its write end is closed then).
    pub fn read(self) -> io::Result<ExecStatus> {
        let mut message: [c_int; 2] = [0; 2];
        // SAFETY: reading at most size_of_val(&message) bytes into `message`.
        let n = unsafe {
            read_retrying(
                self.0.as_raw_fd(),
                message.as_mut_ptr().cast(),
                std::mem::size_of_val(&message),
            )
        }?;
        if n == 0 {
            return Ok(ExecStatus::NoFailure);
        }
        // The child writes its 8 bytes at once (less than PIPE_BUF, so
        // atomically): anything shorter means they were lost.
        if n != std::mem::size_of_val(&message) {
            return Ok(ExecStatus::Failed(SpawnError::new(
                SpawnStage::Exec,
                io::Error::other("lost the exec status of the child"),
            )));
        }
        let stage = SpawnStage::from_code(message[0]).unwrap_or(SpawnStage::Exec);
        Ok(ExecStatus::Failed(SpawnError::new(
            stage,
            io::Error::from_raw_os_error(message[1]),
        )))
    }
}

/// What the exec-status pipe told.
#[derive(Debug)]
pub enum ExecStatus {
    /// No step failed: the program runs, or the child died before it could
    /// exec (killed; its exit status tells).
    NoFailure,
    /// A step failed: the program never ran, and the child exits on its
    /// own (it is not reaped here).
    Failed(SpawnError),
}

/// Forks, puts the child in a new process group (and in the terminal's
/// foreground when asked) and in its cgroups, restores the caller's signal
/// mask and ignored SIGCHLD and execs the first candidate that works. Returns as soon as the
/// fork succeeded, with the child's pid and the pipe its exec status comes
/// through: rinit must not wait for the exec here, since a child frozen
/// before it (a cgroup frozen from outside) would leave PID 1 deaf to every
/// signal. `Err` means there is no child.
pub fn spawn(spec: &SpawnSpec) -> Result<(i32, ExecStatusPipe), SpawnError> {
    let mut argv: Vec<*const c_char> = spec.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let candidates: Vec<*const c_char> = spec.candidates.iter().map(|c| c.as_ptr()).collect();
    let mask = spec.mask.0;
    // Zeros: whatever is written after the name stays NUL-terminated.
    let mut pid_entry = [0u8; PID_ENTRY_LEN];
    let pid_entry_ptr = pid_entry.as_mut_ptr();
    let envp: Option<Vec<*const c_char>> = spec.env.as_ref().map(|env| {
        let name = env.own_pid_var.as_bytes();
        assert!(name.len() + 12 < PID_ENTRY_LEN, "a short variable name");
        // SAFETY: `name` and `=` fit in `pid_entry` (asserted above), which
        // `pid_entry_ptr` points to and which lives until the exec.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), pid_entry_ptr, name.len());
            *pid_entry_ptr.add(name.len()) = b'=';
        }
        let mut envp: Vec<*const c_char> = env.entries.iter().map(|e| e.as_ptr()).collect();
        envp.push(pid_entry_ptr.cast_const().cast());
        envp.push(std::ptr::null());
        envp
    });
    let (read_end, write_end) = pipe_cloexec().map_err(|e| SpawnError::new(SpawnStage::Pipe, e))?;
    let write_fd = write_end.as_raw_fd();

    // SAFETY: rinit is single-threaded here (no logger thread, no runtime),
    // so the child is a faithful copy. The child branch below calls only
    // async-signal-safe functions (setpgid, getpid, tcsetpgrp, sigaction,
    // rt_sigprocmask, execve, write, _exit) on data prepared before the fork, allocates
    // nothing, and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError::new(
            SpawnStage::Fork,
            io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        // SAFETY: see above; every pointer refers to memory copied into the
        // child by fork and kept alive by `spec`, `argv` and `candidates`.
        unsafe {
            let report = |stage: SpawnStage, errno: c_int| -> ! {
                let message = [stage as c_int, errno];
                libc::write(
                    write_fd,
                    message.as_ptr().cast(),
                    std::mem::size_of_val(&message),
                );
                libc::_exit(127);
            };
            let last_errno = || *libc::__errno_location();
            for &fd in &spec.join_cgroups {
                if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    report(SpawnStage::JoinCgroup, last_errno());
                }
            }
            if libc::setpgid(0, 0) != 0 {
                report(SpawnStage::ProcessGroup, last_errno());
            }
            if spec.take_terminal {
                // Still fully blocked, so SIGTTOU cannot stop us here.
                // Unchecked on purpose: rinit checked before the fork that
                // its group has the terminal, so this can only fail if the
                // terminal went away meanwhile (hang-up), and then running
                // the command without it beats not running it at all.
                libc::tcsetpgrp(0, libc::getpid());
            }
            if spec.sigchld_ignored {
                let mut ignore: libc::sigaction = std::mem::zeroed();
                ignore.sa_sigaction = libc::SIG_IGN;
                if libc::sigaction(libc::SIGCHLD, &ignore, std::ptr::null_mut()) != 0 {
                    report(SpawnStage::SigchldDisposition, last_errno());
                }
            }
            if libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &mask as *const u64,
                std::ptr::null::<u64>(),
                8usize,
            ) != 0
            {
                report(SpawnStage::SignalMask, last_errno());
            }
            let envp = match (&envp, &spec.env) {
                (Some(envp), Some(env)) => {
                    // The pid after the name, in the child's copy of
                    // `pid_entry`; the zeros after it end the string.
                    let start = env.own_pid_var.len() + 1;
                    let digits = std::slice::from_raw_parts_mut(
                        pid_entry_ptr.add(start),
                        PID_ENTRY_LEN - start - 1,
                    );
                    put_decimal(libc::getpid() as u32, digits);
                    envp.as_ptr()
                }
                _ => environ,
            };
            // execvp's rules, minus its /bin/sh fallback for ENOEXEC: keep
            // looking past "not here", remember "here but not allowed".
            let mut errno = libc::ENOENT;
            let mut denied = false;
            for &path in &candidates {
                libc::execve(path, argv.as_ptr(), envp);
                match last_errno() {
                    libc::ENOENT
                    | libc::ENOTDIR
                    | libc::ESTALE
                    | libc::ENAMETOOLONG
                    | libc::ELOOP => {}
                    libc::EACCES => denied = true,
                    other => {
                        errno = other;
                        denied = false;
                        break;
                    }
                }
            }
            if denied {
                errno = libc::EACCES;
            }
            report(SpawnStage::Exec, errno);
        }
    }
    drop(write_end);
    // Also from this side, so the group exists before we ever signal it.
    // SAFETY: setpgid has no memory arguments. EACCES (the child already
    // exec'd) and ESRCH (it already died) are both fine.
    unsafe { libc::setpgid(pid, pid) };
    Ok((pid, ExecStatusPipe(read_end)))
}

/// What a directory entry is, as lstat tells (a symlink is not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

fn file_kind(mode: libc::mode_t) -> FileKind {
    match mode & libc::S_IFMT {
        libc::S_IFREG => FileKind::Regular,
        libc::S_IFDIR => FileKind::Directory,
        libc::S_IFLNK => FileKind::Symlink,
        libc::S_IFCHR => FileKind::CharDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        libc::S_IFIFO => FileKind::Fifo,
        _ => FileKind::Socket,
    }
}

fn c_name(name: &std::ffi::OsStr) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Opens `path` as a directory, following symlinks once, now: later steps
/// work relative to the descriptor, so the path is never resolved again.
pub fn open_directory(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)?;
    Ok(dir.into())
}

/// What `name` in `dir` is, without following a symlink; `None` when
/// there is nothing there.
pub fn kind_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<Option<FileKind>> {
    let name = c_name(name)?;
    // SAFETY: stat is plain old data; all-zero is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` is a live stat buffer.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(ret.into()) {
        Ok(_) => Ok(Some(file_kind(st.st_mode))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` (not a directory) from `dir`.
pub fn unlink_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }.into()).map(drop)
}

/// Renames `from` to `to`, both in `dir`, replacing `to`.
pub fn rename_at(dir: &OwnedFd, from: &std::ffi::OsStr, to: &std::ffi::OsStr) -> io::Result<()> {
    let (from, to) = (c_name(from)?, c_name(to)?);
    let fd = dir.as_raw_fd();
    // SAFETY: both names are NUL-terminated.
    check(unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) }.into()).map(drop)
}

/// Whether a rename over a path failed because the path cannot be
/// replaced (a file bind-mounted there), though it can be written.
pub fn cannot_replace(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EXDEV))
}

/// Creates `name` in `dir` as a new regular file for writing, with `mode`
/// exactly (whatever the umask): never through
/// a symlink, never blocking on a FIFO, never over anything there.
pub fn create_new_file_at(
    dir: &OwnedFd,
    name: &std::ffi::OsStr,
    mode: u32,
) -> io::Result<std::fs::File> {
    let name = c_name(name)?;
    let flags = libc::O_WRONLY
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_NOFOLLOW
        | libc::O_NONBLOCK
        | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated; the mode is passed as varargs' uint.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) }.into())?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as c_int) });
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(file)
}

/// Opens the existing regular file `name` in `dir` for writing, to write
/// it in place: never through a symlink (O_NOFOLLOW), never creating
/// (no O_CREAT: a dangling link or a vanished file is an error), never
/// blocking on a FIFO (O_NONBLOCK), and never opening a device at all
/// (checked before the open, and what was opened is checked again).
pub fn open_regular_at(dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<std::fs::File> {
    let not_regular = || io::Error::new(io::ErrorKind::InvalidInput, "not a regular file");
    match kind_at(dir, name)? {
        Some(FileKind::Regular) => {}
        None => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
        Some(_) => return Err(not_regular()),
    }
    let name = c_name(name)?;
    let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) }.into())?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd as c_int) });
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Flushes a directory's entries (a rename in it) to disk.
pub fn sync_directory_fd(dir: &OwnedFd) -> io::Result<()> {
    // SAFETY: fsync has no memory arguments.
    check(unsafe { libc::fsync(dir.as_raw_fd()) }.into()).map(drop)
}

/// How a job run in a child of its own (`run_bounded`) ended.
pub enum Bounded {
    /// The job returned, with what it returned.
    Done(Result<(), String>),
    /// It did not return in time: the child, still blocked, is left alone.
    TimedOut { pid: i32 },
    /// No child could be made; the job did not run.
    NoChild(io::Error),
}

/// Runs `job` in a forked child and waits for it at most `timeout`. For a
/// job that may block in the kernel beyond any signal (a write to a FUSE or
/// NFS mount that does not answer sleeps uninterruptibly): the caller goes
/// on, and only the child stays blocked. A thread would not do: a process
/// cannot finish exiting while one of its threads is blocked so.
/// The job's error text comes back through a pipe.
pub fn run_bounded(timeout: Duration, job: impl FnOnce() -> Result<(), String>) -> Bounded {
    let (read_end, write_end) = match pipe_cloexec() {
        Ok(ends) => ends,
        Err(e) => return Bounded::NoChild(e),
    };
    // SAFETY: rinit is single-threaded when it calls this, so the child may
    // allocate and run ordinary code: no lock can be held by a thread that
    // does not exist in it. The child never returns: it ends in _exit, so
    // nothing of the parent's (buffers, exit handlers) runs twice.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Bounded::NoChild(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(read_end);
        let code = match job() {
            Ok(()) => 0,
            Err(why) => {
                let mut pipe = std::fs::File::from(write_end);
                let _ = std::io::Write::write_all(&mut pipe, why.as_bytes());
                1
            }
        };
        // SAFETY: _exit ends the child without running anything else.
        unsafe { libc::_exit(code) };
    }
    drop(write_end);
    let deadline = std::time::Instant::now() + timeout;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match poll(&[(read_end.as_raw_fd(), POLLIN)], Some(left)) {
            Ok(ready) if ready[0] => {}
            Ok(_) if left.is_zero() => return Bounded::TimedOut { pid },
            Ok(_) => continue,
            Err(e) => return Bounded::Done(Err(format!("cannot poll the writer: {e}"))),
        }
        let mut buf = [0u8; 512];
        // SAFETY: the buffer is valid for its 512 bytes.
        match unsafe { read_retrying(read_end.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) => return Bounded::Done(Err(format!("cannot read from the writer: {e}"))),
        }
    }
    // The pipe closed: the child is exiting, so this wait is short.
    let mut status: c_int = 0;
    // SAFETY: status points to a live c_int.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Bounded::Done(match (exited_ok, said.is_empty()) {
        (true, true) => Ok(()),
        (_, false) => Err(String::from_utf8_lossy(&said).into_owned()),
        (false, true) => Err(format!("the writer ended with wait status {status:#x}")),
    })
}

/// How [`close_inherited_fds_one_by_one`] found the descriptors to close.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdsClosed {
    /// Each one /proc/self/fd listed.
    Listed,
    /// /proc was missing: every number from 3 up to this soft
    /// RLIMIT_NOFILE (a descriptor above it is possible only if the limit
    /// was lowered after it was opened).
    UpToLimit(u64),
}

/// [`close_inherited_fds`] without close_range (Linux 5.9; profiles older
/// than Docker 20.10 refuse it with EPERM): closes every descriptor above 2
/// but `keep`, as /proc/self/fd lists them, or, without /proc, every
/// number up to the soft RLIMIT_NOFILE.
pub fn close_inherited_fds_one_by_one(keep: &[c_int]) -> io::Result<FdsClosed> {
    // Collected first, the directory closed before closing anything: its
    // own descriptor is in the list, and a close fails harmlessly on it.
    let listed: io::Result<Vec<c_int>> = std::fs::read_dir("/proc/self/fd").and_then(|dir| {
        dir.map(|entry| Ok(entry?.file_name().to_str().and_then(|n| n.parse().ok())))
            .filter_map(Result::transpose)
            .collect()
    });
    let close_unless_kept = |fd: c_int| {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: close has no memory arguments; `fd` is not one of
            // rinit's own (`keep`). EBADF (no such descriptor) is the
            // common case when counting up to the limit; nothing can be
            // done about another error, and Linux frees the number even then.
            unsafe { libc::close(fd) };
        }
    };
    if let Ok(fds) = listed {
        fds.into_iter().for_each(close_unless_kept);
        return Ok(FdsClosed::Listed);
    }
    // SAFETY: an all-zero rlimit is valid; getrlimit only writes to it.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is a valid rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }.into())?;
    let soft = limit.rlim_cur.min(c_int::MAX as libc::rlim_t);
    (3..soft as c_int).for_each(close_unless_kept);
    Ok(FdsClosed::UpToLimit(soft as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_for_the_child_pid() {
        let mut out = [0u8; 12];
        for (n, text) in [
            (0, "0"),
            (7, "7"),
            (4194304, "4194304"),
            (u32::MAX, "4294967295"),
        ] {
            out.fill(0);
            assert_eq!(put_decimal(n, &mut out), text.len());
            assert_eq!(&out[..text.len()], text.as_bytes());
            assert_eq!(out[text.len()], 0);
        }
    }

    #[test]
    fn poll_timeouts_round_up_to_milliseconds() {
        assert_eq!(poll_millis(Duration::ZERO), 0);
        assert_eq!(poll_millis(Duration::from_nanos(1)), 1);
        assert_eq!(poll_millis(Duration::from_millis(1500)), 1500);
        assert_eq!(poll_millis(Duration::from_micros(1_500_001)), 1501);
        assert_eq!(poll_millis(Duration::from_secs(u64::MAX)), c_int::MAX);
    }

    #[test]
    fn spawn_stages_survive_the_pipe() {
        for stage in [
            SpawnStage::Fork,
            SpawnStage::JoinCgroup,
            SpawnStage::Exec,
            SpawnStage::ProcessGroup,
            SpawnStage::SignalMask,
            SpawnStage::Pipe,
            SpawnStage::SigchldDisposition,
        ] {
            assert_eq!(SpawnStage::from_code(stage as c_int), Some(stage));
        }
        assert_eq!(SpawnStage::from_code(7), None);
    }

    #[test]
    fn exec_status_pipe_tells_failure_from_exec() {
        use std::io::Write;
        let status = |bytes: &[u8]| {
            let (reader, mut writer) = std::io::pipe().unwrap();
            writer.write_all(bytes).unwrap();
            drop(writer);
            ExecStatusPipe(reader.into()).read().unwrap()
        };
        assert!(matches!(status(&[]), ExecStatus::NoFailure));
        let mut message = Vec::new();
        message.extend_from_slice(&(SpawnStage::JoinCgroup as c_int).to_ne_bytes());
        message.extend_from_slice(&libc::EBUSY.to_ne_bytes());
        let ExecStatus::Failed(e) = status(&message) else {
            panic!("a failure read as success");
        };
        assert_eq!(e.stage, SpawnStage::JoinCgroup);
        assert_eq!(e.error.raw_os_error(), Some(libc::EBUSY));
        let ExecStatus::Failed(e) = status(&message[..3]) else {
            panic!("a torn message read as success");
        };
        assert_eq!(e.stage, SpawnStage::Exec);
        assert_eq!(e.error.to_string(), "lost the exec status of the child");
    }

    #[test]
    fn takes_the_sigpipe_of_a_failed_write() {
        use crate::signals::SIGPIPE;
        use std::io::Write;
        // A thread of its own: the mask and the pending signal stay with it.
        std::thread::spawn(|| {
            block_signals(SigSet(SIGPIPE.bit())).unwrap();
            let (reader, mut writer) = std::io::pipe().unwrap();
            drop(reader);
            assert!(!take_own_signal(SIGPIPE).unwrap());
            let e = writer.write(b"x").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
            assert!(take_own_signal(SIGPIPE).unwrap());
            assert!(!take_own_signal(SIGPIPE).unwrap());
        })
        .join()
        .unwrap();
    }
}

// Directory descriptors: walking, reading, writing and removing in a tree
// whose paths may be longer than PATH_MAX (a workload can nest cgroups that
// deep), one component at a time relative to an open directory.

/// Opens the directory `name` relative to `parent` (`None`: the current
/// directory, or `name` is absolute). Never follows a symlink at the last
/// component, and refuses anything that is not a directory.
pub fn open_dir_at(
    parent: Option<std::os::fd::BorrowedFd<'_>>,
    name: &Path,
) -> io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(name.as_os_str().as_bytes())?;
    let parent = parent.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is a NUL-terminated string alive for the call; `parent`
    // is an open descriptor borrowed for the call, or AT_FDCWD.
    let fd = check(unsafe { libc::openat(parent, name.as_ptr(), flags) }.into())?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as c_int) })
}

/// Opens the file `name` in the directory `dir`, for reading or (never
/// creating it, never following a symlink) for writing.
pub fn open_file_at(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    write: bool,
) -> io::Result<std::fs::File> {
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(name.as_bytes())?;
    let access = if write {
        libc::O_WRONLY
    } else {
        libc::O_RDONLY
    };
    let flags = access | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated and alive for the call; `dir` is an
    // open descriptor borrowed for the call.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) }.into())?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(std::fs::File::from(unsafe {
        OwnedFd::from_raw_fd(fd as c_int)
    }))
}

/// The names of the sub-directories of `dir` ("." and ".." aside), sorted.
/// Reads through a duplicate of the descriptor, from the start each time.
pub fn sub_directories(dir: std::os::fd::BorrowedFd<'_>) -> io::Result<Vec<std::ffi::OsString>> {
    use std::os::unix::ffi::OsStrExt;
    // fdopendir takes the descriptor over (closedir closes it): give it a
    // duplicate, so that `dir` stays open for its owner.
    let dup = dir.try_clone_to_owned()?;
    // SAFETY: `dup` is an open directory descriptor; on success the DIR
    // stream owns it (released with into_raw_fd below, closed by closedir).
    let stream = unsafe { libc::fdopendir(dup.as_raw_fd()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    let _owned_by_stream = std::os::fd::IntoRawFd::into_raw_fd(dup);
    // The duplicate shares the file offset with `dir`: start from the top.
    // SAFETY: `stream` is the valid DIR stream just opened.
    unsafe { libc::rewinddir(stream) };
    let mut names = Vec::new();
    let result = loop {
        // readdir reports its errors only through errno.
        // SAFETY: errno is this thread's; writing it is always allowed.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid DIR stream, used by this thread only.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let err = io::Error::last_os_error();
            break match err.raw_os_error() {
                Some(0) | None => Ok(()),
                Some(_) => Err(err),
            };
        }
        // SAFETY: readdir returned a valid entry, alive until the next
        // readdir or closedir on `stream`; d_name is NUL-terminated.
        let (kind, name) = unsafe {
            let entry = &*entry;
            (
                entry.d_type,
                std::ffi::CStr::from_ptr(entry.d_name.as_ptr()).to_bytes(),
            )
        };
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match kind {
            libc::DT_DIR => true,
            libc::DT_UNKNOWN => is_directory_at(dir, std::ffi::OsStr::from_bytes(name)),
            _ => false,
        };
        if is_dir {
            names.push(std::ffi::OsStr::from_bytes(name).to_os_string());
        }
    };
    // SAFETY: `stream` is valid and closed exactly once, closing `dup`.
    unsafe { libc::closedir(stream) };
    result?;
    // Names in a directory are unique, so an unstable sort orders them
    // the same, with less code than the stable one.
    names.sort_unstable();
    Ok(names)
}

/// Whether `name` in `dir` is a directory (not following a symlink), for
/// a filesystem that gives no entry types.
fn is_directory_at(dir: std::os::fd::BorrowedFd<'_>, name: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = CString::new(name.as_bytes()) else {
        return false;
    };
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `name` is NUL-terminated, `stat` has room for a struct stat,
    // `dir` is an open descriptor borrowed for the call.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            stat.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    // SAFETY: fstatat succeeded, so it filled `stat`.
    ret == 0 && unsafe { stat.assume_init() }.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Removes the empty directory (or cgroup) `name` in the directory `parent`.
pub fn remove_dir_at(
    parent: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::OsStr,
) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(name.as_bytes())?;
    // SAFETY: `name` is NUL-terminated and alive for the call; `parent` is
    // an open descriptor borrowed for the call.
    let ret = unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) };
    check(ret.into()).map(drop)
}

#[cfg(test)]
mod dir_fd_tests {
    use super::*;
    use std::ffi::OsStr;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    fn make_dir_at(parent: std::os::fd::BorrowedFd<'_>, name: &std::ffi::CStr) {
        // SAFETY: `name` is NUL-terminated; `parent` is open for the call.
        let made = unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755) };
        assert_eq!(made, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn walks_reads_writes_and_removes_past_path_max() {
        let top = crate::os::TempDir::new();
        let name = OsStr::new("a-twenty-char-name-x");
        // 300 levels of 21 bytes: past PATH_MAX (4096) for any absolute path.
        let mut stack = vec![open_dir_at(None, top.path()).unwrap()];
        for _ in 0..300 {
            let parent = stack.last().unwrap().as_fd();
            make_dir_at(parent, c"a-twenty-char-name-x");
            stack.push(open_dir_at(Some(parent), Path::new(name)).unwrap());
        }
        let deepest = stack.last().unwrap().as_fd();
        let err = open_file_at(deepest, OsStr::new("f"), true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "never creates");
        make_dir_at(deepest, c"d");
        let err = open_dir_at(Some(deepest), Path::new("..")).map(drop);
        assert!(err.is_ok(), "'..' is a directory too");
        assert_eq!(sub_directories(deepest).unwrap(), [OsStr::new("d")]);
        remove_dir_at(deepest, OsStr::new("d")).unwrap();
        let file = format!("/proc/self/fd/{}/f", deepest.as_raw_fd());
        std::fs::File::create(&file).unwrap();
        open_file_at(deepest, OsStr::new("f"), true)
            .unwrap()
            .write_all(b"deep")
            .unwrap();
        let mut text = String::new();
        open_file_at(deepest, OsStr::new("f"), false)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "deep");
        assert_eq!(
            sub_directories(deepest).unwrap(),
            Vec::<std::ffi::OsString>::new()
        );
        let err = remove_dir_at(deepest, OsStr::new("f")).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR));
        std::fs::remove_file(&file).unwrap();
        for level in (0..300).rev() {
            let parent = stack[level].as_fd();
            assert_eq!(sub_directories(parent).unwrap(), [name]);
            // Twice: a listing does not move the descriptor's offset on.
            assert_eq!(sub_directories(parent).unwrap(), [name]);
            remove_dir_at(parent, name).unwrap();
            stack.truncate(level + 1);
        }
        assert!(sub_directories(stack[0].as_fd()).unwrap().is_empty());
    }
}

/// Why a pidfd call failed, when the failure is the call being refused
/// (a seccomp profile's EPERM, an old kernel's or a profile's ENOSYS)
/// rather than about the process: a short reason for the warning.
pub fn pidfd_refusal(err: &io::Error) -> Option<&'static str> {
    match err.raw_os_error()? {
        libc::EPERM => Some("Operation not permitted: a seccomp profile?"),
        libc::ENOSYS => {
            Some("Function not implemented: a kernel older than 5.3, or a seccomp profile")
        }
        _ => None,
    }
}

/// The process behind a pidfd has exited (its pidfd polls readable):
/// a re-check that needs no /proc.
pub fn pidfd_exited(pidfd: &PidFd) -> bool {
    let fd = pidfd.0.as_raw_fd();
    poll(&[(fd, POLLIN)], Some(Duration::ZERO)).is_ok_and(|ready| ready[0])
}

/// ESRCH: the process (or group) is gone.
pub fn is_gone(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ESRCH)
}
