//! Whom the subreaper teardown signals: its own descendants, never a
//! process that merely has a number /proc gave it, whether that /proc is
//! another namespace's or the pid was recycled since the scan.

use crate::common::*;
use crate::needs::Need::*;
use std::io::BufRead;
use std::process::{Command, Stdio};

/// A host process with a child, both the test's own: their pids are the
/// numbers a rinit reading the host's /proc would take for its own.
struct Decoy {
    parent: std::process::Child,
    child: i32,
}

impl Decoy {
    fn new() -> Decoy {
        let mut parent = Command::new("sh")
            .args(["-c", "sleep 60 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(parent.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let child = line.trim().parse().unwrap();
        Decoy { parent, child }
    }

    fn pid(&self) -> i32 {
        self.parent.id() as i32
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        signal(self.child, libc::SIGKILL);
        let _ = self.parent.kill();
        let _ = self.parent.wait();
    }
}

/// `unshare --pid --fork` *without* --mount-proc: rinit reads the host's
/// /proc. Inside the new namespace a `sleep` (a stranger: the namespace's
/// init started it, not rinit) gets the pid the decoy's child has on the
/// host, and rinit gets the decoy's pid: a rinit that trusts that /proc
/// takes the stranger for its child and kills it. rinit must leave it
/// alone, find its real descendants (a setsid daemon) through /proc/self,
/// let the daemon flush, and say once why.
fn outer_proc_never_signals_a_stranger() {
    let decoy = Decoy::new();
    let flushing = daemon_script("echo daemon-flushed; exit 0", true, 5);
    let main = format!("echo rinit-pid=$PPID; {flushing}");
    let script = r#"
        echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid; sleep 60 & stranger=$!
        echo "stranger-pid=$stranger"
        echo $(($2 - 1)) > /proc/sys/kernel/ns_last_pid
        "$3" --grace 10s --stuck-timeout 1s sh -c "$4"; rc=$?
        kill -0 $stranger && echo stranger-alive
        echo "rinit-exit=$rc""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child", "sh", "-c", script, "sh"])
        .arg(decoy.child.to_string())
        .arg(decoy.pid().to_string())
        .args([rinit(), &main]);
    let out = run(cmd, secs(30.0));
    // The collision is what the test is about: make sure it happened.
    assert!(
        out.stdout
            .contains(&format!("stranger-pid={}\n", decoy.child))
            && out.stdout.contains(&format!("rinit-pid={}\n", decoy.pid())),
        "no pid collision: {out:?}"
    );
    assert!(out.stdout.contains("stranger-alive"), "{out:?}");
    assert!(out.stdout.contains("rinit-exit=5"), "{out:?}");
    assert!(out.stdout.contains("daemon-flushed"), "{out:?}");
    assert!(out.elapsed < secs(8.0), "took {:?}", out.elapsed);
    assert_eq!(
        out.stderr
            .matches("/proc shows an outer PID namespace")
            .count(),
        1,
        "{out:?}"
    );
}

/// No /proc at all (unmounted in a private mount namespace): rinit says so
/// once, still reaches the main child's process group (a background job
/// there flushes), names what ignored SIGTERM as best it can, and never
/// claims that nothing survived while a daemon it cannot see is running.
fn without_proc_the_main_group_is_reached_and_survivors_are_not_denied() {
    let job = r#"j=$(mktemp); sh -c 'trap "echo job-flushed; exit 0" TERM; rm -f "$1"; while :; do sleep 0.05; done' sh "$j" & while [ -e "$j" ]; do sleep 0.01; done;"#;
    let stubborn = daemon_script("", true, 5);
    let main = format!("{job} {stubborn}");
    let script = r#"
        umount -l /proc || exit 99
        "$1" --grace 1s --stuck-timeout 1s sh -c "$2"; echo "rinit-exit=$?""#;
    // No --mount-proc: the test unmounts the outer /proc itself.
    let namespaces = ["--pid", "--fork", "--kill-child"];
    let cmd = sh_in(
        &[&namespaces[..], &MOUNT_NS[..]].concat(),
        script,
        &[rinit(), &main],
    );
    let out = run(cmd, secs(30.0));
    assert!(out.stdout.contains("rinit-exit=5"), "{out:?}");
    assert!(out.stdout.contains("job-flushed"), "{out:?}");
    assert_eq!(
        out.stderr
            .matches("/proc does not show rinit's PID namespace")
            .count(),
        1,
        "{out:?}"
    );
    assert!(!out.stderr.contains("0 process(es)"), "{out:?}");
    assert!(!out.stderr.contains("gone meanwhile"), "{out:?}");
    assert!(
        out.stderr.contains(
            "ignored SIGTERM for 1000 ms (--grace): children of rinit that /proc cannot name"
        ),
        "{out:?}"
    );
}

/// Between the /proc scan and the signal, a descendant is reaped by its
/// own parent and its pid goes to a stranger (the namespace's init starts
/// a `sleep` with exactly that pid, through ns_last_pid). strace delays
/// every kill, pidfd_open and pidfd_send_signal of rinit to hold the window
/// open. The stranger must survive the teardown.
fn recycled_pid_is_not_signalled() {
    let tmp = TempDir::new("recycle");
    let pidfile = tmp.file("target");
    // The main child starts P, whose child T writes its pid, outlives the
    // main child by 0.3 s (so rinit's scan finds it), and is reaped by P.
    let main = format!(
        r#"sh -c 'sh -c "echo \$\$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; while kill -0 $0 2>/dev/null; do sleep 0.02; done; sleep 0.3" & wait' $$ &
        while ! [ -s {pidfile} ]; do sleep 0.01; done; exit 5"#
    );
    let script = format!(
        r#"
        strace -qq -o /dev/null -e trace=kill,pidfd_open,pidfd_send_signal \
            -e inject=kill,pidfd_open,pidfd_send_signal:delay_enter=1500000 \
            "$1" --grace 1s --stuck-timeout 1s sh -c "$2" & rinit=$!
        while ! [ -s {pidfile} ]; do sleep 0.01; done; target=$(cat {pidfile})
        while kill -0 $target 2>/dev/null; do sleep 0.01; done
        echo $((target - 1)) > /proc/sys/kernel/ns_last_pid; sleep 30 & stranger=$!
        [ "$stranger" = "$target" ] && echo pid-recycled
        wait $rinit; rc=$?
        kill -0 $stranger && echo stranger-alive
        echo "rinit-exit=$rc""#
    );
    let cmd = sh_in(&PID_NS, &script, &[rinit(), &main]);
    let out = run(cmd, secs(60.0));
    assert!(out.stdout.contains("pid-recycled"), "{out:?}");
    assert!(out.stdout.contains("rinit-exit=5"), "{out:?}");
    assert!(out.stdout.contains("stranger-alive"), "{out:?}");
}

/// rinit as the PID 1 of a whole machine starts before anything mounts
/// /proc (an initramfs's init): here the PID 1 of a new PID namespace whose
/// /proc is still the host's, and the command mounts the namespace's own
/// /proc (in a private mount namespace both share). The teardown and
/// --leaks must use the /proc of the end: the leftover is named, and rinit
/// does not say it cannot name it.
fn proc_mounted_after_start_is_used_at_the_end() {
    let dir = TempDir::new("lateproc");
    let go = dir.file("go");
    // The mount waits for the test's word, given once rinit has said that
    // its /proc is not its namespace's: else it could come first.
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.01; done; mount -t proc proc /proc && {{ sleep 300 & }} && exit 0"
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount",
        "--propagation",
        "private",
        rinit(),
        "-v",
        "--leaks",
        "warn",
        "--grace",
        "300ms",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let run = start(cmd, secs(20.0));
    run.wait_stderr("/proc does not show rinit's PID namespace", secs(10.0));
    std::fs::write(&go, "").unwrap();
    let out = run.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("/proc now shows rinit's PID namespace"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("leak: pid ") && out.stderr.contains("still running after"),
        "the leftover is not named: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("cannot name them"), "{}", out.stderr);
}

tests! {
    &[Root, PidNs] => [
        outer_proc_never_signals_a_stranger,
        without_proc_the_main_group_is_reached_and_survivors_are_not_denied,
        proc_mounted_after_start_is_used_at_the_end,
    ];
    &[Root, PidNs, Strace] => [recycled_pid_is_not_signalled];
}
