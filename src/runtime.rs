//! The impure loop: sleep on the signalfd until a signal or the next
//! deadline, reap everything that has exited, feed the supervisor, and carry
//! out what it decides. Inside the loop nothing is fatal: a PID 1 that exits
//! on an error takes the whole container down, so errors are logged and the
//! loop goes on.

use crate::cgroup;
use crate::cgroupfs::ChildCgroup;
use crate::procfs;
use crate::shutdown::{Action, Supervisor};
use crate::signals::{self, Disposition, Signo};
use crate::status::ChildExit;
use crate::sys::{self, Reap, SignalFd};
use log::{debug, error, info, warn};
use std::path::Path;
use std::time::{Duration, Instant};

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
    pub main_pid: i32,
    pub signal_child_only: bool,
    pub scope: Scope,
    pub supervisor: Supervisor,
    pub signals: SignalFd,
    pub cgroup: Option<ChildCgroup>,
    /// rinit itself sent the main child SIGKILL (--kill-after), so its
    /// death by SIGKILL is no OOM kill.
    pub killed_main: bool,
}

impl Runtime {
    /// Runs until the supervisor says exit; returns the exit code.
    pub fn run(mut self, pending: Vec<Signo>) -> u8 {
        let code = self.run_loop(pending);
        // An OOM kill whose notification had not been read yet.
        self.on_cgroup_event();
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
            // After reaping, so an OOM-killed main child is reported as such
            // rather than as "a process".
            if std::mem::take(&mut cgroup_event) {
                self.on_cgroup_event();
            }
            let actions = self.supervisor.on_time(Instant::now());
            if let Some(code) = self.perform(&actions) {
                return code;
            }
            let timeout = self
                .supervisor
                .deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let mut fds = vec![(self.signals.as_raw_fd(), libc::POLLIN)];
            fds.extend(
                self.cgroup
                    .as_ref()
                    .map(ChildCgroup::poll_fds)
                    .unwrap_or_default(),
            );
            match sys::poll(&fds, timeout) {
                Ok(ready) => cgroup_event = ready.iter().skip(1).any(|&r| r),
                Err(e) => {
                    error!("cannot poll: {e}");
                    // Never spin: the error is unexpected, but pace the retries.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            match self.signals.read_all() {
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
                Err(e) => error!("cannot read the signalfd: {e}"),
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
                    self.signal_rest(signals::SIGTERM);
                    // A stopped process cannot act on SIGTERM until continued.
                    self.signal_rest(signals::SIGCONT);
                }
                Action::KillRest => {
                    debug!("sending SIGKILL to every remaining process");
                    if let Some(cgroup) = &mut self.cgroup {
                        cgroup.kill_all();
                    }
                    self.signal_rest(signals::SIGKILL);
                }
                Action::ReportStuck => self.report_stuck(),
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
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => debug!("pid {pid} is already gone ({sig})"),
            Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
        }
    }

    /// The OOM notification fired, or `cgroup.events` changed (read it to
    /// re-arm the notification; the reaping decides what it means).
    fn on_cgroup_event(&mut self) {
        let Some(cgroup) = &mut self.cgroup else { return };
        let _ = cgroup.populated();
        let new = cgroup.new_oom_kills();
        if new > 0 {
            error!(
                "OOM: the kernel's OOM killer killed {new} process(es) in cgroup {} (memory limit {})",
                cgroup.name(),
                describe_limit(cgroup.memory_limit())
            );
        }
    }

    fn check_main_oom(&mut self, pid: i32, exit: ChildExit) {
        let Some(cgroup) = &mut self.cgroup else { return };
        if exit != ChildExit::Signaled(signals::SIGKILL)
            || self.killed_main
            || !cgroup.oom_killed_since_start()
        {
            return;
        }
        // Count it here so the notification does not report it again.
        cgroup.new_oom_kills();
        error!(
            "OOM: main child {pid} was OOM-killed: it went over the memory limit {} of cgroup {}",
            describe_limit(cgroup.memory_limit()),
            cgroup.name()
        );
    }

    fn signal_rest(&self, sig: Signo) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.signal_members(sig);
        }
        match self.scope {
            Scope::Namespace => match sys::kill(-1, sig) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(e) => warn!("cannot send {sig} to all processes: {e}"),
            },
            Scope::Descendants { own_pid } => {
                let table = procfs::read_table(Path::new("/proc"));
                for pid in procfs::descendants(&table, own_pid) {
                    self.send(pid, sig);
                }
            }
        }
    }

    fn report_stuck(&self) {
        let proc_root = Path::new("/proc");
        let table = procfs::read_table(proc_root);
        let left: Vec<procfs::ProcStat> = match self.scope {
            Scope::Namespace if procfs::shows_own_namespace(proc_root, 1) => {
                table.into_iter().filter(|p| p.pid != 1).collect()
            }
            Scope::Namespace => {
                error!("processes survived SIGKILL, but /proc is not this PID namespace's: cannot list them");
                return;
            }
            Scope::Descendants { own_pid } => {
                let mut pids = procfs::descendants(&table, own_pid);
                pids.extend(self.cgroup.as_ref().map(ChildCgroup::members).unwrap_or_default());
                table.into_iter().filter(|p| pids.contains(&p.pid)).collect()
            }
        };
        error!(
            "{} process(es) survived SIGKILL for the whole --stuck-timeout, exiting anyway: {}",
            left.len(),
            procfs::describe(&left)
        );
    }
}

fn describe_limit(limit: Option<u64>) -> String {
    limit.map_or_else(|| "none set by rinit".to_string(), cgroup::describe_size)
}
