//! --pause (-P) with the real binary: no command; as PID 1 of a PID
//! namespace it reaps what is reparented to it (processes that joined the
//! namespace with nsenter, as podman joins a pod's), ignores every signal
//! but INT and TERM, exits 0 on either, and makes no syscall while idle.

use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

/// rinit -vv -P as PID 1, and its pid on the host, once it sleeps.
fn start_paused() -> (Run, i32) {
    let run = start(pid1(&["-vv", "-P"]), secs(30.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    wait_until("rinit -P idle", secs(5.0), || is_idle(rinit));
    (run, rinit)
}

/// Children of `pid`, zombies included.
fn children(pid: i32) -> usize {
    processes()
        .iter()
        .filter(|(_, ppid, _, _)| *ppid == pid)
        .count()
}

/// Five processes join the namespace and leave orphans there: rinit reaps
/// them all; HUP, QUIT, USR1 and a real-time signal leave it running;
/// TERM ends it with 0.
fn reaps_joiners_ignores_signals_and_exits_0_on_term() {
    let (run, rinit) = start_paused();
    let out = Command::new("nsenter")
        .args(["-t", &rinit.to_string(), "-p", "--", "sh", "-c"])
        .arg("for i in 1 2 3 4 5; do (sleep 0.2 &); done; echo joined")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("joined"),
        "{out:?}"
    );
    // They were rinit's: the nsenter'd shell exited before they did.
    wait_until("5 orphans reaped", secs(5.0), || children(rinit) == 0);
    for sig in [libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGRTMIN()] {
        assert!(signal(rinit, sig));
        wait_taken(rinit, sig);
    }
    wait_until("rinit idle", secs(5.0), || is_idle(rinit));
    assert!(signal(rinit, libc::SIGTERM));
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stderr
            .matches("DEBUG reaped zombie process with pid=")
            .count(),
        5,
        "{out:?}"
    );
    assert_eq!(out.stderr.matches("DEBUG ignoring").count(), 4, "{out:?}");
    assert!(
        out.stderr
            .contains("INFO SIGTERM from pid 0: exiting (--pause)"),
        "{out:?}"
    );
}

/// SIGINT ends it too, with 0, and not PID 1 (a subreaper) as well.
fn int_ends_it_as_a_subreaper() {
    let run = start(subreaper(&["-P"]), secs(30.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    wait_until("rinit -P idle", secs(5.0), || is_idle(rinit));
    assert_eq!(
        status_field(rinit, "NSpid").map(|ns| ns.split_whitespace().count()),
        Some(2)
    );
    assert!(signal(rinit, libc::SIGINT));
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.ends_with("rinit-exit=0\n"), "{out:?}");
}

/// Idle, `rinit -P` sleeps in one read(2): strace attached for 2 s sees no
/// syscall finish, only that read interrupted by the detach.
fn idle_makes_no_syscall() {
    let (run, rinit) = start_paused();
    let trace = TempDir::new("pausetrace");
    let log = trace.file("strace.log");
    let out = Command::new("timeout")
        .args([
            "-s",
            "INT",
            "2",
            "strace",
            "-qq",
            "-p",
            &rinit.to_string(),
            "-o",
            &log,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(124) || out.status.success(),
        "{out:?}"
    );
    let traced = std::fs::read_to_string(&log).unwrap_or_default();
    // Exactly one line, which also shows strace did attach.
    let syscalls: Vec<&str> = traced.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        syscalls.len() == 1 && syscalls[0].starts_with("read(") && syscalls[0].contains("detached"),
        "syscalls while idle: {traced}"
    );
    assert!(signal(rinit, libc::SIGTERM));
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
}

/// A command or another option with --pause is a usage error.
fn pause_takes_no_command() {
    let out = run(pid1(&["-P", "sleep", "1"]), secs(10.0));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("rinit: --pause runs no command, but 'sleep' was given"),
        "{out:?}"
    );
    let out = run(pid1(&["--grace", "1s", "--pause"]), secs(10.0));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .contains("rinit: --grace does nothing with --pause"),
        "{out:?}"
    );
}

tests! {
    &[Root, PidNs] => [
        reaps_joiners_ignores_signals_and_exits_0_on_term,
        int_ends_it_as_a_subreaper,
        pause_takes_no_command,
    ];
    &[Root, PidNs, Strace] => [idle_makes_no_syscall];
}
