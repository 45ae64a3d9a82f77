//! --stop-delay with the real binary as PID 1: the first SIGTERM is held
//! for the delay while rinit keeps forwarding other signals and reaping;
//! a second SIGTERM, or the main child's own exit, ends the wait.

use crate::common::*;
use crate::needs::Need::*;
use std::time::Instant;

/// The main child: logs each TERM and USR1 with the time it arrived; on
/// USR1 it also leaves an orphan (a sleep whose parent exits at once) for
/// rinit to reap; ends on USR2 with 0, or with 5 once `$1` exists.
const CHILD: &str = r#"
trap 'echo "term $(date +%s.%N)"' TERM
trap 'echo "usr1 $(date +%s.%N)"; (sleep 0.1 &)' USR1
trap 'exit 0' USR2
echo ready
while :; do
    [ -e "$1" ] && exit 5
    sleep 0.02
done
"#;

/// rinit -vv (its debug lines say what it reaped) with --stop-delay 2s,
/// its pid on the host, and a flag file for the child.
fn start_delayed() -> (Run, i32, TempDir) {
    let dir = TempDir::new("stopdelay");
    let flag = dir.file("exit-now");
    let run = start(
        pid1(&["-vv", "--stop-delay", "2s", "sh", "-c", CHILD, "sh", &flag]),
        secs(30.0),
    );
    run.wait_stdout("ready", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    (run, rinit, dir)
}

fn count(text: &str, word: &str) -> usize {
    text.lines().filter(|l| l.starts_with(word)).count()
}

/// The TERM arrives after the delay (not before 2 s, and within 3 s);
/// meanwhile a USR1 is forwarded at once and an orphan is reaped.
fn the_first_term_waits_out_the_delay() {
    let (run, rinit, _dir) = start_delayed();
    let sent = Instant::now();
    assert!(signal(rinit, libc::SIGTERM));
    wait_taken(rinit, libc::SIGTERM);
    assert!(signal(rinit, libc::SIGUSR1));
    run.wait_stdout("usr1 ", secs(1.5));
    // The orphan sleeps 0.1 s, then rinit reaps it: still in the delay.
    run.wait_stderr("reaped zombie process with pid=", secs(1.5));
    let during = run.stdout_now();
    assert!(
        sent.elapsed() < secs(2.0),
        "too slow to tell: {:?}",
        sent.elapsed()
    );
    assert_eq!(count(&during, "term"), 0, "forwarded early: {during}");
    run.wait_stdout("term ", secs(3.5));
    let took = sent.elapsed();
    assert!(took >= secs(2.0) && took < secs(3.0), "TERM after {took:?}");
    assert!(signal(rinit, libc::SIGUSR2));
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(count(&out.stdout, "term"), 1, "{out:?}");
    assert!(
        out.stderr
            .contains("not forwarding SIGTERM (phase: stop delay (--stop-delay))"),
        "{out:?}"
    );
}

/// A second TERM ends the wait: the held TERM goes at once, and only it.
fn a_second_term_ends_the_delay() {
    let (run, rinit, _dir) = start_delayed();
    let first = Instant::now();
    assert!(signal(rinit, libc::SIGTERM));
    wait_taken(rinit, libc::SIGTERM);
    let second = Instant::now();
    assert!(signal(rinit, libc::SIGTERM));
    run.wait_stdout("term ", secs(1.5));
    let took = second.elapsed();
    assert!(
        took < secs(1.0) && first.elapsed() < secs(2.0),
        "TERM after {took:?}"
    );
    // Nothing more is held: past the first TERM's deadline, no other TERM
    // came; a later one is forwarded at once.
    std::thread::sleep((first + secs(2.5)).saturating_duration_since(Instant::now()));
    wait_until("rinit idle", secs(5.0), || is_idle(rinit));
    assert_eq!(count(&run.stdout_now(), "term"), 1, "{}", run.stdout_now());
    assert!(signal(rinit, libc::SIGTERM));
    wait_until("the third TERM", secs(1.0), || {
        count(&run.stdout_now(), "term") == 2
    });
    assert!(signal(rinit, libc::SIGUSR2));
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(count(&out.stdout, "term"), 2, "{out:?}");
}

/// The main child exits on its own during the delay: rinit exits with its
/// code at once, the held TERM never sent.
fn the_main_childs_exit_ends_the_delay() {
    let (run, rinit, dir) = start_delayed();
    let sent = Instant::now();
    assert!(signal(rinit, libc::SIGTERM));
    wait_taken(rinit, libc::SIGTERM);
    std::fs::write(dir.file("exit-now"), "").unwrap();
    let out = run.finish();
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(out.elapsed < secs(10.0));
    assert!(
        sent.elapsed() < secs(1.5),
        "exit after {:?}",
        sent.elapsed()
    );
    assert_eq!(count(&out.stdout, "term"), 0, "{out:?}");
}

tests! {
    &[Root, PidNs] => [
        the_first_term_waits_out_the_delay,
        a_second_term_ends_the_delay,
        the_main_childs_exit_ends_the_delay,
    ];
}
