//! The impure loop: sleep on the signalfd until a signal or the next
//! deadline, reap when a SIGCHLD says there is something to reap, feed the
//! supervisor, and carry out what it decides. Inside the loop nothing is
//! fatal: a PID 1 that exits on an error takes the whole container down, so
//! errors are logged and the loop goes on.
//!
//! This file is the loop and its dispatch, at most 400 lines. The rule for
//! the next feature: a pure module of its own, unit-tested on literal
//! inputs (as `supervisor`, `teardown::census`), with its reading and
//! writing beside it (as `teardown`), plus at most one arm here (in
//! `perform` or `handle`) that calls it.

use crate::cgroup::ChildCgroup;
use crate::cgroup::oom::OomWatch;
use crate::exit_status::ChildExit;
use crate::leaks::{LeakPolicy, Mode, Tracker};
use crate::os::procfs::{Proc, View};
use crate::os::sys::{self, Reap, SignalFd};
use crate::ready::watch::Watch;
use crate::signals::{self, Disposition, Signo};
use crate::spawn::PendingExec;
use crate::supervisor::{Action, Policy, Scope, Supervisor, earliest};
use crate::teardown::signal::Main;
use crate::teardown::{self, Reports, Sight, oom};
use crate::wake::{self, Wakeup};
use log::{debug, error, info, log, warn};
use std::time::Instant;

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
    pub report: Option<crate::exit_report::Target>,
    /// --fuse-abort: abort the FUSE connections that hold stuck tasks.
    pub fuse_abort: bool,
    pub leaks: LeakPolicy,
    pub ready: Option<Watch>,
}

pub struct Runtime {
    main_pid: i32,
    /// As signalfd reports senders: 1 as PID 1.
    own_pid: i32,
    /// Until the main child has exec'd (or failed to), watched with the
    /// signals: rinit serves both meanwhile.
    exec: Option<PendingExec>,
    main: Main,
    scope: Scope,
    supervisor: Supervisor,
    signals: SignalFd,
    cgroup: Option<ChildCgroup>,
    reports: Reports,
    /// What the exit report and --leaks tell; `None` with neither, so that
    /// the default path makes no syscall for it.
    tracker: Option<Tracker>,
    oom: OomWatch,
    proc: Proc,
    /// Whether `proc` shows rinit's own PID namespace; decided once.
    view: View,
    /// --ready; `None` without it, at no cost.
    ready: Option<Watch>,
}

/// What the teardown reads: a macro, to borrow only the fields it reads.
macro_rules! sight {
    ($runtime:expr) => {
        Sight {
            scope: $runtime.scope,
            view: $runtime.view,
            proc: &$runtime.proc,
            cgroup: $runtime.cgroup.as_ref(),
            main_pid: $runtime.main_pid,
        }
    };
}

impl Runtime {
    pub fn new(setup: Setup) -> Runtime {
        let proc = Proc::system();
        let view = teardown::view(&proc, setup.scope);
        Runtime {
            main_pid: setup.main_pid,
            own_pid: sys::getpid(),
            exec: Some(setup.exec),
            main: Main {
                pid: setup.main_pid,
                child_only: setup.signal_child_only,
            },
            scope: setup.scope,
            supervisor: Supervisor::new(setup.policy),
            signals: setup.signals,
            cgroup: setup.cgroup,
            tracker: (setup.leaks.mode != Mode::Off || setup.report.is_some())
                .then(Tracker::default),
            reports: Reports::new(setup.leaks, setup.report, setup.fuse_abort),
            oom: OomWatch::new(),
            proc,
            view,
            ready: setup.ready,
        }
    }

    /// Runs until the supervisor says exit; returns the exit code. `pending`:
    /// signals to act on before any other (a parent death rinit missed).
    pub fn run(mut self, pending: Vec<Signo>) -> u8 {
        let code = 'run: {
            // No clock read for them unless one needs it (see `handle`).
            let mut now = None;
            for sig in pending {
                if sig.disposition() != Disposition::Reap
                    && let Some(code) = self.on_signal(sig, &mut now)
                {
                    break 'run code;
                }
            }
            // Reap at once: a child the caller left us may have died before
            // SIGCHLD was blocked, and then no SIGCHLD tells of it. (One that
            // died after is told: a blocked SIGCHLD stays pending, and the
            // signalfd reports it though it was made later.)
            let mut wakeup = Wakeup {
                reap: true,
                ..Wakeup::default()
            };
            loop {
                if let Some(code) = self.handle(&wakeup) {
                    break 'run code;
                }
                self.sleep(&mut wakeup);
            }
        };
        if let Some(mut cgroup) = self.cgroup.take() {
            oom::at_exit(&mut self.oom, &mut cgroup, self.main_pid);
            cgroup.remove();
        }
        let (tracker, kills) = (self.tracker.take(), self.oom.kills());
        sight!(self).finish(tracker, &mut self.reports, &self.supervisor, kills, code)
    }

    /// Acts on one wake-up; returns an exit code when it is time.
    fn handle(&mut self, wakeup: &Wakeup) -> Option<u8> {
        if wakeup.exec_status {
            self.settle_exec();
        }
        // Read once, and only when a signal needs it: the clock is read on
        // every event otherwise, for nothing.
        let mut now = None;
        for (sig, _) in wakeup.received.iter() {
            if let Some(code) = self.on_signal(sig, &mut now) {
                return Some(code);
            }
        }
        // Before the reaping: a check program must be gone before the
        // teardown counts what the main child left.
        if let Some(ready) = &mut self.ready {
            ready.on_wake(&mut self.reports.ready);
        }
        // A `populated 0` event means the cgroup emptied, which only the
        // reaping turns into "nothing left".
        if (wakeup.reap || wakeup.cgroup_event)
            && let Some(code) = self.reap()
        {
            return Some(code);
        }
        self.watch_cgroup(wakeup.cgroup_event);
        // Without a deadline there is nothing for the time to decide.
        if !self.supervisor.has_deadline() {
            return None;
        }
        let actions = self.supervisor.on_time(Instant::now());
        let code = self.perform(&actions);
        // A forward here is the stop signal --stop-delay held: a TERM/INT.
        self.main
            .continue_if_stopped(&self.proc, signals::SIGTERM, &actions);
        code
    }

    /// Acts on one received signal (not SIGCHLD); `now` is read on first use.
    fn on_signal(&mut self, sig: Signo, now: &mut Option<Instant>) -> Option<u8> {
        let now = *now.get_or_insert_with(Instant::now);
        let actions = self.supervisor.on_signal(sig, now);
        if actions.is_empty() {
            debug!(
                "not forwarding {sig} (phase: {})",
                self.supervisor.phase().name()
            );
        }
        let code = self.perform(&actions);
        if code.is_none() {
            self.main.continue_if_stopped(&self.proc, sig, &actions);
        }
        code
    }

    /// Sleeps until a signal, a watched cgroup file, the exec status or the
    /// next deadline.
    fn sleep(&mut self, wakeup: &mut Wakeup) {
        let ready = self.ready.as_ref().and_then(Watch::deadline);
        let deadline = earliest(
            earliest(self.supervisor.deadline(), self.oom.deadline()),
            ready,
        );
        wake::wait(
            wake::Sources {
                signals: &self.signals,
                own_pid: self.own_pid,
                timeout: deadline.map(|d| d.saturating_duration_since(Instant::now())),
                exec_status: self.exec.as_ref().map(PendingExec::fd),
                cgroup: self.cgroup.as_ref(),
            },
            wakeup,
        )
    }

    /// Drains every exited child; returns an exit code when it is time.
    fn reap(&mut self) -> Option<u8> {
        let mut others = 0;
        // Once, not per reap (a drop per orphan); names are taken on every
        // pass or never (the tracker is there from start-up or not at all).
        let mut comm = None;
        loop {
            let reaped = if self.tracker.is_some() {
                let (reaped, name) = sight!(self).reap_named();
                comm = name;
                reaped
            } else {
                sys::reap(sys::Child::Any)
            };
            match reaped {
                Ok(Reap::Exited { pid, status }) if pid == self.main_pid => {
                    if let Some(code) = self.on_main_reaped(status) {
                        return Some(code);
                    }
                }
                Ok(Reap::Exited { pid, status })
                    if self.ready.as_mut().is_some_and(|r| r.claim(pid, status)) => {}
                Ok(Reap::Exited { pid, status }) => {
                    others += 1;
                    let level = self.supervisor.reaped_level();
                    log!(level, "reaped zombie process with pid={pid} ({status:#x})");
                    if let Some(tracker) = &mut self.tracker
                        && let Some(exit) = ChildExit::from_raw(status)
                    {
                        tracker.on_reaped(pid, comm.take().as_deref(), exit, Instant::now());
                    }
                }
                Ok(Reap::NoneReady) => break,
                Ok(Reap::NoChildren) => {
                    // A v2 cgroup can still hold tasks that are not our
                    // children; its `populated 0` event wakes us when not.
                    if self.cgroup.as_ref().and_then(ChildCgroup::populated) == Some(true) {
                        break;
                    }
                    return self.on_nothing_left();
                }
                Err(e) => {
                    error!("wait4 failed: {e}");
                    break;
                }
            }
        }
        // Nothing to do for most reaps, and not even a call for that.
        let actions = self.supervisor.on_reaped();
        if others > 0 && !actions.is_empty() {
            return self.perform(actions);
        }
        None
    }

    /// The main child was reaped: rare, so out of the orphans' hot path.
    #[cold]
    #[inline(never)]
    fn on_main_reaped(&mut self, status: i32) -> Option<u8> {
        let pid = self.main_pid;
        let Some(exit) = ChildExit::from_raw(status) else {
            warn!("main child {pid}: unexpected wait status {status:#x}");
            return None;
        };
        // Its exec status decides what the exit means, and it
        // is there to read now: a dead child holds no pipe.
        self.settle_exec();
        info!("main child {pid} {exit}");
        self.view = teardown::view_at_exit(&self.proc, self.scope, self.view);
        if let Some(cgroup) = &mut self.cgroup {
            oom::main_exited(&mut self.oom, cgroup, self.main_pid, exit);
        }
        let now = Instant::now();
        let actions = self.supervisor.on_main_exit(exit, now);
        if let Some(tracker) = &mut self.tracker
            && actions.contains(&Action::TermRest)
        {
            sight!(self).track_leftovers(tracker, self.reports.leaks.mode, now);
        }
        self.perform(&actions)
    }

    /// rinit has no child left.
    #[cold]
    #[inline(never)]
    fn on_nothing_left(&mut self) -> Option<u8> {
        let actions = self.supervisor.on_nothing_left();
        self.perform(&actions)
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
                Action::Forward(sig) => {
                    self.main.forward(sig);
                    // A --rewrite to SIGKILL kills as --kill-after does.
                    if sig == signals::SIGKILL {
                        self.thaw();
                    }
                }
                Action::KillMain => {
                    self.oom.on_main_killed_by_rinit();
                    self.main.kill();
                    self.thaw();
                }
                Action::TermRest => sight!(self).term_rest(&mut self.reports),
                Action::KillAfterGrace => {
                    let (tracker, termed) = (self.tracker.as_mut(), &self.reports.termed);
                    sight!(self).on_grace_over(tracker, termed, self.supervisor.grace());
                    self.kill_rest();
                }
                Action::KillRest => self.kill_rest(),
                Action::ReportStuck => {
                    let timeout = self.supervisor.stuck_timeout();
                    let released = sight!(self).report_stuck(
                        self.tracker.as_mut(),
                        &mut self.reports,
                        timeout,
                    );
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

    /// After a SIGKILL into rinit's cgroup: a frozen child dies only once
    /// thawed.
    fn thaw(&self) {
        self.cgroup.iter().for_each(ChildCgroup::thaw);
    }

    fn kill_rest(&mut self) {
        debug!("sending SIGKILL to every remaining process");
        if let Some(cgroup) = &mut self.cgroup {
            cgroup.kill_all();
        }
        sight!(self).signal_rest(&[signals::SIGKILL]);
    }

    /// `event`: the OOM notification or `cgroup.events` fired: read both to
    /// re-arm them (the reaping decides what `populated` means). Then the
    /// OOM kills whose victims had time to die are told.
    fn watch_cgroup(&mut self, event: bool) {
        if let Some(cgroup) = &mut self.cgroup {
            if event {
                let _ = cgroup.populated();
                oom::on_event(&mut self.oom, cgroup);
            }
            // Another namespace's /proc would describe a stranger.
            let proc = (self.view == View::Own).then_some(&self.proc);
            oom::settled(&mut self.oom, cgroup, self.main_pid, proc);
        }
    }
}
