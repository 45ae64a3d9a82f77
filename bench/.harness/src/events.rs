//! The two event workloads that the per-event figures share: signals
//! forwarded, and orphans reaped, one at a time. Each event is sent only
//! once the init has handled the previous one and is asleep again, so no
//! two coalesce and every one costs the init a whole wake-up.
//!
//! A window runs `n` events under one init with a probe on it: `start` is
//! called once the init is asleep before the first event, `finish` once it
//! is asleep after the last, so whatever the probe reads (strace's counts,
//! the init's CPU time) covers the `n` events and nothing else of the init.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{Init, in_pidns, init_pid, kill_group};

/// What a window measured, and whether the init slept between every two
/// events (if not, it polls, and the figure grows with time, not events).
pub struct Measured<T> {
    pub value: T,
    pub slept: bool,
}

/// The process state letter of `/proc/PID/stat` (`S`: asleep in a syscall).
fn state(stat_path: &str) -> Option<char> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Waits until the process is asleep in its wait for events; false if it
/// never is within a second (an init that polls).
pub fn wait_asleep(stat_path: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while state(stat_path) != Some('S') {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(20));
    }
    true
}

/// `n` SIGUSR1s sent to the init one at a time, each answered by the
/// child's handler (so forwarded) before the next.
pub fn signals<P, T>(
    init: &Init,
    exe: &str,
    n: u64,
    start: impl FnOnce(i32) -> P,
    finish: impl FnOnce(P) -> T,
) -> Measured<T> {
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; the read end is ours and close-on-exec, the
    // write end goes to the responder.
    unsafe {
        libc::pipe(fds.as_mut_ptr());
        libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let mut child = in_pidns(init, &[exe, "responder", &fds[1].to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // SAFETY: the child has its copy; from here the read end is a File.
    let mut answers = unsafe {
        libc::close(fds[1]);
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[0])
    };
    let mut byte = [0u8];
    answers
        .read_exact(&mut byte)
        .expect("responder did not start");
    let pid = init_pid(child.id());
    let stat = format!("/proc/{pid}/stat");
    let mut slept = wait_asleep(&stat);
    let probe = start(pid);
    slept &= wait_asleep(&stat);
    for _ in 0..n {
        // SAFETY: signalling the init we started.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        answers
            .read_exact(&mut byte)
            .unwrap_or_else(|e| panic!("{}: no answer to SIGUSR1: {e}", init.name));
        // Once an init is known to poll, waiting for it to sleep only slows the run.
        slept = slept && wait_asleep(&stat);
    }
    let value = finish(probe);
    kill_group(&mut child);
    Measured { value, slept }
}

/// `n` orphans, each reaped by the init before the next exits.
pub fn orphans<P, T>(
    init: &Init,
    exe: &str,
    n: u64,
    start: impl FnOnce(i32) -> P,
    finish: impl FnOnce(P) -> T,
) -> Measured<T> {
    let mut child = in_pidns(init, &[exe, "orphans", &n.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().and_then(Result::ok).as_deref(),
        Some("READY"),
        "{}: orphans did not start",
        init.name
    );
    let pid = init_pid(child.id());
    let stat = format!("/proc/{pid}/stat");
    let mut slept = wait_asleep(&stat);
    let probe = start(pid);
    slept &= wait_asleep(&stat);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    // The child says DONE once the init is asleep after the last orphan.
    let done = lines.next().and_then(Result::ok).unwrap_or_default();
    let value = finish(probe);
    kill_group(&mut child);
    match done.as_str() {
        "DONE slept" => {}
        "DONE polled" => slept = false,
        other => panic!("{}: orphans ended with {other:?}", init.name),
    }
    Measured { value, slept }
}
