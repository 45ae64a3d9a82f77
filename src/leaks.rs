//! CI mode (--leaks): what the command left behind when it exited, how each
//! leftover ended in the teardown, and which orphans rinit reaped during the
//! run. Pure: the runtime hands in what it read from /proc and what it
//! reaped, with the time; the lines and the exit code are decided here.

use crate::escape::escape;
use crate::exit_status::ChildExit;
use crate::os::procfs::display_command;
use crate::signals::SIGKILL;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// The code rinit exits with under `--leaks fail` when the command
/// succeeded but left processes behind. Not 1, 2, 126, 127 or 128+N (rinit's
/// own), not 3-5 (pytest's), 101 (cargo's panics) nor 124/125 (timeout's):
/// a CI log that shows 99 means "leaked", whatever ran.
pub const DEFAULT_EXIT_CODE: u8 = 99;
const _: () = assert!(DEFAULT_EXIT_CODE > 2 && DEFAULT_EXIT_CODE < 126);

/// How many distinct orphan names are counted one by one; more (a fork
/// bomb of random names) are counted as "other", so memory stays bounded.
const MAX_NAMES: usize = 256;

/// How many names the summary line gives.
const NAMES_IN_SUMMARY: usize = 3;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Today's behaviour, and no extra syscall.
    #[default]
    Off,
    Warn,
    /// Warn, and exit with the leak code when the command succeeded.
    Fail,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text.to_ascii_lowercase().as_str() {
            "off" => Some(Mode::Off),
            "warn" => Some(Mode::Warn),
            "fail" => Some(Mode::Fail),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Warn => "warn",
            Mode::Fail => "fail",
        }
    }
}

/// --leaks and --leaks-exit-code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeakPolicy {
    pub mode: Mode,
    pub exit_code: u8,
}

impl Default for LeakPolicy {
    fn default() -> LeakPolicy {
        LeakPolicy {
            mode: Mode::Off,
            exit_code: DEFAULT_EXIT_CODE,
        }
    }
}

impl LeakPolicy {
    /// rinit's exit code: `code` (the command's, after --remap-exit), or
    /// the leak code when the command succeeded and left `left_behind`
    /// processes. A failing command's own code is never replaced: it says
    /// more than the leak does.
    pub fn exit_code(self, code: u8, left_behind: usize) -> u8 {
        if self.mode == Mode::Fail && code == 0 && left_behind > 0 {
            self.exit_code
        } else {
            code
        }
    }
}

/// Who a leftover's parent was when the main child exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parent {
    /// Its parent had exited, and the kernel re-parented it to rinit.
    Rinit,
    /// It still had its own parent.
    Own { pid: i32, comm: Option<String> },
}

/// A process still running when the main child exited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leftover {
    pub pid: i32,
    pub comm: String,
    pub cmdline: Vec<String>,
    /// How long it had run; `None` when the clocks could not be read.
    pub ran_for: Option<Duration>,
    pub pgrp: i32,
    pub session: i32,
    pub parent: Parent,
    /// When it started (clock ticks since boot): a pid with another start
    /// is another process, the pid recycled.
    pub start_ticks: u64,
    /// What it runs now, when it exec'd since the main child's exit (a
    /// background job still a forked shell then); read again before each
    /// report of it.
    pub became: Option<Became>,
}

/// What a leftover runs when read again: its cmdline is empty when read
/// from a zombie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Became {
    pub comm: String,
    pub cmdline: Vec<String>,
}

impl Leftover {
    /// The `ppid` as /proc shows it, against rinit's pid there.
    pub fn parent_of(ppid: i32, rinit_pid: i32, parent_comm: Option<String>) -> Parent {
        if ppid == rinit_pid {
            Parent::Rinit
        } else {
            Parent::Own {
                pid: ppid,
                comm: parent_comm,
            }
        }
    }

    pub fn command(&self) -> String {
        display_command(&self.cmdline, &self.comm)
    }

    /// Read again as `now`: a change of command is kept; a zombie's
    /// (`now` without a cmdline) only when its name changed.
    pub fn seen(&mut self, now: Became) {
        let (comm, cmdline) = match &self.became {
            Some(b) => (&b.comm, &b.cmdline),
            None => (&self.comm, &self.cmdline),
        };
        let changed = if now.cmdline.is_empty() {
            now.comm != *comm
        } else {
            now.comm != *comm || now.cmdline != *cmdline
        };
        if !changed {
            return;
        }
        let original =
            now.comm == self.comm && (now.cmdline.is_empty() || now.cmdline == self.cmdline);
        self.became = (!original).then_some(now);
    }

    /// How the lines after the main child's exit name it: its name then,
    /// and what it became when it exec'd since.
    pub fn named(&self) -> String {
        match &self.became {
            Some(now) => format!(
                "{}, now {}",
                self.command(),
                display_command(&now.cmdline, &now.comm)
            ),
            None => escape(&self.comm).to_string(),
        }
    }

    /// One warning line, at the main child's exit.
    pub fn warning(&self) -> String {
        let ran = self.ran_for.map_or("for an unknown time".to_string(), |d| {
            format!("for {}", human(d))
        });
        let parent = match &self.parent {
            Parent::Rinit => "re-parented to rinit".to_string(),
            Parent::Own {
                pid,
                comm: Some(comm),
            } => {
                format!("still a child of pid {pid} ({})", escape(comm))
            }
            Parent::Own { pid, comm: None } => format!("still a child of pid {pid}"),
        };
        format!(
            "leak: pid {} still running after the main child exited: {} (running {ran}, process group {}, session {}, {parent})",
            self.pid,
            self.command(),
            self.pgrp,
            self.session
        )
    }
}

/// How a leftover ended in the teardown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Reaped by rinit before SIGKILL, `after` the teardown's SIGTERM.
    Exited { after: Duration, exit: ChildExit },
    /// Gone before SIGKILL, reaped by its own parent: no status for rinit.
    Gone,
    /// Still there when the grace was over, then SIGKILLed.
    Killed,
    /// Survived SIGKILL for the whole --stuck-timeout.
    Stuck,
}

impl End {
    pub fn name(self) -> &'static str {
        match self {
            End::Exited { .. } => "exited",
            End::Gone => "gone",
            End::Killed => "killed",
            End::Stuck => "stuck",
        }
    }
}

/// Orphan names and their counts, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub total: u64,
    counts: Vec<(String, u64)>,
    other: u64,
}

impl Names {
    pub fn add(&mut self, name: &str) {
        self.total += 1;
        if let Some(entry) = self.counts.iter_mut().find(|(n, _)| n == name) {
            entry.1 += 1;
        } else if self.counts.len() < MAX_NAMES {
            self.counts.push((name.to_string(), 1));
        } else {
            self.other += 1;
        }
    }

    /// Most frequent first, then by name; "(other)" last when names were
    /// beyond counting one by one.
    pub fn ranked(&self) -> Vec<(String, u64)> {
        let mut ranked = self.counts.clone();
        // The names are unique, so an unstable sort orders them the same,
        // with less code than the stable one.
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if self.other > 0 {
            ranked.push(("(other)".to_string(), self.other));
        }
        ranked
    }
}

/// What CI mode learns during a run.
#[derive(Debug, Default)]
pub struct Tracker {
    /// `None` until the main child exits, or when /proc cannot list them.
    leftovers: Option<Vec<(Leftover, Option<End>)>>,
    teardown_from: Option<Instant>,
    killed: bool,
    pub orphans: Names,
}

impl Tracker {
    /// The main child exited at `now`; these were still running.
    pub fn on_main_exit(&mut self, leftovers: Option<Vec<Leftover>>, now: Instant) {
        self.teardown_from = Some(now);
        self.leftovers = leftovers.map(|l| l.into_iter().map(|l| (l, None)).collect());
    }

    /// rinit reaped `pid` (not the main child) at `now`, named `comm`.
    pub fn on_reaped(&mut self, pid: i32, comm: Option<&str>, exit: ChildExit, now: Instant) {
        let killed = self.killed;
        let after = self
            .teardown_from
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        if let Some(entry) = self
            .leftovers
            .iter_mut()
            .flatten()
            .find(|(l, end)| l.pid == pid && end.is_none())
        {
            if let Some(comm) = comm {
                entry.0.seen(Became {
                    comm: comm.to_string(),
                    cmdline: Vec::new(),
                });
            }
            entry.1 = Some(if killed && exit == ChildExit::Signaled(SIGKILL) {
                End::Killed
            } else {
                End::Exited { after, exit }
            });
            return;
        }
        self.orphans.add(comm.unwrap_or("?"));
    }

    /// The grace is over; `alive` says whether a leftover not reaped yet is
    /// still there (its parent may have reaped it).
    pub fn on_kill(&mut self, alive: impl Fn(&Leftover) -> bool) {
        self.killed = true;
        for (leftover, end) in self.leftovers.iter_mut().flatten() {
            if end.is_none() && !alive(leftover) {
                *end = Some(End::Gone);
            }
        }
    }

    /// Reads each leftover again: `look` says what it runs now, `None`
    /// when it is gone (or its pid is another process's).
    pub fn look_again(&mut self, look: impl Fn(&Leftover) -> Option<Became>) {
        for (leftover, _) in self.leftovers.iter_mut().flatten() {
            if let Some(now) = look(leftover) {
                leftover.seen(now);
            }
        }
    }

    /// These pids survived SIGKILL.
    pub fn on_stuck(&mut self, pids: &[i32]) {
        for (leftover, end) in self.leftovers.iter_mut().flatten() {
            if end.is_none() && pids.contains(&leftover.pid) {
                *end = Some(End::Stuck);
            }
        }
    }

    /// At exit: each leftover with how it ended. One not reaped by rinit
    /// ended by SIGKILL when one was sent, else before it.
    pub fn finish(&mut self) -> Option<Vec<(Leftover, End)>> {
        let killed = self.killed;
        let leftovers = self.leftovers.take()?;
        Some(
            leftovers
                .into_iter()
                .map(|(l, end)| {
                    let end = end.unwrap_or(if killed { End::Killed } else { End::Gone });
                    (l, end)
                })
                .collect(),
        )
    }

    /// How many were running at the main child's exit.
    pub fn left_behind(&self) -> usize {
        self.leftovers.as_ref().map_or(0, Vec::len)
    }
}

/// The line that says how a leftover ended.
pub fn ending(leftover: &Leftover, end: End, grace: Duration) -> String {
    let how = match end {
        End::Exited { after, exit } => {
            format!("ended on SIGTERM after {} ms: {exit}", millis(after))
        }
        End::Gone => "ended on SIGTERM (reaped by its own parent: status unknown)".to_string(),
        End::Killed => format!(
            "ignored SIGTERM for the grace ({} ms): killed by SIGKILL",
            millis(grace)
        ),
        End::Stuck => "survived SIGKILL: stuck (see the stuck-exit report)".to_string(),
    };
    format!("leak: pid {} ({}) {how}", leftover.pid, leftover.named())
}

/// The summary line at exit.
pub fn summary(main: Option<ChildExit>, orphans: &Names, left_behind: Option<usize>) -> String {
    // Written into one buffer: a String per part was larger code.
    let mut line = String::from("leak summary: ");
    match main {
        Some(exit) => _ = write!(line, "main child {exit}; "),
        None => line.push_str("main child did not exit; "),
    }
    if orphans.total == 0 {
        line.push_str("no orphan reaped during the run");
    } else {
        _ = write!(line, "{} orphan(s) reaped during the run (", orphans.total);
        let ranked = orphans.ranked();
        for (i, (name, count)) in ranked.iter().take(NAMES_IN_SUMMARY).enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            _ = write!(line, "{comma}{} x{count}", escape(name));
        }
        line.push(')');
    }
    match left_behind {
        Some(n) => _ = write!(line, "; {n} process(es) left behind"),
        None => line.push_str(
            "; processes left behind cannot be listed (/proc does not show rinit's PID namespace)",
        ),
    }
    line
}

/// `d` in whole milliseconds, as u64 (enough for 584 million years): u128
/// formatting and division would be in the binary for these lines alone.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// 850 ms, 12.3 s, 5 min 2 s, 3 h 10 min.
fn human(d: Duration) -> String {
    let ms = millis(d);
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{}.{} s", s, (ms % 1000) / 100)
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// How long a process has run: from its start (in clock ticks since boot,
/// /proc/PID/stat field 22) to `boot_now` (CLOCK_BOOTTIME, the same clock).
pub fn ran_for(start_ticks: u64, ticks_per_second: u64, boot_now: Duration) -> Option<Duration> {
    if ticks_per_second == 0 {
        return None;
    }
    let started = Duration::from_secs(start_ticks / ticks_per_second)
        + Duration::from_nanos((start_ticks % ticks_per_second) * 1_000_000_000 / ticks_per_second);
    boot_now.checked_sub(started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::SIGTERM;

    fn leftover(pid: i32, parent: Parent) -> Leftover {
        Leftover {
            pid,
            comm: "sleep".into(),
            cmdline: vec!["sleep".into(), "1000".into()],
            ran_for: Some(Duration::from_millis(1234)),
            pgrp: 7,
            session: 1,
            parent,
            start_ticks: 100,
            became: None,
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!(Mode::parse("off"), Some(Mode::Off));
        assert_eq!(Mode::parse("WARN"), Some(Mode::Warn));
        assert_eq!(Mode::parse("fail"), Some(Mode::Fail));
        assert_eq!(Mode::parse("yes"), None);
        assert_eq!(Mode::parse(""), None);
    }

    #[test]
    fn only_fail_replaces_only_a_success_and_only_with_leftovers() {
        let fail = LeakPolicy {
            mode: Mode::Fail,
            exit_code: 99,
        };
        assert_eq!(fail.exit_code(0, 1), 99);
        assert_eq!(fail.exit_code(0, 0), 0);
        assert_eq!(fail.exit_code(3, 2), 3);
        assert_eq!(fail.exit_code(143, 2), 143);
        let warn = LeakPolicy {
            mode: Mode::Warn,
            ..fail
        };
        assert_eq!(warn.exit_code(0, 5), 0);
        assert_eq!(LeakPolicy::default().exit_code(0, 5), 0);
    }

    #[test]
    fn a_warning_names_the_process_and_its_parent() {
        assert_eq!(
            leftover(42, Parent::Rinit).warning(),
            "leak: pid 42 still running after the main child exited: sleep 1000 (running for 1.2 s, process group 7, session 1, re-parented to rinit)"
        );
        let own = Parent::Own {
            pid: 40,
            comm: Some("python3".into()),
        };
        let mut l = leftover(41, own);
        l.cmdline = vec!["evil\nrinit: INFO forged".into()];
        l.ran_for = None;
        assert_eq!(
            l.warning(),
            "leak: pid 41 still running after the main child exited: evil\\nrinit: INFO forged (running for an unknown time, process group 7, session 1, still a child of pid 40 (python3))"
        );
    }

    #[test]
    fn the_parent_is_rinit_when_the_ppid_is_rinits() {
        assert_eq!(Leftover::parent_of(1, 1, None), Parent::Rinit);
        assert_eq!(
            Leftover::parent_of(9, 1, Some("sh".into())),
            Parent::Own {
                pid: 9,
                comm: Some("sh".into())
            }
        );
    }

    #[test]
    fn each_leftover_ends_one_way() {
        let t0 = Instant::now();
        let mut tracker = Tracker::default();
        tracker.on_reaped(5, Some("make"), ChildExit::Exited(0), t0);
        tracker.on_main_exit(
            Some(vec![
                leftover(10, Parent::Rinit),
                leftover(11, Parent::Rinit),
                leftover(12, Parent::Rinit),
                leftover(13, Parent::Rinit),
                leftover(14, Parent::Rinit),
            ]),
            t0,
        );
        let after = Duration::from_millis(30);
        tracker.on_reaped(10, Some("sleep"), ChildExit::Signaled(SIGTERM), t0 + after);
        tracker.on_kill(|l| l.pid != 11);
        tracker.on_reaped(12, Some("sleep"), ChildExit::Signaled(SIGKILL), t0);
        tracker.on_stuck(&[13]);
        // Not a leftover: an orphan, counted by name.
        tracker.on_reaped(20, None, ChildExit::Exited(0), t0);
        assert_eq!(tracker.left_behind(), 5);
        let ends: Vec<(i32, End)> = tracker
            .finish()
            .unwrap()
            .into_iter()
            .map(|(l, e)| (l.pid, e))
            .collect();
        assert_eq!(
            ends,
            [
                (
                    10,
                    End::Exited {
                        after,
                        exit: ChildExit::Signaled(SIGTERM)
                    }
                ),
                (11, End::Gone),
                (12, End::Killed),
                (13, End::Stuck),
                (14, End::Killed),
            ]
        );
        assert_eq!(
            tracker.orphans.ranked(),
            [("?".to_string(), 1), ("make".to_string(), 1)]
        );
    }

    #[test]
    fn ending_lines() {
        let l = leftover(10, Parent::Rinit);
        let grace = Duration::from_secs(5);
        let exited = End::Exited {
            after: Duration::from_millis(3),
            exit: ChildExit::Signaled(SIGTERM),
        };
        assert_eq!(
            ending(&l, exited, grace),
            "leak: pid 10 (sleep) ended on SIGTERM after 3 ms: was killed by SIGTERM"
        );
        assert_eq!(
            ending(&l, End::Killed, grace),
            "leak: pid 10 (sleep) ignored SIGTERM for the grace (5000 ms): killed by SIGKILL"
        );
        assert!(ending(&l, End::Gone, grace).contains("status unknown"));
        assert!(ending(&l, End::Stuck, grace).contains("stuck"));
    }

    fn became(comm: &str, cmdline: &[&str]) -> Became {
        Became {
            comm: comm.into(),
            cmdline: cmdline.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A background job still a forked shell at the main child's exit,
    /// `sleep 300` by the time its end is told: both are said.
    #[test]
    fn a_leftover_that_exec_d_since_is_named_both_ways() {
        let mut l = leftover(10, Parent::Rinit);
        l.comm = "sh".into();
        l.cmdline = vec!["sh".into(), "leak.sh".into(), "0".into()];
        assert_eq!(l.named(), "sh");
        l.seen(became("sh", &["sh", "leak.sh", "0"]));
        assert_eq!(l.became, None);
        l.seen(became("sleep", &["sleep", "300"]));
        assert_eq!(l.named(), "sh leak.sh 0, now sleep 300");
        // Its zombie tells only its name: the same name keeps the command.
        l.seen(became("sleep", &[]));
        assert_eq!(l.named(), "sh leak.sh 0, now sleep 300");
        assert_eq!(
            ending(&l, End::Killed, Duration::from_secs(1)),
            "leak: pid 10 (sh leak.sh 0, now sleep 300) ignored SIGTERM for the grace (1000 ms): killed by SIGKILL"
        );
    }

    #[test]
    fn a_zombie_of_another_name_is_named_by_its_name() {
        let mut tracker = Tracker::default();
        let mut l = leftover(10, Parent::Rinit);
        l.comm = "sh".into();
        l.cmdline = vec!["sh".into(), "-c".into(), "x".into()];
        tracker.on_main_exit(Some(vec![l]), Instant::now());
        // Gone, or its pid another process's now: nothing read.
        tracker.look_again(|_| None);
        tracker.on_reaped(10, Some("sleep"), ChildExit::Exited(0), Instant::now());
        let (l, _) = tracker.finish().unwrap().pop().unwrap();
        assert_eq!(l.named(), "sh -c x, now [sleep]");
    }

    #[test]
    fn names_are_ranked_and_bounded() {
        let mut names = Names::default();
        for _ in 0..3 {
            names.add("b");
        }
        names.add("a");
        names.add("c");
        assert_eq!(
            names.ranked(),
            [
                ("b".to_string(), 3),
                ("a".to_string(), 1),
                ("c".to_string(), 1)
            ]
        );
        let mut many = Names::default();
        for i in 0..MAX_NAMES + 10 {
            many.add(&format!("n{i}"));
        }
        assert_eq!(many.total, MAX_NAMES as u64 + 10);
        assert_eq!(many.ranked().last(), Some(&("(other)".to_string(), 10)));
    }

    #[test]
    fn the_summary_line() {
        let mut names = Names::default();
        for _ in 0..100 {
            names.add("python3");
        }
        names.add("sh");
        assert_eq!(
            summary(Some(ChildExit::Exited(0)), &names, Some(2)),
            "leak summary: main child exited with code 0; 101 orphan(s) reaped during the run (python3 x100, sh x1); 2 process(es) left behind"
        );
        assert_eq!(
            summary(Some(ChildExit::Exited(1)), &Names::default(), None),
            "leak summary: main child exited with code 1; no orphan reaped during the run; processes left behind cannot be listed (/proc does not show rinit's PID namespace)"
        );
    }

    #[test]
    fn run_time_from_ticks() {
        let boot_now = Duration::from_secs(100);
        assert_eq!(
            ran_for(9_050, 100, boot_now),
            Some(Duration::from_millis(9_500))
        );
        assert_eq!(ran_for(20_000, 100, boot_now), None);
        assert_eq!(ran_for(1, 0, boot_now), None);
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(human(Duration::from_millis(850)), "850 ms");
        assert_eq!(human(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(human(Duration::from_secs(302)), "5 min 2 s");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 600)), "3 h 10 min");
    }
}
