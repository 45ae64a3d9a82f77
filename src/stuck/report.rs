//! Writing the stuck-exit report: who survived the final SIGKILL, the log
//! lines, the JSON file, and with --fuse-abort the FUSE connections to
//! abort. The decisions are pure functions, tested here; `report` strings
//! them together with the reading of /proc (`gather`).

use super::gather::{Fusectl, gather};
use super::task::{AbortOutcome, Class, MainChild, Task, to_json};
use crate::exit_status::ChildExit;
use crate::os::procfs::{self, ProcStat};
use crate::os::{describe_error, sys};
use crate::supervisor::Scope;
use log::{error, warn};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the stuck-exit report does besides logging.
#[derive(Debug, Default)]
pub struct ReportConfig {
    /// --report: where the JSON document goes.
    pub path: Option<PathBuf>,
    /// --fuse-abort: abort the FUSE connections that hold stuck tasks.
    pub fuse_abort: bool,
}

/// The pids still there after the final SIGKILL, from `table` (/proc as
/// read now); `None` when PID 1's /proc shows another namespace, so that
/// its pids mean nothing here. Kernel threads are never survivors: as PID 1
/// of a whole machine they fill /proc, but take no signal and never exit.
pub fn survivors(
    scope: Scope,
    table: &[ProcStat],
    cgroup_members: impl FnOnce() -> Vec<i32>,
    proc_shows_own_namespace: impl FnOnce() -> bool,
) -> Option<Vec<i32>> {
    let is_kernel_thread = |pid: i32| table.iter().any(|p| p.pid == pid && p.is_kernel_thread());
    let pids = match scope {
        Scope::Namespace if proc_shows_own_namespace() => table
            .iter()
            .map(|p| p.pid)
            .filter(|&pid| pid != 1)
            .collect(),
        Scope::Namespace => return None,
        Scope::Descendants { own_pid } => {
            let mut pids = procfs::descendants(table, own_pid);
            for pid in cgroup_members() {
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
            pids
        }
    };
    Some(
        pids.into_iter()
            .filter(|&pid| !is_kernel_thread(pid))
            .collect(),
    )
}

/// The first line of the report.
pub fn summary(pids: &[i32], timeout: Duration) -> String {
    let listed = if pids.is_empty() {
        "(gone meanwhile)".to_string()
    } else {
        pids.iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        "stuck exit: {} process(es) survived SIGKILL for {} ms (--stuck-timeout): {listed}; exiting anyway",
        pids.len(),
        timeout.as_millis() as u64
    )
}

/// The FUSE connections holding tasks stuck in FUSE, each once. Tasks
/// stuck for another reason keep their connections: aborting those would
/// release nothing and break a mount someone else may be using.
pub fn connections_to_abort(tasks: &[Task]) -> Vec<u64> {
    // Inserted in order rather than sorted: a sort of u64 would be a copy
    // of the generic sort code of its own (2.9 KB), for a handful of items.
    let mut connections: Vec<u64> = Vec::new();
    let fuse_tasks = tasks.iter().filter(|t| t.classify() == Class::Fuse);
    for connection in fuse_tasks.flat_map(|t| t.fuse.iter().map(|c| c.connection)) {
        if let Err(at) = connections.binary_search(&connection) {
            connections.insert(at, connection);
        }
    }
    connections
}

/// How the main child ended, for the JSON document; `code` is the exit code
/// rinit gives for it (after --remap-exit).
pub fn main_child(pid: i32, exit: Option<ChildExit>, code: impl Fn(ChildExit) -> u8) -> MainChild {
    MainChild {
        pid,
        code: exit.map(code),
        signal: match exit {
            Some(ChildExit::Signaled(sig)) => Some(sig.number()),
            _ => None,
        },
    }
}

/// Writes the stuck-exit report for `survivors` (log lines, and JSON with
/// --report), then with --fuse-abort aborts the FUSE connections holding
/// stuck tasks. Returns whether anything was aborted, so worth waiting for.
pub fn report(
    survivors: Option<&[i32]>,
    table: &[ProcStat],
    main: &MainChild,
    timeout: Duration,
    config: &ReportConfig,
) -> bool {
    let Some(pids) = survivors else {
        error!(
            "stuck exit: processes survived SIGKILL, but /proc is not this PID namespace's: cannot list them"
        );
        return false;
    };
    let mut fusectl: Option<Fusectl> = None;
    let tasks = gather(pids, table, &mut fusectl);
    error!("{}", summary(pids, timeout));
    for task in &tasks {
        for line in task.text() {
            error!("{line}");
        }
    }
    let outcome = config.fuse_abort.then(|| {
        let connections = connections_to_abort(&tasks);
        let outcome = if connections.is_empty() {
            AbortOutcome::default()
        } else {
            fusectl
                .get_or_insert_with(Fusectl::open)
                .abort(&connections)
        };
        for connection in &outcome.aborted {
            warn!(
                "--fuse-abort: aborted FUSE connection {connection}; waiting for the tasks it held"
            );
        }
        for e in &outcome.errors {
            error!("--fuse-abort: {e}");
        }
        outcome
    });
    // Unmounts fusectl if rinit mounted it, before the report is written.
    drop(fusectl);
    if let Some(path) = &config.path {
        let json = to_json(main, timeout.as_millis() as u64, &tasks, outcome.as_ref());
        if let Err(why) = write_atomically(path, &json) {
            error!("stuck-exit report not written: {why}");
        }
    }
    outcome.is_some_and(|o| !o.aborted.is_empty())
}

/// Writes `text` to a new file beside `path` (mode 0644), syncs it, then
/// renames it over `path`, so a reader never sees half a report and a crash
/// leaves the old one or the new one. The directory may be writable by
/// others: the temporary file has a name no one can guess and is created
/// exclusively, so a symlink or FIFO planted there is never followed, never
/// truncated and never waited on.
fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let (tmp, mut file) = create_temporary(path)?;
    let written = file
        .write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {}", tmp.display(), describe_error(&e)))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| format!("cannot sync {}: {}", tmp.display(), describe_error(&e)))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| {
                format!(
                    "cannot rename {} to {}: {}",
                    tmp.display(),
                    path.display(),
                    describe_error(&e)
                )
            })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    let dir = directory_of(path);
    sys::sync_directory(dir).map_err(|e| {
        format!(
            "cannot sync directory {}: {}",
            dir.display(),
            describe_error(&e)
        )
    })
}

/// A new temporary file beside `path`. A name taken already (planted, or a
/// leftover) is skipped for another; a few tries are plenty when the name
/// cannot be guessed.
fn create_temporary(path: &Path) -> Result<(PathBuf, std::fs::File), String> {
    const TRIES: usize = 8;
    let mut last = None;
    for _ in 0..TRIES {
        let tmp = temporary_name(path, std::process::id(), unpredictable());
        match sys::create_new_file(&tmp, 0o644) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(tmp),
            Err(e) => {
                return Err(format!(
                    "cannot create {}: {}",
                    tmp.display(),
                    describe_error(&e)
                ));
            }
        }
    }
    let last = last.expect("TRIES > 0");
    Err(format!(
        "cannot create a temporary file beside {}: {TRIES} names taken, the last {}",
        path.display(),
        last.display()
    ))
}

/// `PATH.<pid>.<16 hex digits>`: the pid keeps two rinits apart, the
/// random part keeps anyone from planting something at the name first
/// (PID 1's pid is always 1).
fn temporary_name(path: &Path, pid: u32, random: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{pid}.{random:016x}"));
    PathBuf::from(name)
}

/// Random bits for a name; the clock if the kernel has none to give (the
/// exclusive create keeps even a guessed name safe, only not unblockable).
fn unpredictable() -> u64 {
    sys::random_u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{SIGKILL, SigSet};
    use crate::stuck::task::FuseConnection;

    fn proc(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            pid,
            comm: "sh".into(),
            state: 'S',
            ppid,
            flags: 0,
        }
    }

    fn table() -> Vec<ProcStat> {
        vec![proc(1, 0), proc(7, 1), proc(8, 7), proc(9, 1), proc(20, 8)]
    }

    /// PID 1 of a whole machine: kthreadd (pid 2, parent 0) and its
    /// kernel threads, with PF_KTHREAD in their flags as the kernel sets it.
    fn machine_table() -> Vec<ProcStat> {
        let kthread = |pid, ppid, comm: &str| ProcStat {
            pid,
            comm: comm.into(),
            state: 'S',
            ppid,
            flags: 0x0020_8040,
        };
        vec![
            proc(1, 0),
            kthread(2, 0, "kthreadd"),
            kthread(3, 2, "pool_workqueue_release"),
            proc(4, 1),
            kthread(5, 2, "kworker/0:0H-events_highpri"),
            ProcStat {
                state: 'D',
                ..proc(6, 4)
            },
        ]
    }

    fn no_members() -> Vec<i32> {
        panic!("the cgroup must not be read for PID 1")
    }

    #[test]
    fn pid_1_reports_every_other_process_of_its_namespace() {
        assert_eq!(
            survivors(Scope::Namespace, &table(), no_members, || true),
            Some(vec![7, 8, 9, 20])
        );
        assert_eq!(
            survivors(Scope::Namespace, &table(), no_members, || false),
            None
        );
    }

    #[test]
    fn kernel_threads_are_never_survivors() {
        assert_eq!(
            survivors(Scope::Namespace, &machine_table(), no_members, || true),
            Some(vec![4, 6])
        );
        // Even if a cgroup listing named one (a kernel thread moved into a
        // v1 cgroup), it is not reported.
        let scope = Scope::Descendants { own_pid: 1 };
        assert_eq!(
            survivors(scope, &machine_table(), || vec![6, 5], || true),
            Some(vec![4, 6])
        );
    }

    #[test]
    fn a_subreaper_reports_its_descendants_and_its_cgroup() {
        let own_pid = 7;
        let scope = Scope::Descendants { own_pid };
        let not_asked = || -> bool { panic!("a subreaper never asks about /proc's namespace") };
        assert_eq!(
            survivors(scope, &table(), Vec::new, not_asked),
            Some(vec![8, 20])
        );
        // A member that left the tree is reported once, after the tree.
        assert_eq!(
            survivors(scope, &table(), || vec![20, 9], not_asked),
            Some(vec![8, 20, 9])
        );
    }

    #[test]
    fn the_summary_lists_the_pids() {
        assert_eq!(
            summary(&[8, 20], Duration::from_millis(1500)),
            "stuck exit: 2 process(es) survived SIGKILL for 1500 ms (--stuck-timeout): 8 20; exiting anyway"
        );
        assert_eq!(
            summary(&[], Duration::from_secs(10)),
            "stuck exit: 0 process(es) survived SIGKILL for 10000 ms (--stuck-timeout): (gone meanwhile); exiting anyway"
        );
    }

    fn task(tid: i32, wchan: &str, connections: &[u64]) -> Task {
        Task {
            pid: 10,
            tid,
            nspid: vec![10],
            comm: "python3".into(),
            cmdline: Vec::new(),
            state: 'D',
            flags: 0,
            wchan: Some(wchan.into()),
            stack: Err("not read".into()),
            pending: SigSet(SIGKILL.bit()),
            shared_pending: SigSet(0),
            cgroups: Vec::new(),
            freezer: None,
            fuse: connections
                .iter()
                .map(|&connection| FuseConnection {
                    connection,
                    mountpoint: "/mnt".into(),
                    fstype: "fuse.hangfs".into(),
                    waiting: Some(1),
                })
                .collect(),
            live_siblings: Vec::new(),
            children: Vec::new(),
        }
    }

    #[test]
    fn only_connections_holding_fuse_waiters_are_aborted() {
        let tasks = [
            task(11, "request_wait_answer", &[41, 40]),
            task(12, "fuse_flush", &[41]),
            // Blocked elsewhere: its mounts are not what holds it.
            task(13, "rwsem_down_write_slowpath", &[42]),
        ];
        assert_eq!(connections_to_abort(&tasks), vec![40, 41]);
        assert_eq!(connections_to_abort(&tasks[2..]), Vec::<u64>::new());
    }

    #[test]
    fn the_json_names_how_the_main_child_ended() {
        let killed = main_child(2, Some(ChildExit::Signaled(SIGKILL)), |_| 0);
        let json = to_json(&killed, 10, &[], None);
        assert!(
            json.contains("\"main_child\":{\"pid\":2,\"exit_code\":0,\"signal\":9}"),
            "{json}"
        );
        let exited = main_child(2, Some(ChildExit::Exited(3)), ChildExit::code);
        let json = to_json(&exited, 10, &[], None);
        assert!(
            json.contains("\"main_child\":{\"pid\":2,\"exit_code\":3,\"signal\":null}"),
            "{json}"
        );
        let running = main_child(2, None, |_| panic!("no exit, no code"));
        let json = to_json(&running, 10, &[], None);
        assert!(
            json.contains("\"main_child\":{\"pid\":2,\"exit_code\":null,\"signal\":null}"),
            "{json}"
        );
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_report_file_appears_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::os::TempDir::new();
        let path = dir.file("report.json", "old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        assert_eq!(entries(dir.path()), ["report.json"]);
    }

    #[test]
    fn temporary_names_cannot_be_guessed() {
        let path = Path::new("/run/r.json");
        assert_eq!(
            temporary_name(path, 1, 0xab),
            Path::new("/run/r.json.1.00000000000000ab")
        );
        // Two reports of the same PID 1 get names that share nothing
        // after the pid.
        let (a, b) = (unpredictable(), unpredictable());
        assert_ne!(a, b);
        assert_ne!(temporary_name(path, 1, a), temporary_name(path, 1, b));
    }

    #[test]
    fn a_failed_report_leaves_no_temporary_file() {
        let dir = crate::os::TempDir::new();
        let target = dir.path().join("report.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "").unwrap();
        let why = write_atomically(&target, "{}").unwrap_err();
        assert!(
            why.starts_with(&format!("cannot rename {}.", target.display()))
                && why.contains(&format!(" to {}: ", target.display())),
            "{why}"
        );
        assert_eq!(entries(dir.path()), ["report.json"]);
        let missing = dir.path().join("no/such/report.json");
        let why = write_atomically(&missing, "{}").unwrap_err();
        assert!(
            why.starts_with(&format!("cannot create {}.", missing.display()))
                && why.ends_with(": No such file or directory"),
            "{why}"
        );
    }
}
