//! The impure loop: sleep on the signalfd until a signal or the next
//! deadline, reap everything that has exited, feed the supervisor, and carry
//! out what it decides. Inside the loop nothing is fatal: a PID 1 that exits
//! on an error takes the whole container down, so errors are logged and the
//! loop goes on.

use crate::cgroup;
use crate::cgroup::ChildCgroup;
use crate::exit_status::ChildExit;
use crate::os::procfs;
use crate::os::sys::{self, Reap, SignalFd};
use crate::signals::{self, Disposition, Signo};
use crate::stuck::{self, Class, Fusectl};
use crate::supervisor::{Action, Supervisor};
use log::{debug, error, info, warn};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long after an OOM notification rinit looks at who was killed.
const OOM_SETTLE: Duration = Duration::from_millis(200);

/// Who the teardown reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// PID 1 of a namespace: `kill(-1)` reaches every other process in it,
    /// other sessions included.
    Namespace,
    /// A subreaper somewhere in a larger system: only our descendants.
    Descendants { own_pid: i32 },
}

pub struct Runtime {
    main_pid: i32,
    signal_child_only: bool,
    scope: Scope,
    supervisor: Supervisor,
    signals: SignalFd,
    cgroup: Option<ChildCgroup>,
    report: ReportConfig,
    /// rinit itself sent the main child SIGKILL (--kill-after), so its
    /// death by SIGKILL is no OOM kill.
    killed_main: bool,
    /// OOM kills already reported.
    oom_reported: u64,
    /// When to report an OOM kill whose notification came: the notification
    /// comes before the kill, so wait until the victim is known.
    oom_report_at: Option<Instant>,
}

/// What the stuck-exit report does besides logging.
pub struct ReportConfig {
    /// --report: where the JSON document goes.
    pub path: Option<PathBuf>,
    /// --fuse-abort: abort the FUSE connections that hold stuck tasks.
    pub fuse_abort: bool,
}

impl Runtime {
    pub fn new(
        main_pid: i32,
        signal_child_only: bool,
        scope: Scope,
        supervisor: Supervisor,
        signals: SignalFd,
        cgroup: Option<ChildCgroup>,
        report: ReportConfig,
    ) -> Runtime {
        Runtime {
            main_pid,
            signal_child_only,
            scope,
            supervisor,
            signals,
            cgroup,
            report,
            killed_main: false,
            oom_reported: 0,
            oom_report_at: None,
        }
    }

    /// Runs until the supervisor says exit; returns the exit code.
    pub fn run(mut self, pending: Vec<Signo>) -> u8 {
        let code = self.run_loop(pending);
        // An OOM kill whose report was still due.
        self.report_oom(true);
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        code
    }

    fn run_loop(&mut self, mut pending: Vec<Signo>) -> u8 {
        let mut cgroup_event = false;
        loop {
            let now = Instant::now();
            for sig in pending.drain(..) {
                if sig.disposition() == Disposition::Reap {
                    continue;
                }
                let actions = self.supervisor.on_signal(sig, now);
                if actions.is_empty() {
                    debug!("not forwarding {sig} ({:?})", self.supervisor.phase());
                }
                if let Some(code) = self.perform(&actions) {
                    return code;
                }
            }
            if let Some(code) = self.reap() {
                return code;
            }
            if std::mem::take(&mut cgroup_event) {
                self.on_cgroup_event();
            }
            if self.oom_report_at.is_some_and(|at| Instant::now() >= at) {
                self.oom_report_at = None;
                self.report_oom(false);
            }
            let actions = self.supervisor.on_time(Instant::now());
            if let Some(code) = self.perform(&actions) {
                return code;
            }
            let deadline = match (self.supervisor.deadline(), self.oom_report_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let extra = self
                .cgroup
                .as_ref()
                .map(ChildCgroup::poll_fds)
                .unwrap_or_default();
            // Nothing but signals to wait for: sleep in read(2) itself.
            let signal_ready = if timeout.is_none() && extra.is_empty() {
                true
            } else {
                let mut fds = vec![(self.signals.as_raw_fd(), libc::POLLIN)];
                fds.extend(extra);
                match sys::poll(&fds, timeout) {
                    Ok(ready) => {
                        cgroup_event = ready.iter().skip(1).any(|&r| r);
                        ready[0]
                    }
                    Err(e) => {
                        error!("cannot poll: {e}");
                        // Never spin: the error is unexpected, but pace the retries.
                        std::thread::sleep(Duration::from_millis(100));
                        false
                    }
                }
            };
            if !signal_ready {
                continue;
            }
            match self.signals.read_batch() {
                Ok(received) => {
                    pending = received
                        .into_iter()
                        .map(|(sig, sender)| {
                            if sig != signals::SIGCHLD {
                                debug!("received {sig} from pid {sender}");
                            }
                            sig
                        })
                        .collect()
                }
                Err(e) => {
                    error!("cannot read the signalfd: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    /// Drains every exited child; returns an exit code when it is time.
    fn reap(&mut self) -> Option<u8> {
        let mut others = 0;
        loop {
            match sys::reap_one() {
                Ok(Reap::Exited { pid, status }) => {
                    if pid == self.main_pid {
                        match ChildExit::from_raw(status) {
                            Some(exit) => {
                                info!("main child {pid} {exit}");
                                self.check_main_oom(pid, exit);
                                let actions = self.supervisor.on_main_exit(exit, Instant::now());
                                if let Some(code) = self.perform(&actions) {
                                    return Some(code);
                                }
                            }
                            None => warn!("main child {pid}: unexpected wait status {status:#x}"),
                        }
                    } else {
                        others += 1;
                        debug!("reaped pid {pid} (status {status:#x})");
                    }
                }
                Ok(Reap::NoneReady) => break,
                Ok(Reap::NoChildren) => {
                    // A v2 cgroup can still hold tasks that are not our
                    // children; its `populated 0` event wakes us when not.
                    if self.cgroup.as_ref().and_then(ChildCgroup::populated) == Some(true) {
                        break;
                    }
                    let actions = self.supervisor.on_nothing_left();
                    return self.perform(&actions);
                }
                Err(e) => {
                    error!("waitpid failed: {e}");
                    break;
                }
            }
        }
        if others > 0 {
            let actions = self.supervisor.on_reaped();
            return self.perform(&actions);
        }
        None
    }

    fn perform(&mut self, actions: &[Action]) -> Option<u8> {
        for action in actions {
            match *action {
                Action::Forward(sig) => self.forward(sig),
                Action::KillMain => {
                    warn!(
                        "main child {} still running after --kill-after: sending SIGKILL",
                        self.main_pid
                    );
                    self.killed_main = true;
                    self.signal_main_group(signals::SIGKILL);
                    self.send(self.main_pid, signals::SIGKILL);
                }
                Action::TermRest => {
                    info!("sending SIGTERM to every remaining process");
                    // A stopped process cannot act on SIGTERM until continued.
                    self.signal_rest(&[signals::SIGTERM, signals::SIGCONT]);
                }
                Action::KillRest => {
                    debug!("sending SIGKILL to every remaining process");
                    if let Some(cgroup) = &mut self.cgroup {
                        cgroup.kill_all();
                    }
                    self.signal_rest(&[signals::SIGKILL]);
                }
                Action::ReportStuck => {
                    let released = self.report_stuck();
                    let actions = self.supervisor.on_reported(released, Instant::now());
                    if let Some(code) = self.perform(&actions) {
                        return Some(code);
                    }
                }
                Action::Exit(code) => return Some(code),
            }
        }
        None
    }

    fn forward(&self, sig: Signo) {
        if self.signal_child_only {
            self.send(self.main_pid, sig);
            return;
        }
        // The child may have left its group (a shell with job control); then
        // the group is gone and the child itself is the target.
        match sys::kill(-self.main_pid, sig) {
            Ok(()) => debug!("forwarded {sig} to process group {}", self.main_pid),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => self.send(self.main_pid, sig),
            Err(e) => warn!("cannot send {sig} to process group {}: {e}", self.main_pid),
        }
    }

    fn signal_main_group(&self, sig: Signo) {
        if let Err(e) = sys::kill(-self.main_pid, sig)
            && e.raw_os_error() != Some(libc::ESRCH)
        {
            warn!("cannot send {sig} to process group {}: {e}", self.main_pid);
        }
    }

    fn send(&self, pid: i32, sig: Signo) {
        match sys::kill(pid, sig) {
            Ok(()) => debug!("sent {sig} to pid {pid}"),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                debug!("pid {pid} is already gone ({sig})")
            }
            Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
        }
    }

    /// The OOM notification fired, or `cgroup.events` changed: read both
    /// to re-arm them (the reaping decides what `populated` means).
    fn on_cgroup_event(&mut self) {
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        let _ = cgroup.populated();
        // Give the victim time to die, so that an OOM-killed main child is
        // reported as such when it is reaped, not as "a process".
        if cgroup.oom_kills() > self.oom_reported {
            self.oom_report_at
                .get_or_insert(Instant::now() + OOM_SETTLE);
        }
    }

    /// Reports OOM kills not reported yet. `last`: rinit is about to exit,
    /// so report whatever is left.
    fn report_oom(&mut self, last: bool) {
        let main_dying = !last && self.supervisor.main_exit().is_none() && self.main_is_dying();
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        let mut unreported = cgroup.oom_kills().saturating_sub(self.oom_reported);
        // The victim may be the main child, about to be reaped and reported.
        if main_dying {
            unreported = unreported.saturating_sub(1);
        }
        if unreported > 0 {
            self.oom_reported += unreported;
            error!(
                "OOM: the kernel's OOM killer killed {unreported} process(es) in cgroup {} (memory limit {})",
                cgroup.name(),
                describe_limit(cgroup.memory_limit())
            );
        }
    }

    /// SIGKILL pending for it, or already exiting.
    fn main_is_dying(&self) -> bool {
        let base = format!("/proc/{}", self.main_pid);
        let exiting = std::fs::read_to_string(format!("{base}/stat"))
            .ok()
            .and_then(|t| procfs::parse_stat(&t))
            .is_some_and(|s| s.state == 'Z' || s.flags & procfs::PF_EXITING != 0);
        let killed = std::fs::read_to_string(format!("{base}/status")).is_ok_and(|status| {
            ["SigPnd", "ShdPnd"].iter().any(|key| {
                procfs::status_field(&status, key)
                    .and_then(signals::SigSet::from_proc_hex)
                    .is_some_and(|set| set.contains(signals::SIGKILL))
            })
        });
        exiting || killed
    }

    fn check_main_oom(&mut self, pid: i32, exit: ChildExit) {
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        if exit != ChildExit::Signaled(signals::SIGKILL)
            || self.killed_main
            || cgroup.oom_kills() <= self.oom_reported
        {
            return;
        }
        self.oom_reported += 1;
        error!(
            "OOM: main child {pid} was OOM-killed: it went over the memory limit {} of cgroup {}",
            describe_limit(cgroup.memory_limit()),
            cgroup.name()
        );
    }

    /// Sends `sigs`, in order, to every remaining process, once each (an
    /// app may take a second SIGTERM as "quit now"): as PID 1 with kill(-1),
    /// which reaches the cgroup's members too; as a subreaper to the cgroup's
    /// members and the descendants, found with one look at each.
    fn signal_rest(&self, sigs: &[Signo]) {
        if self.scope == Scope::Namespace {
            for &sig in sigs {
                match sys::kill(-1, sig) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => warn!("cannot send {sig} to all processes: {e}"),
                }
            }
            return;
        }
        let mut targets = self
            .cgroup
            .as_ref()
            .map(ChildCgroup::members)
            .unwrap_or_default();
        // No child means no descendant: spare the walk through /proc, which
        // on a busy host is most of a short run's cost.
        if let Scope::Descendants { own_pid } = self.scope
            && sys::has_children()
        {
            targets.extend(procfs::descendants(
                &procfs::read_table(Path::new("/proc")),
                own_pid,
            ));
        }
        targets.sort_unstable();
        targets.dedup();
        for &sig in sigs {
            for &pid in &targets {
                self.send(pid, sig);
            }
        }
    }

    /// The pids still there after the final SIGKILL.
    fn remaining(&self, table: &[procfs::ProcStat]) -> Option<Vec<i32>> {
        let proc_root = Path::new("/proc");
        match self.scope {
            Scope::Namespace if procfs::shows_own_namespace(proc_root, 1) => Some(
                table
                    .iter()
                    .map(|p| p.pid)
                    .filter(|&pid| pid != 1)
                    .collect(),
            ),
            Scope::Namespace => None,
            Scope::Descendants { own_pid } => {
                let mut pids = procfs::descendants(table, own_pid);
                for pid in self
                    .cgroup
                    .as_ref()
                    .map(ChildCgroup::members)
                    .unwrap_or_default()
                {
                    if !pids.contains(&pid) {
                        pids.push(pid);
                    }
                }
                Some(pids)
            }
        }
    }

    /// Writes the stuck-exit report (log lines, and JSON with --report),
    /// then with --fuse-abort aborts the FUSE connections holding stuck
    /// tasks. Returns whether anything was aborted, so worth waiting for.
    fn report_stuck(&mut self) -> bool {
        let timeout = self.supervisor.stuck_timeout();
        let table = procfs::read_table(Path::new("/proc"));
        let Some(pids) = self.remaining(&table) else {
            error!(
                "stuck exit: processes survived SIGKILL, but /proc is not this PID namespace's: cannot list them"
            );
            return false;
        };
        let mut fusectl: Option<Fusectl> = None;
        let tasks = stuck::gather(&pids, &table, &mut fusectl);
        error!(
            "stuck exit: {} process(es) survived SIGKILL for {} ms (--stuck-timeout): {}; exiting anyway",
            pids.len(),
            timeout.as_millis(),
            if pids.is_empty() {
                "(gone meanwhile)".to_string()
            } else {
                pids.iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        );
        for task in &tasks {
            for line in task.text() {
                error!("{line}");
            }
        }
        let outcome = if self.report.fuse_abort {
            let mut connections: Vec<u64> = tasks
                .iter()
                .filter(|t| t.classify() == Class::Fuse)
                .flat_map(|t| t.fuse.iter().map(|c| c.connection))
                .collect();
            connections.sort_unstable();
            connections.dedup();
            let outcome = if connections.is_empty() {
                stuck::AbortOutcome::default()
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
            Some(outcome)
        } else {
            None
        };
        drop(fusectl);
        if let Some(path) = &self.report.path {
            let exit = self.supervisor.main_exit();
            let main = stuck::MainChild {
                pid: self.main_pid,
                code: exit.map(|e| self.supervisor.exit_code_for(e)),
                signal: match exit {
                    Some(ChildExit::Signaled(sig)) => Some(sig.number()),
                    _ => None,
                },
            };
            let json = stuck::to_json(&main, timeout.as_millis() as u64, &tasks, outcome.as_ref());
            if let Err(e) = write_atomically(path, &json) {
                error!(
                    "cannot write the report to {}: {}",
                    path.display(),
                    crate::cgroup::plain(&e)
                );
            }
        }
        outcome.is_some_and(|o| !o.aborted.is_empty())
    }
}

fn describe_limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "none set by rinit".to_string(), cgroup::describe_size)
}

/// Writes `text` to a temporary file beside `path`, then renames it, so a
/// reader never sees half a report.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
