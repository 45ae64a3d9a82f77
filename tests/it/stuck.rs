//! Stuck exits: tasks that survive SIGKILL (frozen by the v1 freezer,
//! blocked in a FUSE flush, a nested namespace's init in
//! zap_pid_ns_processes) are reported with the right classification, as
//! text and JSON, within --grace + --stuck-timeout (plus slack) of the main
//! child's exit; rinit then exits with the main child's status once they
//! are released (a task frozen by cgroup2 is no such task: SIGKILL ends
//! it). Each test makes its
//! own stuck task and always releases it. FUSE mounts live only in private
//! mount namespaces.

use crate::common::*;
use crate::needs::Need::*;
use std::process::Command;
use std::time::Instant;

const GRACE: &str = "500ms";
const STUCK: &str = "1s";
/// What the feature promises: the report comes --grace + --stuck-timeout
/// after the main child's exit. Plus slack for a loaded 2-core machine: the
/// report reads /proc for every task, and rinit, the test and the log pipe
/// all wait for a CPU.
const REPORT_WITHIN: f64 = 0.5 + 1.0 + 1.5;

/// The moment rinit logs the main child's exit (as PID 1 of its namespace,
/// the main child is pid 2): the start of the promised time, whatever the
/// main child took to notice its go file and exit.
fn main_exit_logged(run: &Run) -> Instant {
    run.wait_stderr("rinit: INFO main child 2 exited", secs(20.0));
    Instant::now()
}

/// The JSON report's stuck section, read by Python's json module.
fn report_facts(path: &str) -> String {
    helper_facts("report.py", path)
}

fn task_line<'a>(facts: &'a str, needle: &str) -> &'a str {
    facts
        .lines()
        .find(|l| l.starts_with("TASK") && l.contains(needle))
        .unwrap_or_else(|| panic!("no task with {needle}:\n{facts}"))
}

/// rinit's arguments in these tests: a short grace and stuck timeout, the
/// JSON report, `extra`, then `sh -c script`.
fn stuck_args<'a>(extra: &[&'a str], report: &'a str, script: &'a str) -> Vec<&'a str> {
    let mut args = extra.to_vec();
    args.extend([
        // For the INFO line of the main child's exit.
        "-v",
        "--grace",
        GRACE,
        "--stuck-timeout",
        STUCK,
        "--report",
        report,
        "sh",
        "-c",
        script,
    ]);
    args
}

/// The FUSE connection hangfs names in its output file ("READY conn=N").
fn hangfs_connection(out_file: &str) -> Option<String> {
    let out = std::fs::read_to_string(out_file).ok()?;
    out.split("conn=")
        .nth(1)?
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// A run whose main child starts `tail -f /dev/null` (the victim, in
/// `victim`'s shape: a grandchild, a child, a nested namespace's member),
/// waits for a `go` file and exits 4. The test freezes the victim in a v1
/// freezer cgroup of its own before releasing the main child, so the victim
/// survives SIGKILL (`start_in` takes another freezer, e.g. cgroup2's); the
/// cgroup is thawed and removed on drop.
struct Frozen {
    cg: FreezerCgroup,
    report: String,
    go: String,
    run: Run,
    rinit: i32,
    _dir: TempDir,
}

impl Frozen {
    /// `victim` is shell code that starts the victim, given the go file;
    /// `wrap` turns rinit's arguments into the command to run.
    fn start(
        tag: &str,
        victim: impl Fn(&str) -> String,
        wrap: impl Fn(&[&str]) -> Command,
    ) -> Frozen {
        Frozen::start_in(FreezerCgroup::new(tag), tag, victim, wrap)
    }

    fn start_in(
        cg: FreezerCgroup,
        tag: &str,
        victim: impl Fn(&str) -> String,
        wrap: impl Fn(&[&str]) -> Command,
    ) -> Frozen {
        let dir = TempDir::new(tag);
        let (go, report) = (dir.file("go"), dir.file("report.json"));
        let script = format!(
            "{}\necho victim-started\nwhile [ ! -e {go} ]; do sleep 0.02; done\nexit 4",
            victim(&go)
        );
        let run = start(wrap(&stuck_args(&[], &report, &script)), secs(30.0));
        run.wait_stdout("victim-started", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        cg.add(find_descendant(rinit, "tail", secs(5.0)));
        cg.freeze();
        Frozen {
            cg,
            report,
            go,
            run,
            rinit,
            _dir: dir,
        }
    }

    /// Lets the main child exit; returns the moment rinit logs that it did.
    fn release_main(&self) -> Instant {
        std::fs::write(&self.go, "").unwrap();
        main_exit_logged(&self.run)
    }

    fn facts(&self) -> String {
        wait_until("the report file", secs(5.0), || {
            std::path::Path::new(&self.report).exists()
        });
        report_facts(&self.report)
    }

    /// Thaws the victim; rinit's exit (held by the kernel until the victim
    /// can die) then completes with the main child's code.
    fn finish(self) -> Finished {
        self.cg.thaw();
        self.run.finish()
    }
}

fn frozen_grandchild_is_reported() {
    let f = Frozen::start(
        "stuck-frozen",
        |_| "sh -c 'tail -f /dev/null & :'".into(),
        pid1,
    );
    let exited = f.release_main();
    let stderr = f.run.wait_stderr("remedy: thaw it", secs(10.0));
    assert!(
        exited.elapsed() < secs(REPORT_WITHIN),
        "reported after {:?}",
        exited.elapsed()
    );
    assert!(
        stderr.contains("rinit: ERROR stuck exit: 1 process(es) survived SIGKILL for 1000 ms"),
        "{stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("(tail) state D"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("SIGKILL pending"), "{line}");
    assert!(
        line.contains("frozen by the cgroup v1 freezer") && line.contains("FROZEN"),
        "{line}"
    );
    assert!(
        stderr.contains(&format!(
            "thaw it: echo THAWED > {}/freezer.state",
            f.cg.path().display()
        )),
        "{stderr}"
    );
    // The JSON holds the same facts.
    let facts = f.facts();
    assert!(
        facts.contains("MAIN pid=2 code=4 signal=None timeout_ms=1000"),
        "{facts}"
    );
    let task = task_line(&facts, "class=frozen");
    assert!(
        task.contains("state=D")
            && task.contains("pending=SIGKILL")
            && task.contains("freezer=FROZEN"),
        "{task}"
    );
    let out = f.finish();
    assert_eq!(out.code, Some(4), "{out:?}");
}

/// The report's directory may be writable by someone else, who plants a
/// symlink at the old predictable temporary name `PATH.tmp`, pointing at a
/// root-only file. rinit (run with umask 077) leaves the target and the
/// symlink alone, and PATH becomes a regular file of mode 0644, with no
/// temporary file left beside it.
fn report_never_follows_a_planted_symlink() {
    use std::os::unix::fs::PermissionsExt;
    let strict_umask = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "umask 077; exec unshare --pid --fork --mount-proc --kill-child \"$@\"",
            "sh",
            rinit(),
        ])
        .args(args);
        cmd
    };
    let f = Frozen::start(
        "stuck-symlink",
        |_| "sh -c 'tail -f /dev/null & :'".into(),
        strict_umask,
    );
    let dir = std::path::Path::new(&f.report).parent().unwrap().to_owned();
    let secret = dir.join("secret");
    std::fs::write(&secret, "root only\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let planted = format!("{}.tmp", f.report);
    std::os::unix::fs::symlink(&secret, &planted).unwrap();
    f.release_main();
    let facts = f.facts();
    assert!(facts.contains("MAIN pid=2 code=4"), "{facts}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root only\n");
    let secret_mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(secret_mode & 0o7777, 0o600);
    assert_eq!(std::fs::read_link(&planted).unwrap(), secret);
    let report = std::fs::symlink_metadata(&f.report).unwrap();
    assert!(report.file_type().is_file(), "{report:?}");
    assert_eq!(report.permissions().mode() & 0o7777, 0o644);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["go", "report.json", "report.json.tmp", "secret"]);
    assert_eq!(f.finish().code, Some(4));
}

/// FIFOs planted at `PATH.tmp` and at PATH itself: opening either would
/// block PID 1 for good, after the stuck task was already reported. rinit
/// opens neither; the report is written in bounded time and PATH replaced.
fn report_cannot_be_blocked_by_a_planted_fifo() {
    let f = Frozen::start(
        "stuck-fifo",
        |_| "sh -c 'tail -f /dev/null & :'".into(),
        pid1,
    );
    let planted = format!("{}.tmp", f.report);
    for fifo in [planted.as_str(), f.report.as_str()] {
        let made = Command::new("mkfifo").arg(fifo).status().unwrap();
        assert!(made.success(), "mkfifo {fifo}");
    }
    let exited = f.release_main();
    let is_file = |path: &str| std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    wait_until(
        "the report to replace the FIFO",
        secs(REPORT_WITHIN),
        || is_file(&f.report),
    );
    assert!(
        exited.elapsed() < secs(REPORT_WITHIN),
        "report after {:?}",
        exited.elapsed()
    );
    assert!(report_facts(&f.report).contains("MAIN pid=2 code=4"));
    use std::os::unix::fs::FileTypeExt;
    let left = std::fs::symlink_metadata(&planted).unwrap();
    assert!(left.file_type().is_fifo(), "{left:?}");
    assert_eq!(f.finish().code, Some(4));
}

/// cgroup2's freezer (`cgroup.freeze`, what `docker pause` uses on a v2
/// host) lets fatal signals through: a frozen task that ignores SIGTERM
/// dies of the SIGKILL after the grace, so it is no survivor, and rinit
/// exits with the main child's status and no stuck section in its report.
fn v2_frozen_task_dies_of_sigkill_and_is_not_reported() {
    let f = Frozen::start_in(
        FreezerCgroup::v2("stuck-v2"),
        "stuck-v2",
        |_| "sh -c 'trap \"\" TERM; tail -f /dev/null & :'".into(),
        pid1,
    );
    let exited = f.release_main();
    let Frozen {
        cg,
        report,
        run,
        rinit,
        ..
    } = f;
    // Waited for here, not in finish: were the victim to survive, it would
    // hold rinit's output pipes open until thawed, and finish would hang.
    let gone = || status_field(rinit, "State").is_none_or(|s| s.starts_with('Z'));
    while !gone() && exited.elapsed() < secs(5.0) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let took = exited.elapsed();
    drop(cg);
    let out = run.finish();
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(!out.stderr.contains("stuck exit"), "{out:?}");
    // The exit report is written at every exit; it has no stuck section.
    let written = std::fs::read_to_string(&report).unwrap_or_default();
    assert!(written.contains(r#""stuck":null"#), "{written}\n{out:?}");
    // Not before the grace (the victim ignored SIGTERM, frozen or not), and
    // before a report would have been due.
    assert!(
        took >= secs(0.5) && took < secs(0.5 + 1.0),
        "exited {took:?} after the main child: {out:?}"
    );
}

/// /proc/PID/stack is unreadable without CAP_SYS_ADMIN: the report says so
/// and still classifies from the other fields.
fn report_without_stack_access() {
    let without_sys_admin = |args: &[&str]| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .args([
                "setpriv",
                "--bounding-set",
                "-sys_admin",
                "--inh-caps",
                "-sys_admin",
                rinit(),
            ])
            .args(args);
        cmd
    };
    let f = Frozen::start(
        "stuck-nostack",
        |_| "tail -f /dev/null &".into(),
        without_sys_admin,
    );
    f.release_main();
    let stderr = f.run.wait_stderr("stack: unreadable", secs(10.0));
    assert!(
        stderr.contains("stack: unreadable (Permission denied: needs CAP_SYS_ADMIN"),
        "{stderr}"
    );
    let task = f.facts();
    let task = task_line(&task, "class=frozen");
    assert!(task.contains("stack=error:Permission denied"), "{task}");
    assert_eq!(f.finish().code, Some(4));
}

/// A nested `unshare --pid` whose init exits while a member cannot die:
/// the init waits in zap_pid_ns_processes, and is classified as such.
fn nested_namespace_init_in_zap_is_reported() {
    // The nested init exits first, on a go file of its own, and waits in
    // zap_pid_ns_processes for its frozen member; then the main child.
    let nested = |go: &str| {
        format!(
            "unshare --pid --fork sh -c 'tail -f /dev/null & while [ ! -e {go}.nested ]; do sleep 0.02; done; exit 0' &"
        )
    };
    let f = Frozen::start("stuck-zap", nested, pid1);
    let unshare = find_descendant(f.rinit, "unshare", secs(5.0));
    let init = find_descendant(unshare, "sh", secs(5.0));
    std::fs::write(format!("{}.nested", f.go), "").unwrap();
    wait_until("the nested init to wait in zap", secs(10.0), || {
        std::fs::read_to_string(format!("/proc/{init}/stack"))
            .is_ok_and(|stack| stack.contains("zap_pid_ns_processes"))
    });
    f.release_main();
    let stderr = f.run.wait_stderr("remedy: thaw it", secs(10.0));
    let init = stderr
        .lines()
        .find(|l| l.contains("zap_pid_ns_processes"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        init.contains("(sh) state S, exiting, wchan do_wait, NSpid ")
            && init.contains(" 1: the init of a nested PID namespace"),
        "{init}"
    );
    let facts = f.facts();
    let init = task_line(&facts, "class=pidns_init");
    let member = task_line(&facts, "class=frozen");
    let member_pid = member
        .split(' ')
        .find_map(|f| f.strip_prefix("pid="))
        .unwrap();
    assert!(
        init.contains(&format!("waiting_for={member_pid}")),
        "{facts}"
    );
    assert!(
        init.contains("exiting=True") && init.ends_with("stack=ok") && init.contains("+1 "),
        "{init}"
    );
    assert_eq!(f.finish().code, Some(4));
}

/// The FUSE fixture: a daemon (outside rinit's PID namespace) that never
/// answers FLUSH, mounted in a private mount namespace; rinit runs as PID 1
/// inside it, and its child closes a file on the mount from a thread.
struct Fuse {
    dir: TempDir,
}

impl Fuse {
    fn new() -> Fuse {
        Fuse {
            dir: TempDir::new("fuse"),
        }
    }

    fn command(&self, rinit_args: &[&str]) -> Command {
        let d = self.dir.path().display().to_string();
        let script = format!(
            r#"mkdir -p {d}/mnt
python3 {hangfs} {d}/mnt --log {d}/hangfs.log > {d}/hangfs.out &
echo $! > {d}/daemon.pid
i=0; until grep -q READY {d}/hangfs.out 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && exit 98; sleep 0.05; done
unshare --pid --fork --mount-proc --kill-child "$@"
rc=$?
kill -KILL $(cat {d}/daemon.pid) 2>/dev/null
exit $rc"#,
            hangfs = helper("hangfs.py")
        );
        let mut cmd = sh_in(&MOUNT_NS, &script, &[rinit()]);
        cmd.args(rinit_args);
        cmd
    }

    fn connection(&self) -> String {
        hangfs_connection(&self.dir.file("hangfs.out")).expect("hangfs printed no connection")
    }

    fn mnt(&self) -> String {
        self.dir.file("mnt")
    }

    /// Ends the daemon, which aborts the connection and frees the task.
    fn release(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("daemon.pid")) {
            signal(pid.trim().parse().unwrap(), libc::SIGKILL);
        }
    }
}

impl Drop for Fuse {
    fn drop(&mut self) {
        self.release();
    }
}

fn fuse_child(fuse: &Fuse) -> String {
    let mark = fuse.dir.file("closing");
    format!(
        "python3 {} {}/f {mark} & while [ ! -e {mark} ]; do sleep 0.02; done; echo main-exit; exit 4",
        helper("fuseclose.py"),
        fuse.mnt()
    )
}

fn thread_blocked_in_fuse_flush_is_reported() {
    let fuse = Fuse::new();
    let report = fuse.dir.file("report.json");
    let child = fuse_child(&fuse);
    let run = start(fuse.command(&stuck_args(&[], &report, &child)), secs(60.0));
    let exited = main_exit_logged(&run);
    let stderr = run.wait_stderr("/abort (or make its daemon answer", secs(10.0));
    assert!(
        exited.elapsed() < secs(REPORT_WITHIN),
        "reported after {:?}",
        exited.elapsed()
    );
    let conn = fuse.connection();
    let thread = stderr
        .lines()
        .find(|l| l.contains("blocked on a FUSE request"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        thread.contains("state D") && thread.contains("wchan request_wait_answer"),
        "{thread}"
    );
    assert!(
        thread.contains(&format!("connection {conn} (fuse on {}", fuse.mnt())),
        "{thread}"
    );
    assert!(thread.contains("1 waiting"), "{thread}");
    assert!(
        stderr.contains(&format!("echo 1 > /sys/fs/fuse/connections/{conn}/abort")),
        "{stderr}"
    );
    assert!(stderr.contains("a zombie thread-group leader"), "{stderr}");
    wait_until("the report file", secs(5.0), || {
        std::path::Path::new(&report).exists()
    });
    let facts = report_facts(&report);
    let task = task_line(&facts, "class=fuse");
    assert!(
        task.contains("state=D") && task.contains("wchan=request_wait_answer"),
        "{task}"
    );
    assert!(
        task.contains(&format!("fuse={conn}:1")) && task.contains("SIGKILL"),
        "{task}"
    );
    let tid = task
        .split(' ')
        .find_map(|f| f.strip_prefix("tid="))
        .unwrap();
    assert!(
        task_line(&facts, "class=zombie_leader").contains(&format!("live_threads={tid}")),
        "{facts}"
    );
    fuse.release();
    let out = run.finish();
    assert_eq!(out.code, Some(4), "{out:?}");
}

/// With --fuse-abort the FUSE case ends on its own.
fn fuse_abort_releases_the_task() {
    let fuse = Fuse::new();
    let report = fuse.dir.file("report.json");
    let child = fuse_child(&fuse);
    let run = start(
        fuse.command(&stuck_args(&["--fuse-abort"], &report, &child)),
        secs(60.0),
    );
    let exited = main_exit_logged(&run);
    let out = run.finish();
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(
        exited.elapsed() < secs(REPORT_WITHIN + 2.0),
        "took {:?}",
        exited.elapsed()
    );
    let conn = fuse.connection();
    assert!(
        out.stderr
            .contains(&format!("--fuse-abort: aborted FUSE connection {conn}")),
        "{out:?}"
    );
    let facts = report_facts(&report);
    assert!(
        facts.contains(&format!("ABORT aborted={conn} errors=")),
        "{facts}"
    );
}

/// Aborts the FUSE connection named in a hangfs output file, through a
/// fusectl mounted in a private mount namespace, unless disarmed: if rinit
/// failed to release a task stuck on it, the test still leaves nothing stuck.
struct AbortOnDrop {
    hangfs_out: String,
    armed: bool,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        let Some(conn) = hangfs_connection(&self.hangfs_out) else {
            return;
        };
        if self.armed {
            let script = format!(
                "mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null; echo 1 > /sys/fs/fuse/connections/{conn}/abort"
            );
            let _ = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", &script])
                .status();
        }
    }
}

/// The Netflix pattern: the FUSE daemon holds a file of its own mount open
/// (on a lower fd than /dev/fuse) and is killed; its exit flushes that file
/// to itself and waits for an answer only it could give. The report says it
/// is stuck while exiting, and --fuse-abort releases it.
fn fuse_daemon_stuck_in_its_own_exit() {
    let dir = TempDir::new("netflix");
    let d = dir.path().display().to_string();
    let report = dir.file("report.json");
    let mut guard = AbortOnDrop {
        hangfs_out: format!("{d}/hangfs.out"),
        armed: true,
    };
    let child = format!(
        "python3 {hangfs} {d}/mnt --self-open --log {d}/hangfs.log > {d}/hangfs.out & \
         i=0; until grep -q READY {d}/hangfs.out 2>/dev/null; do i=$((i+1)); [ $i -gt 200 ] && exit 98; sleep 0.05; done; \
         echo main-exit; exit 4",
        hangfs = helper("hangfs.py")
    );
    let outer =
        format!("mkdir -p {d}/mnt && exec unshare --pid --fork --mount-proc --kill-child \"$@\"");
    let mut cmd = sh_in(&MOUNT_NS, &outer, &[rinit()]);
    cmd.args(stuck_args(&["--fuse-abort"], &report, &child));
    let run = start(cmd, secs(60.0));
    run.wait_stdout("main-exit", secs(20.0));
    let out = run.finish();
    guard.armed = false;
    assert_eq!(out.code, Some(4), "{out:?}");
    let stuck = out
        .stderr
        .lines()
        .find(|l| l.contains("blocked on a FUSE request"))
        .unwrap_or_default();
    assert!(
        stuck.contains("state D, exiting") && stuck.contains("while exiting (closing its files)"),
        "{out:?}"
    );
    let conn = hangfs_connection(&guard.hangfs_out).expect("hangfs printed no connection");
    assert!(stuck.contains(&format!("connection {conn} ")), "{stuck}");
    assert!(
        out.stderr
            .contains(&format!("--fuse-abort: aborted FUSE connection {conn}")),
        "{out:?}"
    );
    let facts = report_facts(&report);
    let task = task_line(&facts, "class=fuse");
    assert!(
        task.contains("exiting=True") && task.contains(&format!("fuse={conn}:")),
        "{task}"
    );
}

tests! {
    &[Root, PidNs, Freezer, Python] => [
        frozen_grandchild_is_reported,
        report_without_stack_access,
        nested_namespace_init_in_zap_is_reported,
        report_never_follows_a_planted_symlink,
        report_cannot_be_blocked_by_a_planted_fifo,
    ];
    &[Root, PidNs, Cgroup2] => [v2_frozen_task_dies_of_sigkill_and_is_not_reported];
    &[Root, PidNs, Fuse, Python] => [
        thread_blocked_in_fuse_flush_is_reported,
        fuse_abort_releases_the_task,
        fuse_daemon_stuck_in_its_own_exit,
    ];
}
