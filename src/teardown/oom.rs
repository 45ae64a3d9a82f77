//! The one path by which an OOM kill is told: the reading behind
//! `cgroup::oom`'s decisions (the cgroup's counter, the main child's state
//! in /proc) and the error line. `OomWatch` counts the kills, for the exit
//! report that the teardown writes.

use crate::cgroup::ChildCgroup;
use crate::cgroup::oom::{OomKill, OomWatch};
use crate::exit_status::ChildExit;
use crate::os::procfs::{self, Proc};
use crate::signals::{self, SigSet};
use log::error;
use std::time::Instant;

/// The OOM notification fired, or another cgroup event came.
pub fn on_event(oom: &mut OomWatch, cgroup: &mut ChildCgroup) {
    oom.on_notification(cgroup.oom_kills(), Instant::now());
}

/// Tells the kills whose victims had time to die. `proc`: /proc, when it
/// shows rinit's namespace (another's would describe a stranger).
pub fn settled(oom: &mut OomWatch, cgroup: &mut ChildCgroup, main_pid: i32, proc: Option<&Proc>) {
    let kill = oom.on_time(
        Instant::now(),
        || cgroup.oom_kills(),
        || proc.is_some_and(|proc| main_is_dying(proc, main_pid)),
    );
    tell(kill, main_pid, cgroup);
}

/// The main child was reaped.
pub fn main_exited(oom: &mut OomWatch, cgroup: &mut ChildCgroup, main_pid: i32, exit: ChildExit) {
    let kill = oom.on_main_exit(exit, || cgroup.oom_kills());
    tell(kill, main_pid, cgroup);
}

/// rinit is about to exit: a kill whose report was still due.
pub fn at_exit(oom: &mut OomWatch, cgroup: &mut ChildCgroup, main_pid: i32) {
    let kill = oom.at_exit(cgroup.oom_kills());
    tell(kill, main_pid, cgroup);
}

fn tell(kill: Option<OomKill>, main_pid: i32, cgroup: &ChildCgroup) {
    if let Some(kill) = kill {
        let limit = cgroup.memory_limit();
        error!("{}", kill.message(main_pid, cgroup.name(), limit));
    }
}

/// SIGKILL pending for the main child, or it is already exiting.
fn main_is_dying(proc: &Proc, pid: i32) -> bool {
    let exiting = proc
        .stat(pid)
        .is_some_and(|s| s.state == 'Z' || s.flags & procfs::PF_EXITING != 0);
    let killed = proc.status(pid).is_some_and(|status| {
        ["SigPnd", "ShdPnd"].iter().any(|key| {
            procfs::status_field(&status, key)
                .and_then(SigSet::from_proc_hex)
                .is_some_and(|set| set.contains(signals::SIGKILL))
        })
    });
    exiting || killed
}
