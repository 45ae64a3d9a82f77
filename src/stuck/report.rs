//! The stuck-exit report: who survived the final SIGKILL, the log lines,
//! the exit report's stuck section, and with --fuse-abort the FUSE
//! connections to abort. The decisions are pure functions, tested here; `report` strings
//! them together with the reading of /proc (`gather`).

use super::gather::{Fusectl, gather};
use super::task::{AbortOutcome, Class, StuckSection, Task, stuck_section};
use crate::os::procfs::{self, ProcStat};
use crate::supervisor::Scope;
use log::{error, warn};
use std::time::Duration;

/// What the stuck-exit report did.
pub struct Reported {
    /// FUSE connections were aborted: the tasks they held are worth
    /// waiting for.
    pub released: bool,
    /// For the exit report.
    pub section: StuckSection,
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

/// Logs the stuck-exit report for `survivors`, then with `fuse_abort`
/// aborts the FUSE connections holding stuck tasks.
pub fn report(
    survivors: Option<&[i32]>,
    table: &[ProcStat],
    timeout: Duration,
    fuse_abort: bool,
) -> Reported {
    let timeout_ms = timeout.as_millis() as u64;
    let Some(pids) = survivors else {
        error!(
            "stuck exit: processes survived SIGKILL, but /proc is not this PID namespace's: cannot list them"
        );
        return Reported {
            released: false,
            section: stuck_section(timeout_ms, None, None),
        };
    };
    let mut fusectl: Option<Fusectl> = None;
    let tasks = gather(pids, table, &mut fusectl);
    error!("{}", summary(pids, timeout));
    for task in &tasks {
        for line in task.text() {
            error!("{line}");
        }
    }
    let outcome = fuse_abort.then(|| {
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
    Reported {
        released: outcome.as_ref().is_some_and(|o| !o.aborted.is_empty()),
        section: stuck_section(timeout_ms, Some(&tasks), outcome.as_ref()),
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
}
