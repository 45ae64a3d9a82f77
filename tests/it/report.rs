//! Where and how the exit report (--report PATH) is written, with the real
//! binary: only over a regular file (never a device, FIFO, socket,
//! directory or symlink), in place when PATH is bind-mounted (Kubernetes'
//! terminationMessagePath), into the directory opened at start-up, at every
//! exit including the start-up failures, never leaving an older run's
//! report to pass for this one, and in bounded time on a filesystem that
//! does not answer. Mounts and /dev paths only ever in a private mount
//! namespace, on a private tmpfs.

use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;

/// `script` in a private mount namespace with a private tmpfs on /dev
/// (never the host's): `$R` is rinit, `$V` the report validator.
fn in_private_dev(script: &str) -> Command {
    let setup = format!(
        "mount -t tmpfs -o mode=755 rinit-test /dev || exit 97\nR={rinit}\nV={validator}\n{script}",
        rinit = rinit(),
        validator = helper("exit_report.py")
    );
    sh_in(&MOUNT_NS, &setup, &[])
}

/// --report /dev/null (a natural way to switch the report off from an
/// image's ENV) and every other PATH that is not a regular file: a usage
/// error before the command runs, and the thing at PATH left as it was.
fn a_path_that_is_not_a_regular_file_is_a_usage_error() {
    let script = r#"
mknod /dev/null c 1 3
mkfifo /dev/fifo
mkdir /dev/dir
ln -s /proc/self/fd/1 /dev/stdout
python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("/dev/sock")'
for p in /dev/null /dev/fifo /dev/dir /dev/stdout /dev/sock; do
    "$R" --report "$p" touch /dev/ran 2>/dev/err
    echo "$p rc=$? $(stat -c %F $p) ran=$([ -e /dev/ran ] && echo yes || echo no) $(cat /dev/err)"
done
"#;
    let out = run(in_private_dev(script), secs(30.0));
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = |p: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("no line for {p}: {out:?}"))
            .to_string()
    };
    for (path, kind, said) in [
        ("/dev/null", "character special file", "a character device"),
        ("/dev/fifo", "fifo", "a FIFO"),
        ("/dev/dir", "directory", "a directory"),
        ("/dev/stdout", "symbolic link", "a symbolic link"),
        ("/dev/sock", "socket", "a socket"),
    ] {
        let line = line(path);
        let expected = format!(
            "{path} rc=2 {kind} ran=no rinit: invalid value '{path}' for --report: {path} is {said}, not a regular file"
        );
        assert!(line.starts_with(&expected), "{line}\n{out:?}");
    }
    assert!(
        line("/dev/null").ends_with(
            "(to write no report, leave --report out and RINIT_REPORT empty) (try 'rinit --help')"
        ),
        "{out:?}"
    );
}

/// Kubernetes mounts terminationMessagePath as a file bind-mounted onto
/// the path: it cannot be replaced (rename: EBUSY), so it is written in
/// place; the previous run's content is gone before the command runs.
fn a_bind_mounted_report_is_written_in_place() {
    let script = r#"
mkdir /dev/pod && : > /dev/pod/termination-log && : > /dev/termination-log
mount --bind /dev/pod/termination-log /dev/termination-log || exit 96
echo '{"exit_code":0}' > /dev/termination-log
unshare --pid --fork --mount-proc --kill-child "$R" --report /dev/termination-log \
    sh -c 'echo "during=$(wc -c < /dev/termination-log)"; exit 3'
echo "rc=$?"
python3 "$V" /dev/pod/termination-log
findmnt -n -o TARGET /dev/termination-log
"#;
    let out = run(in_private_dev(script), secs(30.0));
    assert!(out.stdout.contains("during=0\n"), "{out:?}");
    assert!(out.stdout.contains("rc=3\n"), "{out:?}");
    assert!(
        out.stdout.contains("EXIT code=3 main=3 mode=off"),
        "{out:?}"
    );
    assert!(
        out.stdout.ends_with("/dev/termination-log\n"),
        "still bind-mounted: {out:?}"
    );
    assert!(!out.stderr.contains("rinit:"), "{out:?}");
}

/// The directory is resolved once, at start-up: through a symlinked
/// directory (/var/run -> /run) without a false error, and a directory
/// swapped for a symlink during the run does not redirect the write.
fn the_report_directory_is_opened_once() {
    let dir = TempDir::new("reportdir");
    let d = dir.path().display().to_string();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    std::os::unix::fs::symlink("run", dir.path().join("var-run")).unwrap();
    let report = format!("{d}/var-run/r.json");
    let swap = format!("mv {d}/run {d}/run.old && ln -s elsewhere {d}/run && exit 6");
    let out = run(pid1(&["--report", &report, "sh", "-c", &swap]), secs(30.0));
    assert_eq!(out.code, Some(6), "{out:?}");
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(
        report_facts(&format!("{d}/run.old/r.json")).contains("EXIT code=6 main=6"),
        "{out:?}"
    );
    assert!(
        !dir.path().join("elsewhere/r.json").exists(),
        "the write followed the swapped-in symlink"
    );

    // The same without the swap, as a subreaper: no error line at all.
    std::fs::remove_file(dir.path().join("run")).unwrap();
    std::fs::rename(dir.path().join("run.old"), dir.path().join("run")).unwrap();
    let out = run(subreaper(&["--report", &report, "true"]), secs(30.0));
    assert!(out.stderr.ends_with("rinit-exit=0\n"), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(report_facts(&report).contains("EXIT code=0 main=0"));
}

/// A report that cannot be written this time leaves no older run's report
/// at PATH: it is removed before the command runs.
fn an_earlier_report_never_passes_for_this_one() {
    let dir = TempDir::new("stale");
    let report = dir.file("r.json");
    std::fs::write(&report, r#"{"exit_code":0}"#).unwrap();
    // The command sees PATH, then puts a non-empty directory there, so
    // that the report cannot be written.
    let script = format!(
        r#"[ -e {report} ] && echo stale-seen; mkdir {report} && touch {report}/x; exit 5"#
    );
    let out = run(
        pid1(&["--report", &report, "sh", "-c", &script]),
        secs(30.0),
    );
    assert_eq!(out.code, Some(5), "{out:?}");
    assert!(!out.stdout.contains("stale-seen"), "{out:?}");
    assert!(
        out.stderr
            .contains("ERROR exit report not written: cannot rename "),
        "{out:?}"
    );
    assert!(std::path::Path::new(&report).join("x").exists());
}

/// --cgroup-required failing: exit 1, the command not run, and a report
/// that says so (no main child, the error).
fn a_start_up_failure_writes_a_report() {
    let dir = TempDir::new("startfail");
    let report = dir.file("r.json");
    let marker = dir.file("ran");
    std::fs::write(&report, r#"{"exit_code":0}"#).unwrap();
    let read_only = r#"for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do mount -o remount,bind,ro "$m"; done"#;
    let name = format!("rinit-test-{}-report", std::process::id());
    let out = run(
        in_mount_ns(
            read_only,
            &[
                "--cgroup-required",
                "--cgroup",
                &name,
                "--report",
                &report,
                "touch",
                &marker,
            ],
        ),
        secs(30.0),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(!std::path::Path::new(&marker).exists());
    let facts = report_facts(&report);
    assert!(facts.contains("EXIT code=1 main=None mode=off"), "{facts}");
    assert!(
        facts.contains(&format!("START error=cgroup {name} is required, but ")),
        "{facts}"
    );
}

/// The signalfd is made before the fork: when it cannot be (strace makes
/// signalfd4 fail, after a delay that gives a started command all the
/// time it needs), the command never runs; exit 1 and a report.
fn no_signalfd_no_command() {
    let dir = TempDir::new("nosignalfd");
    let report = dir.file("r.json");
    let marker = dir.file("ran");
    let mut cmd = Command::new("unshare");
    cmd.args(PID_NS)
        .args([
            "strace",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=signalfd4",
            "-e",
            "inject=signalfd4:error=EMFILE:delay_enter=300000",
        ])
        .args([rinit(), "--report", &report, "touch", &marker]);
    let out = run(cmd, secs(30.0));
    assert_eq!(out.code, Some(1), "{out:?}");
    // EMFILE as glibc (the debug build) and musl (the shipped one) say it.
    let emfile = ["Too many open files", "No file descriptors available"];
    assert!(
        emfile.iter().any(|text| out
            .stderr
            .contains(&format!("ERROR cannot create a signalfd: {text}"))),
        "{out:?}"
    );
    assert!(
        !std::path::Path::new(&marker).exists(),
        "the command ran: {out:?}"
    );
    let facts = report_facts(&report);
    assert!(
        emfile
            .iter()
            .any(|text| facts.contains(&format!("START error=cannot create a signalfd: {text}"))),
        "{facts}"
    );
}

/// A FUSE daemon that never answers CREATE, mounted in a private mount
/// namespace, and the report's directory on it: writing the report hangs
/// in the kernel, uninterruptibly. rinit gives it --stuck-timeout, says so
/// in one line and exits; as a subreaper at once, as PID 1 once the
/// namespace's last task (the blocked writer) is released.
fn a_hung_filesystem_costs_the_report_not_the_exit() {
    for how in ["subreaper", "pid1"] {
        let dir = TempDir::new("hungreport");
        let d = dir.path().display().to_string();
        let inner = match how {
            "pid1" => {
                "unshare --pid --fork --mount-proc --kill-child \"$@\"; echo rinit-exit=$? >&2"
            }
            _ => {
                "unshare --pid --fork --mount-proc --kill-child sh -c '\"$@\"; echo rinit-exit=$? >&2' sh \"$@\""
            }
        };
        let script = format!(
            r#"mkdir -p {d}/mnt
python3 {hangfs} {d}/mnt --hang-create --log {d}/hangfs.log > {d}/hangfs.out &
echo $! > {d}/daemon.pid
i=0; until grep -q READY {d}/hangfs.out 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && exit 98; sleep 0.05; done
{inner}
kill -KILL $(cat {d}/daemon.pid) 2>/dev/null"#,
            hangfs = helper("hangfs.py")
        );
        let mut cmd = sh_in(&MOUNT_NS, &script, &[rinit()]);
        cmd.args([
            "--stuck-timeout",
            "1s",
            "--report",
            &format!("{d}/mnt/r.json"),
            "sh",
            "-c",
            "echo main-exit; exit 4",
        ]);
        let release = || {
            if let Ok(pid) = std::fs::read_to_string(dir.path().join("daemon.pid")) {
                signal(pid.trim().parse().unwrap(), libc::SIGKILL);
            }
        };
        struct Release<F: Fn()>(F);
        impl<F: Fn()> Drop for Release<F> {
            fn drop(&mut self) {
                (self.0)()
            }
        }
        let _guard = Release(release);
        let run = start(cmd, secs(60.0));
        run.wait_stdout("main-exit", secs(20.0));
        let exited = std::time::Instant::now();
        let stderr = run.wait_stderr("exit report not written", secs(5.0));
        assert!(
            stderr.contains(&format!(
                "ERROR exit report not written: {d}/mnt/r.json did not answer within 1000 ms; its writer, pid "
            )),
            "{how}: {stderr}"
        );
        assert!(
            exited.elapsed() < secs(3.0),
            "{how}: {:?}",
            exited.elapsed()
        );
        if how == "subreaper" {
            run.wait_stderr("rinit-exit=4", secs(2.0));
        }
        release();
        let out = run.finish();
        assert!(out.stderr.contains("rinit-exit=4"), "{how}: {out:?}");
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.contains("rinit: ERROR"))
                .count(),
            1,
            "{how}: {out:?}"
        );
    }
}

/// --report-format text, as Kubernetes reads it: the termination message
/// in the bind-mounted /dev/termination-log, one line per fact (the main
/// child killed by SIGKILL, the sleep it left behind), nothing else.
fn the_text_form_is_a_termination_message() {
    let script = r#"
mknod /dev/null c 1 3
mkdir /dev/pod && : > /dev/pod/termination-log && : > /dev/termination-log
mount --bind /dev/pod/termination-log /dev/termination-log || exit 96
echo 'exit 0' > /dev/termination-log
unshare --pid --fork --mount-proc --kill-child "$R" --grace 500ms \
    --report /dev/termination-log --report-format text \
    sh -c 'sleep 1000 & until [ "$(cat /proc/$!/comm)" = sleep ]; do sleep 0.01; done; kill -KILL $$'
echo "rc=$?"
echo "--- message"
cat /dev/pod/termination-log
"#;
    let out = run(in_private_dev(script), secs(30.0));
    assert!(
        out.stdout
            .ends_with("rc=137\n--- message\nexit 137 (killed by SIGKILL)\nleftovers: 1 (sleep)\n"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("rinit:"), "{out:?}");
}

/// A start-up failure in the text form: the exit code and why, one line.
fn the_text_form_of_a_start_up_failure() {
    let dir = TempDir::new("startfailtext");
    let report = dir.file("message");
    let read_only = r#"for m in $(findmnt -rn -t cgroup,cgroup2 -o TARGET); do mount -o remount,bind,ro "$m"; done"#;
    let name = format!("rinit-test-{}-text", std::process::id());
    let out = run(
        in_mount_ns(
            read_only,
            &[
                "--cgroup-required",
                "--cgroup",
                &name,
                "--report",
                &report,
                "--report-format",
                "text",
                "true",
            ],
        ),
        secs(30.0),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    let message = std::fs::read_to_string(&report).unwrap();
    assert!(
        message.starts_with(&format!(
            "exit 1 (not started: cgroup {name} is required, but "
        )),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.ends_with(")\n"), "{message}");
}

tests! {
    &[Root, Python, JsonSchema] => [
        a_path_that_is_not_a_regular_file_is_a_usage_error,
    ];
    &[Root, PidNs, Python, JsonSchema] => [
        a_bind_mounted_report_is_written_in_place,
        the_report_directory_is_opened_once,
        an_earlier_report_never_passes_for_this_one,
        a_start_up_failure_writes_a_report,
    ];
    &[Root, PidNs] => [
        the_text_form_is_a_termination_message,
        the_text_form_of_a_start_up_failure,
    ];
    &[Root, PidNs, Python, JsonSchema, Strace] => [no_signalfd_no_command];
    &[Root, PidNs, Fuse, Python] => [a_hung_filesystem_costs_the_report_not_the_exit];
}
