//! The exit report's short text form (--report-format text): a
//! termination message for Kubernetes (`terminationMessagePath`, which
//! `kubectl describe pod` shows and the kubelet cuts at 4096 bytes). One
//! line per fact, the lines with nothing to tell left out:
//!
//! ```text
//! exit 137 (killed by SIGKILL)
//! leftovers: 2 (sleep, sh)
//! OOM kills: 1
//! stuck: 1 task(s) survived SIGKILL: pid 7 sshfs (fuse)
//! ```
//!
//! Every name comes from /proc and is escaped, so each fact stays one
//! line; the whole is cut to fit at a line boundary (a character boundary
//! when the first line alone is too long).

use super::{Facts, MainChild};
use crate::escape::escape;
use crate::signals::Signo;
use crate::stuck::StuckSection;
use std::fmt::Write;

/// What Kubernetes keeps of a termination message.
pub const LIMIT: usize = 4096;

/// At most this many names on a line: a fork bomb's leftovers must not
/// push the OOM and stuck lines out of the message.
const MAX_NAMES: usize = 10;

pub fn to_text(facts: &Facts) -> String {
    let mut text = exit_line(facts.exit_code, &facts.main);
    if let Some(leftovers) = facts.leftovers.filter(|all| !all.is_empty()) {
        let names = leftovers.iter().map(|(l, _)| l.comm.as_str());
        let _ = writeln!(
            text,
            "leftovers: {} ({})",
            leftovers.len(),
            listed(names, leftovers.len())
        );
    }
    if facts.oom_kills > 0 {
        let _ = writeln!(text, "OOM kills: {}", facts.oom_kills);
    }
    if let Some(stuck) = &facts.stuck {
        text.push_str(&stuck_line(stuck));
    }
    fit(text, LIMIT)
}

/// The text form of a run that failed before the command started.
pub fn start_failure_text(exit_code: u8, why: &str) -> String {
    fit(
        format!("exit {exit_code} (not started: {})\n", escape(why)),
        LIMIT,
    )
}

/// `exit 137 (killed by SIGKILL)`; `exit 99 (main child's code: 0)` when
/// rinit's code is not the main child's (--leaks fail, a failed exec).
fn exit_line(code: u8, main: &MainChild) -> String {
    let mut why = Vec::new();
    if let Some(number) = main.signal {
        why.push(match Signo::new(number) {
            Some(sig) => format!("killed by {sig}"),
            None => format!("killed by signal {number}"),
        });
    }
    if let Some(command_code) = main.exit_code.filter(|&c| c != code) {
        why.push(format!("main child's code: {command_code}"));
    }
    if why.is_empty() {
        format!("exit {code}\n")
    } else {
        format!("exit {code} ({})\n", why.join("; "))
    }
}

/// `stuck: 2 task(s) survived SIGKILL: pid 7 sshfs (fuse), pid 9 sh
/// (pidns_init)`, one entry per process (its first task).
fn stuck_line(stuck: &StuckSection) -> String {
    if !stuck.listed() {
        return "stuck: tasks survived SIGKILL; /proc could not list them\n".to_string();
    }
    let tasks: Vec<_> = stuck.tasks().collect();
    let mut processes: Vec<(i32, &str, &str)> = Vec::new();
    for &(pid, comm, class) in &tasks {
        if !processes.iter().any(|&(p, _, _)| p == pid) {
            processes.push((pid, comm, class));
        }
    }
    let entries = processes
        .iter()
        .map(|(pid, comm, class)| format!("pid {pid} {} ({class})", escape(comm)));
    format!(
        "stuck: {} task(s) survived SIGKILL: {}\n",
        tasks.len(),
        listed(entries, processes.len())
    )
}

/// The first [`MAX_NAMES`] of `count` items, escaped, then how many more.
fn listed<S: AsRef<str>>(items: impl Iterator<Item = S>, count: usize) -> String {
    let mut shown: Vec<String> = items
        .take(MAX_NAMES)
        .map(|item| escape(item.as_ref()).to_string())
        .collect();
    if count > MAX_NAMES {
        shown.push(format!("+{} more", count - MAX_NAMES));
    }
    shown.join(", ")
}

/// `text` cut to at most `limit` bytes: after its last whole line that
/// fits, else (a first line longer than the limit) at the last character
/// boundary that fits.
fn fit(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(newline) = text[..end].rfind('\n') {
        end = newline + 1;
    }
    text.truncate(end);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_report::main_child;
    use crate::exit_status::ChildExit;
    use crate::leaks::{End, Leftover, Mode, Names, Parent};
    use crate::signals::SIGKILL;

    fn leftover(pid: i32, comm: &str) -> (Leftover, End) {
        (
            Leftover {
                pid,
                comm: comm.into(),
                cmdline: vec![comm.into()],
                ran_for: None,
                pgrp: pid,
                session: 1,
                parent: Parent::Rinit,
                start_ticks: 100,
                became: None,
            },
            End::Killed,
        )
    }

    fn facts<'a>(
        exit_code: u8,
        main: MainChild,
        leftovers: Option<&'a [(Leftover, End)]>,
        orphans: &'a Names,
    ) -> Facts<'a> {
        Facts {
            exit_code,
            main,
            leaks_mode: Mode::Off,
            leftovers,
            orphans,
            oom_kills: 0,
            stuck: None,
            ready: None,
        }
    }

    #[test]
    fn a_plain_exit_is_one_line() {
        let orphans = Names::default();
        let main = main_child(2, Some(ChildExit::Exited(3)), ChildExit::code);
        assert_eq!(to_text(&facts(3, main, Some(&[]), &orphans)), "exit 3\n");
        let main = main_child(2, Some(ChildExit::Exited(0)), ChildExit::code);
        assert_eq!(to_text(&facts(0, main, None, &orphans)), "exit 0\n");
    }

    #[test]
    fn a_signal_and_every_fact_one_line_each() {
        let orphans = Names::default();
        let leftovers = [leftover(5, "sleep"), leftover(6, "sh")];
        let main = main_child(2, Some(ChildExit::Signaled(SIGKILL)), ChildExit::code);
        let section = crate::stuck::report(None, &[], std::time::Duration::from_secs(1), false);
        let text = to_text(&Facts {
            oom_kills: 1,
            stuck: Some(section.section),
            ..facts(137, main, Some(&leftovers), &orphans)
        });
        assert_eq!(
            text,
            "exit 137 (killed by SIGKILL)\nleftovers: 2 (sleep, sh)\nOOM kills: 1\n\
             stuck: tasks survived SIGKILL; /proc could not list them\n"
        );
    }

    #[test]
    fn a_code_that_is_not_the_commands_says_so() {
        let orphans = Names::default();
        let leftovers = [leftover(5, "sleep")];
        let main = main_child(2, Some(ChildExit::Exited(0)), ChildExit::code);
        assert_eq!(
            to_text(&facts(99, main, Some(&leftovers), &orphans)),
            "exit 99 (main child's code: 0)\nleftovers: 1 (sleep)\n"
        );
    }

    #[test]
    fn names_are_escaped_and_bounded() {
        let orphans = Names::default();
        let mut leftovers = vec![leftover(5, "evil\nexit 0")];
        leftovers.extend((6..20).map(|pid| leftover(pid, "sleep")));
        let main = main_child(2, Some(ChildExit::Exited(1)), ChildExit::code);
        let text = to_text(&facts(1, main, Some(&leftovers), &orphans));
        assert_eq!(
            text,
            "exit 1\nleftovers: 15 (evil\\nexit 0, sleep, sleep, sleep, sleep, sleep, sleep, \
             sleep, sleep, sleep, +5 more)\n"
        );
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_start_failure() {
        assert_eq!(
            start_failure_text(1, "cgroup app is required, but\nno"),
            "exit 1 (not started: cgroup app is required, but\\nno)\n"
        );
        let long = start_failure_text(1, &"é".repeat(LIMIT));
        assert!(
            long.len() <= LIMIT && long.len() > LIMIT - 2,
            "{}",
            long.len()
        );
    }

    #[test]
    fn cut_at_a_line_else_a_char_boundary() {
        assert_eq!(fit("ab\ncd\n".into(), 6), "ab\ncd\n");
        assert_eq!(fit("ab\ncd\n".into(), 5), "ab\n");
        assert_eq!(fit("ab\ncd\n".into(), 3), "ab\n");
        assert_eq!(fit("abcd\n".into(), 2), "ab");
        // 'é' is two bytes: never split.
        assert_eq!(fit("aéé".into(), 4), "aé");
        assert_eq!(fit("aéé".into(), 2), "a");
        assert_eq!(fit(String::new(), 0), "");
    }
}
