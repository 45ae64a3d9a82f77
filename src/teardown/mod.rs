//! The teardown: who is left once the main child has exited, signalling
//! them, and what the end tells of them (the grace warning, --leaks, the
//! stuck-exit report, the exit report). `census` decides who is still there
//! (pure, one answer for all of them), `signal` reaches them; `Sight` reads
//! what the census needs and strings the rest together.

pub mod census;
pub mod oom;
pub mod signal;

use crate::cgroup::ChildCgroup;
use crate::escape::Joined;
use crate::exit_report;
use crate::leaks::{self, Became, LeakPolicy, Leftover, Mode, Tracker};
use crate::os::procfs::{self, Proc, ProcStat, View};
use crate::os::sys::{self, Reap};
use crate::signals::{self, Signo};
use crate::stuck::{self, StuckSection};
use crate::supervisor::{Scope, Supervisor};
use census::{Census, Present};
use log::{debug, error, info, warn};
use std::time::{Duration, Instant};

/// rinit's pid in its own namespace: 1 as PID 1.
fn own_pid(scope: Scope) -> i32 {
    match scope {
        Scope::Namespace => 1,
        Scope::Descendants { own_pid } => own_pid,
    }
}

/// How `proc` relates to rinit's namespace, decided once, at start-up.
pub fn view(proc: &Proc, scope: Scope) -> View {
    let own_pid = own_pid(scope);
    let view = proc.view(own_pid);
    warn_about_view(view, scope, own_pid);
    view
}

/// The view again when the main child has exited, if it was not rinit's
/// own at start-up: as the PID 1 of a whole machine (an initramfs's init),
/// rinit starts before anything mounts /proc, and the teardown and the
/// stuck report need the /proc of the end, not of the start.
pub fn view_at_exit(proc: &Proc, scope: Scope, view: View) -> View {
    if view == View::Own {
        return view;
    }
    let own_pid = own_pid(scope);
    let now = proc.view(own_pid);
    if now == View::Own {
        info!("/proc now shows rinit's PID namespace: the teardown uses it");
    }
    now
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
            "/proc does not show rinit's PID namespace, or is not mounted (yet): unless it does when the main child exits, a stuck-exit report cannot list the processes that survive"
        ),
    }
}

/// How many processes one warning names: each name is at most about 300
/// bytes (a command line is cut at 256 characters), so the line stays well
/// under the 16 KiB where log collectors split lines.
const NAMED_AT_MOST: usize = 20;

/// What the end tells, and how: --leaks, --report, --fuse-abort.
pub struct Reports {
    pub leaks: LeakPolicy,
    pub report: Option<exit_report::Target>,
    pub fuse_abort: bool,
    /// The stuck-exit report's section, once made.
    pub stuck: Option<StuckSection>,
    /// --ready, for the exit report.
    pub ready: Option<exit_report::Readiness>,
    /// Whom the teardown's SIGTERM was sent to.
    pub termed: Termed,
}

/// Whom the teardown's SIGTERM was sent to: only those can be said to
/// have ignored it.
#[derive(Debug, Default)]
pub struct Termed {
    /// Every process (PID 1's kill(-1)).
    everyone: bool,
    /// The main child's process group, as a whole.
    main_group: bool,
    /// Sorted.
    pids: Vec<i32>,
}

/// How many times the subreaper teardown looks again for processes that
/// appeared while it signalled (a fork-and-exit "hopper"'s next
/// generation), each look one /proc scan.
const MAX_PASSES: usize = 8;

/// What the teardown reads, borrowed from the loop for one step.
pub struct Sight<'a> {
    pub scope: Scope,
    /// Whether `proc` shows rinit's own PID namespace; decided once.
    pub view: View,
    pub proc: &'a Proc,
    pub cgroup: Option<&'a ChildCgroup>,
    pub main_pid: i32,
}

impl Reports {
    pub fn new(
        leaks: LeakPolicy,
        report: Option<exit_report::Target>,
        fuse_abort: bool,
    ) -> Reports {
        Reports {
            leaks,
            report,
            fuse_abort,
            stuck: None,
            ready: None,
            termed: Termed::default(),
        }
    }
}

impl Sight<'_> {
    /// One step of draining the exited children, for --leaks and the exit
    /// report: each is peeked at first (left a zombie) so that its name can
    /// be read from /proc before the reaping frees it. (Without them, the
    /// loop reaps with `sys::reap` and takes no name.)
    pub fn reap_named(&self) -> (std::io::Result<Reap>, Option<String>) {
        // Never a waitpid(-1) here: a child exiting between the peek and
        // it would be reaped unnamed, an orphan counted as `?`.
        match sys::peek_exited() {
            Ok(sys::Peek::Exited(pid)) => {
                // Another namespace's /proc would name a stranger.
                let comm = (self.view == View::Own && pid != self.main_pid)
                    .then(|| self.proc.stat(pid).map(|s| s.comm))
                    .flatten();
                (sys::reap(sys::Child::Pid(pid)), comm)
            }
            Ok(sys::Peek::NoneExited) => (Ok(Reap::NoneReady), None),
            Ok(sys::Peek::NoChildren) => (Ok(Reap::NoChildren), None),
            Err(e) => (Err(e), None),
        }
    }

    /// Who is still there. A subreaper without children has no descendant:
    /// the walk through /proc, most of a short run's cost on a busy host,
    /// is spared.
    pub fn census(&self) -> Census {
        self.grouped_census().0
    }

    /// The census, with the process group of each pid /proc showed,
    /// sorted by pid.
    fn grouped_census(&self) -> (Census, Vec<(i32, i32)>) {
        let spared = match self.scope {
            Scope::Namespace => self.view != View::Own,
            Scope::Descendants { .. } => self.view == View::Foreign || !sys::has_children(),
        };
        let (table, groups) = if spared {
            (Vec::new(), Vec::new())
        } else {
            self.proc.table_with_groups()
        };
        (self.census_of(&table), groups)
    }

    fn census_of(&self, table: &[ProcStat]) -> Census {
        census::census(
            self.scope,
            self.view,
            table,
            || self.cgroup.map(ChildCgroup::members).unwrap_or_default(),
            |here| {
                let status = self.proc.status(here).unwrap_or_default();
                procfs::nspid(&status)
            },
        )
    }

    /// The main child exited: SIGTERM to whatever is left, and SIGCONT, as
    /// a stopped process cannot act on SIGTERM until continued.
    pub fn term_rest(&self, reports: &mut Reports) {
        let (reached, termed) = self.reach_rest(&[signals::SIGTERM, signals::SIGCONT]);
        reports.termed = termed;
        if reached {
            info!("sent SIGTERM to every remaining process");
        }
    }

    /// Sends `sigs`, in order, to every remaining process, once each;
    /// returns whether anything was there to signal.
    pub fn signal_rest(&self, sigs: &[Signo]) -> bool {
        self.reach_rest(sigs).0
    }

    /// As PID 1 with kill(-1), which reaches the cgroup's members too; as
    /// a subreaper to the census, to the main child's process group when
    /// a descendant is in it (a signal to a group reaches a child forked
    /// meanwhile too, which no pid can) or /proc cannot show the
    /// descendants, and to whatever appeared since, a pass at a time.
    fn reach_rest(&self, sigs: &[Signo]) -> (bool, Termed) {
        if self.scope == Scope::Namespace {
            let reached = signal::broadcast(-1, sigs, "all processes");
            let everyone = Termed {
                everyone: true,
                ..Termed::default()
            };
            return (reached, everyone);
        }
        let mut termed = Termed::default();
        let mut reached = false;
        // After the first pass, a catchable signal reaches only orphans: a
        // child forked by a process that got it is that process's business
        // (a daemon's clean-up); a hopper's next generation is an orphan.
        let catchable = !sigs.contains(&signals::SIGKILL);
        for pass in 0..MAX_PASSES {
            let (census, groups) = self.grouped_census();
            let in_main_group = |p: &Present| group_of(&groups, p.pid) == Some(self.main_pid);
            let mut fresh: Vec<Present> = census
                .present()
                .iter()
                .filter(|p| termed.pids.binary_search(&p.pid).is_err())
                .copied()
                .collect();
            if pass > 0 && catchable {
                // The main group had it, members forked meanwhile included.
                fresh.retain(|p| self.is_orphan(p) && !(termed.main_group && in_main_group(p)));
            }
            let live = fresh.iter().any(|p| !p.zombie);
            debug!("pass {pass}: {} new, live: {live}", fresh.len());
            if pass > 0 && !live {
                break;
            }
            // Its members through the group, once for a catchable signal
            // (a second SIGTERM may mean "quit now"), and not one by one: a
            // signal to a group reaches a child forked meanwhile too, which
            // no pid can (a fork-and-exit "hopper").
            if (!termed.main_group || !catchable) && self.main_group_among(&fresh, &groups) {
                termed.main_group = true;
                let group = format!("process group {}", self.main_pid);
                debug!("pass {pass}: sending {} to {group}", Joined(sigs, ","));
                reached |= signal::broadcast(-self.main_pid, sigs, &group);
                if self.view == View::Own {
                    fresh.retain(|p| !in_main_group(p));
                }
            }
            let tree = census_tree(&census);
            let still_ours = |batch: &[Present]| self.still_ours(batch, &tree);
            reached |= signal::each(&fresh, sigs, still_ours, &mut termed.pids);
            termed.pids.sort_unstable();
            termed.pids.dedup();
            if !live {
                break;
            }
        }
        (reached, termed)
    }

    /// rinit's pid as /proc shows it, the parent its adopted orphans have
    /// there.
    fn rinit_here(&self) -> i32 {
        match self.view {
            View::Outer { self_pid, .. } => self_pid,
            _ => own_pid(self.scope),
        }
    }

    /// rinit as /proc shows it, the root of the re-check's tree.
    fn root_here(&self) -> Option<i32> {
        match (self.scope, self.view) {
            (_, View::Foreign) | (Scope::Namespace, _) => None,
            (_, View::Outer { self_pid, .. }) => Some(self_pid),
            (Scope::Descendants { own_pid }, View::Own) => Some(own_pid),
        }
    }

    /// A process rinit adopted (or never knew the parent of).
    fn is_orphan(&self, p: &Present) -> bool {
        match (p.here, self.root_here()) {
            (Some(here), Some(root)) => self.proc.stat(here).is_none_or(|s| s.ppid == root),
            _ => true,
        }
    }

    /// Whether one of `present` is in the main child's process group: the
    /// group is then rinit's to signal, its number held by that member.
    /// /proc tells it only when it shows rinit's namespace; through no
    /// /proc the group is signalled anyway, as the only way left.
    fn main_group_among(&self, present: &[Present], groups: &[(i32, i32)]) -> bool {
        match self.view {
            View::Own => present
                .iter()
                .any(|p| !p.zombie && group_of(groups, p.pid) == Some(self.main_pid)),
            View::Outer { .. } => false,
            View::Foreign => true,
        }
    }

    /// The re-check after a batch was pinned: whether each is still
    /// rinit's, by its parent in /proc, else by the cgroup's members
    /// (read at most once a batch).
    fn still_ours(&self, batch: &[Present], tree: &[i32]) -> Vec<bool> {
        let mut members: Option<Vec<i32>> = None;
        batch
            .iter()
            .map(|p| {
                let descends = match (p.here, self.root_here()) {
                    (Some(here), Some(root)) => {
                        census::still_descends(self.proc.stat(here).as_ref(), tree, root)
                    }
                    _ => false,
                };
                descends || {
                    let members = members.get_or_insert_with(|| {
                        let mut m = self.cgroup.map(ChildCgroup::members).unwrap_or_default();
                        m.sort_unstable();
                        m
                    });
                    members.binary_search(&p.pid).is_ok()
                }
            })
            .collect()
    }

    /// The main child exited: with --leaks or --report, what it left
    /// running, read before the teardown's SIGTERM.
    pub fn track_leftovers(&self, tracker: &mut Tracker, mode: Mode, now: Instant) {
        let leftovers = self.leftovers();
        if mode != Mode::Off {
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
        tracker.on_main_exit(leftovers, now);
    }

    /// The processes still running, as /proc shows them; `None` when /proc
    /// cannot show them.
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
        let pids = self.census_of(&table).listed_alive()?;
        let rinit_here = self.rinit_here();
        let boot_now = sys::boot_time().ok();
        let ticks = sys::clock_ticks_per_second();
        // Sorted, for binary search: a scan per pid was quadratic.
        let mut index: Vec<&ProcStat> = table.iter().collect();
        index.sort_unstable_by_key(|p| p.pid);
        let entry = |pid: i32| {
            let at = index.binary_search_by_key(&pid, |p| p.pid).ok()?;
            Some(index[at])
        };
        let comm_of = |pid: i32| entry(pid).map(|p| p.comm.clone());
        let mut leftovers = Vec::new();
        for pid in pids {
            let Some(stat) = entry(pid) else { continue };
            let Some(details) = self.proc.stat_details(pid) else {
                continue;
            };
            leftovers.push(Leftover {
                pid,
                comm: stat.comm.clone(),
                cmdline: self.proc.cmdline(pid),
                ran_for: boot_now.and_then(|now| leaks::ran_for(details.start_ticks, ticks, now)),
                pgrp: details.pgrp,
                session: details.session,
                parent: Leftover::parent_of(stat.ppid, rinit_here, comm_of(stat.ppid)),
                start_ticks: details.start_ticks,
                became: None,
            });
        }
        Some(leftovers)
    }

    /// What a leftover runs now; `None` when it is gone, a zombie, or its
    /// pid another process's (another start time).
    fn look_again(&self, leftover: &Leftover) -> Option<Became> {
        let details = self.proc.stat_details(leftover.pid)?;
        let stat = self.proc.stat(leftover.pid)?;
        if details.start_ticks != leftover.start_ticks || stat.state == 'Z' {
            return None;
        }
        Some(Became {
            comm: stat.comm,
            cmdline: self.proc.cmdline(leftover.pid),
        })
    }

    /// The grace is over, SIGKILL comes next: the leftovers read again and
    /// told apart (gone or still there), and one warning naming what
    /// ignored SIGTERM, so that a slow stop is no mystery; what was never
    /// sent it (it appeared since) is told apart.
    pub fn on_grace_over(&self, tracker: Option<&mut Tracker>, termed: &Termed, grace: Duration) {
        if let Some(tracker) = tracker {
            tracker.look_again(|l| self.look_again(l));
            let proc = self.proc;
            tracker.on_kill(|l| proc.stat(l.pid).is_some_and(|s| s.state != 'Z'));
        }
        // Durations come from u64 milliseconds (cli::parse_duration), so
        // this is exact, and spares the binary u128 formatting.
        let grace = grace.as_millis() as u64;
        let census = self.census();
        if census == Census::Unknown {
            warn!(
                "--grace ({grace} ms) is over: sending SIGKILL to whatever ignored SIGTERM (/proc does not show rinit's PID namespace: cannot name it)"
            );
            return;
        }
        let survivors: Vec<&Present> = census.present().iter().filter(|p| !p.zombie).collect();
        let unnamed = matches!(census, Census::MembersOnly(_)) && sys::has_children();
        let (ignored, unsent): (Vec<&Present>, Vec<&Present>) = survivors
            .into_iter()
            .partition(|p| self.was_termed(p, termed));
        let last = ignored.is_empty() && !unnamed;
        if !unsent.is_empty() {
            warn!(
                "{} process(es) appeared after the SIGTERM and were not sent it, still running after {grace} ms (--grace): {}{}",
                unsent.len(),
                self.names(&unsent).join(", "),
                if last { "; sending SIGKILL" } else { "" }
            );
        }
        if last {
            return;
        }
        let mut named = self.names(&ignored);
        let count = if unnamed {
            named.push("children of rinit that /proc cannot name".to_string());
            "processes".to_string()
        } else {
            format!("{} process(es)", ignored.len())
        };
        warn!(
            "{count} ignored SIGTERM for {grace} ms (--grace): {}; sending SIGKILL",
            named.join(", ")
        );
    }

    /// Whether the teardown's SIGTERM was sent to `p`.
    fn was_termed(&self, p: &Present, termed: &Termed) -> bool {
        termed.everyone
            || termed.pids.binary_search(&p.pid).is_ok()
            || (termed.main_group
                && p.here
                    .and_then(|here| self.proc.stat_details(here))
                    .is_some_and(|d| d.pgrp == self.main_pid))
    }

    /// "pid 12 (daemon --flag)" for each; the pid alone when /proc cannot
    /// show it. At most [`NAMED_AT_MOST`], then how many more: each name is
    /// bounded, and so must the line be (Docker's json-file and CRI split
    /// lines at 16 KiB).
    fn names(&self, present: &[&Present]) -> Vec<String> {
        let mut names = Vec::new();
        for p in present.iter().take(NAMED_AT_MOST) {
            names.push(match p.here {
                Some(here) => {
                    let comm = self.proc.stat(here).map(|s| s.comm).unwrap_or_default();
                    format!(
                        "pid {} ({})",
                        p.pid,
                        procfs::display_command(&self.proc.cmdline(here), &comm)
                    )
                }
                None => format!("pid {}", p.pid),
            });
        }
        if present.len() > NAMED_AT_MOST {
            names.push(format!("and {} more", present.len() - NAMED_AT_MOST));
        }
        names
    }

    /// The stuck-exit report, after the final SIGKILL; returns whether
    /// aborted FUSE connections released tasks worth waiting for.
    pub fn report_stuck(
        &self,
        tracker: Option<&mut Tracker>,
        reports: &mut Reports,
        timeout: Duration,
    ) -> bool {
        let table = self.proc.table();
        // The report reads /proc, so it takes the pids /proc shows. A
        // zombie of rinit's own waits only for rinit's reaping, unless it
        // is a leader whose threads live on (task/ holds more than itself):
        // those are what is stuck. Another's zombie waits for its parent,
        // which may be the stuck one.
        let rinit_here = self.rinit_here();
        let survivors = self.census_of(&table).listed_stuck(|pid| {
            let ours = table.iter().any(|p| p.pid == pid && p.ppid == rinit_here);
            !ours
                || self
                    .proc
                    .thread_ids(pid)
                    .is_some_and(|tids| tids.iter().any(|&tid| tid != pid))
        });
        if let Some(tracker) = tracker {
            tracker.look_again(|l| self.look_again(l));
            if let Some(pids) = &survivors {
                tracker.on_stuck(pids);
            }
        }
        let reported = stuck::report(survivors.as_deref(), &table, timeout, reports.fuse_abort);
        reports.stuck = Some(reported.section);
        reported.released
    }

    /// At exit: how each leftover ended, named by what it is by then, the
    /// summary, the leak code, and the exit report. Returns rinit's exit
    /// code.
    pub fn finish(
        &self,
        tracker: Option<Tracker>,
        reports: &mut Reports,
        supervisor: &Supervisor,
        oom_kills: u64,
        code: u8,
    ) -> u8 {
        let Some(mut tracker) = tracker else {
            return code;
        };
        tracker.look_again(|l| self.look_again(l));
        let left_behind = tracker.left_behind();
        let ends = tracker.finish();
        let main_exit = supervisor.main_exit();
        if reports.leaks.mode != Mode::Off && main_exit.is_some() {
            for (leftover, end) in ends.iter().flatten() {
                warn!("{}", leaks::ending(leftover, *end, supervisor.grace()));
            }
            let line = leaks::summary(main_exit, &tracker.orphans, ends.as_ref().map(Vec::len));
            if left_behind > 0 || ends.is_none() {
                warn!("{line}");
            } else {
                info!("{line}");
            }
        }
        let code = reports.leaks.exit_code(code, left_behind);
        if let Some(target) = &reports.report {
            let report = exit_report::render(
                target.format(),
                exit_report::Facts {
                    exit_code: code,
                    main: exit_report::main_child(self.main_pid, main_exit, |exit| {
                        supervisor.exit_code_for(exit)
                    }),
                    leaks_mode: reports.leaks.mode,
                    leftovers: ends.as_deref(),
                    orphans: &tracker.orphans,
                    oom_kills,
                    stuck: reports.stuck.take(),
                    ready: reports.ready.take(),
                },
            );
            if let Err(why) = target.write(&report, supervisor.stuck_timeout()) {
                error!("exit report not written: {why}");
            }
        }
        code
    }
}

/// The process group of `pid` in `groups` (pid, pgrp), sorted by pid.
fn group_of(groups: &[(i32, i32)], pid: i32) -> Option<i32> {
    let at = groups.binary_search_by_key(&pid, |&(pid, _)| pid).ok()?;
    Some(groups[at].1)
}

/// The pids /proc shows of the census, sorted: the tree a re-check looks
/// parents up in.
fn census_tree(census: &Census) -> Vec<i32> {
    let mut tree: Vec<i32> = census.present().iter().filter_map(|p| p.here).collect();
    tree.sort_unstable();
    tree
}
