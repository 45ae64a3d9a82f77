//! Gathering the facts of the stuck-exit report from /proc and sysfs, and
//! aborting FUSE connections. Nothing here stat()s a path: a stat on a
//! mount whose FUSE daemon hangs would hang rinit too. Files are mapped to
//! FUSE connections through fdinfo `mnt_id`, mountinfo and
//! /sys/fs/fuse/connections.

use super::task::{AbortOutcome, Freezer, FuseConnection, Task};
use crate::cgroup::plain;
use crate::cgroup::{self, Kind};
use crate::os::procfs::{self, Mount};
use crate::signals::SigSet;
use log::{debug, warn};
use std::fs;
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
        let dir = PathBuf::from(FUSECTL);
        let mounted = fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
            procfs::parse_mountinfo(&m)
                .iter()
                .any(|m| m.fstype == "fusectl" && m.point == FUSECTL)
        });
        if mounted {
            return Fusectl {
                dir: Some(dir),
                mounted_by_us: false,
            };
        }
        match nix::mount::mount(
            Some("fusectl"),
            FUSECTL,
            Some("fusectl"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        ) {
            Ok(()) => {
                debug!("mounted fusectl on {FUSECTL}");
                Fusectl {
                    dir: Some(dir),
                    mounted_by_us: true,
                }
            }
            Err(e) => {
                debug!("cannot mount fusectl on {FUSECTL}: {e}");
                Fusectl {
                    dir: None,
                    mounted_by_us: false,
                }
            }
        }
    }

    fn waiting(&self, connection: u64) -> Option<u64> {
        let dir = self.dir.as_ref()?;
        fs::read_to_string(dir.join(connection.to_string()).join("waiting"))
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
            match fs::write(&path, "1") {
                Ok(()) => outcome.aborted.push(connection),
                Err(e) => {
                    outcome
                        .errors
                        .push(format!("cannot write {}: {}", path.display(), plain(&e)))
                }
            }
        }
        outcome
    }
}

impl Drop for Fusectl {
    fn drop(&mut self) {
        if self.mounted_by_us
            && let Err(e) = nix::mount::umount2(FUSECTL, nix::mount::MntFlags::MNT_DETACH)
        {
            warn!("cannot unmount fusectl from {FUSECTL}: {e}");
        }
    }
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Every thread of every process in `pids`, as the report needs it.
/// `fusectl` is opened lazily, only if some thread waits on FUSE.
/// `table` is /proc as `pids` were read from, for the children of each.
pub fn gather(
    pids: &[i32],
    table: &[procfs::ProcStat],
    fusectl: &mut Option<Fusectl>,
) -> Vec<Task> {
    let own_mounts = read(Path::new("/proc/self/mountinfo"))
        .map(|m| procfs::parse_mountinfo(&m))
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for &pid in pids {
        let base = PathBuf::from(format!("/proc/{pid}"));
        let cmdline = fs::read(base.join("cmdline"))
            .map(|raw| procfs::parse_cmdline(&raw))
            .unwrap_or_default();
        let children: Vec<i32> = table
            .iter()
            .filter(|p| p.ppid == pid)
            .map(|p| p.pid)
            .collect();
        let Ok(entries) = fs::read_dir(base.join("task")) else {
            continue;
        };
        let mut tids: Vec<i32> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        tids.sort_unstable();
        let mut threads: Vec<Task> = tids
            .iter()
            .filter_map(|&tid| thread(pid, tid, &cmdline, &children, &own_mounts))
            .collect();
        let live: Vec<i32> = threads
            .iter()
            .filter(|t| t.state != 'Z')
            .map(|t| t.tid)
            .collect();
        for t in &mut threads {
            t.live_siblings = live.iter().copied().filter(|&tid| tid != t.tid).collect();
        }
        if threads.iter().any(Task::waits_on_fuse) {
            let fusectl = fusectl.get_or_insert_with(Fusectl::open);
            let connections = fuse_connections(pid, &tids, fusectl);
            for t in threads.iter_mut().filter(|t| t.waits_on_fuse()) {
                t.fuse = connections.clone();
            }
        }
        tasks.extend(threads);
    }
    tasks
}

fn thread(
    pid: i32,
    tid: i32,
    cmdline: &[String],
    children: &[i32],
    own_mounts: &[Mount],
) -> Option<Task> {
    let base = PathBuf::from(format!("/proc/{pid}/task/{tid}"));
    let stat = procfs::parse_stat(&read(&base.join("stat"))?)?;
    let status = read(&base.join("status")).unwrap_or_default();
    let sigset = |key| {
        procfs::status_field(&status, key)
            .and_then(SigSet::from_proc_hex)
            .unwrap_or_default()
    };
    // wchan reads "0" when running, for a zombie, or without ptrace access.
    let wchan = read(&base.join("wchan"))
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty() && w != "0");
    let stack = match fs::read_to_string(base.join("stack")) {
        Ok(text) => Ok(procfs::parse_stack(&text)),
        Err(e)
            if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) =>
        {
            Err(format!(
                "{}: needs CAP_SYS_ADMIN in the initial user namespace",
                plain(&e)
            ))
        }
        Err(e) => Err(plain(&e)),
    };
    let cgroup_text = read(&base.join("cgroup")).unwrap_or_default();
    let freezer = cgroup::memberships(&cgroup_text)
        .into_iter()
        .find(|(k, _)| *k == Kind::V1Freezer)
        .and_then(|(_, path)| {
            let file = cgroup::dir_in(own_mounts, Kind::V1Freezer, &path)?.join("freezer.state");
            let state = read(&file)?.trim().to_string();
            Some(Freezer {
                cgroup: path,
                state_file: file.display().to_string(),
                state,
            })
        });
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
        cgroups: cgroup_text.lines().map(str::to_string).collect(),
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
fn fuse_connections(pid: i32, tids: &[i32], fusectl: &Fusectl) -> Vec<FuseConnection> {
    let mounts = tids
        .iter()
        .find_map(|tid| {
            read(Path::new(&format!("/proc/{pid}/task/{tid}/mountinfo"))).filter(|m| !m.is_empty())
        })
        .map(|m| procfs::parse_mountinfo(&m))
        .unwrap_or_default();
    let fuse: Vec<&Mount> = mounts.iter().filter(|m| m.is_fuse()).collect();
    let mut open_on = Vec::new();
    for tid in tids {
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/task/{tid}/fdinfo")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Some(id) = read(&fd.path()).and_then(|t| procfs::fdinfo_mnt_id(&t))
                && !open_on.contains(&id)
            {
                open_on.push(id);
            }
        }
    }
    let describe = |m: &Mount| {
        let connection = m.fuse_connection().unwrap_or_default();
        FuseConnection {
            connection,
            mountpoint: m.point.clone(),
            fstype: m.fstype.clone(),
            waiting: fusectl.waiting(connection),
        }
    };
    let all: Vec<FuseConnection> = fuse.iter().map(|m| describe(m)).collect();
    let chosen: Vec<FuseConnection> = fuse
        .iter()
        .zip(&all)
        .filter(|(m, c)| open_on.contains(&m.id) || c.waiting.is_some_and(|w| w > 0))
        .map(|(_, c)| c.clone())
        .collect();
    let mut chosen = if chosen.is_empty() { all } else { chosen };
    chosen.dedup_by_key(|c| c.connection);
    chosen
}
