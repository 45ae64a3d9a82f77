//! The lifecycle as a pure state machine: what to do when a signal arrives,
//! when the main child exits, when nothing is left, and when a deadline
//! passes. Time is handed in, never read, so every path is unit-tested.
//!
//! ```text
//! Running ──main child exits──▶ Terminating ──grace ends──▶ Killing ──stuck-timeout ends──▶ exit
//!    │ (the first stop signal held for --stop-delay, then forwarded)
//!    │ (TERM/INT forwarded with --kill-after: SIGKILL the child when it runs out)
//!    ├─ exec failed, then the main child exits ──▶ exit with the failure's code
//!    └─ Terminating / Killing ──nothing left──▶ exit
//! ```

use crate::exit_status::{ChildExit, Remap};
use crate::signals::{self, Signo};
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

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub rewrites: signals::Rewrites,
    pub remap: Remap,
    pub grace: Duration,
    pub kill_after: Option<Duration>,
    pub stuck_timeout: Duration,
    /// --warn-on-reap: each process reaped but the main child is a warning.
    pub warn_on_reap: bool,
    /// How long the first stop signal is held before it is forwarded;
    /// zero forwards it at once.
    pub stop_delay: Duration,
}

/// A stop signal held back by --stop-delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// What it is forwarded as (after --rewrite).
    pub sig: Signo,
    pub until: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The main child runs; `kill_at` is armed by a forwarded TERM/INT;
    /// `held` is the first stop signal, waiting out --stop-delay.
    Running {
        kill_at: Option<Instant>,
        held: Option<Held>,
    },
    /// SIGTERM went to everything left; SIGKILL at `until`.
    Terminating {
        until: Instant,
    },
    /// SIGKILL went to everything left; give up at `until`.
    Killing {
        until: Instant,
    },
    /// The stuck-exit report is being written.
    Reporting,
    /// FUSE connections were aborted after the report; wait for the
    /// released tasks until `until`.
    Releasing {
        until: Instant,
    },
    Done,
}

impl Phase {
    /// For the log: the derived Debug would print each deadline's raw
    /// timespec, which tells a reader nothing (and costs 1 KB of code).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Running { held: Some(_), .. } => "stop delay (--stop-delay)",
            Phase::Running { .. } => "running",
            Phase::Terminating { .. } => "terminating",
            Phase::Killing { .. } => "killing",
            Phase::Reporting => "reporting",
            Phase::Releasing { .. } => "releasing",
            Phase::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send this signal to the main child (or its process group).
    Forward(Signo),
    /// SIGKILL the main child and its process group.
    KillMain,
    /// SIGTERM (then SIGCONT, so stopped processes can act on it) to every
    /// remaining process.
    TermRest,
    /// SIGKILL every remaining process.
    KillRest,
    /// The grace is over: say what ignored SIGTERM, then as `KillRest`.
    KillAfterGrace,
    /// List what is still there: it survived SIGKILL for the whole timeout.
    ReportStuck,
    Exit(u8),
}

/// What a signal leads to: at most two actions, held inline because a
/// heap allocation per forwarded signal showed in rinit's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct SignalActions {
    actions: [Action; 2],
    len: usize,
}

impl SignalActions {
    const NONE: SignalActions = SignalActions {
        // Never read: only the first `len` count.
        actions: [Action::KillMain; 2],
        len: 0,
    };

    fn push(&mut self, action: Action) {
        self.actions[self.len] = action;
        self.len += 1;
    }
}

impl std::ops::Deref for SignalActions {
    type Target = [Action];

    fn deref(&self) -> &[Action] {
        &self.actions[..self.len]
    }
}

#[cfg(test)]
impl PartialEq<Vec<Action>> for SignalActions {
    fn eq(&self, other: &Vec<Action>) -> bool {
        **self == **other
    }
}

#[derive(Debug)]
pub struct Supervisor {
    policy: Policy,
    phase: Phase,
    main_exit: Option<ChildExit>,
    /// The exit code of a failed exec (126/127, or 1 for a step before it).
    exec_failure: Option<u8>,
    /// The stop delay was taken: it holds the first stop signal only.
    stop_delay_taken: bool,
}

impl Supervisor {
    pub fn new(policy: Policy) -> Supervisor {
        Supervisor {
            policy,
            phase: Phase::Running {
                kill_at: None,
                held: None,
            },
            main_exit: None,
            exec_failure: None,
            stop_delay_taken: false,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether `deadline` is some, without building the Option<Instant>:
    /// asked after every wake-up (`sleep` still asks `deadline`), where
    /// that showed per reaped orphan. A match over every phase, so that a
    /// new one must answer.
    pub fn has_deadline(&self) -> bool {
        match self.phase {
            Phase::Running { kill_at, held } => kill_at.is_some() || held.is_some(),
            Phase::Terminating { .. } | Phase::Killing { .. } | Phase::Releasing { .. } => true,
            Phase::Reporting | Phase::Done => false,
        }
    }

    /// The next moment something must happen without any event; `None`
    /// means rinit may sleep until a signal comes.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Running { kill_at, held } => match (kill_at, held) {
                (Some(at), Some(held)) => Some(at.min(held.until)),
                (at, held) => at.or(held.map(|h| h.until)),
            },
            Phase::Terminating { until }
            | Phase::Killing { until }
            | Phase::Releasing { until } => Some(until),
            Phase::Reporting | Phase::Done => None,
        }
    }

    /// A signal (other than SIGCHLD) reached rinit.
    pub fn on_signal(&mut self, sig: Signo, now: Instant) -> SignalActions {
        // Once the main child is gone there is nobody to forward to; the
        // teardown is already bounded, so a signal does not change it.
        let Phase::Running { kill_at, held } = self.phase else {
            return SignalActions::NONE;
        };
        let Some(forwarded) = self.policy.rewrites.apply(sig) else {
            return SignalActions::NONE;
        };
        // A stop signal as the engine sends it (TERM: docker stop, kubelet;
        // INT: Ctrl-C), or as --rewrite makes it.
        let stops = is_stop(sig) || is_stop(forwarded);
        if stops && let Some(held) = held {
            // A second stop signal ends the wait: the held one goes now,
            // alone (with --kill-after, a second TERM on top would kill).
            self.phase = Phase::Running {
                kill_at,
                held: None,
            };
            return self.forward(held.sig, now);
        }
        if stops && !self.stop_delay_taken && !self.policy.stop_delay.is_zero() {
            self.stop_delay_taken = true;
            self.phase = Phase::Running {
                kill_at,
                held: Some(Held {
                    sig: forwarded,
                    until: now + self.policy.stop_delay,
                }),
            };
            return SignalActions::NONE;
        }
        self.forward(forwarded, now)
    }

    /// Forwards `sig` while the main child runs; a TERM/INT arms
    /// --kill-after, and a second one while armed means now.
    fn forward(&mut self, sig: Signo, now: Instant) -> SignalActions {
        let mut actions = SignalActions::NONE;
        actions.push(Action::Forward(sig));
        let Phase::Running { kill_at, held } = self.phase else {
            return actions;
        };
        if let Some(after) = self.policy.kill_after
            && is_stop(sig)
        {
            let kill_at = if kill_at.is_some() {
                actions.push(Action::KillMain);
                None
            } else {
                Some(now + after)
            };
            self.phase = Phase::Running { kill_at, held };
        }
        actions
    }

    /// The main child could not exec the command: it exits on its own, and
    /// rinit then exits with `code`. Until then signals are still forwarded
    /// (to a child that cannot act on them before it exits).
    pub fn on_exec_failed(&mut self, code: u8) {
        self.exec_failure = Some(code);
    }

    /// The main child was reaped.
    pub fn on_main_exit(&mut self, exit: ChildExit, now: Instant) -> Vec<Action> {
        if self.main_exit.is_some() {
            return Vec::new();
        }
        self.main_exit = Some(exit);
        // The command never ran, so nothing of it is left to tear down; and
        // its code is not the child's 127, nor remapped.
        if let Some(code) = self.exec_failure {
            self.phase = Phase::Done;
            return vec![Action::Exit(code)];
        }
        self.phase = Phase::Terminating {
            until: now + self.policy.grace,
        };
        vec![Action::TermRest]
    }

    /// Other processes were reaped while SIGKILL is in force: anything they
    /// forked since the last sweep gets killed too.
    /// A slice, not a Vec as the rarer events: it is called for every
    /// reaped orphan, and building and dropping a Vec showed in rinit's
    /// CPU time per orphan.
    pub fn on_reaped(&self) -> &'static [Action] {
        match self.phase {
            Phase::Killing { .. } => &[Action::KillRest],
            _ => &[],
        }
    }

    /// rinit has no child left to wait for.
    pub fn on_nothing_left(&mut self) -> Vec<Action> {
        match self.phase {
            Phase::Terminating { .. } | Phase::Killing { .. } | Phase::Releasing { .. } => {
                self.phase = Phase::Done;
                vec![Action::Exit(self.exit_code())]
            }
            _ => Vec::new(),
        }
    }

    /// Acts on whatever deadline has passed by `now`.
    pub fn on_time(&mut self, now: Instant) -> Vec<Action> {
        match self.phase {
            Phase::Running {
                kill_at,
                held: Some(held),
            } if now >= held.until => {
                self.phase = Phase::Running {
                    kill_at,
                    held: None,
                };
                self.forward(held.sig, now).to_vec()
            }
            Phase::Running {
                kill_at: Some(at),
                held,
            } if now >= at => {
                self.phase = Phase::Running {
                    kill_at: None,
                    held,
                };
                vec![Action::KillMain]
            }
            Phase::Terminating { until } if now >= until => {
                self.phase = Phase::Killing {
                    until: now + self.policy.stuck_timeout,
                };
                vec![Action::KillAfterGrace]
            }
            Phase::Killing { until } if now >= until => {
                self.phase = Phase::Reporting;
                vec![Action::ReportStuck]
            }
            Phase::Releasing { until } if now >= until => {
                self.phase = Phase::Done;
                vec![Action::Exit(self.exit_code())]
            }
            _ => Vec::new(),
        }
    }

    /// The report is out; `released` says whether rinit aborted FUSE
    /// connections and should wait for the tasks they held.
    pub fn on_reported(&mut self, released: bool, now: Instant) -> Vec<Action> {
        if self.phase != Phase::Reporting {
            return Vec::new();
        }
        if released {
            self.phase = Phase::Releasing {
                until: now + self.policy.stuck_timeout,
            };
            Vec::new()
        } else {
            self.phase = Phase::Done;
            vec![Action::Exit(self.exit_code())]
        }
    }

    pub fn grace(&self) -> Duration {
        self.policy.grace
    }

    pub fn stuck_timeout(&self) -> Duration {
        self.policy.stuck_timeout
    }

    /// How a reaped process other than the main child is logged.
    pub fn reaped_level(&self) -> log::Level {
        if self.policy.warn_on_reap {
            log::Level::Warn
        } else {
            log::Level::Debug
        }
    }

    pub fn main_exit(&self) -> Option<ChildExit> {
        self.main_exit
    }

    fn exit_code(&self) -> u8 {
        self.main_exit.map_or(1, |exit| self.exit_code_for(exit))
    }

    /// The code rinit exits with for this end of the main child.
    pub fn exit_code_for(&self, exit: ChildExit) -> u8 {
        self.policy.remap.exit_code(exit)
    }
}

/// TERM or INT: the signals that stop a container (and that --kill-after
/// and --stop-delay act on).
fn is_stop(sig: Signo) -> bool {
    sig == signals::SIGTERM || sig == signals::SIGINT
}

/// The earlier of two deadlines, either of which may be none. (Not an
/// iterator over an array of them: it runs before every sleep, and at
/// opt-level z the iterator was a loop of calls.)
#[inline(always)]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{SIGINT, SIGKILL, SIGTERM};

    fn policy() -> Policy {
        Policy {
            rewrites: Default::default(),
            remap: Remap::default(),
            grace: Duration::from_secs(5),
            kill_after: None,
            stuck_timeout: Duration::from_secs(10),
            warn_on_reap: false,
            stop_delay: Duration::ZERO,
        }
    }

    fn sig(name: &str) -> Signo {
        Signo::parse(name).unwrap()
    }

    #[test]
    fn earliest_of_two_deadlines() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(earliest(None, None), None);
        assert_eq!(earliest(Some(t1), None), Some(t1));
        assert_eq!(earliest(None, Some(t0)), Some(t0));
        assert_eq!(earliest(Some(t1), Some(t0)), Some(t0));
        assert_eq!(earliest(Some(t0), Some(t1)), Some(t0));
    }

    #[test]
    fn has_deadline_says_whether_deadline_is_some_in_every_phase() {
        let t0 = Instant::now();
        let held = Some(Held {
            sig: SIGTERM,
            until: t0,
        });
        let phases = [
            Phase::Running {
                kill_at: None,
                held: None,
            },
            Phase::Running {
                kill_at: Some(t0),
                held: None,
            },
            Phase::Running {
                kill_at: None,
                held,
            },
            Phase::Running {
                kill_at: Some(t0),
                held,
            },
            Phase::Terminating { until: t0 },
            Phase::Killing { until: t0 },
            Phase::Reporting,
            Phase::Releasing { until: t0 },
            Phase::Done,
        ];
        for phase in phases {
            let mut sup = Supervisor::new(policy());
            sup.phase = phase;
            assert_eq!(sup.has_deadline(), sup.deadline().is_some(), "{phase:?}");
        }
    }

    #[test]
    fn forwards_every_signal_and_sleeps_without_deadline() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(policy());
        for name in [
            "HUP", "INT", "QUIT", "USR1", "TERM", "CONT", "TSTP", "TTIN", "TTOU", "RTMIN", "RTMAX",
        ] {
            assert_eq!(
                sup.on_signal(sig(name), t0),
                vec![Action::Forward(sig(name))]
            );
        }
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.on_time(t0 + Duration::from_secs(3600)), vec![]);
        assert_eq!(sup.on_nothing_left(), vec![]);
    }

    #[test]
    fn rewrites_and_drops() {
        let mut p = policy();
        p.rewrites.set(SIGTERM, Some(sig("QUIT")));
        p.rewrites.set(sig("USR1"), None);
        let mut sup = Supervisor::new(p);
        let t0 = Instant::now();
        assert_eq!(
            sup.on_signal(SIGTERM, t0),
            vec![Action::Forward(sig("QUIT"))]
        );
        assert_eq!(sup.on_signal(sig("USR1"), t0), vec![]);
    }

    #[test]
    fn main_exit_starts_staged_teardown() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(policy());
        assert_eq!(
            sup.on_main_exit(ChildExit::Exited(3), t0),
            vec![Action::TermRest]
        );
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(sup.phase().name(), "terminating");
        // Signals after the main child's death change nothing.
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![]);
        assert_eq!(sup.on_reaped(), []);
        assert_eq!(sup.on_time(t0 + Duration::from_millis(4999)), vec![]);
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(sup.on_time(t1), vec![Action::KillAfterGrace]);
        assert_eq!(sup.deadline(), Some(t1 + Duration::from_secs(10)));
        assert_eq!(sup.phase().name(), "killing");
        assert_eq!(sup.on_reaped(), [Action::KillRest]);
        let t2 = t1 + Duration::from_secs(10);
        assert_eq!(sup.on_time(t2), vec![Action::ReportStuck]);
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.on_reported(false, t2), vec![Action::Exit(3)]);
        assert_eq!(sup.phase(), Phase::Done);
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.main_exit(), Some(ChildExit::Exited(3)));
    }

    #[test]
    fn fuse_abort_waits_once_more() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(policy());
        sup.on_main_exit(ChildExit::Exited(3), t0);
        sup.on_time(t0 + Duration::from_secs(5));
        let t2 = t0 + Duration::from_secs(15);
        assert_eq!(sup.on_time(t2), vec![Action::ReportStuck]);
        assert_eq!(sup.on_reported(true, t2), vec![]);
        assert_eq!(sup.deadline(), Some(t2 + Duration::from_secs(10)));
        assert_eq!(sup.on_reaped(), []);
        assert_eq!(sup.on_nothing_left(), vec![Action::Exit(3)]);

        let mut sup = Supervisor::new(policy());
        sup.on_main_exit(ChildExit::Exited(3), t0);
        sup.on_time(t0 + Duration::from_secs(5));
        sup.on_time(t2);
        sup.on_reported(true, t2);
        assert_eq!(
            sup.on_time(t2 + Duration::from_secs(10)),
            vec![Action::Exit(3)]
        );
        // A second report call changes nothing.
        assert_eq!(sup.on_reported(true, t2), vec![]);
    }

    #[test]
    fn finishes_early_when_nothing_is_left() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(policy());
        sup.on_main_exit(ChildExit::Signaled(SIGKILL), t0);
        assert_eq!(sup.on_nothing_left(), vec![Action::Exit(137)]);

        let mut sup = Supervisor::new(policy());
        sup.on_main_exit(ChildExit::Exited(0), t0);
        sup.on_time(t0 + Duration::from_secs(6));
        assert_eq!(sup.on_nothing_left(), vec![Action::Exit(0)]);
    }

    #[test]
    fn zero_grace_kills_at_once() {
        let mut p = policy();
        p.grace = Duration::ZERO;
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p);
        sup.on_main_exit(ChildExit::Exited(1), t0);
        assert_eq!(sup.on_time(t0), vec![Action::KillAfterGrace]);
    }

    #[test]
    fn exit_code_is_remapped() {
        let mut p = policy();
        p.remap.insert(143);
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p);
        sup.on_main_exit(ChildExit::Signaled(SIGTERM), t0);
        assert_eq!(sup.on_nothing_left(), vec![Action::Exit(0)]);
    }

    #[test]
    fn kill_after_arms_on_term_and_int_only() {
        let mut p = policy();
        p.kill_after = Some(Duration::from_secs(2));
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p.clone());
        assert_eq!(
            sup.on_signal(sig("QUIT"), t0),
            vec![Action::Forward(sig("QUIT"))]
        );
        assert_eq!(
            sup.on_signal(sig("HUP"), t0),
            vec![Action::Forward(sig("HUP"))]
        );
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(sup.on_time(t0 + Duration::from_secs(1)), vec![]);
        assert_eq!(
            sup.on_time(t0 + Duration::from_secs(2)),
            vec![Action::KillMain]
        );
        assert_eq!(sup.deadline(), None);

        // A second TERM or INT while armed means now.
        let mut sup = Supervisor::new(p);
        sup.on_signal(SIGINT, t0);
        assert_eq!(
            sup.on_signal(SIGTERM, t0),
            vec![Action::Forward(SIGTERM), Action::KillMain]
        );
        assert_eq!(sup.deadline(), None);
    }

    #[test]
    fn kill_after_follows_the_rewritten_signal() {
        let mut p = policy();
        p.kill_after = Some(Duration::from_secs(1));
        p.rewrites.set(SIGTERM, Some(sig("QUIT")));
        p.rewrites.set(sig("RTMIN+3"), Some(SIGTERM));
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p);
        sup.on_signal(SIGTERM, t0);
        assert_eq!(sup.deadline(), None);
        sup.on_signal(sig("RTMIN+3"), t0);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn failed_exec_exits_with_its_code_once_the_child_is_reaped() {
        let mut p = policy();
        p.remap.insert(127);
        p.kill_after = Some(Duration::from_secs(1));
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p);
        sup.on_exec_failed(126);
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.on_nothing_left(), vec![]);
        assert_eq!(
            sup.on_main_exit(ChildExit::Exited(127), t0),
            vec![Action::Exit(126)]
        );
        assert_eq!(sup.phase(), Phase::Done);
        assert_eq!(sup.deadline(), None);
    }

    #[test]
    fn main_exit_disarms_kill_after() {
        let mut p = policy();
        p.kill_after = Some(Duration::from_secs(1));
        let t0 = Instant::now();
        let mut sup = Supervisor::new(p);
        sup.on_signal(SIGTERM, t0);
        sup.on_main_exit(ChildExit::Signaled(SIGTERM), t0);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(sup.on_main_exit(ChildExit::Exited(0), t0), vec![]);
    }

    fn delayed(delay: u64) -> Policy {
        Policy {
            stop_delay: Duration::from_secs(delay),
            ..policy()
        }
    }

    #[test]
    fn stop_delay_holds_the_first_stop_signal_and_forwards_the_rest() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(delayed(2));
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![]);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(sup.phase().name(), "stop delay (--stop-delay)");
        // Every other signal goes at once meanwhile.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(
            sup.on_signal(sig("USR1"), t1),
            vec![Action::Forward(sig("USR1"))]
        );
        assert_eq!(
            sup.on_signal(sig("HUP"), t1),
            vec![Action::Forward(sig("HUP"))]
        );
        assert_eq!(sup.on_reaped(), []);
        assert_eq!(sup.on_nothing_left(), vec![]);
        assert_eq!(sup.on_time(t0 + Duration::from_millis(1999)), vec![]);
        let t2 = t0 + Duration::from_secs(2);
        assert_eq!(sup.on_time(t2), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.phase().name(), "running");
        // Only the first: later ones go at once.
        assert_eq!(sup.on_signal(SIGTERM, t2), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.on_signal(SIGINT, t2), vec![Action::Forward(SIGINT)]);
        assert_eq!(sup.on_time(t2 + Duration::from_secs(60)), vec![]);
    }

    #[test]
    fn a_second_stop_signal_ends_the_delay() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(delayed(30));
        assert_eq!(sup.on_signal(SIGINT, t0), vec![]);
        let t1 = t0 + Duration::from_secs(1);
        // The held one goes, alone.
        assert_eq!(sup.on_signal(SIGTERM, t1), vec![Action::Forward(SIGINT)]);
        assert_eq!(sup.deadline(), None);
        assert_eq!(sup.on_time(t0 + Duration::from_secs(30)), vec![]);
        assert_eq!(sup.on_signal(SIGTERM, t1), vec![Action::Forward(SIGTERM)]);
    }

    #[test]
    fn the_main_childs_exit_ends_the_delay() {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(delayed(30));
        sup.on_signal(SIGTERM, t0);
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            sup.on_main_exit(ChildExit::Exited(4), t1),
            vec![Action::TermRest]
        );
        // Never forwarded: nobody to forward to.
        assert_eq!(sup.deadline(), Some(t1 + Duration::from_secs(5)));
        assert_eq!(sup.on_time(t0 + Duration::from_secs(2)), vec![]);
        assert_eq!(sup.on_nothing_left(), vec![Action::Exit(4)]);
    }

    #[test]
    fn stop_delay_holds_the_signal_as_rewritten() {
        let t0 = Instant::now();
        let mut p = delayed(2);
        p.rewrites.set(SIGTERM, Some(sig("QUIT")));
        p.rewrites.set(sig("RTMIN+3"), Some(SIGTERM));
        p.rewrites.set(SIGINT, None);
        let mut sup = Supervisor::new(p.clone());
        // Dropped is dropped: nothing to hold.
        assert_eq!(sup.on_signal(SIGINT, t0), vec![]);
        assert_eq!(sup.deadline(), None);
        // TERM as received is the engine's stop: held, then sent as QUIT.
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![]);
        assert_eq!(
            sup.on_time(t0 + Duration::from_secs(2)),
            vec![Action::Forward(sig("QUIT"))]
        );
        // A signal rewritten to TERM stops too.
        let mut sup = Supervisor::new(p);
        assert_eq!(sup.on_signal(sig("RTMIN+3"), t0), vec![]);
        assert_eq!(
            sup.on_time(t0 + Duration::from_secs(2)),
            vec![Action::Forward(SIGTERM)]
        );
    }

    #[test]
    fn kill_after_counts_from_the_forward_not_the_delay() {
        let t0 = Instant::now();
        let mut p = delayed(2);
        p.kill_after = Some(Duration::from_secs(3));
        let mut sup = Supervisor::new(p.clone());
        sup.on_signal(SIGTERM, t0);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(2)));
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(sup.on_time(t1), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.deadline(), Some(t1 + Duration::from_secs(3)));
        assert_eq!(
            sup.on_time(t1 + Duration::from_secs(3)),
            vec![Action::KillMain]
        );

        // The second stop signal ends the delay and arms --kill-after; a
        // third while armed kills, as without a delay.
        let mut sup = Supervisor::new(p);
        sup.on_signal(SIGTERM, t0);
        assert_eq!(sup.on_signal(SIGTERM, t0), vec![Action::Forward(SIGTERM)]);
        assert_eq!(sup.deadline(), Some(t0 + Duration::from_secs(3)));
        assert_eq!(
            sup.on_signal(SIGTERM, t0),
            vec![Action::Forward(SIGTERM), Action::KillMain]
        );
    }
}
