//! The impure loop: sleep on the signalfd until a signal or the next
//! deadline, reap when a SIGCHLD says there is something to reap, feed the
//! supervisor, and carry out what it decides. Inside the loop nothing is
//! fatal: a PID 1 that exits on an error takes the whole container down, so
//! errors are logged and the loop goes on.

use crate::cgroup::ChildCgroup;
use crate::cgroup::oom::OomWatch;
use crate::exit_report;
use crate::exit_status::ChildExit;
use crate::leaks::{self, LeakPolicy, Leftover, Mode, Tracker};
use crate::os::procfs::{self, Proc, View};
use crate::os::sys::{self, Delivery, Reap, SignalFd};
use crate::signals::{self, Disposition, Signo};
use crate::spawn::PendingExec;
use crate::stuck;
use crate::supervisor::{Action, Policy, Scope, Supervisor};
use log::{debug, error, info, warn};
use std::path::PathBuf;
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
    /// --report: where the exit report goes.
    pub report: Option<PathBuf>,
    /// --fuse-abort: abort the FUSE connections that hold stuck tasks.
    pub fuse_abort: bool,
    pub leaks: LeakPolicy,
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
    report: Option<PathBuf>,
    fuse_abort: bool,
    leaks: LeakPolicy,
    /// What the exit report and --leaks tell; `None` with neither, so that
    /// the default path makes no syscall for it.
    tracker: Option<Tracker>,
    oom: OomWatch,
    /// OOM kills reported, for the exit report.
    oom_kills: u64,
    stuck: Option<stuck::StuckSection>,
    proc: Proc,
    /// Whether `proc` shows rinit's own PID namespace; decided once.
    view: View,
}

/// A process the subreaper teardown reaches: its pid in rinit's namespace,
/// and in /proc's (`None` when /proc cannot show it).
#[derive(Clone, Copy, Debug)]
struct Target {
    pid: i32,
    here: Option<i32>,
    zombie: bool,
}

/// How many pidfds the teardown holds at once: a fork bomb's thousands of
/// descendants must not exhaust rinit's descriptors.
const PIN_BATCH: usize = 256;

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
        let proc = Proc::system();
        let own_pid = match setup.scope {
            Scope::Namespace => 1,
            Scope::Descendants { own_pid } => own_pid,
        };
        let view = proc.view(own_pid);
        warn_about_view(view, setup.scope, own_pid);
        Runtime {
            main_pid: setup.main_pid,
            own_pid: sys::getpid(),
            exec: Some(setup.exec),
            signal_child_only: setup.signal_child_only,
            scope: setup.scope,
            supervisor: Supervisor::new(setup.policy),
            signals: setup.signals,
            cgroup: setup.cgroup,
            tracker: (setup.leaks.mode != Mode::Off || setup.report.is_some())
                .then(Tracker::default),
            report: setup.report,
            fuse_abort: setup.fuse_abort,
            leaks: setup.leaks,
            oom: OomWatch::new(),
            oom_kills: 0,
            stuck: None,
            proc,
            view,
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
                self.oom_kills += 1;
                error!(
                    "{}",
                    kill.message(self.main_pid, cgroup.name(), cgroup.memory_limit())
                );
            }
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        self.finish_report(code)
    }

    /// At exit: how each leftover ended, the summary, the leak code, and
    /// the exit report. Returns rinit's exit code.
    fn finish_report(&mut self, code: u8) -> u8 {
        let Some(mut tracker) = self.tracker.take() else {
            return code;
        };
        let left_behind = tracker.left_behind();
        let ends = tracker.finish();
        let main_exit = self.supervisor.main_exit();
        if self.leaks.mode != Mode::Off && main_exit.is_some() {
            for (leftover, end) in ends.iter().flatten() {
                warn!("{}", leaks::ending(leftover, *end, self.supervisor.grace()));
            }
            let line = leaks::summary(main_exit, &tracker.orphans, ends.as_ref().map(Vec::len));
            if left_behind > 0 || ends.is_none() {
                warn!("{line}");
            } else {
                info!("{line}");
            }
        }
        let code = self.leaks.exit_code(code, left_behind);
        if let Some(path) = &self.report {
            let json = exit_report::to_json(exit_report::Facts {
                exit_code: code,
                main: exit_report::main_child(self.main_pid, main_exit, |exit| {
                    self.supervisor.exit_code_for(exit)
                }),
                leaks_mode: self.leaks.mode,
                leftovers: ends.as_deref(),
                orphans: &tracker.orphans,
                oom_kills: self.oom_kills,
                stuck: self.stuck.take(),
            });
            if let Err(why) = exit_report::write_atomically(path, &json) {
                error!("exit report not written: {why}");
            }
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
                debug!(
                    "not forwarding {sig} (phase: {})",
                    self.supervisor.phase().name()
                );
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
            let (reaped, comm) = self.reap_next();
            match reaped {
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
                    let now = Instant::now();
                    let actions = self.supervisor.on_main_exit(exit, now);
                    if actions.contains(&Action::TermRest) {
                        self.track_leftovers(now);
                    }
                    if let Some(code) = self.perform(&actions) {
                        return Some(code);
                    }
                }
                Ok(Reap::Exited { pid, status }) => {
                    others += 1;
                    debug!("reaped pid {pid} (status {status:#x})");
                    if let (Some(tracker), Some(exit)) =
                        (&mut self.tracker, ChildExit::from_raw(status))
                    {
                        tracker.on_reaped(pid, comm.as_deref(), exit, Instant::now());
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

    /// One step of draining the exited children. When tracking, each is
    /// peeked at first (left a zombie) so that its name can be read from
    /// /proc before the reaping frees it.
    fn reap_next(&self) -> (std::io::Result<Reap>, Option<String>) {
        if self.tracker.is_none() {
            return (sys::reap_one(), None);
        }
        match sys::peek_exited() {
            Ok(Some(pid)) => {
                // Another namespace's /proc would name a stranger.
                let comm = (self.view == View::Own && pid != self.main_pid)
                    .then(|| self.proc.stat(pid).map(|s| s.comm))
                    .flatten();
                (sys::reap_pid(pid), comm)
            }
            Ok(None) => (sys::reap_one(), None),
            Err(e) => (Err(e), None),
        }
    }

    /// The main child exited: with --leaks or --report, what it left
    /// running, read before the teardown's SIGTERM.
    fn track_leftovers(&mut self, now: Instant) {
        if self.tracker.is_none() {
            return;
        }
        let leftovers = self.leftovers();
        if self.leaks.mode != Mode::Off {
            match &leftovers {
                Some(list) => {
                    for leftover in list {
                        warn!("{}", leftover.warning());
                    }
                }
                None if sys::has_children() => warn!(
                    "leak: processes are still running after the main child exited, but /proc does not show rinit's PID namespace: cannot name them"
                ),
                None => {}
            }
        }
        if let Some(tracker) = &mut self.tracker {
            tracker.on_main_exit(leftovers, now);
        }
    }

    /// The processes still running (zombies aside), as /proc shows them;
    /// `None` when /proc cannot show them.
    fn leftovers(&self) -> Option<Vec<Leftover>> {
        // No child and no cgroup: nothing is left, and a subreaper on a busy
        // host spares the walk through /proc.
        if matches!(self.scope, Scope::Descendants { .. })
            && self.cgroup.is_none()
            && !sys::has_children()
        {
            return Some(Vec::new());
        }
        let table = self.proc.table();
        let (pids, rinit_here) = match (self.scope, self.view) {
            (Scope::Descendants { .. }, View::Outer { self_pid, .. }) => (
                self.targets().iter().filter_map(|t| t.here).collect(),
                self_pid,
            ),
            (Scope::Namespace, View::Outer { .. }) | (_, View::Foreign) => return None,
            (Scope::Namespace, View::Own) => {
                (stuck::survivors(self.scope, &table, Vec::new, || true)?, 1)
            }
            (Scope::Descendants { own_pid }, _) => (
                stuck::survivors(
                    self.scope,
                    &table,
                    || {
                        self.cgroup
                            .as_ref()
                            .map(ChildCgroup::members)
                            .unwrap_or_default()
                    },
                    || true,
                )?,
                own_pid,
            ),
        };
        let boot_now = sys::boot_time().ok();
        let ticks = sys::clock_ticks_per_second();
        let comm_of = |pid: i32| table.iter().find(|p| p.pid == pid).map(|p| p.comm.clone());
        Some(
            pids.into_iter()
                .filter_map(|pid| {
                    let stat = table.iter().find(|p| p.pid == pid)?;
                    if stat.state == 'Z' {
                        return None;
                    }
                    let details = self.proc.stat_details(pid)?;
                    Some(Leftover {
                        pid,
                        comm: stat.comm.clone(),
                        cmdline: self.proc.cmdline(pid),
                        ran_for: boot_now
                            .and_then(|now| leaks::ran_for(details.start_ticks, ticks, now)),
                        pgrp: details.pgrp,
                        session: details.session,
                        parent: Leftover::parent_of(stat.ppid, rinit_here, comm_of(stat.ppid)),
                    })
                })
                .collect(),
        )
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
                    self.cgroup.iter().for_each(ChildCgroup::thaw);
                }
                Action::TermRest => {
                    // A stopped process cannot act on SIGTERM until continued.
                    if self.signal_rest(&[signals::SIGTERM, signals::SIGCONT]) {
                        info!("sent SIGTERM to every remaining process");
                    }
                }
                Action::KillAfterGrace => {
                    if let Some(tracker) = &mut self.tracker {
                        let proc = &self.proc;
                        tracker.on_kill(|l| proc.stat(l.pid).is_some_and(|s| s.state != 'Z'));
                    }
                    self.warn_of_grace_survivors();
                    self.kill_rest();
                }
                Action::KillRest => self.kill_rest(),
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

    fn kill_rest(&mut self) {
        debug!("sending SIGKILL to every remaining process");
        if let Some(cgroup) = &mut self.cgroup {
            cgroup.kill_all();
        }
        self.signal_rest(&[signals::SIGKILL]);
    }

    /// Sends `sigs`, in order, to every remaining process, once each (an
    /// app may take a second SIGTERM as "quit now"): as PID 1 with kill(-1),
    /// which reaches the cgroup's members too; as a subreaper to the cgroup's
    /// members and the descendants (through a pidfd each, confirmed to be a
    /// descendant after it was opened, so that a pid recycled since the scan
    /// is never signalled), and to the main child's process group when
    /// /proc cannot show the descendants. Returns whether anything was
    /// there to signal.
    fn signal_rest(&self, sigs: &[Signo]) -> bool {
        if self.scope == Scope::Namespace {
            let mut reached = false;
            for &sig in sigs {
                match sys::send_signal(-1, sig) {
                    Ok(Delivery::Sent) => reached = true,
                    Ok(Delivery::TargetGone) => {}
                    Err(e) => warn!("cannot send {sig} to all processes: {e}"),
                }
            }
            return reached;
        }
        let mut reached = false;
        if self.view == View::Foreign {
            for &sig in sigs {
                match sys::send_signal(-self.main_pid, sig) {
                    Ok(Delivery::Sent) => reached = true,
                    Ok(Delivery::TargetGone) => {}
                    Err(e) => warn!("cannot send {sig} to process group {}: {e}", self.main_pid),
                }
            }
        }
        let targets = self.targets();
        for batch in targets.chunks(PIN_BATCH) {
            let pinned: Vec<(i32, Option<sys::PidFd>)> =
                batch.iter().filter_map(|t| pin(t.pid)).collect();
            // Read again now that the pids are pinned: whatever still is a
            // target is the very process the pidfd holds, or the pidfd's
            // process is gone and the signal reaches nobody.
            let mut still: Vec<i32> = self.targets().iter().map(|t| t.pid).collect();
            still.sort_unstable();
            for (pid, pidfd) in pinned {
                if still.binary_search(&pid).is_err() {
                    debug!("pid {pid} is no longer a descendant: not signalled");
                    continue;
                }
                for &sig in sigs {
                    let delivery = match &pidfd {
                        Some(pidfd) => sys::pidfd_send_signal(pidfd, sig),
                        None => sys::send_signal(pid, sig),
                    };
                    match delivery {
                        Ok(Delivery::Sent) => {
                            reached = true;
                            debug!("sent {sig} to pid {pid}");
                        }
                        Ok(Delivery::TargetGone) => debug!("pid {pid} is already gone ({sig})"),
                        Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
                    }
                }
            }
        }
        reached
    }

    /// What a subreaper's teardown reaches, sorted by pid: the cgroup's
    /// members and the descendants /proc shows, in rinit's pid numbering.
    fn targets(&self) -> Vec<Target> {
        let Scope::Descendants { own_pid } = self.scope else {
            return Vec::new();
        };
        // No child means no descendant: spare the walk through /proc, which
        // on a busy host is most of a short run's cost.
        let table = if self.view != View::Foreign && sys::has_children() {
            self.proc.table()
        } else {
            Vec::new()
        };
        let zombie = |here: i32| table.iter().any(|p| p.pid == here && p.state == 'Z');
        let mut targets: Vec<Target> = match self.view {
            View::Own => procfs::descendants(&table, own_pid)
                .into_iter()
                .map(|pid| Target {
                    pid,
                    here: Some(pid),
                    zombie: zombie(pid),
                })
                .collect(),
            View::Outer { self_pid, level } => procfs::descendants(&table, self_pid)
                .into_iter()
                .filter_map(|here| {
                    let pid = *procfs::nspid(&self.proc.status(here)?).get(level)?;
                    Some(Target {
                        pid,
                        here: Some(here),
                        zombie: zombie(here),
                    })
                })
                .collect(),
            View::Foreign => Vec::new(),
        };
        let members = self
            .cgroup
            .as_ref()
            .map(ChildCgroup::members)
            .unwrap_or_default();
        for pid in members {
            if !targets.iter().any(|t| t.pid == pid) {
                let here = (self.view == View::Own).then_some(pid);
                targets.push(Target {
                    pid,
                    here,
                    zombie: false,
                });
            }
        }
        targets.sort_unstable_by_key(|t| t.pid);
        targets
    }

    /// The grace is over: one warning naming what ignored SIGTERM for it,
    /// so that a slow stop is no mystery.
    fn warn_of_grace_survivors(&self) {
        // Durations come from u64 milliseconds (cli::parse_duration), so
        // this is exact, and spares the binary u128 formatting.
        let grace = self.supervisor.grace().as_millis() as u64;
        let survivors: Option<Vec<(i32, Option<i32>)>> = match (self.scope, self.view) {
            (Scope::Namespace, View::Own) => Some(
                self.proc
                    .table()
                    .iter()
                    .filter(|p| p.pid != 1 && p.state != 'Z')
                    .map(|p| (p.pid, Some(p.pid)))
                    .collect(),
            ),
            (Scope::Namespace, _) => None,
            (Scope::Descendants { .. }, _) => Some(
                self.targets()
                    .iter()
                    .filter(|t| !t.zombie)
                    .map(|t| (t.pid, t.here))
                    .collect(),
            ),
        };
        let Some(survivors) = survivors else {
            warn!(
                "--grace ({grace} ms) is over: sending SIGKILL to whatever ignored SIGTERM (/proc does not show rinit's PID namespace: cannot name it)"
            );
            return;
        };
        let unnamed = self.view == View::Foreign && sys::has_children();
        if survivors.is_empty() && !unnamed {
            return;
        }
        let mut named: Vec<String> = survivors
            .iter()
            .map(|&(pid, here)| match here {
                Some(here) => {
                    let comm = self.proc.stat(here).map(|s| s.comm).unwrap_or_default();
                    format!(
                        "pid {pid} ({})",
                        procfs::display_command(&self.proc.cmdline(here), &comm)
                    )
                }
                None => format!("pid {pid}"),
            })
            .collect();
        let count = if unnamed {
            named.push("children of rinit that /proc cannot name".to_string());
            "processes".to_string()
        } else {
            format!("{} process(es)", survivors.len())
        };
        warn!(
            "{count} ignored SIGTERM for {grace} ms (--grace): {}; sending SIGKILL",
            named.join(", ")
        );
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
        // Another namespace's /proc would describe a stranger.
        let proc = (self.view == View::Own).then_some(&self.proc);
        let kill = self.oom.on_time(
            Instant::now(),
            || cgroup.oom_kills(),
            || proc.is_some_and(|proc| main_is_dying(proc, main_pid)),
        );
        if let Some(kill) = kill {
            self.oom_kills += 1;
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
            self.oom_kills += 1;
            error!(
                "{}",
                kill.message(self.main_pid, cgroup.name(), cgroup.memory_limit())
            );
        }
    }

    fn report_stuck(&mut self) -> bool {
        let table = self.proc.table();
        let survivors = match (self.scope, self.view) {
            // The report reads /proc, so it takes the pids /proc shows.
            (Scope::Descendants { .. }, View::Outer { .. }) => {
                Some(self.targets().iter().filter_map(|t| t.here).collect())
            }
            (Scope::Descendants { .. }, View::Foreign) => None,
            _ => stuck::survivors(
                self.scope,
                &table,
                || {
                    self.cgroup
                        .as_ref()
                        .map(ChildCgroup::members)
                        .unwrap_or_default()
                },
                || self.proc.shows_own_namespace(1),
            ),
        };
        if let (Some(tracker), Some(pids)) = (&mut self.tracker, &survivors) {
            tracker.on_stuck(pids);
        }
        let reported = stuck::report(
            survivors.as_deref(),
            &table,
            self.supervisor.stuck_timeout(),
            self.fuse_abort,
        );
        self.stuck = Some(reported.section);
        reported.released
    }
}

/// Opens a pidfd on `pid`; `None` when it is gone already. On a kernel
/// without pidfds, `Some(None)`: signal by pid, as before Linux 5.3.
fn pin(pid: i32) -> Option<(i32, Option<sys::PidFd>)> {
    match sys::pidfd_open(pid) {
        Ok(pidfd) => Some((pid, Some(pidfd))),
        Err(e) if sys::pidfds_unsupported(&e) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                warn!("this kernel has no pidfds (Linux < 5.3): the teardown signals by pid, which a recycled pid can misdirect");
            });
            Some((pid, None))
        }
        Err(e) => {
            debug!("cannot open a pidfd for pid {pid}: {e}");
            None
        }
    }
}

/// Says once, at start-up, when /proc is not rinit's own namespace's, and
/// what the teardown does about it.
fn warn_about_view(view: View, scope: Scope, own_pid: i32) {
    match (view, scope) {
        (View::Own, _) => {}
        (View::Outer { self_pid, .. }, Scope::Descendants { .. }) => warn!(
            "/proc shows an outer PID namespace (rinit is pid {self_pid} there, {own_pid} here): the teardown finds rinit's descendants there and signals them by their pids in its own namespace"
        ),
        (View::Foreign, Scope::Descendants { .. }) => warn!(
            "/proc does not show rinit's PID namespace, or is not mounted: the teardown reaches only the main child's process group and rinit's cgroup, and cannot name the other processes rinit's children leave behind"
        ),
        (_, Scope::Namespace) => warn!(
            "/proc does not show rinit's PID namespace, or is not mounted: a stuck-exit report cannot list the processes that survive"
        ),
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
