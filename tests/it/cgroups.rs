//! The child's cgroup: placement in whichever of v1 freezer, v1 memory and
//! v2 are mounted, teardown through cgroup.kill or freeze-kill-thaw, OOM
//! reports, and degrading on a read-only cgroup filesystem. Every test
//! checks that no cgroup directory of its is left. The tests follow the
//! host's layout (hybrid, or cgroup2 alone: tests/cgroup2-only.sh); those
//! about v1 declare the v1 needs.

use crate::common::*;
use crate::needs::Need::*;
use crate::needs::{Place, cgroups, v2_has_memory};
use rinit::cgroup::{keyed_value, parse_pids};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The hierarchies rinit uses that are mounted here, in the order freezer,
/// memory, v2.
fn places() -> Vec<&'static Place> {
    let found = cgroups();
    [&found.freezer, &found.memory, &found.unified]
        .into_iter()
        .flatten()
        .collect()
}

/// NAME's directory in the v1 freezer (a test that uses it declares the
/// freezer need).
fn freezer_dir(name: &str) -> PathBuf {
    cgroups()
        .freezer
        .as_ref()
        .expect("the freezer need")
        .own
        .join(name)
}

/// NAME's directory in the v1 memory hierarchy.
fn memory_dir(name: &str) -> PathBuf {
    cgroups()
        .memory
        .as_ref()
        .expect("the memory need")
        .own
        .join(name)
}

fn unified() -> &'static Place {
    cgroups()
        .unified
        .as_ref()
        .expect("a test that uses cgroup v2 declares the cgroup2 need")
}

/// The directories NAME would have under this process's own cgroups.
fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    places().iter().map(|p| p.own.join(name)).collect()
}

/// Shell code that unmounts those of `which` that are mounted, in a
/// private mount namespace, or exits 99.
fn umount(which: &[&Option<Place>]) -> String {
    let mounts: Vec<String> = which
        .iter()
        .filter_map(|p| p.as_ref())
        .map(|p| format!("umount -l {}", p.mount.display()))
        .collect();
    match mounts.is_empty() {
        true => ":".to_string(),
        false => format!("{} || exit 99", mounts.join(" && ")),
    }
}

/// A unique name, and a check at the end that nothing of it remains.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        let name = format!("rinit-it-{}-{tag}", std::process::id());
        for dir in cgroup_dirs(&name) {
            assert!(!dir.exists(), "{} exists before the test", dir.display());
        }
        Name(name)
    }

    fn assert_removed(&self) {
        for dir in cgroup_dirs(&self.0) {
            assert!(!dir.exists(), "{} was left behind", dir.display());
        }
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        // If a test failed half-way, do not leave its cgroups (or
        // sub-cgroups, frozen or not) to others.
        for dir in cgroup_dirs(&self.0) {
            let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            let tree = subtree(&dir);
            for cgroup in &tree {
                let _ = std::fs::write(cgroup.join("freezer.state"), "THAWED");
            }
            for cgroup in &tree {
                for _ in 0..50 {
                    match std::fs::remove_dir(cgroup) {
                        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                            std::thread::sleep(secs(0.01))
                        }
                        _ => break,
                    }
                }
            }
            // A tree nested past PATH_MAX needs directory descriptors.
            if dir.exists() {
                let _ = Command::new("python3")
                    .args([&helper("deep_cgroups.py"), "remove"])
                    .arg(&dir)
                    .status();
            }
        }
    }
}

/// The cgroup at `dir` and every sub-cgroup, deepest first.
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < found.len() {
        if let Ok(entries) = std::fs::read_dir(&found[i]) {
            found.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    found.reverse();
    found
}

/// Remounts every hierarchy read-only (in a private mount namespace).
fn read_only() -> String {
    let mounts: Vec<String> = places()
        .iter()
        .map(|p| p.mount.display().to_string())
        .collect();
    format!(
        "for m in {}; do mount -o remount,bind,ro $m || exit 99; done",
        mounts.join(" ")
    )
}

fn child_is_placed_in_every_mounted_hierarchy() {
    let name = Name::new("place");
    for cmd in [
        pid1(&["--cgroup", &name.0, "cat", "/proc/self/cgroup"]),
        subreaper(&["--cgroup", &name.0, "cat", "/proc/self/cgroup"]),
    ] {
        let out = run(cmd, secs(20.0));
        assert_eq!(out.code, Some(0), "{out:?}");
        let suffix = format!("/{}", name.0);
        // Split by hand, not with `cgroup::memberships`: the oracle of where rinit put the child.
        let line = |pred: &dyn Fn(&str) -> bool| {
            out.stdout
                .lines()
                .find(|l| pred(l.split(':').nth(1).unwrap_or("x")))
                .unwrap_or_default()
                .to_string()
        };
        let found = cgroups();
        // /proc/self/cgroup lists a v1 hierarchy even where it is not
        // mounted; rinit can place the child only where it is.
        for (controller, place) in [("freezer", &found.freezer), ("memory", &found.memory)] {
            let v1 = line(&|c| c.split(',').any(|c| c == controller));
            assert_eq!(v1.ends_with(&suffix), place.is_some(), "{out:?}");
        }
        assert!(line(&|c| c.is_empty()).ends_with(&suffix), "{out:?}");
        name.assert_removed();
    }
}

/// Teardown through cgroup v2: SIGTERM to every member, the grace, then
/// cgroup.kill, which also gets a daemon that left with setsid and a double
/// fork and ignores SIGTERM.
fn escaped_daemon_is_killed_through_cgroup_kill() {
    let name = Name::new("v2kill");
    let script = &daemon_script("", true, 4);
    let out = run(
        subreaper(&[
            "-vv", "--grace", "500ms", "--cgroup", &name.0, "sh", "-c", script,
        ]),
        secs(20.0),
    );
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(out.stdout.contains("daemon-ready"), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "wrote 1 to {}/cgroup.kill",
            unified().own.join(&name.0).display()
        )),
        "{out:?}"
    );
    assert!(out.elapsed < secs(4.0), "{out:?}");
    name.assert_removed();
}

/// Without cgroup v2 (unmounted in a private mount namespace, as on a pure
/// v1 host): freeze, SIGKILL every member, thaw.
fn v1_teardown_freezes_kills_and_thaws() {
    let name = Name::new("v1kill");
    let script = &daemon_script("", false, 4);
    let cmd = in_mount_ns(
        &umount(&[&cgroups().unified]),
        &[
            "-vv", "--grace", "500ms", "--cgroup", &name.0, "sh", "-c", script,
        ],
    );
    let out = run(cmd, secs(20.0));
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "froze {}, sent SIGKILL to",
            cgroup_dirs(&name.0)[0].display()
        )),
        "{out:?}"
    );
    assert!(!out.stderr.contains("cgroup.kill"), "{out:?}");
    name.assert_removed();
}

/// A small allocator under a 32M limit: the kernel OOM-kills it, rinit says
/// so plainly, naming the limit, and exits 137.
fn oom_kill_of_the_main_child_is_reported() {
    let name = Name::new("oom");
    let alloc = "x = b'x' * (256 << 20)";
    let out = run(
        pid1(&[
            "--cgroup",
            &name.0,
            "--memory-limit",
            "32M",
            "python3",
            "-c",
            alloc,
        ]),
        secs(60.0),
    );
    assert_eq!(out.code, Some(137), "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains("OOM")).collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].starts_with("rinit: ERROR OOM: main child 2 was OOM-killed"),
        "{out:?}"
    );
    assert!(
        lines[0].contains("32 MiB") && lines[0].contains(&name.0),
        "{out:?}"
    );
    name.assert_removed();
}

/// --memory-limit alone implies a cgroup with a default name; an OOM kill
/// of some other process in it is reported too.
fn oom_kill_of_another_process_is_reported() {
    let script = "python3 -c \"x = b'x' * (256 << 20)\"; echo alloc=$?; exit 3";
    let out = run(
        subreaper(&["--memory-limit", "48M", "sh", "-c", script]),
        secs(60.0),
    );
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stdout.contains("alloc=137"), "{out:?}");
    assert!(
        out.stderr.contains(
            "rinit: ERROR OOM: the kernel's OOM killer killed 1 process(es) in cgroup rinit-"
        ) && out.stderr.contains("(memory limit 48 MiB)"),
        "{out:?}"
    );
    // The default name is rinit-<pid>-<suffix>; none may be left.
    let stray = cgroup_dirs("x")
        .iter()
        .flat_map(|d| std::fs::read_dir(d.parent().unwrap()).unwrap().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| out.stderr.contains(n.as_str()))
        .collect::<Vec<_>>();
    assert!(stray.is_empty(), "left behind: {stray:?}");
}

/// A read-only cgroup filesystem (the default in Docker, Podman and
/// Kubernetes): one warning naming the reason, and the command runs.
fn read_only_cgroupfs_degrades_with_one_warning() {
    let name = Name::new("ro");
    let out = run(
        in_mount_ns(
            &read_only(),
            &["--cgroup", &name.0, "sh", "-c", "echo ran; exit 5"],
        ),
        secs(20.0),
    );
    assert_eq!(out.code, Some(5), "{out:?}");
    assert_eq!(out.stdout, "ran\n");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "rinit: WARN running without cgroup {}: cannot create /sys/fs/cgroup/",
            name.0
        )) && out.stderr.trim_end().ends_with("Read-only file system"),
        "{out:?}"
    );
    name.assert_removed();
}

/// --cgroup-required turns the same into an error: exit 1, command not run.
fn cgroup_required_fails_clearly() {
    let name = Name::new("req");
    let dir = TempDir::new("req");
    let marker = dir.file("ran");
    let out = run(
        in_mount_ns(
            &read_only(),
            &["--cgroup-required", "--cgroup", &name.0, "touch", &marker],
        ),
        secs(20.0),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "rinit: ERROR cgroup {} is required, but cannot create",
            name.0
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert!(!std::path::Path::new(&marker).exists(), "the command ran");

    let mut cmd = in_mount_ns(&read_only(), &["--cgroup", &name.0, "true"]);
    cmd.env("RINIT_CGROUP_REQUIRED", "1");
    assert_eq!(run(cmd, secs(20.0)).code, Some(1));
    name.assert_removed();
}

/// Missing controllers degrade the same way, naming what is missing.
fn missing_controllers_degrade() {
    let name = Name::new("missing");
    let out = run(
        in_mount_ns(
            &umount(&[&cgroups().unified, &cgroups().freezer]),
            &["--cgroup", &name.0, "true"],
        ),
        secs(20.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "rinit: WARN running without cgroup {}: no cgroup v2 hierarchy and no v1 freezer is mounted\n",
            name.0
        )
    );
    let out = run(
        in_mount_ns(
            &umount(&[&cgroups().memory]),
            &["--cgroup", &name.0, "--memory-limit", "64M", "true"],
        ),
        secs(20.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    // Without v1 memory, a cgroup2 that has no memory controller (a hybrid
    // host's) leaves rinit none; a pure v2 host's has one.
    assert_eq!(
        out.stderr
            .contains("no memory controller is available for a memory limit"),
        !v2_has_memory(),
        "{out:?}"
    );
    name.assert_removed();
}

/// A cgroup that already exists is not taken over.
fn existing_cgroup_is_not_reused() {
    let name = Name::new("exists");
    let dir = &cgroup_dirs(&name.0)[0];
    std::fs::create_dir(dir).unwrap();
    let out = run(
        pid1(&["--cgroup-required", "--cgroup", &name.0, "true"]),
        secs(20.0),
    );
    let _ = std::fs::remove_dir(dir);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("File exists"), "{out:?}");
    name.assert_removed();
}

/// Teardown sends each process one SIGTERM, even when it is both a cgroup
/// member and a descendant (or, as PID 1, reached by kill(-1)): an app may
/// take a second SIGTERM as "quit now, skip the clean-up".
fn teardown_sends_one_sigterm_per_process() {
    let name = Name::new("oneterm");
    let dir = TempDir::new("oneterm");
    let log = dir.file("terms");
    let script = daemon_script(&format!("echo term >> {log}; sleep 0.3; exit 0"), false, 3);
    for cmd in [
        pid1(&["--cgroup", &name.0, "sh", "-c", &script]),
        subreaper(&["--cgroup", &name.0, "sh", "-c", &script]),
    ] {
        let _ = std::fs::remove_file(&log);
        let out = run(cmd, secs(20.0));
        assert_eq!(out.code, Some(3), "{out:?}");
        let terms = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(terms.lines().count(), 1, "SIGTERMs received: {terms:?}");
        name.assert_removed();
    }
}

/// rinit as PID 1 with `--cgroup NAME ARGS`, held after it made NAME and
/// before it forks: it logs at debug level into a FIFO the test filled, and
/// its first line ("child cgroup NAME ready", the last step before the
/// fork) blocks until `release` drains the FIFO. Meanwhile the test can
/// change NAME before the child joins it.
struct HeldBeforeFork {
    run: Run,
    rinit: i32,
    log: std::fs::File,
    _fifo_dir: TempDir,
}

/// What rinit logged after its release, collected as it comes.
struct ReleasedLog {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl ReleasedLog {
    fn now(&self) -> String {
        // The filler that held rinit back comes first.
        let text = self.text.lock().unwrap();
        text.trim_start_matches('\n').to_string()
    }

    fn wait_for(&self, needle: &str, timeout: std::time::Duration) {
        let what = format!("{needle:?} in rinit's log");
        wait_until(&what, timeout, || self.now().contains(needle));
    }

    /// All of it, once rinit and its children are gone (the FIFO's
    /// writers).
    fn all(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.now()
    }
}

impl HeldBeforeFork {
    fn start(name: &Name, args: &[&str]) -> HeldBeforeFork {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let fifo_dir = TempDir::new("held");
        let fifo = fifo_dir.file("stderr");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let open = |write: bool| {
            std::fs::OpenOptions::new()
                .read(!write)
                .write(write)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
                .unwrap()
        };
        let log = open(false);
        // Whole pages (PIPE_BUF, so each write is all or nothing) until no
        // slot is left: rinit's first write must wait.
        let mut filler = open(true);
        while filler.write(&[b'\n'; 4096]).is_ok() {}
        drop(filler);
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
        ])
        .arg(r#"f=$1; shift; exec "$@" 2>"$f""#)
        .args(["sh", &fifo, rinit(), "--cgroup", &name.0])
        .args(args)
        .env("RINIT_LOG", "debug");
        let run = start(cmd, secs(30.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(10.0));
        let wchan = || std::fs::read_to_string(format!("/proc/{rinit}/wchan")).unwrap_or_default();
        wait_until("rinit to make NAME and wait on its log", secs(10.0), || {
            cgroup_dirs(&name.0).iter().all(|d| d.exists()) && wchan().contains("pipe_write")
        });
        let children = std::fs::read_to_string(format!("/proc/{rinit}/task/{rinit}/children"));
        assert_eq!(
            children.unwrap().trim(),
            "",
            "rinit forked before its first log line"
        );
        HeldBeforeFork {
            run,
            rinit,
            log,
            _fifo_dir: fifo_dir,
        }
    }

    fn release(self) -> (Run, i32, ReleasedLog) {
        use std::io::Read;
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        let mut log = self.log;
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match log.read(&mut buf) {
                    // No writer left: rinit and its child are gone.
                    Ok(0) => break,
                    Ok(n) => sink
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(secs(0.01))
                    }
                    Err(e) => panic!("cannot read rinit's log: {e}"),
                }
            }
        });
        let log = ReleasedLog {
            text,
            reader: Some(reader),
        };
        (self.run, self.rinit, log)
    }
}

/// Writes `value` to a cgroup control file when dropped: a frozen cgroup
/// is never left behind, even by a failed test.
struct WriteOnDrop(PathBuf, &'static str);

impl Drop for WriteOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, self.1);
    }
}

fn members(dir: &std::path::Path) -> Vec<i32> {
    parse_pids(&std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default())
}

/// The main child in `dir`, frozen before its exec (`frozen` says when),
/// and rinit waiting for its signals meanwhile, not only for the exec.
fn frozen_child_before_exec(dir: &std::path::Path, frozen: impl Fn() -> bool) -> i32 {
    wait_until("the child to join its cgroup", secs(10.0), || {
        members(dir).len() == 1
    });
    let child = members(dir)[0];
    wait_until("the child to be frozen", secs(10.0), &frozen);
    let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap();
    assert_eq!(comm.trim(), "rinit", "the child exec'd before the freeze");
    child
}

fn has_pending(pid: i32, sig: i32) -> bool {
    pending_signals(pid) & (1 << (sig - 1)) != 0
}

/// PID 1 is never deaf while it waits for the exec status: a child frozen
/// (v1 freezer) after it joined its cgroup and before its exec gets the
/// forwarded SIGTERM and, after --kill-after, rinit's SIGKILL; a v1-frozen
/// task cannot die until thawed, which rinit then does: it exits 137.
fn signals_are_served_while_a_v1_frozen_child_has_not_exec_d() {
    let name = Name::new("execfrz1");
    let held = HeldBeforeFork::start(&name, &["--kill-after", "1", "sleep", "60"]);
    let freezer = freezer_dir(&name.0);
    let state = freezer.join("freezer.state");
    let _thaw = WriteOnDrop(state.clone(), "THAWED");
    let is_frozen = || std::fs::read_to_string(&state).unwrap_or_default().trim() == "FROZEN";
    std::fs::write(&state, "FROZEN").unwrap();
    wait_until("the empty cgroup to be FROZEN", secs(5.0), is_frozen);
    let (run, rinit, log) = held.release();
    let child = frozen_child_before_exec(&freezer, is_frozen);

    signal(rinit, libc::SIGTERM);
    wait_until("SIGTERM forwarded to the frozen child", secs(2.0), || {
        has_pending(child, libc::SIGTERM)
    });
    // rinit thaws the cgroup it owns after its SIGKILL, so the child dies
    // of it at once: no pending SIGKILL to catch.
    log.wait_for(
        "still running after --kill-after: sending SIGKILL",
        secs(7.0),
    );
    let out = run.finish();
    let log = log.all();
    assert_eq!(out.code, Some(137), "{out:?}\n--- rinit's log\n{log}");
    assert!(!log.contains("ERROR"), "{log}");
    name.assert_removed();
}

/// The same with a v2 freeze (as `docker pause`): a frozen task dies of
/// SIGKILL, so rinit ends it and exits without any thaw.
fn signals_are_served_while_a_v2_frozen_child_has_not_exec_d() {
    let name = Name::new("execfrz2");
    let held = HeldBeforeFork::start(&name, &["--kill-after", "1", "sleep", "60"]);
    let v2 = unified().own.join(&name.0);
    let _thaw = WriteOnDrop(v2.join("cgroup.freeze"), "0");
    let is_frozen = || {
        let events = std::fs::read_to_string(v2.join("cgroup.events")).unwrap_or_default();
        keyed_value(&events, "frozen") == Some(1)
    };
    std::fs::write(v2.join("cgroup.freeze"), "1").unwrap();
    wait_until("the empty cgroup to be frozen", secs(5.0), is_frozen);
    let (run, rinit, log) = held.release();
    let child = frozen_child_before_exec(&v2, is_frozen);

    signal(rinit, libc::SIGTERM);
    let sent = std::time::Instant::now();
    wait_until("SIGTERM forwarded to the frozen child", secs(2.0), || {
        has_pending(child, libc::SIGTERM)
    });
    let out = run.finish();
    let took = sent.elapsed();
    let log = log.all();
    assert_eq!(out.code, Some(137), "{out:?}\n--- rinit's log\n{log}");
    assert!(
        took >= secs(1.0) && took < secs(5.0),
        "rinit exited {took:?} after SIGTERM with --kill-after 1"
    );
    name.assert_removed();
}

/// The exec status still decides the exit when it comes through the loop:
/// a child that cannot join its cgroup (removed under it) makes rinit exit
/// 1 naming the cgroup, after the child is gone.
fn failed_cgroup_join_exits_1_from_the_loop() {
    let name = Name::new("joinfail");
    let held = HeldBeforeFork::start(&name, &["true"]);
    let freezer = freezer_dir(&name.0);
    std::fs::remove_dir(&freezer).unwrap();
    let (run, _, log) = held.release();
    let out = run.finish();
    let log = log.all();
    assert_eq!(out.code, Some(1), "{out:?}\n--- rinit's log\n{log}");
    let expected = format!(
        "rinit: ERROR cannot move the child into cgroup {}: No such device\n",
        name.0
    );
    assert!(log.contains(&expected), "{log}");
    name.assert_removed();
}

/// Two processes that rinit did not start and that exit 0 on SIGTERM are
/// moved by the workload into NAME/sub: one in every hierarchy, one in
/// cgroup2 only (as a workload that sees only cgroup2 would). Both get
/// SIGTERM in the graceful stage and exit 0 long before the grace ends,
/// NAME/sub goes with NAME, and the next run gets the same name.
fn sub_cgroup_members_get_sigterm_and_sub_cgroups_are_removed() {
    let name = Name::new("sub");
    let [freezer, memory, unified] = [0, 1, 2].map(|i| cgroup_dirs(&name.0)[i].clone());
    let outside = r#"sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done' &"#;
    let before = format!("{outside} A=$!; {outside} B=$!; export A B");
    let after = r#"wait $A; echo "A-exit=$?" >&2; wait $B; echo "B-exit=$?" >&2"#;
    let (f, m, u) = (freezer.display(), memory.display(), unified.display());
    let workload = format!(
        "set -e; mkdir {f}/sub {m}/sub {u}/sub; \
         for d in {f} {m} {u}; do echo $A > $d/sub/cgroup.procs; done; \
         echo $B > {u}/sub/cgroup.procs; echo moved"
    );
    let out = run(
        subreaper_with(
            &before,
            after,
            &["--grace", "10s", "--cgroup", &name.0, "sh", "-c", &workload],
        ),
        secs(30.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "moved\n", "{out:?}");
    assert!(out.stderr.contains("A-exit=0"), "{out:?}");
    assert!(out.stderr.contains("B-exit=0"), "{out:?}");
    assert!(
        out.elapsed < secs(8.0),
        "SIGKILLed after the grace? {out:?}"
    );
    name.assert_removed();

    let again = run(
        subreaper(&["--cgroup-required", "--cgroup", &name.0, "true"]),
        secs(20.0),
    );
    assert_eq!(again.code, Some(0), "{again:?}");
    name.assert_removed();
}

/// The workload freezes sub-cgroups of its own with a process in each
/// (v1 freezer and cgroup2 `cgroup.freeze`; without cgroup2, the freezer
/// alone): teardown kills them all, thawing what the freezer holds, and
/// removes the tree; no stuck exit, and the name is free again.
fn frozen_sub_cgroups_are_killed_and_removed() {
    let name = Name::new("cold");
    let dirs = cgroup_dirs(&name.0);
    let (f, u) = (dirs[0].display(), dirs[2].display());
    // Nothing frozen may hold the output pipes (a fork can be frozen before
    // its redirections): if a task stayed frozen, the test must fail on the
    // watchdog, not wait for EOF forever.
    let quiet = "exec </dev/null >/dev/null 2>&1";
    let sleeper = "sleep 1000 &";
    let v1 = format!(
        "mkdir {f}/cold; {sleeper} echo $! > {f}/cold/cgroup.procs; \
         echo FROZEN > {f}/cold/freezer.state"
    );
    let v2 = format!(
        "mkdir {u}/cold; {sleeper} echo $! > {u}/cold/cgroup.procs; \
         echo 1 > {u}/cold/cgroup.freeze"
    );
    let hybrid = format!("set -e; {quiet}; {v1}; {v2}; exit 3");
    let v1_only = format!("set -e; {quiet}; {v1}; exit 3");
    let args = |script: &str| -> Vec<String> {
        let args = ["--grace", "300ms", "--stuck-timeout", "3s", "--cgroup"];
        let mut args: Vec<String> = args.map(String::from).into();
        args.extend([name.0.clone(), "sh".into(), "-c".into(), script.into()]);
        args
    };
    let (hybrid_args, v1_args) = (args(&hybrid), args(&v1_only));
    for cmd in [
        pid1(&as_str(&hybrid_args)),
        subreaper(&as_str(&hybrid_args)),
        in_mount_ns(&umount(&[&cgroups().unified]), &as_str(&v1_args)),
    ] {
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(3), "{out:?}");
        assert!(!out.stderr.contains("stuck"), "{out:?}");
        assert!(!out.stderr.contains("cannot remove"), "{out:?}");
        name.assert_removed();
        let again = run(
            subreaper(&["--cgroup-required", "--cgroup", &name.0, "true"]),
            secs(20.0),
        );
        assert_eq!(again.code, Some(0), "{again:?}");
        name.assert_removed();
    }
}

/// The workload nests 300 sub-cgroups of a 20-character name under NAME in
/// the v1 freezer and in cgroup2: over 6000 bytes of path, past PATH_MAX,
/// so that no absolute path reaches the deepest, where a sleeper waits
/// (frozen, in the freezer). Teardown kills, thaws and removes it all by
/// directory descriptors: no stuck exit, nothing left, and the next run
/// gets the same name (it used to fail with EEXIST).
fn sub_cgroups_nested_past_path_max_are_killed_thawed_and_removed() {
    let name = Name::new("deep");
    let (f, u) = (freezer_dir(&name.0), unified().own.join(&name.0));
    let deep = helper("deep_cgroups.py");
    let quiet = "exec </dev/null >/dev/null 2>&1";
    let workload = format!(
        "set -e; {quiet}; python3 {deep} build {f} 300 --sleeper --freeze; \
         python3 {deep} build {u} 300 --sleeper; exit 3",
        f = f.display(),
        u = u.display()
    );
    let args = [
        "--grace",
        "300ms",
        "--stuck-timeout",
        "3s",
        "--cgroup",
        &name.0,
        "sh",
        "-c",
        &workload,
    ];
    for cmd in [pid1(&args), subreaper(&args)] {
        let out = run(cmd, secs(60.0));
        assert_eq!(out.code, Some(3), "{out:?}");
        assert!(!out.stderr.contains("stuck"), "{out:?}");
        assert!(!out.stderr.contains("cannot remove"), "{out:?}");
        name.assert_removed();
        let again = run(
            subreaper(&["--cgroup-required", "--cgroup", &name.0, "true"]),
            secs(20.0),
        );
        assert_eq!(again.code, Some(0), "{again:?}");
        name.assert_removed();
    }
}

/// Shell code that makes the file `file` read-only in this mount namespace
/// (a read-only bind mount of an empty file over it): rinit's write to it
/// fails, as on a kernel without it.
fn mask(file: &str) -> String {
    format!("t=$(mktemp) && mount --bind $t {file} && mount -o remount,bind,ro {file} && rm $t")
}

/// Pure cgroup v2 before 5.14 (no cgroup.kill), simulated: the freezer is
/// unmounted and the workload masks its cgroup's cgroup.kill (and, for
/// before 5.2, cgroup.freeze). Beside 20 members that ignore SIGTERM runs
/// a hopper, which keeps forking and exiting: a single pass of SIGKILL
/// over the members lets it escape. rinit (a subreaper, so that its
/// teardown goes through the cgroup) ends every one, with a v2 freeze or
/// rounds of SIGKILL, removes the cgroup, and the name is free again.
fn without_cgroup_kill_a_forking_hopper_is_killed() {
    let name = Name::new("hopper");
    let cg = unified().own.join(&name.0);
    let cg = cg.display();
    let hopper = helper("hopper.py");
    let beside = "for i in $(seq 100); do (trap '' TERM; exec sleep 1000) & done";
    for masked in ["cgroup.kill", "cgroup.kill cgroup.freeze"] {
        let masks: Vec<String> = masked
            .split(' ')
            .map(|f| mask(&format!("{cg}/{f}")))
            .collect();
        let workload = format!(
            "set -e; {}; exec </dev/null; {beside}; for i in 1 2 3 4; do python3 {hopper} & done; sleep 0.5; echo started; exit 5",
            masks.join(" && ")
        );
        let mut namespaces = MOUNT_NS.to_vec();
        namespaces.extend(PID_NS);
        let script = format!(
            "{}\n\"$@\"\nrc=$?\necho \"rinit-exit=$rc\" >&2\nexit $rc",
            umount(&[&cgroups().freezer])
        );
        let mut cmd = sh_in(&namespaces, &script, &[rinit()]);
        cmd.args([
            "-v",
            "--grace",
            "300ms",
            "--stuck-timeout",
            "2s",
            "--cgroup",
            &name.0,
            "sh",
            "-c",
            &workload,
        ]);
        let out = run(cmd, secs(30.0));
        assert_eq!(out.code, Some(5), "masked {masked}: {out:?}");
        assert!(
            out.stdout.ends_with("started\n"),
            "masked {masked}: {out:?}"
        );
        assert!(!out.stderr.contains("stuck"), "masked {masked}: {out:?}");
        assert!(
            !out.stderr.contains("cannot remove"),
            "masked {masked}: {out:?}"
        );
        assert!(!out.stderr.contains("are left"), "masked {masked}: {out:?}");
        name.assert_removed();
        let again = run(
            subreaper(&["--cgroup-required", "--cgroup", &name.0, "true"]),
            secs(20.0),
        );
        assert_eq!(again.code, Some(0), "{again:?}");
        name.assert_removed();
    }
}

/// A main child frozen by the v1 freezer from outside rinit (as `docker
/// pause` on a v1 host), in the cgroup rinit owns: SIGTERM cannot end it,
/// and after --kill-after rinit's SIGKILL can only once the cgroup is
/// thawed, which rinit does itself: exit 137 about a second after the
/// SIGTERM (it used to wait until someone else thawed the cgroup).
fn kill_after_thaws_a_main_child_frozen_by_the_v1_freezer() {
    let name = Name::new("killfrz");
    // It ignores SIGTERM: a SIGTERM that is fatal to a frozen task already
    // decides its exit status (143), although it dies only once thawed.
    let child = "trap '' TERM; exec sleep 60";
    let (running, rinit, _thaw) = with_frozen_main_child(
        &name,
        &["--kill-after", "1", "--cgroup", &name.0, "sh", "-c", child],
    );
    signal(rinit, libc::SIGTERM);
    let sent = std::time::Instant::now();
    let out = running.finish();
    let took = sent.elapsed();
    assert_eq!(out.code, Some(137), "{out:?}");
    assert!(
        out.stderr
            .contains("still running after --kill-after: sending SIGKILL"),
        "{out:?}"
    );
    assert!(
        took >= secs(1.0) && took < secs(3.5),
        "rinit exited {took:?} after SIGTERM with --kill-after 1: {out:?}"
    );
    name.assert_removed();
}

/// The same with `--rewrite TERM:KILL`: the forwarded SIGKILL reaches a
/// v1-frozen main child, which dies only once rinit thaws its cgroup.
fn rewrite_to_kill_thaws_a_main_child_frozen_by_the_v1_freezer() {
    let name = Name::new("rwkill");
    let (running, rinit, _thaw) = with_frozen_main_child(
        &name,
        &["--rewrite", "TERM:KILL", "--cgroup", &name.0, "sleep", "60"],
    );
    signal(rinit, libc::SIGTERM);
    let sent = std::time::Instant::now();
    let out = running.finish();
    assert_eq!(out.code, Some(137), "{out:?}");
    assert!(
        sent.elapsed() < secs(2.0),
        "rinit exited {:?} after the rewritten SIGKILL: {out:?}",
        sent.elapsed()
    );
    name.assert_removed();
}

/// rinit as PID 1 with `args`, once its main child (a `sleep`) is in the
/// v1 freezer cgroup `name` and frozen there from outside; the cgroup is
/// thawed when the returned guard drops, whatever the test found.
fn with_frozen_main_child(name: &Name, args: &[&str]) -> (Run, i32, WriteOnDrop) {
    let freezer = freezer_dir(&name.0);
    let state = freezer.join("freezer.state");
    let thaw = WriteOnDrop(state.clone(), "THAWED");
    let running = start(pid1(args), secs(15.0));
    let rinit = find_descendant(running.pid(), "rinit", secs(10.0));
    wait_until("the child to join its cgroup and exec", secs(10.0), || {
        members(&freezer).iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
    });
    std::fs::write(&state, "FROZEN").unwrap();
    wait_until("the cgroup to be FROZEN", secs(5.0), || {
        std::fs::read_to_string(&state).unwrap_or_default().trim() == "FROZEN"
    });
    (running, rinit, thaw)
}

fn as_str(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// --memory-limit caps memory and swap together: v1 memsw gets the limit
/// too where the kernel accounts swap; where it does not, there is no
/// memsw file and the limit is memory only.
fn memory_limit_covers_swap_on_v1() {
    let name = Name::new("memsw");
    let memsw = "memory.memsw.limit_in_bytes";
    let accounted = places()[1].own.join(memsw).exists();
    let file = memory_dir(&name.0).join(memsw);
    let file = file.display().to_string();
    let out = run(
        subreaper(&[
            "--cgroup",
            &name.0,
            "--memory-limit",
            "32M",
            "sh",
            "-c",
            &format!("cat {file} 2>/dev/null || echo none"),
        ]),
        secs(20.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let expected = if accounted { "33554432\n" } else { "none\n" };
    assert_eq!(out.stdout, expected, "swap accounted: {accounted}; {out:?}");
    name.assert_removed();
}

tests! {
    &[Root, PidNs, Cgroup2] => [
        child_is_placed_in_every_mounted_hierarchy,
        escaped_daemon_is_killed_through_cgroup_kill,
        read_only_cgroupfs_degrades_with_one_warning,
        cgroup_required_fails_clearly,
        missing_controllers_degrade,
        existing_cgroup_is_not_reused,
        teardown_sends_one_sigterm_per_process,
        signals_are_served_while_a_v2_frozen_child_has_not_exec_d,
    ];
    &[Root, PidNs, Freezer] => [
        v1_teardown_freezes_kills_and_thaws,
        signals_are_served_while_a_v1_frozen_child_has_not_exec_d,
        failed_cgroup_join_exits_1_from_the_loop,
    ];
    &[Root, PidNs, Freezer, Memory, Cgroup2] => [
        sub_cgroup_members_get_sigterm_and_sub_cgroups_are_removed,
        frozen_sub_cgroups_are_killed_and_removed,
        memory_limit_covers_swap_on_v1,
    ];
    &[Root, PidNs, Freezer, Cgroup2, Python] => [
        sub_cgroups_nested_past_path_max_are_killed_thawed_and_removed,
        without_cgroup_kill_a_forking_hopper_is_killed,
    ];
    &[Root, PidNs, Freezer] => [
        kill_after_thaws_a_main_child_frozen_by_the_v1_freezer,
        rewrite_to_kill_thaws_a_main_child_frozen_by_the_v1_freezer,
    ];
    &[Root, PidNs, Memory, Python] => [
        oom_kill_of_the_main_child_is_reported,
        oom_kill_of_another_process_is_reported,
    ];
}
