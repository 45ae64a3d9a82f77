use crate::common::*;
use crate::needs::Need::*;

/// Every signal a process can catch: all but KILL, STOP, CHLD (rinit reaps
/// on it) and the synchronous faults that rinit leaves unblocked.
fn forwardable() -> Vec<i32> {
    (1..=64)
        .filter(|n| ![4, 5, 7, 8, 9, 11, 17, 19, 31].contains(n))
        .collect()
}

fn sigcatch(stop: i32) -> Vec<String> {
    vec!["python3".into(), helper("sigcatch.py"), stop.to_string()]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Each forwardable signal sent to rinit from outside reaches the child,
/// real-time ones included; TSTP, TTIN, TTOU and CONT never stop rinit.
fn forwards_every_catchable_signal() {
    for (mode, cmd) in [
        ("pid1", pid1(&strs(&sigcatch(15)))),
        ("subreaper", subreaper(&strs(&sigcatch(15)))),
    ] {
        let run = start(cmd, secs(60.0));
        run.wait_stdout("READY", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        // 32 and 33 kill the Python child (glibc will not let it block them);
        // they have a test of their own.
        let mut signals: Vec<i32> = forwardable()
            .into_iter()
            .filter(|n| *n != 15 && *n != 32 && *n != 33)
            .collect();
        signals.push(15);
        for sig in signals {
            assert!(signal(rinit, sig), "{mode}: cannot signal rinit");
            run.wait_stdout(&format!("GOT {sig} from "), secs(5.0));
            if [18, 20, 21, 22].contains(&sig) {
                let state = status_field(rinit, "State").unwrap_or_default();
                assert!(
                    !state.starts_with('T'),
                    "{mode}: rinit stopped by {sig}: {state}"
                );
            }
        }
        let out = run.finish();
        assert_eq!(out.code, Some(0), "{mode}: {out:?}");
    }
}

/// glibc's private signals 32 and 33 are forwarded like any other.
fn forwards_signals_32_and_33() {
    for sig in [32, 33] {
        let run = start(pid1(&["sh", "-c", "echo READY; exec sleep 30"]), secs(20.0));
        run.wait_stdout("READY", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        find_descendant(rinit, "sleep", secs(5.0));
        signal(rinit, sig);
        let out = run.finish();
        assert_eq!(out.code, Some(128 + sig), "{out:?}");
    }
}

/// By default signals go to the child's whole process group; with
/// --signal-child-only, to the child alone.
fn group_or_child_only() {
    let script = "trap 'echo main-got-usr1' USR1; \
        sh -c 'trap \"echo grandchild-got-usr1; exit 0\" USR1; echo grandchild-ready; while :; do sleep 0.05; echo grandchild-tick; done' & \
        wait $!; wait $!; echo main-done";
    for (flags, grandchild_gets_it) in [(vec![], true), (vec!["--signal-child-only"], false)] {
        let mut args = flags.clone();
        args.extend(["sh", "-c", script]);
        let run = start(pid1(&args), secs(20.0));
        run.wait_stdout("grandchild-ready", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        signal(rinit, libc::SIGUSR1);
        run.wait_stdout("main-got-usr1", secs(5.0));
        if grandchild_gets_it {
            run.wait_stdout("grandchild-got-usr1", secs(5.0));
            run.wait_stdout("main-done", secs(5.0));
        } else {
            // rinit signalled before the main child's trap ran; had the
            // grandchild been signalled too, its shell would run its trap
            // before the next command, so before its second tick from now.
            wait_until("two ticks of the grandchild", secs(5.0), || {
                let out = run.stdout_now();
                let (_, after) = out.split_once("main-got-usr1").unwrap();
                after.matches("grandchild-tick").count() >= 2
            });
            assert!(
                !run.stdout_now().contains("grandchild-got-usr1"),
                "{flags:?}"
            );
            signal(rinit, libc::SIGTERM);
        }
        let out = run.finish();
        if grandchild_gets_it {
            assert_eq!(out.code, Some(0), "{out:?}");
        }
    }
}

/// -r FROM:TO rewrites before forwarding; TO=0 drops; names like RTMIN+3.
fn rewrites_and_drops_signals() {
    let args = ["-r", "TERM:USR1", "-r", "USR2:0", "-r", "SIGRTMIN+3:HUP"];
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(sigcatch(libc::SIGINT));
    let run = start(pid1(&strs(&all)), secs(20.0));
    run.wait_stdout("READY", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    signal(rinit, libc::SIGTERM);
    run.wait_stdout(&format!("GOT {} ", libc::SIGUSR1), secs(5.0));
    signal(rinit, libc::SIGUSR2);
    signal(rinit, 37);
    run.wait_stdout(&format!("GOT {} ", libc::SIGHUP), secs(5.0));
    signal(rinit, libc::SIGINT);
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        !out.stdout.contains(&format!("GOT {} ", libc::SIGUSR2)),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains(&format!("GOT {} ", libc::SIGTERM)),
        "{out:?}"
    );
    assert!(!out.stdout.contains("GOT 37 "), "{out:?}");

    let mut cmd = pid1(&strs(&sigcatch(libc::SIGINT)));
    cmd.env("RINIT_REWRITE", "TERM:INT");
    let run = start(cmd, secs(20.0));
    run.wait_stdout("READY", secs(10.0));
    signal(
        find_descendant(run.pid(), "rinit", secs(5.0)),
        libc::SIGTERM,
    );
    assert_eq!(run.finish().code, Some(0));
}

/// `kill -USR1 1` from inside the namespace reaches the child too.
fn signals_from_inside_the_namespace_are_forwarded() {
    let out = run(
        pid1(&[
            "sh",
            "-c",
            "trap 'echo got-usr1; exit 4' USR1; kill -USR1 1; while :; do sleep 0.05; done",
        ]),
        secs(10.0),
    );
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(out.stdout.contains("got-usr1"));
}

/// 5000 signals at PID 1 in a burst: rinit survives, every queued
/// real-time signal reaches the child, the exit code is right.
fn survives_a_burst_of_5000_signals_from_outside() {
    let run = start(
        pid1(&["python3", &helper("burst.py"), "40", "5000", "0"]),
        secs(60.0),
    );
    run.wait_stdout("READY", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    for i in 0..5000 {
        assert!(signal(rinit, 40), "rinit died during the burst");
        if i % 100 == 0 {
            signal(rinit, libc::SIGUSR1);
        }
    }
    let out = run.finish();
    assert_eq!(out.code, Some(42), "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("COUNT"))
        .unwrap_or_default()
        .to_string();
    assert!(line.starts_with("COUNT 5000 USR1 "), "{out:?}");
    let usr1: u32 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        usr1 >= 1,
        "standard signals coalesce, but at least one must arrive: {out:?}"
    );
}

fn survives_a_burst_of_5000_signals_from_inside() {
    let out = run(
        pid1(&["python3", &helper("burst.py"), "41", "5000", "1"]),
        secs(60.0),
    );
    assert_eq!(out.code, Some(42), "{out:?}");
    assert!(out.stdout.contains("COUNT 5000 USR1 "), "{out:?}");
}

/// --pdeathsig: when rinit's parent dies, rinit acts as if it got SIGNAL.
fn parent_death_signal() {
    let dir = TempDir::new("pdeath");
    let log = dir.file("log");
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "sh",
        &helper("pdeathsig.sh"),
        rinit(),
        &log,
    ]);
    let out = run(cmd, secs(20.0));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(out.code, Some(0), "{out:?}\nlog: {text}");
    assert!(text.contains("child-got-term"), "{text}");
}

/// rinit as PID 1 or as a subreaper with `--cgroup` on read-only cgroup
/// mounts, as Docker and Kubernetes give them: one warning, before the
/// child starts. Its write fails and raises a signal at rinit: SIGPIPE when
/// stderr is a pipe nobody reads, SIGXFSZ when it is a file already past
/// RLIMIT_FSIZE. Prints the exit code rinit returns.
const FAILED_LOG_WRITE: &str = r#"
set -e
mode=$1 stderr=$2 rinit=$3
for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do mount -o remount,bind,ro "$m"; done
if [ "$mode" = pid1 ]; then
    set -- unshare --pid --fork --mount-proc --kill-child "$rinit"
else
    set -- "$rinit"
fi
set -- "$@" --cgroup "rinit-test-$$" sh -c 'sleep 0.3; exit 7'
set +e
if [ "$stderr" = closed-pipe ]; then
    python3 -c 'import os, subprocess, sys
r, w = os.pipe()
os.close(r)
print(subprocess.run(sys.argv[1:], stderr=w).returncode)' "$@"
else
    f=$(mktemp)
    head -c 2048 /dev/zero >"$f"
    (ulimit -f 1; exec "$@") 2>>"$f"
    echo $?
    rm -f "$f"
fi
"#;

/// A signal rinit raised at itself by a failed log write never reaches the
/// child: its exit code 7 comes through, in both modes.
fn failed_log_writes_never_reach_the_child() {
    for mode in ["pid1", "subreaper"] {
        for stderr in ["closed-pipe", "full-file"] {
            let cmd = sh_in(&MOUNT_NS, FAILED_LOG_WRITE, &[mode, stderr, rinit()]);
            let out = run(cmd, secs(20.0));
            assert_eq!(out.stdout, "7\n", "{mode}, stderr a {stderr}: {out:?}");
        }
    }
}

/// A main child that tells what it gets: TERM and CONT are noted, and TERM
/// ends it with 143 once its loop sees it (so that a CONT coming with the
/// TERM has its trap run too).
const TERM_AND_CONT_TRAPS: &str = "trap 'echo got-cont' CONT; trap 'echo got-term; t=1' TERM; \
    echo READY; while [ -z \"$t\" ]; do sleep 0.05; done; exit 143";

/// A TERM forwarded to a stopped child (Ctrl-Z, SIGSTOP) is followed by
/// SIGCONT, so the child acts on it at once instead of when someone
/// resumes it.
fn a_stopped_child_acts_on_a_forwarded_term() {
    for (mode, cmd) in [
        ("pid1", pid1(&["sh", "-c", TERM_AND_CONT_TRAPS])),
        ("subreaper", subreaper(&["sh", "-c", TERM_AND_CONT_TRAPS])),
    ] {
        // Without the SIGCONT the child stays stopped until the watchdog.
        let run = start(cmd, secs(15.0));
        run.wait_stdout("READY", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        let child = find_descendant(rinit, "sh", secs(5.0));
        signal(child, libc::SIGSTOP);
        wait_until(&format!("{mode}: the child stopped"), secs(5.0), || {
            status_field(child, "State").is_some_and(|s| s.starts_with('T'))
        });
        let term_sent = std::time::Instant::now();
        signal(rinit, libc::SIGTERM);
        let out = run.finish();
        let took = term_sent.elapsed();
        assert_eq!(out.code, Some(143), "{mode}: {out:?}");
        assert!(out.stdout.contains("got-term"), "{mode}: {out:?}");
        // The child acts within its 50 ms loop; the rest is slack for a
        // loaded machine.
        assert!(took < secs(3.0), "{mode}: took {took:?}: {out:?}");
    }
}

/// ...and only a stopped one: a running child's CONT handler is not run
/// for a SIGCONT nobody sent.
fn a_running_child_gets_no_sigcont() {
    let run = start(pid1(&["sh", "-c", TERM_AND_CONT_TRAPS]), secs(20.0));
    run.wait_stdout("READY", secs(10.0));
    signal(
        find_descendant(run.pid(), "rinit", secs(5.0)),
        libc::SIGTERM,
    );
    let out = run.finish();
    assert_eq!(out.code, Some(143), "{out:?}");
    assert_eq!(out.stdout, "READY\ngot-term\n", "{out:?}");
}

tests! {
    &[Root, PidNs, Python] => [
        failed_log_writes_never_reach_the_child,
        forwards_every_catchable_signal,
        rewrites_and_drops_signals,
        survives_a_burst_of_5000_signals_from_outside,
        survives_a_burst_of_5000_signals_from_inside,
    ];
    &[Root, PidNs] => [
        forwards_signals_32_and_33,
        group_or_child_only,
        signals_from_inside_the_namespace_are_forwarded,
        parent_death_signal,
        a_stopped_child_acts_on_a_forwarded_term,
        a_running_child_gets_no_sigcont,
    ];
}
