//! /proc and mountinfo are bytes, not text. The kernel cuts a command name
//! at 15 bytes, inside a character when it must (a program named
//! приложение, 20 bytes, runs as "приложе" and half of "н"), and passes a
//! mount point's bytes through. rinit must see such a process, and all
//! below it, like any other, and a Latin-1 mount point must not disable
//! --cgroup.

use crate::common::*;
use crate::needs::Need::*;
use crate::needs::cgroups;
use std::path::PathBuf;

const NAME: &str = "приложение";

/// The name the kernel keeps: its first 15 bytes, as the harness's lossy
/// /proc reader shows them.
fn cut_comm() -> String {
    String::from_utf8_lossy(&NAME.as_bytes()[..15]).into_owned()
}

/// A directory with `приложение`, a symlink to /bin/sh: what runs through
/// it has the cut name.
fn program() -> (TempDir, String) {
    let dir = TempDir::new("non-utf8");
    let path = dir.path().join(NAME);
    std::os::unix::fs::symlink("/bin/sh", &path).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

/// Shell code: `wait_for 'sleep 1111'` returns once a process runs exactly
/// that command line.
const WAIT_FOR: &str = r#"wait_for() { until (for p in /proc/[0-9]*/cmdline; do [ "$(tr '\0' ' ' < $p 2>/dev/null)" = "$1 " ] && exit 0; done; exit 1); do sleep 0.01; done; }"#;

/// The issue's reproduction: a main child starts `приложение` (a shell)
/// in the background, which runs a sleep, and exits 0. With --leaks fail
/// rinit must find both as leftovers (exit 99) and end them; a rinit that
/// reads /proc/PID/stat as UTF-8 does not see the program nor, through it,
/// the sleep: it exits 0, and as a subreaper leaves the sleep running.
fn a_process_with_a_cut_name_is_found_and_ended() {
    let (_dir, program) = program();
    let script = format!(
        r#"{WAIT_FOR}; "$1" -c 'sleep 1111; :' & app=$!
        wait_for 'sleep 1111'
        echo "comm=$(od -An -tx1 /proc/$app/comm | tr -d ' \n')"
        exit 0"#
    );
    let args = [
        "--grace",
        "300ms",
        "--stuck-timeout",
        "1s",
        "--leaks",
        "fail",
        "--",
        "sh",
        "-c",
        &script,
        "sh",
        &program,
    ];
    let survived = r#"for p in /proc/[0-9]*/cmdline; do [ "$(tr '\0' ' ' < $p 2>/dev/null)" = "sleep 1111 " ] && echo sleep-survived; done"#;
    for (how, cmd) in [
        ("pid1", pid1(&args)),
        ("subreaper", subreaper_with(":", survived, &args)),
    ] {
        let out = run(cmd, secs(30.0));
        // The name really is cut inside "н" (d0 bd): 15 bytes and a newline.
        assert!(
            out.stdout
                .contains("comm=d0bfd180d0b8d0bbd0bed0b6d0b5d00a\n"),
            "{how}: {out:?}"
        );
        let code = match how {
            "pid1" => out.code,
            _ => out
                .stderr
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("rinit-exit=")?.parse().ok()),
        };
        assert_eq!(code, Some(99), "{how}: {out:?}");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("still running")
                    && l.contains(&format!("{NAME} -c sleep 1111; :"))),
            "{how}: {out:?}"
        );
        assert!(!out.stdout.contains("sleep-survived"), "{how}: {out:?}");
    }
}

/// A main child with the cut name, stopped (SIGSTOP), gets SIGCONT after a
/// forwarded TERM, as any stopped child does: rinit must read its state
/// from a stat that is not UTF-8.
fn a_stopped_child_with_a_cut_name_gets_sigcont() {
    let (_dir, program) = program();
    let traps = "trap 'echo got-cont' CONT; trap 'echo got-term; t=1' TERM; \
        echo READY; while [ -z \"$t\" ]; do sleep 0.05; done; exit 143";
    let args = [program.as_str(), "-c", traps];
    for (mode, cmd) in [("pid1", pid1(&args)), ("subreaper", subreaper(&args))] {
        // Without the SIGCONT the child stays stopped until the watchdog.
        let run = start(cmd, secs(15.0));
        run.wait_stdout("READY", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        let child = find_descendant(rinit, &cut_comm(), secs(5.0));
        signal(child, libc::SIGSTOP);
        wait_until(&format!("{mode}: the child stopped"), secs(5.0), || {
            status_field(child, "State").is_some_and(|s| s.starts_with('T'))
        });
        let term_sent = std::time::Instant::now();
        signal(rinit, libc::SIGTERM);
        let out = run.finish();
        let took = term_sent.elapsed();
        assert_eq!(out.code, Some(143), "{mode}: {out:?}");
        assert!(out.stdout.contains("got-cont"), "{mode}: {out:?}");
        assert!(out.stdout.contains("got-term"), "{mode}: {out:?}");
        assert!(took < secs(3.0), "{mode}: took {took:?}: {out:?}");
    }
}

/// A process with the cut name that survives SIGKILL (frozen in a v1
/// freezer cgroup) is named in the stuck report, with its state and
/// remedy; a rinit that reads its stat as UTF-8 says "0 process(es)
/// survived SIGKILL ... (gone meanwhile)".
fn a_stuck_process_with_a_cut_name_is_reported() {
    let (dir, program) = program();
    let go = dir.path().join("go").to_str().unwrap().to_string();
    let script = format!(
        r#""$1" -c 'sleep 1111; :' &
        echo victim-started
        while [ ! -e '{go}' ]; do sleep 0.02; done
        exit 4"#
    );
    let args = [
        "--grace",
        "300ms",
        "--stuck-timeout",
        "1s",
        "--",
        "sh",
        "-c",
        &script,
        "sh",
        &program,
    ];
    let cg = FreezerCgroup::new("non-utf8-stuck");
    let run = start(pid1(&args), secs(30.0));
    run.wait_stdout("victim-started", secs(10.0));
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    let app = find_descendant(rinit, &cut_comm(), secs(5.0));
    find_descendant(app, "sleep", secs(5.0));
    cg.add(app);
    cg.freeze();
    std::fs::write(&go, "").unwrap();
    let stderr = run.wait_stderr("remedy: thaw it", secs(15.0));
    // Its sleep, killed, stays a zombie of the frozen program: 2 survive.
    assert!(
        stderr.contains("2 process(es) survived SIGKILL"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&format!("({}) state D", cut_comm()))
                && l.contains("frozen by the cgroup v1 freezer")),
        "{stderr}"
    );
    cg.thaw();
    let out = run.finish();
    assert_eq!(out.code, Some(4), "{out:?}");
}

/// The child's cgroup directory, removed on drop if a failed run left it.
struct CgroupName {
    name: String,
    dir: PathBuf,
}

impl CgroupName {
    fn new(tag: &str) -> CgroupName {
        let name = format!("rinit-it-{}-{tag}", std::process::id());
        let unified = cgroups()
            .unified
            .as_ref()
            .expect("a test that uses cgroup v2 declares the cgroup2 need");
        let dir = unified.own.join(&name);
        assert!(!dir.exists(), "{} exists before the test", dir.display());
        CgroupName { name, dir }
    }
}

impl Drop for CgroupName {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A mount point with byte 0xE9 (Latin-1 "é") in rinit's mount table, in
/// a private mount namespace: --cgroup still finds the cgroup2 mount,
/// places the child, and removes its cgroup. A rinit that reads
/// /proc/self/mountinfo as UTF-8 fails with "stream did not contain valid
/// UTF-8".
fn a_latin1_mount_point_does_not_disable_cgroups() {
    let tmp = TempDir::new("latin1-mount");
    let setup = format!(
        r#"d='{}'/"$(printf 'caf\351')"
        mkdir -p "$d" && mount -t tmpfs rinit-it "$d" || exit 98
        grep -q "$(printf ' /[^ ]*caf\351 ')" /proc/self/mountinfo || exit 97"#,
        tmp.path().display()
    );
    let script = format!("{setup}\nexec \"$@\"");
    let cgroup = CgroupName::new("latin1");
    let args = ["--cgroup", &cgroup.name, "cat", "/proc/self/cgroup"];
    let namespaces = [MOUNT_NS.as_slice(), PID_NS.as_slice()].concat();
    let mut as_pid1 = sh_in(&namespaces, &script, &[rinit()]);
    as_pid1.args(args);
    let mut as_subreaper = sh_in(&MOUNT_NS, &script, &[rinit()]);
    as_subreaper.args(args);
    for (how, cmd) in [("pid1", as_pid1), ("subreaper", as_subreaper)] {
        let out = run(cmd, secs(20.0));
        assert_eq!(out.code, Some(0), "{how}: {out:?}");
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("0::") && l.ends_with(&format!("/{}", cgroup.name))),
            "{how}: the child is not in its cgroup: {out:?}"
        );
        assert!(!out.stderr.contains("UTF-8"), "{how}: {out:?}");
        assert!(!cgroup.dir.exists(), "{how}: {} left", cgroup.dir.display());
    }
}

tests! {
    &[Root, PidNs] => [
        a_process_with_a_cut_name_is_found_and_ended,
        a_stopped_child_with_a_cut_name_gets_sigcont,
    ];
    &[Root, PidNs, Freezer] => [a_stuck_process_with_a_cut_name_is_reported];
    &[Root, PidNs, Cgroup2] => [
        a_latin1_mount_point_does_not_disable_cgroups,
    ];
}
