//! The syscalls of readiness and health checks: a connect that never blocks
//! the loop, a file's existence, a check program, the sd_notify datagram,
//! and the probe's HTTP GET.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

unsafe extern "C" {
    static environ: *const *const c_char;
}

fn check(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A TCP connect under way, started without blocking.
pub struct Connecting(OwnedFd);

/// Starts connecting to `addr`; `outcome` tells how it went.
pub fn start_connect(addr: SocketAddr) -> io::Result<Connecting> {
    let (storage, len) = sockaddr_of(addr);
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket has no memory arguments.
    let fd = check(unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `storage` holds a sockaddr of `len` bytes.
    let ret = unsafe { libc::connect(fd, (&raw const storage).cast(), len) };
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        _ if ret == 0 => Ok(Connecting(socket)),
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok(Connecting(socket)),
        _ => Err(err),
    }
}

impl Connecting {
    /// How the connect went, waiting at most `wait` for it; `None` while
    /// still under way.
    pub fn outcome(&self, wait: Duration) -> Option<io::Result<()>> {
        let fd = self.0.as_raw_fd();
        match super::sys::poll(&[(fd, libc::POLLOUT)], Some(wait)) {
            Ok(ready) if !ready[0] => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(e)),
        }
        let mut error: c_int = 0;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: `error` and `len` are valid for getsockopt to write.
        let ret = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut error).cast(),
                &mut len,
            )
        };
        Some(match (check(ret), error) {
            (Err(e), _) => Err(e),
            (Ok(_), 0) => Ok(()),
            (Ok(_), errno) => Err(io::Error::from_raw_os_error(errno)),
        })
    }
}

fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&raw mut storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Whether `path` exists (a symlink counts when its target does). An error
/// other than "not there" (EACCES on the way) counts as not there.
pub fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

/// Starts `argv` (the program looked up in PATH) as a check: in a process
/// group of its own (ended as a whole), with no signal blocked, stdin and
/// stdout on /dev/null, stderr rinit's. An ordinary child: in the loop,
/// rinit's reaping hands its status to the readiness watch (a child made
/// without an exit signal would not do: exec gives it SIGCHLD back).
pub fn start_check(argv: &[String]) -> io::Result<i32> {
    let nul = |s: &[u8]| CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let args: Vec<CString> = argv
        .iter()
        .map(|a| nul(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let program = std::ffi::OsStr::new(argv.first().map_or("", String::as_str));
    let path = std::env::var_os("PATH");
    let candidates: Vec<CString> = crate::spawn::candidates(program, path.as_deref())
        .iter()
        .map(|c| nul(c.as_bytes()))
        .collect::<io::Result<_>>()?;
    let mut arg_ptrs: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let dev_null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ok();
    let null_fd = dev_null.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    let empty: u64 = 0;

    // SAFETY: rinit is single-threaded, so the child is a faithful copy.
    // The child branch calls only async-signal-safe syscalls (setpgid,
    // dup2, rt_sigprocmask, execve, _exit) on data prepared before the
    // fork, allocates nothing, and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; the pointers refer to memory the fork copied.
        unsafe {
            libc::setpgid(0, 0);
            if null_fd >= 0 {
                libc::dup2(null_fd, 0);
                libc::dup2(null_fd, 1);
            }
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &empty as *const u64,
                std::ptr::null::<u64>(),
                8usize,
            );
            for candidate in &candidates {
                libc::execve(candidate.as_ptr(), arg_ptrs.as_ptr(), environ);
            }
            libc::_exit(127);
        }
    }
    // From this side too, so the group exists before it is ever signalled.
    // SAFETY: setpgid has no memory arguments; EACCES (it exec'd) is fine.
    unsafe { libc::setpgid(pid, pid) };
    Ok(pid)
}

/// A check's wait status once it has ended (and is reaped); `None` while it
/// runs. Never waits.
pub fn check_status(pid: i32) -> io::Result<Option<i32>> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: status points to a live c_int.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if ret < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return match check(ret)? {
            0 => Ok(None),
            _ => Ok(Some(status)),
        };
    }
}

/// Whether a check's wait status means "exited 0".
pub fn succeeded(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// Kills a check's process group and reaps the check, waiting at most
/// `patience` for it to die; `false` if it has not (it is in the kernel:
/// call again later).
pub fn end_check(pid: i32, patience: Duration) -> bool {
    // SAFETY: kill has no memory arguments; the group is the check's own,
    // and its leader is not reaped yet, so the id is not reused.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    let until = Instant::now() + patience;
    loop {
        match check_status(pid) {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= until => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// Whether the child `pid` has exited (or is gone), leaving it unreaped.
pub fn has_exited(pid: i32) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; waitid only writes to it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `info` is valid; WNOWAIT leaves the status for the reaping.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if ret < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // ECHILD: already reaped.
            return true;
        }
        // SAFETY: waitid filled `info` (si_pid 0: not exited).
        return unsafe { info.si_pid() } != 0;
    }
}

/// Sends `message` as one datagram to the AF_UNIX socket `address` (a
/// path, or an abstract name starting with NUL).
pub fn send_datagram(address: &[u8], message: &[u8]) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_un is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if address.len() >= sun.sun_path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, &from) in sun.sun_path.iter_mut().zip(address) {
        *to = from as c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + address.len();
    // SAFETY: socket has no memory arguments.
    let fd =
        check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the kernel just returned this fd; nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `message` is valid for its length, `sun` for `len` bytes.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            message.as_ptr().cast(),
            message.len(),
            libc::MSG_NOSIGNAL,
            (&raw const sun).cast(),
            len as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Connects to `addr` within `timeout`, blocking (for `rinit probe`).
pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<OwnedFd> {
    let connecting = start_connect(addr)?;
    match connecting.outcome(timeout) {
        Some(Ok(())) => Ok(connecting.0),
        Some(Err(e)) => Err(e),
        None => Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
}

/// Sends `request` to `addr` and returns the first line of the answer,
/// all within `timeout`.
pub fn http_first_line(addr: SocketAddr, request: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let until = Instant::now() + timeout;
    let mut stream = std::fs::File::from(connect(addr, timeout)?);
    // A fresh socket's buffer takes a request this small at once.
    stream.write_all(request)?;
    let mut line = Vec::new();
    let mut buf = [0u8; 256];
    while !line.contains(&b'\n') && line.len() < 1024 {
        let left = until.saturating_duration_since(Instant::now());
        let ready = super::sys::poll(&[(stream.as_raw_fd(), libc::POLLIN)], Some(left))?;
        if !ready[0] {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => line.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    line.truncate(end);
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}
