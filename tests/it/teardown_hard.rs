//! The subreaper teardown under stress (issues 18 and 21): pidfds refused
//! by a seccomp profile or an old kernel, a fork-and-exit "hopper", a
//! crowd of leftovers, orphans exiting while rinit reaps.

use crate::common::*;
use crate::needs::Need::*;

/// A daemon in a session of its own that flushes on SIGTERM.
fn flushing_daemon() -> String {
    daemon_script("echo daemon-flushed; exit 0", true, 7)
}

/// strace makes one pidfd call fail as a seccomp profile (EPERM) or an
/// old kernel (ENOSYS) would: the leftover still gets SIGTERM (by pid,
/// after a re-check), rinit exits with the child's code, says once what
/// was refused, and claims no signal it did not send.
fn refused_pidfds_fall_back_to_signalling_by_pid() {
    for (call, error) in [
        ("pidfd_open", "EPERM"),
        ("pidfd_open", "ENOSYS"),
        ("pidfd_send_signal", "EPERM"),
        ("pidfd_send_signal", "ENOSYS"),
    ] {
        let how = format!("{call}:error={error}");
        let script = format!(
            r#"strace -qq -o /dev/null -e trace={call} -e inject={how} "$1" --grace 5s --stuck-timeout 1s sh -c "$2"; echo "rinit-exit=$?""#
        );
        let out = run(
            sh_in(&PID_NS, &script, &[rinit(), &flushing_daemon()]),
            secs(30.0),
        );
        assert!(out.stdout.contains("daemon-flushed"), "{how}: {out:?}");
        assert!(out.stdout.contains("rinit-exit=7"), "{how}: {out:?}");
        assert!(out.elapsed < secs(4.0), "{how}: took {:?}", out.elapsed);
        assert!(!out.stderr.contains("ignored SIGTERM"), "{how}: {out:?}");
        assert!(!out.stderr.contains("SIGKILL"), "{how}: {out:?}");
        assert!(!out.stderr.contains("no pidfds"), "{how}: {out:?}");
        assert_eq!(
            out.stderr.matches(&format!("{call} refused (")).count(),
            1,
            "{how}: {out:?}"
        );
        assert!(
            out.stderr
                .contains("the teardown signals by pid after a re-check"),
            "{how}: {out:?}"
        );
    }
}

/// A hopper (each generation forks the next and exits at once) left by
/// the main child: it gets SIGTERM (a generation writes the marker) and
/// ends with it, so rinit does not wait for the grace; nothing of it
/// outlives rinit; and rinit never says it "ignored SIGTERM". Five runs,
/// as a subreaper and as PID 1.
fn hopper_gets_sigterm_and_never_outlives_rinit() {
    let tmp = TempDir::new("hopper");
    for (how, pid1) in [("subreaper", false), ("pid 1", true)] {
        for round in 0..5 {
            let mark = tmp.file(&format!("mark-{how}-{round}").replace(' ', ""));
            let main = format!(
                r#"w=hopper-xyz; python3 {hopper} {mark} ${{w}}zy & while [ ! -e {mark}.hopping ]; do sleep 0.01; done; exit 7"#,
                hopper = helper("hopper.py")
            );
            // After rinit: any process whose command line has the word
            // (the pattern does not match itself).
            let check = r#"sleep 0.3; echo "left=$(grep -l 'hopper-xyzz[y]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l)""#;
            let script = if pid1 {
                format!(
                    r#"unshare --pid --fork --mount-proc "$1" --grace 20s --stuck-timeout 1s sh -c "$2"; echo "rinit-exit=$?"; {check}"#
                )
            } else {
                format!(
                    r#""$1" --grace 20s --stuck-timeout 1s sh -c "$2"; echo "rinit-exit=$?"; {check}"#
                )
            };
            let started = std::time::Instant::now();
            let out = run(sh_in(&PID_NS, &script, &[rinit(), &main]), secs(60.0));
            let marker = std::fs::read_to_string(&mark).unwrap_or_default();
            let what = format!("{how}, run {round}: {out:?}");
            assert!(out.stdout.contains("rinit-exit=7"), "{what}");
            assert!(out.stdout.contains("left=0"), "{what}");
            assert!(!marker.is_empty(), "no generation got SIGTERM: {what}");
            assert!(!out.stderr.contains("ignored SIGTERM"), "{what}");
            assert!(
                started.elapsed() < secs(12.0),
                "waited for the grace: {what}"
            );
        }
    }
}

/// Orphans exiting one after another while rinit reaps, with strace
/// holding each wait4 of rinit's open for 2 ms: an orphan that exits
/// between rinit's peek (waitid WNOWAIT) and its reaping is still named,
/// never counted as `?`.
fn orphans_exiting_while_reaped_are_all_named() {
    let script = r#"exec strace -qq -o /dev/null -e trace=wait4 -e inject=wait4:delay_enter=2000 "$1" -v --leaks warn -- python3 "$2" 200 orphan-x 1"#;
    let out = run(
        sh_in(&PID_NS, script, &[rinit(), &helper("stagger.py")]),
        secs(90.0),
    );
    assert!(out.stdout.contains("LEFT 0"), "{out:?}");
    assert!(
        out.stderr
            .contains("200 orphan(s) reaped during the run (orphan-x x200)"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("?"), "{out:?}");
}

/// 5,000 leftovers torn down as a subreaper: rinit's own CPU time stays
/// well under what a /proc scan per batch of pins cost (3 s here).
fn teardown_of_5000_leftovers_costs_little_cpu() {
    let script = r#"python3 "$1" "$2" --grace 20s python3 "$3" 5000"#;
    let (cpu, spread) = (helper("teardown_cpu.py"), helper("spread.py"));
    let out = run(
        sh_in(&PID_NS, script, &[&cpu, rinit(), &spread]),
        secs(120.0),
    );
    let cpu_ms: f64 = out
        .stdout
        .split("CPU-MS ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no CPU time: {out:?}"));
    assert!(out.stdout.contains("RINIT-EXIT 0 "), "{out:?}");
    assert!(cpu_ms < 1500.0, "rinit used {cpu_ms} ms of CPU: {out:?}");
}

tests! {
    &[Root, PidNs, Strace] => [refused_pidfds_fall_back_to_signalling_by_pid];
    &[Root, PidNs, Python] => [
        hopper_gets_sigterm_and_never_outlives_rinit,
        teardown_of_5000_leftovers_costs_little_cpu,
    ];
    &[Root, PidNs, Python, Strace] => [orphans_exiting_while_reaped_are_all_named];
}
