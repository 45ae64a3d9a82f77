//! The impure loop: sleep on the signalfd until a signal or the next
//! deadline, reap when a SIGCHLD says there is something to reap, feed the
//! supervisor, and carry out what it decides. Inside the loop nothing is
//! fatal: a PID 1 that exits on an error takes the whole container down, so
//! errors are logged and the loop goes on.

use crate::cgroup::ChildCgroup;
use crate::cgroup::oom::OomWatch;
use crate::exit_status::ChildExit;
use crate::os::procfs::{self, Proc};
use crate::os::sys::{self, Delivery, Reap, SignalFd};
use crate::signals::{self, Disposition, Signo};
use crate::spawn::PendingExec;
use crate::stuck;
use crate::supervisor::{Action, Policy, Scope, Supervisor};
use log::{debug, error, info, warn};
use std::time::{Duration, Instant};

/// Everything the loop starts from.
pub struct Setup {
    pub main_pid: i32,
    /// The main child's exec status, still to come.
    pub exec: PendingExec,
    pub signal_child_only: bool,
    pub scope: Scope,
    pub policy: Policy,
    pub signals: SignalFd,
    pub cgroup: Option<ChildCgroup>,
    pub report: stuck::ReportConfig,
}

pub struct Runtime {
    main_pid: i32,
    /// As signalfd reports senders: 1 as PID 1.
    own_pid: i32,
    /// Until the main child has exec'd (or failed to), watched with the
    /// signals: rinit serves both meanwhile.
    exec: Option<PendingExec>,
    signal_child_only: bool,
    scope: Scope,
    supervisor: Supervisor,
    signals: SignalFd,
    cgroup: Option<ChildCgroup>,
    report: stuck::ReportConfig,
    oom: OomWatch,
    proc: Proc,
}

/// What woke the loop up.
#[derive(Default)]
struct Wakeup {
    /// Signals to act on, SIGCHLD aside.
    signals: Vec<Signo>,
    /// Children may have exited: drain waitpid.
    reap: bool,
    /// A watched cgroup file changed.
    cgroup_event: bool,
    /// The exec status of the main child is there to read.
    exec_status: bool,
}

impl Wakeup {
    fn add_signal(&mut self, sig: Signo) {
        if sig.disposition() == Disposition::Reap {
            self.reap = true;
        } else {
            self.signals.push(sig);
        }
    }
}

impl Runtime {
    pub fn new(setup: Setup) -> Runtime {
        Runtime {
            main_pid: setup.main_pid,
            own_pid: sys::getpid(),
            exec: Some(setup.exec),
            signal_child_only: setup.signal_child_only,
            scope: setup.scope,
            supervisor: Supervisor::new(setup.policy),
            signals: setup.signals,
            cgroup: setup.cgroup,
            report: setup.report,
            oom: OomWatch::new(),
            proc: Proc::system(),
        }
    }

    /// Runs until the supervisor says exit; returns the exit code. `pending`:
    /// signals to act on before any other (a parent death rinit missed).
    pub fn run(mut self, pending: Vec<Signo>) -> u8 {
        // Reap at once: a child the caller left us may have died before
        // SIGCHLD was blocked, and then no SIGCHLD tells of it. (One that
        // died after is told: a blocked SIGCHLD stays pending, and the
        // signalfd reports it though it was made later.)
        let mut wakeup = Wakeup {
            reap: true,
            ..Wakeup::default()
        };
        for sig in pending {
            wakeup.add_signal(sig);
        }
        let code = loop {
            if let Some(code) = self.handle(wakeup) {
                break code;
            }
            wakeup = self.sleep();
        };
        if let Some(cgroup) = &mut self.cgroup {
            // An OOM kill whose report was still due.
            if let Some(kill) = self.oom.at_exit(cgroup.oom_kills()) {
                error!(
                    "{}",
                    kill.message(self.main_pid, cgroup.name(), cgroup.memory_limit())
                );
            }
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        code
    }

    /// Acts on one wake-up; returns an exit code when it is time.
    fn handle(&mut self, wakeup: Wakeup) -> Option<u8> {
        if wakeup.exec_status {
            self.settle_exec();
        }
        let now = Instant::now();
        for sig in wakeup.signals {
            let actions = self.supervisor.on_signal(sig, now);
            if actions.is_empty() {
                debug!("not forwarding {sig} ({:?})", self.supervisor.phase());
            }
            if let Some(code) = self.perform(&actions) {
                return Some(code);
            }
            self.resume_if_stopped(sig, &actions);
        }
        // A `populated 0` event means the cgroup emptied, which only the
        // reaping turns into "nothing left".
        if (wakeup.reap || wakeup.cgroup_event)
            && let Some(code) = self.reap()
        {
            return Some(code);
        }
        if wakeup.cgroup_event {
            self.on_cgroup_event();
        }
        self.report_settled_oom();
        let actions = self.supervisor.on_time(Instant::now());
        self.perform(&actions)
    }

    /// Sleeps until a signal, a watched cgroup file or the next deadline.
    fn sleep(&mut self) -> Wakeup {
        let mut wakeup = Wakeup::default();
        let deadline = match (self.supervisor.deadline(), self.oom.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let exec_status = self.exec.as_ref().map(PendingExec::fd);
        let extra = self
            .cgroup
            .as_ref()
            .map(ChildCgroup::poll_fds)
            .unwrap_or_default();
        // Nothing but signals to wait for: sleep in read(2) itself.
        let signal_ready = if timeout.is_none() && extra.is_empty() && exec_status.is_none() {
            true
        } else {
            let mut fds = vec![(self.signals.as_raw_fd(), sys::POLLIN)];
            fds.extend(exec_status.map(|fd| (fd, sys::POLLIN)));
            let first_extra = fds.len();
            fds.extend(extra);
            match sys::poll(&fds, timeout) {
                Ok(ready) => {
                    wakeup.exec_status = exec_status.is_some() && ready[1];
                    wakeup.cgroup_event = ready[first_extra..].iter().any(|&r| r);
                    ready[0]
                }
                Err(e) => {
                    error!("cannot poll: {e}");
                    // Never spin: the error is unexpected, but pace the
                    // retries; and reap, in case it hid a SIGCHLD.
                    std::thread::sleep(Duration::from_millis(100));
                    wakeup.reap = true;
                    false
                }
            }
        };
        if !signal_ready {
            return wakeup;
        }
        match self.signals.read_batch() {
            Ok(received) => {
                for (sig, origin) in received {
                    // Raised by rinit's own doing: a log or report write that
                    // failed (SIGPIPE, SIGXFSZ). Passed on, it would kill the
                    // child for rinit's trouble. Dropped without a word: the
                    // word's write could raise it again. Setting SIGPIPE to
                    // ignored would not do: a blocked signal is queued even
                    // when ignored, a SIGPIPE someone else sends must still
                    // be forwarded, and SIGXFSZ would remain.
                    if origin.is_process(self.own_pid) {
                        continue;
                    }
                    if sig != signals::SIGCHLD {
                        debug!("received {sig} from pid {}", origin.pid);
                    }
                    wakeup.add_signal(sig);
                }
            }
            Err(e) => {
                error!("cannot read the signalfd: {e}");
                std::thread::sleep(Duration::from_millis(100));
                wakeup.reap = true;
            }
        }
        wakeup
    }

    /// Drains every exited child; returns an exit code when it is time.
    fn reap(&mut self) -> Option<u8> {
        let mut others = 0;
        loop {
            match sys::reap_one() {
                Ok(Reap::Exited { pid, status }) if pid == self.main_pid => {
                    let Some(exit) = ChildExit::from_raw(status) else {
                        warn!("main child {pid}: unexpected wait status {status:#x}");
                        continue;
                    };
                    // Its exec status decides what the exit means, and it
                    // is there to read now: a dead child holds no pipe.
                    self.settle_exec();
                    info!("main child {pid} {exit}");
                    self.check_main_oom(exit);
                    let actions = self.supervisor.on_main_exit(exit, Instant::now());
                    if let Some(code) = self.perform(&actions) {
                        return Some(code);
                    }
                }
                Ok(Reap::Exited { pid, status }) => {
                    others += 1;
                    debug!("reaped pid {pid} (status {status:#x})");
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

    /// Reads the main child's exec status, once: a failure is said now, and
    /// rinit exits with its code when the child is reaped.
    fn settle_exec(&mut self) {
        let Some(exec) = self.exec.take() else {
            return;
        };
        match exec.settle() {
            Ok(()) => debug!("main child {}: no exec failure", self.main_pid),
            Err(not_started) => {
                error!("{}", not_started.message);
                self.supervisor.on_exec_failed(not_started.exit_code);
            }
        }
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
                    self.oom.on_main_killed_by_rinit();
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

    /// After a request to end was forwarded (`received` before --rewrite, or
    /// what it became) to a main child that is stopped (Ctrl-Z, SIGSTOP):
    /// SIGCONT, the same way, as systemd does: a stopped process runs no
    /// handler until continued. Only when stopped: a running child with a
    /// CONT handler (shells, editors redraw) must not see one nobody sent.
    fn resume_if_stopped(&self, received: Signo, actions: &[Action]) {
        let forwarded = actions.iter().find_map(|action| match *action {
            Action::Forward(sig) => Some(sig),
            _ => None,
        });
        let Some(forwarded) = forwarded else {
            return;
        };
        if !(received.asks_to_end() || forwarded.asks_to_end()) {
            return;
        }
        if self
            .proc
            .stat(self.main_pid)
            .is_some_and(|s| s.state == 'T')
        {
            debug!("main child {} is stopped: continuing it", self.main_pid);
            self.forward(signals::SIGCONT);
        }
    }

    fn forward(&self, sig: Signo) {
        if self.signal_child_only {
            self.send(self.main_pid, sig);
            return;
        }
        // The child may have left its group (a shell with job control); then
        // the group is gone and the child itself is the target.
        match sys::send_signal(-self.main_pid, sig) {
            Ok(Delivery::Sent) => debug!("forwarded {sig} to process group {}", self.main_pid),
            Ok(Delivery::TargetGone) => self.send(self.main_pid, sig),
            Err(e) => warn!("cannot send {sig} to process group {}: {e}", self.main_pid),
        }
    }

    fn signal_main_group(&self, sig: Signo) {
        if let Err(e) = sys::send_signal(-self.main_pid, sig) {
            warn!("cannot send {sig} to process group {}: {e}", self.main_pid);
        }
    }

    fn send(&self, pid: i32, sig: Signo) {
        match sys::send_signal(pid, sig) {
            Ok(Delivery::Sent) => debug!("sent {sig} to pid {pid}"),
            Ok(Delivery::TargetGone) => debug!("pid {pid} is already gone ({sig})"),
            Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
        }
    }

    /// Sends `sigs`, in order, to every remaining process, once each (an
    /// app may take a second SIGTERM as "quit now"): as PID 1 with kill(-1),
    /// which reaches the cgroup's members too; as a subreaper to the cgroup's
    /// members and the descendants, found with one look at each.
    fn signal_rest(&self, sigs: &[Signo]) {
        let own_pid = match self.scope {
            Scope::Namespace => {
                for &sig in sigs {
                    if let Err(e) = sys::send_signal(-1, sig) {
                        warn!("cannot send {sig} to all processes: {e}");
                    }
                }
                return;
            }
            Scope::Descendants { own_pid } => own_pid,
        };
        let mut targets = self
            .cgroup
            .as_ref()
            .map(ChildCgroup::members)
            .unwrap_or_default();
        // No child means no descendant: spare the walk through /proc, which
        // on a busy host is most of a short run's cost.
        if sys::has_children() {
            targets.extend(procfs::descendants(&self.proc.table(), own_pid));
        }
        targets.sort_unstable();
        targets.dedup();
        for &sig in sigs {
            for &pid in &targets {
                self.send(pid, sig);
            }
        }
    }

    /// The OOM notification fired, or `cgroup.events` changed: read both
    /// to re-arm them (the reaping decides what `populated` means).
    fn on_cgroup_event(&mut self) {
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        let _ = cgroup.populated();
        self.oom.on_notification(cgroup.oom_kills(), Instant::now());
    }

    /// Reports the OOM kills whose victims had time to die.
    fn report_settled_oom(&mut self) {
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        let main_pid = self.main_pid;
        let kill = self.oom.on_time(
            Instant::now(),
            || cgroup.oom_kills(),
            || main_is_dying(&self.proc, main_pid),
        );
        if let Some(kill) = kill {
            error!(
                "{}",
                kill.message(main_pid, cgroup.name(), cgroup.memory_limit())
            );
        }
    }

    fn check_main_oom(&mut self, exit: ChildExit) {
        let Some(cgroup) = &mut self.cgroup else {
            return;
        };
        if let Some(kill) = self.oom.on_main_exit(exit, || cgroup.oom_kills()) {
            error!(
                "{}",
                kill.message(self.main_pid, cgroup.name(), cgroup.memory_limit())
            );
        }
    }

    fn report_stuck(&mut self) -> bool {
        let table = self.proc.table();
        let survivors = stuck::survivors(
            self.scope,
            &table,
            || {
                self.cgroup
                    .as_ref()
                    .map(ChildCgroup::members)
                    .unwrap_or_default()
            },
            || self.proc.shows_own_namespace(1),
        );
        let main = stuck::main_child(self.main_pid, self.supervisor.main_exit(), |exit| {
            self.supervisor.exit_code_for(exit)
        });
        stuck::report(
            survivors.as_deref(),
            &table,
            &main,
            self.supervisor.stuck_timeout(),
            &self.report,
        )
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
                .and_then(signals::SigSet::from_proc_hex)
                .is_some_and(|set| set.contains(signals::SIGKILL))
        })
    });
    exiting || killed
}
