//! Gathering the facts of the stuck-exit report from /proc and sysfs, and
//! aborting FUSE connections. Nothing here stat()s a path: a stat on a
//! mount whose FUSE daemon hangs would hang rinit too. Files are mapped to
//! FUSE connections through fdinfo `mnt_id`, mountinfo and
//! /sys/fs/fuse/connections.

use super::task::{AbortOutcome, Freezer, FuseConnection, Task};
use crate::cgroup::{self, Kind};
use crate::os::procfs::{self, Mount, Proc};
use crate::os::sys;
use crate::os::{describe_error, lossy, read_text, write_control};
use crate::signals::SigSet;
use log::{debug, warn};
use std::io;
use std::path::{Path, PathBuf};

const FUSECTL: &str = "/sys/fs/fuse/connections";

/// The fusectl filesystem, mounted by rinit for as long as it needs it
/// when it was not mounted already (and rinit may mount it).
pub struct Fusectl {
    dir: Option<PathBuf>,
    mounted_by_us: bool,
}

impl Fusectl {
    pub fn open() -> Fusectl {
        Fusectl::open_at(&Proc::system(), Path::new(FUSECTL))
    }

    /// fusectl on `dir`, as `proc`'s mount table shows it, mounting it
    /// there when it is not.
    fn open_at(proc: &Proc, dir: &Path) -> Fusectl {
        let mounted = proc.self_mountinfo().is_ok_and(|m| {
            procfs::parse_mountinfo(&m)
                .iter()
                .any(|m| m.fstype == "fusectl" && m.point == dir)
        });
        if mounted {
            return Fusectl {
                dir: Some(dir.to_path_buf()),
                mounted_by_us: false,
            };
        }
        match sys::mount_fusectl(dir) {
            Ok(()) => {
                debug!("mounted fusectl on {}", dir.display());
                Fusectl {
                    dir: Some(dir.to_path_buf()),
                    mounted_by_us: true,
                }
            }
            Err(e) => {
                debug!(
                    "cannot mount fusectl on {}: {}",
                    dir.display(),
                    describe_error(&e)
                );
                Fusectl {
                    dir: None,
                    mounted_by_us: false,
                }
            }
        }
    }

    fn waiting(&self, connection: u64) -> Option<u64> {
        let dir = self.dir.as_ref()?;
        read_text(&dir.join(connection.to_string()).join("waiting"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Aborts every connection in `connections`.
    pub fn abort(&self, connections: &[u64]) -> AbortOutcome {
        let mut outcome = AbortOutcome::default();
        let Some(dir) = &self.dir else {
            outcome.errors.push(format!(
                "cannot abort FUSE connections: fusectl is not mounted on {FUSECTL} and cannot be"
            ));
            return outcome;
        };
        for &connection in connections {
            let path = dir.join(connection.to_string()).join("abort");
            match write_control(&path, "1") {
                Ok(()) => outcome.aborted.push(connection),
                Err(e) => outcome.errors.push(format!(
                    "cannot write {}: {}",
                    path.display(),
                    describe_error(&e)
                )),
            }
        }
        outcome
    }
}

impl Drop for Fusectl {
    fn drop(&mut self) {
        if self.mounted_by_us
            && let Some(dir) = &self.dir
            && let Err(e) = sys::unmount_detached(dir)
        {
            warn!(
                "cannot unmount fusectl from {}: {}",
                dir.display(),
                describe_error(&e)
            );
        }
    }
}

/// Every thread of every process in `pids`, as the report needs it.
/// `fusectl` is opened lazily, only if some thread waits on FUSE.
/// `table` is /proc as `pids` were read from, for the children of each.
pub fn gather(
    pids: &[i32],
    table: &[procfs::ProcStat],
    fusectl: &mut Option<Fusectl>,
) -> Vec<Task> {
    gather_from(&Proc::system(), pids, table, fusectl)
}

fn gather_from(
    proc: &Proc,
    pids: &[i32],
    table: &[procfs::ProcStat],
    fusectl: &mut Option<Fusectl>,
) -> Vec<Task> {
    let own_mounts = proc
        .self_mountinfo()
        .map(|m| procfs::parse_mountinfo(&m))
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for &pid in pids {
        let cmdline = proc.cmdline(pid);
        // Plain loops: an iterator chain each was larger code.
        let mut children = Vec::new();
        for p in table {
            if p.ppid == pid {
                children.push(p.pid);
            }
        }
        let Some(tids) = proc.thread_ids(pid) else {
            continue;
        };
        let mut threads = Vec::new();
        let mut live = Vec::new();
        for &tid in &tids {
            if let Some(task) = thread(proc, pid, tid, &cmdline, &children, &own_mounts) {
                if task.state != 'Z' {
                    live.push(task.tid);
                }
                threads.push(task);
            }
        }
        for t in &mut threads {
            t.live_siblings = live.clone();
            t.live_siblings.retain(|&tid| tid != t.tid);
        }
        if threads.iter().any(Task::waits_on_fuse) {
            let fusectl = fusectl.get_or_insert_with(Fusectl::open);
            let connections = fuse_connections(proc, pid, &tids, fusectl);
            for t in threads.iter_mut().filter(|t| t.waits_on_fuse()) {
                t.fuse = connections.clone();
            }
        }
        tasks.extend(threads);
    }
    tasks
}

fn thread(
    proc: &Proc,
    pid: i32,
    tid: i32,
    cmdline: &[String],
    children: &[i32],
    own_mounts: &[Mount],
) -> Option<Task> {
    let stat = proc.thread_stat(pid, tid)?;
    let status = proc
        .thread_file(pid, tid, "status")
        .map(|raw| lossy(&raw))
        .unwrap_or_default();
    let sigset = |key| {
        procfs::status_field(&status, key)
            .and_then(SigSet::from_proc_hex)
            .unwrap_or_default()
    };
    // wchan reads "0" when running, for a zombie, or without ptrace access.
    let wchan = proc
        .thread_file(pid, tid, "wchan")
        .map(|w| lossy(w.trim_ascii()))
        .filter(|w| !w.is_empty() && w != "0");
    let stack = proc.thread_stack(pid, tid).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            format!(
                "{}: needs CAP_SYS_ADMIN in the initial user namespace",
                describe_error(&e)
            )
        } else {
            describe_error(&e)
        }
    });
    let cgroup_text = proc.thread_file(pid, tid, "cgroup").unwrap_or_default();
    let freezer = cgroup::memberships(&cgroup_text)
        .into_iter()
        .find(|(k, _)| *k == Kind::V1Freezer)
        .and_then(|(_, path)| {
            let file = cgroup::dir_in(own_mounts, Kind::V1Freezer, &path)?.join("freezer.state");
            let state = read_text(&file).ok()?.trim().to_string();
            Some(Freezer {
                cgroup: path.display().to_string(),
                state_file: file.display().to_string(),
                state,
            })
        });
    let mut cgroups = Vec::new();
    for line in lossy(&cgroup_text).lines() {
        cgroups.push(line.to_string());
    }
    Some(Task {
        pid,
        tid,
        nspid: procfs::nspid(&status),
        comm: stat.comm,
        cmdline: cmdline.to_vec(),
        state: stat.state,
        flags: stat.flags,
        wchan,
        stack,
        pending: sigset("SigPnd"),
        shared_pending: sigset("ShdPnd"),
        cgroups,
        freezer,
        fuse: Vec::new(),
        live_siblings: Vec::new(),
        children: children.to_vec(),
    })
}

/// The FUSE connections a process may be blocked on. The file being
/// flushed has already left the fd table (and an exiting process has none),
/// so: the FUSE mounts its threads still have files open on, plus those
/// with unanswered requests; failing both, every FUSE mount it can see.
fn fuse_connections(proc: &Proc, pid: i32, tids: &[i32], fusectl: &Fusectl) -> Vec<FuseConnection> {
    let mounts = tids
        .iter()
        .find_map(|&tid| {
            proc.thread_file(pid, tid, "mountinfo")
                .filter(|m| !m.is_empty())
        })
        .map(|m| procfs::parse_mountinfo(&m))
        .unwrap_or_default();
    let mut open_on = Vec::new();
    for &tid in tids {
        for id in proc.thread_open_mounts(pid, tid) {
            if !open_on.contains(&id) {
                open_on.push(id);
            }
        }
    }
    // Plain loops: an iterator chain each was larger code.
    let (mut all, mut chosen) = (Vec::new(), Vec::new());
    for m in mounts.iter().filter(|m| m.is_fuse()) {
        let connection = m.fuse_connection().unwrap_or_default();
        let described = FuseConnection {
            connection,
            mountpoint: m.point.display().to_string(),
            fstype: m.fstype.clone(),
            waiting: fusectl.waiting(connection),
        };
        if open_on.contains(&m.id) || described.waiting.is_some_and(|w| w > 0) {
            chosen.push(described.clone());
        }
        all.push(described);
    }
    if chosen.is_empty() {
        chosen = all;
    }
    chosen.dedup_by_key(|c| c.connection);
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::TempDir;
    use crate::signals::SIGKILL;
    use std::fs;

    /// Process 10 of a fake /proc: a zombie leader (tid 10) and a thread
    /// (tid 11) stuck in a FUSE request, with a file open on the FUSE
    /// mount, in a frozen freezer cgroup; 12 is its child.
    fn fake_host(tmp: &TempDir) -> Proc {
        let root = tmp.path().display();
        tmp.file(
            "proc/self/mountinfo",
            &format!(
                "30 1 0:30 / {root}/fusectl rw - fusectl fusectl rw\n\
                 37 1 0:34 / {root}/freezer rw - cgroup cgroup rw,freezer\n"
            ),
        );
        tmp.file("freezer/app/freezer.state", "FROZEN\n");
        tmp.file("fusectl/41/waiting", "1\n");
        tmp.file("fusectl/41/abort", "");
        tmp.file("proc/10/cmdline", "python3\0-c\0x\0");
        tmp.file(
            "proc/10/task/10/stat",
            "10 (python3) Z 1 10 10 0 -1 4194316 0 0",
        );
        tmp.file("proc/10/task/10/status", "Name:\tpython3\nNSpid:\t10\t1\n");
        tmp.file("proc/10/task/10/wchan", "0");
        tmp.file("proc/10/task/10/stack", "");
        tmp.file("proc/10/task/10/mountinfo", "");
        let task = "proc/10/task/11";
        tmp.file(
            &format!("{task}/stat"),
            "11 (python3) D 1 10 10 0 -1 4194368 0 0",
        );
        tmp.file(
            &format!("{task}/status"),
            "Name:\tpython3\nNSpid:\t11\t2\nSigPnd:\t0000000000000100\nShdPnd:\t0000000000000000\n",
        );
        tmp.file(&format!("{task}/wchan"), "request_wait_answer");
        tmp.file(&format!("{task}/cgroup"), "6:freezer:/app\n0::/\n");
        tmp.file(
            &format!("{task}/mountinfo"),
            "91 80 0:41 / /mnt/hang rw - fuse hangfs rw\n93 80 0:5 / /proc rw - proc proc rw\n",
        );
        tmp.file(
            &format!("{task}/fdinfo/3"),
            "pos:\t0\nflags:\t0100000\nmnt_id:\t91\n",
        );
        Proc::at(tmp.path().join("proc"))
    }

    #[test]
    fn gathers_threads_fuse_and_freezer_from_a_proc_tree() {
        let tmp = TempDir::new();
        let proc = fake_host(&tmp);
        let mut fusectl = Some(Fusectl::open_at(&proc, &tmp.path().join("fusectl")));
        let table = vec![procfs::parse_stat(b"12 (sleep) S 10 10 10 0 -1 0 0 0").unwrap()];
        let tasks = gather_from(&proc, &[10, 99], &table, &mut fusectl);
        assert_eq!(tasks.len(), 2, "99 does not exist and is skipped");
        let (leader, stuck) = (&tasks[0], &tasks[1]);
        assert_eq!((leader.tid, leader.state), (10, 'Z'));
        assert_eq!(leader.nspid, [10, 1]);
        assert_eq!(leader.live_siblings, [11]);
        assert_eq!(leader.wchan, None);
        assert_eq!(leader.cmdline, ["python3", "-c", "x"]);
        assert_eq!(leader.children, [12]);
        assert!(leader.fuse.is_empty());

        assert_eq!((stuck.pid, stuck.tid, stuck.state), (10, 11, 'D'));
        assert_eq!(stuck.wchan.as_deref(), Some("request_wait_answer"));
        assert_eq!(stuck.stack, Err("No such file or directory".into()));
        assert!(stuck.pending.contains(SIGKILL));
        assert_eq!(stuck.cgroups, ["6:freezer:/app", "0::/"]);
        assert_eq!(
            stuck.freezer,
            Some(Freezer {
                cgroup: "/app".into(),
                state_file: tmp
                    .path()
                    .join("freezer/app/freezer.state")
                    .display()
                    .to_string(),
                state: "FROZEN".into(),
            })
        );
        assert_eq!(
            stuck.fuse,
            [FuseConnection {
                connection: 41,
                mountpoint: "/mnt/hang".into(),
                fstype: "fuse".into(),
                waiting: Some(1),
            }]
        );
    }

    #[test]
    fn a_cut_name_and_a_latin1_mount_point_are_reported() {
        // The kernel's bytes: a name cut inside "р" (d1 80), a mount
        // point with a Latin-1 "é" (e9). Neither may hide the thread, its
        // FUSE mount, or the fusectl mount.
        let tmp = TempDir::new();
        let write = |rel: &str, bytes: &[u8]| {
            let path = tmp.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, bytes).unwrap();
        };
        let mut own = format!(
            "30 1 0:30 / {}/fusectl rw - fusectl fusectl rw\n",
            tmp.path().display()
        )
        .into_bytes();
        own.extend_from_slice(b"60 1 0:50 / /mnt/caf\xe9 rw - tmpfs tmpfs rw\n");
        write("proc/self/mountinfo", &own);
        write("fusectl/41/waiting", b"1\n");
        let task = "proc/20/task/20";
        write(
            &format!("{task}/stat"),
            b"20 (\xd0\xbf\xd1) D 1 20 20 0 -1 4194304 0 0",
        );
        write(
            &format!("{task}/status"),
            b"Name:\t\xd0\xbf\xd1\nNSpid:\t20\t3\nSigPnd:\t0000000000000100\n",
        );
        write(&format!("{task}/wchan"), b"request_wait_answer");
        write(&format!("{task}/cgroup"), b"0::/caf\xe9\n");
        write(
            &format!("{task}/mountinfo"),
            b"91 80 0:41 / /mnt/caf\xe9 rw - fuse hangfs rw\n",
        );
        let proc = Proc::at(tmp.path().join("proc"));
        let fusectl = Fusectl::open_at(&proc, &tmp.path().join("fusectl"));
        assert!(fusectl.dir.is_some() && !fusectl.mounted_by_us);
        let tasks = gather_from(&proc, &[20], &[], &mut Some(fusectl));
        assert_eq!(tasks.len(), 1);
        let t = &tasks[0];
        assert_eq!((t.comm.as_str(), t.state), ("п\u{fffd}", 'D'));
        assert_eq!(t.nspid, [20, 3]);
        assert!(t.pending.contains(SIGKILL));
        assert_eq!(t.cgroups, ["0::/caf\u{fffd}"]);
        assert_eq!(
            t.fuse,
            [FuseConnection {
                connection: 41,
                mountpoint: "/mnt/caf\u{fffd}".into(),
                fstype: "fuse".into(),
                waiting: Some(1),
            }]
        );
    }

    #[test]
    fn aborts_through_existing_connection_files_only() {
        let tmp = TempDir::new();
        let proc = fake_host(&tmp);
        let fusectl = Fusectl::open_at(&proc, &tmp.path().join("fusectl"));
        assert!(!fusectl.mounted_by_us);
        let outcome = fusectl.abort(&[41, 42]);
        assert_eq!(outcome.aborted, [41]);
        assert_eq!(
            fs::read_to_string(tmp.path().join("fusectl/41/abort")).unwrap(),
            "1"
        );
        let gone = tmp.path().join("fusectl/42/abort");
        assert_eq!(
            outcome.errors,
            [format!(
                "cannot write {}: No such file or directory",
                gone.display()
            )]
        );
    }
}
