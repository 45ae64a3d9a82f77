//! The child's cgroup: placement in whichever of v1 freezer, v1 memory and
//! v2 are mounted, teardown through cgroup.kill or freeze-kill-thaw, OOM
//! reports, and degrading on a read-only cgroup filesystem. Every test
//! checks that no cgroup directory of its is left. The tests follow the
//! host's layout (hybrid, or cgroup2 alone: tests/cgroup2-only.sh); those
//! about v1 declare the v1 needs.

use crate::common::*;
use crate::needs::Need::*;
use crate::needs::{Place, cgroups, v2_has_memory};
use std::path::PathBuf;
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
        // If a test failed half-way, do not leave its cgroups to others.
        for dir in cgroup_dirs(&self.0) {
            let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// A shell in a private mount namespace that first runs `setup` (remount
/// the cgroup filesystems read-only, or unmount some), then execs rinit.
fn in_mount_ns(setup: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    let script = format!("{setup}\nexec \"$@\"");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
        rinit(),
    ])
    .args(args);
    cmd
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

tests! {
    &[Root, PidNs, Cgroup2] => [
        child_is_placed_in_every_mounted_hierarchy,
        escaped_daemon_is_killed_through_cgroup_kill,
        read_only_cgroupfs_degrades_with_one_warning,
        cgroup_required_fails_clearly,
        missing_controllers_degrade,
        existing_cgroup_is_not_reused,
        teardown_sends_one_sigterm_per_process,
    ];
    &[Root, PidNs, Freezer] => [v1_teardown_freezes_kills_and_thaws];
    &[Root, PidNs, Memory, Python] => [
        oom_kill_of_the_main_child_is_reported,
        oom_kill_of_another_process_is_reported,
    ];
}
