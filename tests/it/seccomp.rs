//! Old kernels and restrictive seccomp profiles: rinit under a filter that
//! refuses one syscall at a time (tests/helpers/refuse.py), with EPERM (a
//! profile older than the call, as Docker's before 20.10 for pidfd_open
//! and close_range) and with ENOSYS (a kernel older than the call). As PID
//! 1 of a PID namespace and as a subreaper, where the call applies, one
//! combined scenario each: rinit starts, forwards a signal, reaps an
//! orphan, tears down a leftover in another session (which flushes a
//! marker file on SIGTERM), lets go of an inherited descriptor, writes its
//! report and exits with the child's code. And it says exactly what it
//! could not do: a refusal with a fallback says nothing, one without says
//! one line naming what is lost, and nothing claims a signal that was not
//! sent. docs/kernel-support.md is the table these tests check.

use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scope {
    Pid1,
    Subreaper,
}

const ERRNOS: [&str; 2] = ["EPERM", "ENOSYS"];
const SCOPES: [Scope; 2] = [Scope::Pid1, Scope::Subreaper];

/// What `strerror` says for each errno: the line naming a refusal quotes it.
fn errno_text(errno: &str) -> &'static str {
    match errno {
        "EPERM" => "Operation not permitted",
        "ENOSYS" => "Function not implemented",
        _ => unreachable!("refuse.py takes EPERM or ENOSYS"),
    }
}

/// The main child: checks that a USR1 it sends rinit comes back (rinit
/// forwards it to the child's group), makes an orphan and waits for it to
/// be reaped, checks that rinit let go of the inherited fd 7 (and that it
/// kept its own copy), then starts a daemon in another session that writes
/// $MARKER when SIGTERM comes, and exits 7.
fn main_script() -> String {
    let checks = r#"
        got=; trap 'got=1' USR1
        kill -USR1 $PPID
        i=0; while [ -z "$got" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
        [ -n "$got" ] && echo forwarded-usr1
        (sleep 0.1 & echo $! > "$DIR/orphan")
        o=$(cat "$DIR/orphan")
        i=0; while [ -e /proc/$o ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
        [ -e /proc/$o ] || echo orphan-reaped
        i=0; while [ -e /proc/$PPID/fd/7 ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
        [ -e /proc/$PPID/fd/7 ] || echo rinit-let-go-of-fd7
        [ -e /proc/$$/fd/7 ] && echo child-kept-fd7
    "#;
    let daemon = daemon_script("echo flushed > $MARKER; exit 0", true, 7);
    format!("{checks}\n{daemon}")
}

struct Outcome {
    out: Finished,
    marker: Option<String>,
    report: bool,
    what: String,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}", self.what, self.out)
    }
}

/// Runs the scenario with `refuse` (refuse.py's SYSCALL[:ARG0] list)
/// refused with `errno`. The caller opens fd 7 for rinit to inherit.
fn run_refused(scope: Scope, errno: &str, refuse: &str) -> Outcome {
    let dir = TempDir::new("seccomp");
    let marker = dir.file("marker");
    let report = dir.file("report.json");
    let script = main_script();
    let refuse_py = helper("refuse.py");
    let args = [
        "python3",
        &refuse_py,
        "--errno",
        errno,
        refuse,
        "--",
        rinit(),
        "--grace",
        "2s",
        "--stuck-timeout",
        "1s",
        "--pdeathsig",
        "TERM",
        "--report",
        &report,
        "sh",
        "-c",
        &script,
    ];
    let wrapper = match scope {
        // sh execs the helper, which execs rinit: rinit is PID 1.
        Scope::Pid1 => "exec 7</dev/null; exec \"$@\"",
        Scope::Subreaper => {
            "exec 7</dev/null; \"$@\"; rc=$?; echo \"rinit-exit=$rc\" >&2; exit $rc"
        }
    };
    let mut cmd: Command = sh_in(&PID_NS, wrapper, &args);
    cmd.env("DIR", dir.path()).env("MARKER", &marker);
    let out = run(cmd, secs(30.0));
    Outcome {
        out,
        marker: std::fs::read_to_string(&marker).ok(),
        report: std::fs::metadata(&report).is_ok_and(|m| m.len() > 0),
        what: format!("{refuse} refused with {errno}, rinit as {scope:?}"),
    }
}

/// rinit's own log lines.
fn rinit_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("rinit: "))
        .collect()
}

/// Nothing rinit says claims a signal that was not sent or a process that
/// defied one: the leftover here flushes at the first SIGTERM.
fn assert_no_false_claims(o: &Outcome) {
    for false_claim in [
        "ignored SIGTERM",
        "survived SIGKILL",
        "although SIGKILL was sent",
        "stuck exit",
        "Linux < 5.3",
    ] {
        assert!(
            !o.out.stderr.contains(false_claim),
            "{false_claim:?}: {o:?}"
        );
    }
}

/// rinit says exactly one line per entry of `says` (each line containing
/// all of the entry's parts) and nothing else.
fn assert_says(o: &Outcome, says: &[&[&str]]) {
    let lines = rinit_lines(&o.out.stderr);
    assert_eq!(lines.len(), says.len(), "expected {says:?}: {o:?}");
    for parts in says {
        let matching = lines
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count();
        assert_eq!(matching, 1, "expected one line with {parts:?}: {o:?}");
    }
}

/// Everything rinit is for, done in full.
fn assert_full_service(o: &Outcome) {
    assert_eq!(o.out.code, Some(7), "{o:?}");
    for step in [
        "forwarded-usr1",
        "orphan-reaped",
        "rinit-let-go-of-fd7",
        "child-kept-fd7",
    ] {
        assert!(o.out.stdout.contains(step), "no {step}: {o:?}");
    }
    assert_eq!(
        o.marker.as_deref(),
        Some("flushed\n"),
        "the leftover did not get SIGTERM: {o:?}"
    );
    assert!(o.report, "no --report written: {o:?}");
    assert!(
        o.out.elapsed < secs(10.0),
        "took {:?}: {o:?}",
        o.out.elapsed
    );
    assert_no_false_claims(o);
}

/// close_range (Linux 5.9; refused by profiles older than Docker 20.10):
/// rinit closes the inherited descriptors one by one, as /proc/self/fd
/// lists them, and says nothing (before the fallback it said "cannot close
/// inherited descriptors" and kept them open).
fn close_range_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "close_range");
            assert_full_service(&o);
            assert_says(&o, &[]);
        }
    }
}

/// close_range refused and no /proc to list the descriptors with: rinit
/// closes every number up to the soft RLIMIT_NOFILE.
fn close_range_refused_without_proc() {
    let refuse_py = helper("refuse.py");
    let dir = TempDir::new("seccomp-noproc");
    // rinit's /proc is gone; the child mounts one elsewhere, out of
    // rinit's sight, to look at rinit's descriptors.
    let child = r#"mkdir -p "$DIR/proc" && mount -t proc proc "$DIR/proc" || exit 98
        fd7="$DIR/proc/$PPID/fd/7"
        i=0; while [ -e "$fd7" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
        [ -e "$fd7" ] || echo rinit-let-go-of-fd7; exit 7"#;
    let script = r#"umount -l /proc || exit 99; exec 7</dev/null; exec "$@""#;
    for errno in ERRNOS {
        let mut cmd = sh_in(
            &[&PID_NS[..], &MOUNT_NS[..]].concat(),
            script,
            &[
                "python3",
                &refuse_py,
                "--errno",
                errno,
                "close_range",
                "--",
                rinit(),
                "sh",
                "-c",
                child,
            ],
        );
        cmd.env("DIR", dir.path());
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(7), "{errno}: {out:?}");
        assert!(
            out.stdout.contains("rinit-let-go-of-fd7"),
            "{errno}: {out:?}"
        );
        assert!(
            !out.stderr.contains("cannot close inherited descriptors"),
            "{errno}: {out:?}"
        );
    }
}

/// getrandom (Linux 3.17), for the report's temporary name: the clock
/// stands in, the exclusive create keeps the name safe, nothing to say.
fn getrandom_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "getrandom");
            assert_full_service(&o);
            assert_says(&o, &[]);
        }
    }
}

/// PR_SET_PDEATHSIG refused: everything else works, and one line says
/// that rinit will not notice its parent's death.
fn pdeathsig_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "prctl:1");
            assert_full_service(&o);
            assert_says(
                &o,
                &[&[
                    "WARN",
                    "PR_SET_PDEATHSIG",
                    errno_text(errno),
                    "will not notice its parent's death",
                ]],
            );
        }
    }
}

/// PR_SET_CHILD_SUBREAPER (Linux 3.4) refused, as a subreaper (PID 1 never
/// asks for it): the command runs and gets its signals and its exit code
/// counts, and one line says that orphans are out of rinit's reach, for
/// reaping and for the teardown alike. Nothing claims they were signalled.
fn subreaper_refused() {
    for errno in ERRNOS {
        let o = run_refused(Scope::Subreaper, errno, "prctl:36");
        assert_eq!(o.out.code, Some(7), "{o:?}");
        assert!(o.out.stdout.contains("forwarded-usr1"), "{o:?}");
        assert!(o.report, "{o:?}");
        assert_no_false_claims(&o);
        assert_says(
            &o,
            &[&[
                "WARN",
                "PR_SET_CHILD_SUBREAPER",
                errno_text(errno),
                "can neither reap them nor end them",
            ]],
        );
    }
}

/// signalfd4 refused: rinit cannot serve signals at all, so it does not
/// run the command unsupervised: one line, exit 1 (a start-up failure).
fn signalfd_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "signalfd4");
            assert_eq!(o.out.code, Some(1), "{o:?}");
            assert_no_false_claims(&o);
            assert_says(
                &o,
                &[&["ERROR", "cannot create a signalfd", errno_text(errno)]],
            );
        }
    }
}

/// pidfd_open (Linux 5.3; EPERM under profiles older than Docker 20.10,
/// moby PR#41665). PID 1 signals with kill(-1) and never opens one. A
/// subreaper falls back to kill(2) after the re-check, as before pidfds,
/// and says so in one line that names the call and its error, without
/// guessing at the kernel's age.
///
/// Fails until the teardown's fallback lands (src/runtime.rs `pin` today,
/// src/teardown/signal.rs after the move): with EPERM rinit signals none
/// of the leftovers and then claims they ignored SIGTERM and survived
/// SIGKILL; with ENOSYS it blames "Linux < 5.3" on any kernel.
fn pidfd_open_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "pidfd_open");
            assert_full_service(&o);
            match scope {
                Scope::Pid1 => assert_says(&o, &[]),
                Scope::Subreaper => {
                    assert_says(&o, &[&["WARN", "pidfd_open", errno_text(errno), "by pid"]])
                }
            }
        }
    }
}

/// pidfd_send_signal (Linux 5.1) refused while pidfd_open works: the
/// subreaper falls back to kill(2) after the re-check, in one line naming
/// the call. Fails until that fallback lands (see `pidfd_open_refused`):
/// today every signal fails with a warning per process, then rinit claims
/// the leftovers ignored SIGTERM and survived SIGKILL.
fn pidfd_send_signal_refused() {
    for errno in ERRNOS {
        for scope in SCOPES {
            let o = run_refused(scope, errno, "pidfd_send_signal");
            assert_full_service(&o);
            match scope {
                Scope::Pid1 => assert_says(&o, &[]),
                Scope::Subreaper => assert_says(
                    &o,
                    &[&["WARN", "pidfd_send_signal", errno_text(errno), "by pid"]],
                ),
            }
        }
    }
}

/// waitid(P_PIDFD) (Linux 5.4): rinit does not use it (it waits with
/// P_ALL and waitpid), so refusing it changes nothing.
fn waitid_pidfd_refused() {
    for errno in ERRNOS {
        let o = run_refused(Scope::Subreaper, errno, "waitid:3");
        assert_full_service(&o);
        assert_says(&o, &[]);
    }
}

tests! {
    &[Root, PidNs, Python] => [
        close_range_refused,
        close_range_refused_without_proc,
        getrandom_refused,
        pdeathsig_refused,
        subreaper_refused,
        signalfd_refused,
        pidfd_open_refused,
        pidfd_send_signal_refused,
        waitid_pidfd_refused,
    ];
}
