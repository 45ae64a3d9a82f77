use crate::common::*;
use crate::needs::Need::*;
use std::time::{Duration, Instant};

/// The main child exits while a setsid daemon runs: the daemon gets SIGTERM
/// and its trap's output is out before rinit exits, with the main child's
/// code; rinit ends as soon as the daemon is gone, not after --grace.
fn main_exit_lets_daemons_flush_and_finishes_early() {
    let flushing = daemon_script("echo daemon-flushed; exit 0", false, 5);
    for (mode, cmd) in [
        ("pid1", pid1(&["--grace", "30s", "sh", "-c", &flushing])),
        (
            "subreaper",
            subreaper(&["--grace", "30s", "sh", "-c", &flushing]),
        ),
    ] {
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(5), "{mode}: {out:?}");
        assert!(
            out.stdout.contains("daemon-ready") && out.stdout.contains("daemon-flushed"),
            "{mode}: {out:?}"
        );
        assert!(
            out.elapsed < secs(5.0),
            "{mode}: took {:?} with --grace 30s",
            out.elapsed
        );
    }
}

/// A daemon that ignores SIGTERM is SIGKILLed once --grace ends.
fn daemon_ignoring_term_is_killed_after_grace() {
    let stubborn = daemon_script("", false, 5);
    for (mode, cmd) in [
        ("pid1", pid1(&["--grace", "1s", "sh", "-c", &stubborn])),
        (
            "subreaper",
            subreaper(&["--grace", "1s", "sh", "-c", &stubborn]),
        ),
    ] {
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(5), "{mode}: {out:?}");
        assert!(out.stdout.contains("daemon-ready"), "{mode}: {out:?}");
        assert!(
            out.elapsed >= secs(1.0) && out.elapsed < secs(3.5),
            "{mode}: took {:?}",
            out.elapsed
        );
    }
}

/// As a subreaper rinit signals its descendants only, never kill(-1): a
/// process beside it survives its teardown.
fn subreaper_teardown_spares_non_descendants() {
    let flushing = daemon_script("echo daemon-flushed; exit 0", false, 5);
    let cmd = subreaper_with(
        "sleep 30 & sibling=$!",
        "kill -0 $sibling && echo sibling-alive >&2",
        &["--grace", "5s", "sh", "-c", &flushing],
    );
    let out = run(cmd, secs(30.0));
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(out.stdout.contains("daemon-flushed"), "{out:?}");
    assert!(out.stderr.contains("sibling-alive"), "{out:?}");
}

/// The stop signal goes to the child's group; then the rest is torn down.
fn stop_signal_then_teardown() {
    let script = "trap 'echo main-term; exit 3' TERM; \
        sh -c 'trap \"echo job-term; exit 0\" TERM; echo job-ready; while :; do sleep 0.05; done' & \
        echo ready; while :; do sleep 0.05; done";
    let run = start(pid1(&["sh", "-c", script]), secs(20.0));
    run.wait_stdout("job-ready", secs(10.0));
    run.wait_stdout("ready\n", secs(10.0));
    signal(
        find_descendant(run.pid(), "rinit", secs(5.0)),
        libc::SIGTERM,
    );
    let out = run.finish();
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(
        out.stdout.contains("main-term") && out.stdout.contains("job-term"),
        "{out:?}"
    );

    // Without a trap the child dies of it: 128+15.
    let run = start(pid1(&["sh", "-c", "echo ready; exec sleep 30"]), secs(20.0));
    run.wait_stdout("ready", secs(10.0));
    signal(
        find_descendant(run.pid(), "rinit", secs(5.0)),
        libc::SIGTERM,
    );
    assert_eq!(run.finish().code, Some(143));
}

const IGNORES_TERM: &str = "trap '' TERM INT; trap 'echo got-quit' QUIT; trap 'echo got-hup' HUP; trap 'exit 6' USR1; echo ready; while :; do sleep 0.05; done";

/// Off by default: a child that ignores SIGTERM keeps running.
fn without_kill_after_signals_are_only_forwarded() {
    let run = start(pid1(&["sh", "-c", IGNORES_TERM]), secs(20.0));
    run.wait_stdout("ready", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    signal(rinit, libc::SIGTERM);
    signal(rinit, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(std::path::Path::new(&format!("/proc/{rinit}")).exists());
    signal(rinit, libc::SIGUSR1);
    assert_eq!(run.finish().code, Some(6));
}

/// --kill-after: the child ignores SIGTERM and is SIGKILLed after DURATION.
fn kill_after_kills_a_child_that_ignores_term() {
    let run = start(
        pid1(&["--kill-after", "1s", "sh", "-c", IGNORES_TERM]),
        secs(20.0),
    );
    run.wait_stdout("ready", secs(10.0));
    let sent = Instant::now();
    signal(
        find_descendant(run.pid(), "rinit", secs(5.0)),
        libc::SIGTERM,
    );
    let out = run.finish();
    let after = sent.elapsed();
    assert_eq!(out.code, Some(137), "{out:?}");
    assert!(after >= secs(0.9) && after < secs(3.0), "took {after:?}");
}

/// A second SIGTERM or SIGINT while the timer runs means SIGKILL now.
fn kill_after_second_signal_kills_now() {
    let run = start(
        pid1(&["--kill-after", "30s", "sh", "-c", IGNORES_TERM]),
        secs(20.0),
    );
    run.wait_stdout("ready", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    let sent = Instant::now();
    signal(rinit, libc::SIGTERM);
    wait_taken(rinit, libc::SIGTERM);
    signal(rinit, libc::SIGINT);
    let out = run.finish();
    assert_eq!(out.code, Some(137), "{out:?}");
    assert!(sent.elapsed() < secs(3.0), "took {:?}", sent.elapsed());
}

/// QUIT (a JVM's thread dump) and the other signals never arm the timer.
fn kill_after_is_not_armed_by_quit() {
    let mut cmd = pid1(&["sh", "-c", IGNORES_TERM]);
    cmd.env("RINIT_KILL_AFTER", "300ms");
    let run = start(cmd, secs(20.0));
    run.wait_stdout("ready", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    signal(rinit, libc::SIGQUIT);
    signal(rinit, libc::SIGHUP);
    run.wait_stdout("got-quit", secs(5.0));
    run.wait_stdout("got-hup", secs(5.0));
    std::thread::sleep(Duration::from_millis(1000));
    signal(rinit, libc::SIGUSR1);
    assert_eq!(run.finish().code, Some(6));
}

/// When --grace ends, one warning at the default level names each process
/// that ignored SIGTERM (its argv escaped: a newline in it cannot forge a
/// log line); with nothing left, no word of sending SIGTERM.
fn grace_survivors_are_named_and_nothing_left_is_not_signalled() {
    let stubborn = r#"f=$(mktemp); setsid sh -c 'trap "" TERM; rm -f "$1"; while :; do sleep 0.05; done' "$(printf 'evil\nrinit: ERROR forged')" "$f" & while [ -e "$f" ]; do sleep 0.01; done; exit 5"#;
    for (mode, cmd) in [
        ("pid1", pid1(&["--grace", "1s", "sh", "-c", stubborn])),
        (
            "subreaper",
            subreaper(&["--grace", "1s", "sh", "-c", stubborn]),
        ),
    ] {
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(5), "{mode}: {out:?}");
        let warnings: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("ignored SIGTERM for 1000 ms (--grace)"))
            .collect();
        assert_eq!(warnings.len(), 1, "{mode}: {out:?}");
        assert!(
            warnings[0].starts_with("rinit: WARN ")
                && warnings[0].contains(r#"(sh -c trap "" TERM; rm -f"#)
                && warnings[0].contains(r"evil\nrinit: ERROR forged"),
            "{mode}: {out:?}"
        );
        assert!(
            !out.stderr
                .lines()
                .any(|l| l.starts_with("rinit: ERROR forged")),
            "{mode}: {out:?}"
        );
    }
    for (mode, cmd) in [
        ("pid1", pid1(&["-v", "sh", "-c", "exit 4"])),
        ("subreaper", subreaper(&["-v", "sh", "-c", "exit 4"])),
    ] {
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(4), "{mode}: {out:?}");
        assert!(!out.stderr.contains("SIGTERM"), "{mode}: {out:?}");
    }
}

tests! {
    &[Root, PidNs] => [
        main_exit_lets_daemons_flush_and_finishes_early,
        daemon_ignoring_term_is_killed_after_grace,
        subreaper_teardown_spares_non_descendants,
        stop_signal_then_teardown,
        without_kill_after_signals_are_only_forwarded,
        kill_after_kills_a_child_that_ignores_term,
        kill_after_second_signal_kills_now,
        kill_after_is_not_armed_by_quit,
        grace_survivors_are_named_and_nothing_left_is_not_signalled,
    ];
}
