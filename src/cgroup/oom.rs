//! OOM bookkeeping: which OOM kills to report, when, and as whose. Pure: the
//! cgroup's `oom_kill` counter, the time and the facts about the main child
//! are handed in. Facts that cost a syscall come as closures, read only when
//! the decision needs them.
//!
//! The kernel notifies before it kills, so a notification only schedules a
//! look [`SETTLE`] later, when the victim is known. A main child that died of
//! a SIGKILL rinit did not send, while the counter rose, was OOM-killed;
//! every other kill is "a process". At exit, whatever is left is reported.

use super::discover::describe_size;
use crate::exit_status::ChildExit;
use crate::signals;
use std::time::{Duration, Instant};

/// How long after an OOM notification rinit looks at who was killed.
pub const SETTLE: Duration = Duration::from_millis(200);

/// An OOM kill to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomKill {
    /// The main child was the victim.
    MainChild,
    /// This many other processes were.
    Others(u64),
}

impl OomKill {
    /// The error line for this kill; `limit` is the cgroup's memory limit.
    pub fn message(self, main_pid: i32, cgroup: &str, limit: Option<u64>) -> String {
        let limit = limit.map_or_else(|| "none set by rinit".to_string(), describe_size);
        match self {
            OomKill::MainChild => format!(
                "OOM: main child {main_pid} was OOM-killed: it went over the memory limit {limit} of cgroup {cgroup}"
            ),
            OomKill::Others(count) => format!(
                "OOM: the kernel's OOM killer killed {count} process(es) in cgroup {cgroup} (memory limit {limit})"
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct OomWatch {
    /// Kills already reported (the counter counts since the cgroup was made).
    reported: u64,
    /// When to look at a kill whose notification came.
    report_at: Option<Instant>,
    /// rinit itself sent the main child SIGKILL (--kill-after), so its death
    /// by SIGKILL is no OOM kill.
    rinit_killed_main: bool,
    main_exited: bool,
}

impl OomWatch {
    pub fn new() -> OomWatch {
        OomWatch::default()
    }

    /// How many OOM kills were reported: the exit report's count. One
    /// report may tell of several kills.
    pub fn kills(&self) -> u64 {
        self.reported
    }

    /// When the loop must wake up to report, if at all.
    pub fn deadline(&self) -> Option<Instant> {
        self.report_at
    }

    /// The OOM notification fired (or another cgroup event came); `kills` is
    /// the counter now.
    pub fn on_notification(&mut self, kills: u64, now: Instant) {
        if kills > self.reported {
            // A later notification does not postpone the first look.
            self.report_at.get_or_insert(now + SETTLE);
        }
    }

    /// rinit sent the main child SIGKILL itself.
    pub fn on_main_killed_by_rinit(&mut self) {
        self.rinit_killed_main = true;
    }

    /// The main child was reaped.
    pub fn on_main_exit(
        &mut self,
        exit: ChildExit,
        kills: impl FnOnce() -> u64,
    ) -> Option<OomKill> {
        self.main_exited = true;
        if exit != ChildExit::Signaled(signals::SIGKILL)
            || self.rinit_killed_main
            || kills() <= self.reported
        {
            return None;
        }
        self.reported += 1;
        Some(OomKill::MainChild)
    }

    /// Reports the kills not reported yet once the settle time is over.
    /// `main_dying`: SIGKILL is pending for the main child, or it is already
    /// exiting; then one kill is left for its reaping to report.
    pub fn on_time(
        &mut self,
        now: Instant,
        kills: impl FnOnce() -> u64,
        main_dying: impl FnOnce() -> bool,
    ) -> Option<OomKill> {
        if self.report_at.is_none_or(|at| now < at) {
            return None;
        }
        self.report_at = None;
        let mut unreported = kills().saturating_sub(self.reported);
        if unreported > 0 && !self.main_exited && main_dying() {
            unreported -= 1;
        }
        self.others(unreported)
    }

    /// rinit is about to exit: whatever is left, reported now.
    pub fn at_exit(&mut self, kills: u64) -> Option<OomKill> {
        self.report_at = None;
        self.others(kills.saturating_sub(self.reported))
    }

    fn others(&mut self, unreported: u64) -> Option<OomKill> {
        if unreported == 0 {
            return None;
        }
        self.reported += unreported;
        Some(OomKill::Others(unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::SIGTERM;

    fn unread() -> u64 {
        panic!("the counter must not be read here")
    }

    fn not_asked() -> bool {
        panic!("the main child's state must not be read here")
    }

    fn notified(kills: u64, t0: Instant) -> OomWatch {
        let mut oom = OomWatch::new();
        oom.on_notification(kills, t0);
        oom
    }

    #[test]
    fn a_notification_without_a_kill_schedules_nothing() {
        let t0 = Instant::now();
        let mut oom = notified(0, t0);
        assert_eq!(oom.deadline(), None);
        assert_eq!(oom.on_time(t0 + SETTLE, unread, not_asked), None);
        assert_eq!(oom.at_exit(0), None);
    }

    #[test]
    fn another_process_is_reported_after_the_settle_time() {
        let t0 = Instant::now();
        let mut oom = notified(1, t0);
        assert_eq!(oom.deadline(), Some(t0 + SETTLE));
        // A second notification does not postpone the look.
        oom.on_notification(2, t0 + Duration::from_millis(150));
        assert_eq!(oom.deadline(), Some(t0 + SETTLE));
        let early = t0 + SETTLE - Duration::from_millis(1);
        assert_eq!(oom.on_time(early, unread, not_asked), None);
        assert_eq!(
            oom.on_time(t0 + SETTLE, || 2, || false),
            Some(OomKill::Others(2))
        );
        assert_eq!(oom.deadline(), None);
        // Reported once: neither the next event nor the exit repeats it.
        oom.on_notification(2, t0 + SETTLE);
        assert_eq!(oom.deadline(), None);
        assert_eq!(oom.at_exit(2), None);
    }

    /// Three kills settle in one look: one report, three kills counted.
    #[test]
    fn kills_that_settle_together_count_one_by_one() {
        let t0 = Instant::now();
        let mut oom = notified(3, t0);
        assert_eq!(
            oom.on_time(t0 + SETTLE, || 3, || false),
            Some(OomKill::Others(3))
        );
        assert_eq!(oom.kills(), 3);
        // The main child, then two more at exit: six in all.
        assert_eq!(
            oom.on_main_exit(ChildExit::Signaled(signals::SIGKILL), || 4),
            Some(OomKill::MainChild)
        );
        assert_eq!(oom.at_exit(6), Some(OomKill::Others(2)));
        assert_eq!(oom.kills(), 6);
    }

    #[test]
    fn a_dying_main_child_is_left_to_its_reaping() {
        let t0 = Instant::now();
        let mut oom = notified(1, t0);
        assert_eq!(oom.on_time(t0 + SETTLE, || 1, || true), None);
        assert_eq!(
            oom.on_main_exit(ChildExit::Signaled(signals::SIGKILL), || 1),
            Some(OomKill::MainChild)
        );
        assert_eq!(oom.at_exit(1), None);
    }

    #[test]
    fn a_dying_main_child_takes_one_kill_of_several() {
        let t0 = Instant::now();
        let mut oom = notified(3, t0);
        assert_eq!(
            oom.on_time(t0 + SETTLE, || 3, || true),
            Some(OomKill::Others(2))
        );
        assert_eq!(
            oom.on_main_exit(ChildExit::Signaled(signals::SIGKILL), || 3),
            Some(OomKill::MainChild)
        );
        assert_eq!(oom.at_exit(3), None);
    }

    #[test]
    fn after_the_main_exit_every_kill_is_another_process() {
        let t0 = Instant::now();
        let mut oom = OomWatch::new();
        assert_eq!(oom.on_main_exit(ChildExit::Exited(0), unread), None);
        oom.on_notification(1, t0);
        assert_eq!(
            oom.on_time(t0 + SETTLE, || 1, not_asked),
            Some(OomKill::Others(1))
        );
    }

    #[test]
    fn a_main_child_sigkilled_without_a_kill_counted_is_no_oom() {
        let mut oom = OomWatch::new();
        assert_eq!(
            oom.on_main_exit(ChildExit::Signaled(signals::SIGKILL), || 0),
            None
        );
        assert_eq!(oom.at_exit(0), None);
    }

    #[test]
    fn other_deaths_of_the_main_child_never_read_the_counter() {
        let mut oom = OomWatch::new();
        assert_eq!(oom.on_main_exit(ChildExit::Signaled(SIGTERM), unread), None);
        assert_eq!(oom.on_main_exit(ChildExit::Exited(137), unread), None);
    }

    #[test]
    fn a_sigkill_from_kill_after_is_no_oom_kill() {
        let mut oom = OomWatch::new();
        oom.on_main_killed_by_rinit();
        assert_eq!(
            oom.on_main_exit(ChildExit::Signaled(signals::SIGKILL), unread),
            None
        );
        // The counted kill was someone else's: reported at exit.
        assert_eq!(oom.at_exit(1), Some(OomKill::Others(1)));
    }

    #[test]
    fn the_exit_reports_what_the_settle_time_did_not_reach() {
        let t0 = Instant::now();
        let mut oom = notified(1, t0);
        assert_eq!(oom.at_exit(1), Some(OomKill::Others(1)));
        assert_eq!(oom.deadline(), None);
        assert_eq!(oom.at_exit(1), None);
    }

    #[test]
    fn messages_name_the_victim_the_cgroup_and_the_limit() {
        assert_eq!(
            OomKill::MainChild.message(2, "app", Some(32 << 20)),
            "OOM: main child 2 was OOM-killed: it went over the memory limit 32 MiB of cgroup app"
        );
        assert_eq!(
            OomKill::Others(1).message(2, "app", None),
            "OOM: the kernel's OOM killer killed 1 process(es) in cgroup app (memory limit none set by rinit)"
        );
    }
}
