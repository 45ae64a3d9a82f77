//! Syscalls an init makes per forwarded signal and per reaped orphan: a
//! figure that, unlike the microseconds, does not depend on how busy the
//! machine is.
//!
//! `strace -c` is attached to the init (PID 1 of its namespace, already
//! running its child) rather than running it: the init keeps its real parent
//! and its PID 1 role, its children are not traced (so their timing does not
//! change), and its start-up is not counted. Events are sent one at a time,
//! the next only once the init is back asleep, so none of them coalesce and
//! every init does a whole wake-up per event. The counts for `n` and `2n`
//! events differ by exactly `n` events: attaching, detaching and the first
//! wake-up cancel out.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::Init;
use crate::events::{self, Measured};

/// Calls per syscall name over one traced window.
pub type Counts = BTreeMap<String, u64>;

/// One window's counts, and whether the init slept between every two events
/// (if not, it polls, and its count grows with time rather than with events).
pub struct Window {
    counts: Counts,
    slept: bool,
}

/// Syscalls per event, by name.
#[derive(Debug, PartialEq)]
pub struct PerEvent {
    pub calls: Vec<(String, f64)>,
    /// The same number of events gave the same counts in two runs, and the
    /// init slept between events: the figure is a property of the init.
    pub per_event: bool,
}

impl PerEvent {
    pub fn total(&self) -> f64 {
        self.calls.iter().map(|(_, c)| c).sum()
    }

    /// `read+kill+2×wait4`, in the order an event loop makes them.
    pub fn breakdown(&self) -> String {
        let parts: Vec<String> = self
            .calls
            .iter()
            .map(|(name, count)| {
                if (count - 1.0).abs() < 0.005 {
                    name.clone()
                } else if (count - count.round()).abs() < 0.005 {
                    format!("{}×{name}", count.round())
                } else {
                    format!("{count:.2}×{name}")
                }
            })
            .collect();
        let joined = parts.join("+");
        if self.per_event {
            joined
        } else {
            format!("grows with time, not events: {joined}")
        }
    }

    /// `3: read+kill+wait4`, for the table.
    pub fn cell(&self) -> String {
        format!("{}: {}", fmt_count(self.total()), self.breakdown())
    }
}

fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 0.005 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

/// The rows of `strace -c -U name,calls` (header, rules and the total left out).
pub fn parse_summary(text: &str) -> Result<Counts, String> {
    let mut counts = Counts::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(calls)) = (fields.next(), fields.next()) else {
            continue;
        };
        if name == "syscall" || name == "total" || name.starts_with('-') {
            continue;
        }
        let calls = calls
            .parse()
            .map_err(|_| format!("unexpected strace -c line {line:?}"))?;
        counts.insert(name.to_string(), calls);
    }
    Ok(counts)
}

/// Where an event loop makes each syscall: the wait first, the reap last.
fn loop_order(name: &str) -> (u8, &str) {
    let rank = match name {
        "poll" | "ppoll" | "epoll_wait" | "epoll_pwait" | "select" | "pselect6"
        | "rt_sigtimedwait" | "rt_sigsuspend" | "pause" | "restart_syscall" => 0,
        "read" => 1,
        "kill" | "tgkill" | "rt_sigqueueinfo" => 3,
        "wait4" | "waitid" => 4,
        _ => 2,
    };
    (rank, name)
}

/// Per-event calls from two runs of `n` events and two of `2n`: the
/// difference of the smaller counts, over `n`. A periodic timer (tini wakes
/// every second) adds a wake-up now and then; the smaller of two runs mostly
/// leaves it out, and one such wake-up is 1/n per event.
pub fn per_event(small: [&Window; 2], large: [&Window; 2], n: u64) -> PerEvent {
    let min_of = |runs: [&Window; 2], name: &str| {
        runs.iter()
            .map(|w| w.counts.get(name).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    };
    let mut names: Vec<&String> = small
        .iter()
        .chain(large.iter())
        .flat_map(|w| w.counts.keys())
        .collect();
    names.sort_by_key(|n| loop_order(n));
    names.dedup();
    let calls: Vec<(String, f64)> = names
        .into_iter()
        .map(|name| {
            let diff = min_of(large, name) as f64 - min_of(small, name) as f64;
            (name.clone(), diff / n as f64)
        })
        .filter(|(_, c)| c.abs() >= 0.005)
        .collect();
    let total = |w: &Window| w.counts.values().sum::<u64>();
    let same = |runs: [&Window; 2]| total(runs[0]).abs_diff(total(runs[1])) <= n / 100;
    let slept = small.iter().chain(large.iter()).all(|w| w.slept);
    PerEvent {
        calls,
        per_event: slept && same(small) && same(large),
    }
}

/// `strace -c` attached to `pid`, counting until [`Tracer::finish`].
struct Tracer {
    strace: std::process::Child,
    out: std::path::PathBuf,
}

impl Tracer {
    fn attach(pid: i32) -> Tracer {
        let out =
            std::env::temp_dir().join(format!("rinit-bench-strace-{}-{pid}", std::process::id()));
        let mut strace = Command::new("strace")
            .args(["-c", "-U", "name,calls", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run strace");
        let mut err = BufReader::new(strace.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("attached"), "strace -p {pid}: {line}");
        Tracer { strace, out }
    }

    fn finish(mut self) -> Counts {
        // SAFETY: interrupting the strace we started makes it detach and
        // write its summary.
        unsafe { libc::kill(self.strace.id() as i32, libc::SIGINT) };
        let _ = self.strace.wait();
        let text = std::fs::read_to_string(&self.out)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.out.display()));
        let _ = std::fs::remove_file(&self.out);
        parse_summary(&text).unwrap()
    }
}

/// `events::signals` or `events::orphans`, with strace as the probe.
type Events = fn(&Init, &str, u64, fn(i32) -> Tracer, fn(Tracer) -> Counts) -> Measured<Counts>;

/// A window of `n` events of one kind, counted by strace.
fn window(kind: Events, init: &Init, exe: &str, n: u64) -> Window {
    let Measured { value, slept } = kind(init, exe, n, Tracer::attach, Tracer::finish);
    Window {
        counts: value,
        slept,
    }
}

/// Syscalls per forwarded signal and per reaped orphan.
pub fn measure(init: &Init, exe: &str, n: u64) -> (PerEvent, PerEvent) {
    let windows = |what: &str, kind| {
        let (s1, l1, s2, l2) = (
            window(kind, init, exe, n),
            window(kind, init, exe, 2 * n),
            window(kind, init, exe, n),
            window(kind, init, exe, 2 * n),
        );
        // The raw counts, so that a figure can be checked by hand.
        let raw = |w: &Window| format!("{:?}", w.counts);
        eprintln!("  {what}, {n}: {} and {}", raw(&s1), raw(&s2));
        eprintln!("  {what}, {}: {} and {}", 2 * n, raw(&l1), raw(&l2));
        per_event([&s1, &s2], [&l1, &l2], n)
    };
    (
        windows("signals", events::signals),
        windows("orphans", events::orphans),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = "syscall              calls\n\
                           ---------------- ---------\n\
                           wait4                 2002\n\
                           read                  1001\n\
                           kill                  1000\n\
                           ---------------- ---------\n\
                           total                 4003\n";

    fn window(pairs: &[(&str, u64)], slept: bool) -> Window {
        Window {
            counts: pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            slept,
        }
    }

    #[test]
    fn parses_the_rows_of_strace_summary() {
        let counts = parse_summary(SUMMARY).unwrap();
        assert_eq!(counts.len(), 3);
        assert_eq!(counts["wait4"], 2002);
        assert_eq!(counts["read"], 1001);
        assert!(!counts.contains_key("total"));
    }

    #[test]
    fn an_empty_summary_is_no_calls() {
        assert_eq!(
            parse_summary("syscall calls\n----- -----\ntotal 0\n").unwrap(),
            Counts::new()
        );
        assert!(parse_summary("read lots\n").is_err());
    }

    #[test]
    fn per_event_is_the_difference_over_n_in_loop_order() {
        let small = window(
            &[
                ("read", 1001),
                ("kill", 1000),
                ("wait4", 1002),
                ("rt_sigprocmask", 2),
            ],
            true,
        );
        let large = window(
            &[
                ("read", 2001),
                ("kill", 2000),
                ("wait4", 2002),
                ("rt_sigprocmask", 2),
            ],
            true,
        );
        let pe = per_event([&small, &small], [&large, &large], 1000);
        assert_eq!(
            pe.calls,
            vec![
                ("read".into(), 1.0),
                ("kill".into(), 1.0),
                ("wait4".into(), 1.0)
            ]
        );
        assert_eq!(pe.total(), 3.0);
        assert_eq!(pe.cell(), "3: read+kill+wait4");
    }

    #[test]
    fn the_smaller_run_drops_a_timer_wake_up() {
        let s1 = window(&[("rt_sigtimedwait", 1001), ("wait4", 2002)], true);
        let s2 = window(&[("rt_sigtimedwait", 1002), ("wait4", 2004)], true);
        let l1 = window(&[("rt_sigtimedwait", 2001), ("wait4", 4002)], true);
        let pe = per_event([&s1, &s2], [&l1, &l1], 1000);
        assert!(pe.per_event);
        assert_eq!(pe.breakdown(), "rt_sigtimedwait+2×wait4");
    }

    #[test]
    fn a_poller_is_not_per_event() {
        let small = window(&[("poll", 5000), ("wait4", 5000)], false);
        let large = window(&[("poll", 9000), ("wait4", 9000)], false);
        let pe = per_event([&small, &small], [&large, &large], 1000);
        assert!(!pe.per_event);
        assert_eq!(pe.cell(), "8: grows with time, not events: 4×poll+4×wait4");
    }

    #[test]
    fn runs_that_disagree_are_not_per_event() {
        let s1 = window(&[("read", 1000)], true);
        let s2 = window(&[("read", 1500)], true);
        let large = window(&[("read", 2500)], true);
        let pe = per_event([&s1, &s2], [&large, &large], 1000);
        assert!(!pe.per_event);
        assert_eq!(pe.cell(), "1.50: grows with time, not events: 1.50×read");
    }
}
