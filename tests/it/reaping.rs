use crate::common::*;
use crate::needs::Need::*;
use std::time::Duration;

/// 3000 orphans exiting at once: every one is reaped, none is left a zombie.
fn reaps_a_burst_of_3000_orphans() {
    let out = run(
        pid1(&["python3", &helper("orphans.py"), "3000"]),
        secs(120.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("CREATED 3000"), "{out:?}");
    assert!(out.stdout.contains("ZOMBIES 0 LEFT 0"), "{out:?}");
}

/// Not PID 1: rinit becomes a subreaper on its own, so orphans of its
/// descendants are reparented to it and reaped.
fn subreaper_adopts_and_reaps_orphans() {
    let run = start(
        subreaper(&[
            "sh",
            "-c",
            "sh -c 'tail -f /dev/null & :'; echo parent-gone; exec sleep 30",
        ]),
        secs(30.0),
    );
    run.wait_stdout("parent-gone", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    let mut orphan = 0;
    wait_until("the orphan to be adopted by rinit", secs(5.0), || {
        orphan = processes()
            .iter()
            .find(|(_, ppid, comm, _)| *ppid == rinit && comm == "tail")
            .map_or(0, |p| p.0);
        orphan != 0
    });
    assert!(signal(orphan, libc::SIGKILL));
    wait_until("the orphan to be reaped", secs(5.0), || {
        !std::path::Path::new(&format!("/proc/{orphan}")).exists()
    });
    signal(rinit, libc::SIGTERM);
    let out = run.finish();
    assert_eq!(out.code, Some(143), "{out:?}");
}

/// A stopped child is not an exited one: rinit keeps waiting, and a
/// forwarded SIGCONT lets the child finish.
fn stopped_child_is_not_exited() {
    let run = start(
        pid1(&[
            "sh",
            "-c",
            "echo stopping; kill -STOP $$; echo resumed; exit 5",
        ]),
        secs(20.0),
    );
    run.wait_stdout("stopping", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    let child = find_descendant(rinit, "sh", secs(5.0));
    wait_until("the child to stop", secs(5.0), || {
        status_field(child, "State").is_some_and(|s| s.starts_with('T'))
    });
    // The stop sent rinit a SIGCHLD; once rinit has handled it and waits
    // again, it has made its decision.
    wait_until("rinit to handle the SIGCHLD", secs(5.0), || is_idle(rinit));
    assert!(
        std::path::Path::new(&format!("/proc/{rinit}")).exists(),
        "rinit exited on a stopped child"
    );
    assert!(!run.stdout_now().contains("resumed"));
    signal(rinit, libc::SIGCONT);
    let out = run.finish();
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(out.stdout.contains("resumed"));
}

/// An idle rinit sleeps: no context switch at all over 2 s.
fn idle_rinit_never_wakes_up() {
    for cmd in [pid1(&["sleep", "30"]), subreaper(&["sleep", "30"])] {
        let run = start(cmd, secs(30.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        find_descendant(rinit, "sleep", secs(5.0));
        wait_until("rinit to finish starting up", secs(5.0), || is_idle(rinit));
        let switches = || {
            let v: u64 = status_field(rinit, "voluntary_ctxt_switches")
                .unwrap()
                .parse()
                .unwrap();
            let n: u64 = status_field(rinit, "nonvoluntary_ctxt_switches")
                .unwrap()
                .parse()
                .unwrap();
            v + n
        };
        let before = switches();
        std::thread::sleep(Duration::from_secs(2));
        let after = switches();
        assert_eq!(
            after,
            before,
            "rinit woke up {} times while idle",
            after - before
        );
        signal(rinit, libc::SIGTERM);
        assert_eq!(run.finish().code, Some(143));
    }
}

tests! {
    &[Root, PidNs, Python] => [reaps_a_burst_of_3000_orphans];
    &[Root, PidNs] => [
        subreaper_adopts_and_reaps_orphans,
        stopped_child_is_not_exited,
        idle_rinit_never_wakes_up,
    ];
}
