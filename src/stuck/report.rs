//! The stuck-exit report: the log lines for those who survived the final
//! SIGKILL (`teardown::census` says who), the exit report's stuck section,
//! and with --fuse-abort the FUSE connections to abort. The decisions are
//! pure functions, tested here; `report` strings them together with the
//! reading of /proc (`gather`).

use super::gather::{Fusectl, gather};
use super::task::{AbortOutcome, Class, StuckSection, Task, stuck_section};
use crate::escape::Joined;
use crate::os::procfs::ProcStat;
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

/// The first line of the report.
pub fn summary(pids: &[i32], timeout: Duration) -> String {
    let listed = if pids.is_empty() {
        "(gone meanwhile)".to_string()
    } else {
        Joined(pids, " ").to_string()
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
    for task in tasks.iter().filter(|t| t.classify() == Class::Fuse) {
        for c in &task.fuse {
            if let Err(at) = connections.binary_search(&c.connection) {
                connections.insert(at, c.connection);
            }
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
