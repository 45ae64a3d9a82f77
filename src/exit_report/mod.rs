//! The exit report (--report PATH): one JSON document written at every exit,
//! for CI to keep as an artifact. Its schema is docs/exit-report.schema.json;
//! `SCHEMA_VERSION` changes with any change that is not an added field
//! (2: `main_child` is null when rinit failed before the command started,
//! and `start_error` says why). `text` is its short form, a termination
//! message (--report-format text). Building either is pure; `write` puts
//! it on disk.

mod text;
mod write;

pub use text::{start_failure_text, to_text};
pub use write::{Target, Unusable};

use crate::exit_status::ChildExit;
use crate::leaks::{End, Leftover, Mode, Names, Parent};
use crate::stuck::StuckSection;
use miniserde::Serialize;

pub const SCHEMA_VERSION: u32 = 2;

/// A leftover's or stuck task's `cmdline` in the report holds at most this many arguments
/// and bytes of them (docs/exit-report.md): argv can be megabytes, and a
/// report is read by CI tools that load it whole.
pub const CMDLINE_ARGS: usize = 64;
pub const CMDLINE_BYTES: usize = 4096;

/// --report-format: the whole JSON document, or the short text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "text" => Some(Format::Text),
            _ => None,
        }
    }
}

/// The report of a run, in `format`.
pub fn render(format: Format, facts: Facts) -> String {
    match format {
        Format::Json => to_json(facts),
        Format::Text => to_text(&facts),
    }
}

/// The report of a run that failed before the command started, in `format`.
pub fn render_start_failure(format: Format, exit_code: u8, leaks_mode: Mode, why: &str) -> String {
    match format {
        Format::Json => start_failure(exit_code, leaks_mode, why),
        Format::Text => start_failure_text(exit_code, why),
    }
}

/// How the main child ended: its pid, rinit's code for its end (after
/// --remap-exit), and the signal that killed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MainChild {
    pub pid: i32,
    pub exit_code: Option<u8>,
    pub signal: Option<i32>,
}

/// `code` is rinit's exit code for an end (after --remap-exit).
pub fn main_child(pid: i32, exit: Option<ChildExit>, code: impl Fn(ChildExit) -> u8) -> MainChild {
    MainChild {
        pid,
        exit_code: exit.map(code),
        signal: match exit {
            Some(ChildExit::Signaled(sig)) => Some(sig.number()),
            _ => None,
        },
    }
}

/// Everything the report tells.
pub struct Facts<'a> {
    /// rinit's own exit code.
    pub exit_code: u8,
    pub main: MainChild,
    pub leaks_mode: Mode,
    /// `None` when not tracked (no teardown ran, or /proc could not list).
    pub leftovers: Option<&'a [(Leftover, End)]>,
    pub orphans: &'a Names,
    pub oom_kills: u64,
    pub stuck: Option<StuckSection>,
    pub ready: Option<Readiness>,
}

/// --ready: the condition, and how long after the start it held (`None`:
/// it never did, before the timeout or the main child's exit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub condition: String,
    pub after_ms: Option<u64>,
}

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    rinit_version: &'a str,
    exit_code: u8,
    main_child: Option<MainChild>,
    start_error: Option<&'a str>,
    leaks_mode: &'a str,
    leftovers: Option<Vec<JsonLeftover>>,
    orphans: JsonOrphans,
    oom_kills: u64,
    stuck: Option<StuckSection>,
    /// `null` without --ready.
    ready: Option<Readiness>,
}

#[derive(Serialize)]
struct JsonLeftover {
    pid: i32,
    comm: String,
    cmdline: Vec<String>,
    /// Whether `cmdline` left arguments or bytes out.
    cmdline_truncated: bool,
    /// The whole command line's length: its arguments joined by spaces.
    cmdline_bytes: u64,
    ran_for_ms: Option<u64>,
    pgrp: i32,
    session: i32,
    reparented: bool,
    parent_pid: Option<i32>,
    parent_comm: Option<String>,
    /// What it runs when last read, when it exec'd since the main child's
    /// exit; `null` otherwise.
    now_comm: Option<String>,
    now_cmdline: Option<Vec<String>>,
    end: &'static str,
    end_after_ms: Option<u64>,
    exit_code: Option<u8>,
    signal: Option<i32>,
}

#[derive(Serialize)]
struct JsonOrphans {
    count: u64,
    names: Vec<JsonName>,
}

#[derive(Serialize)]
struct JsonName {
    name: String,
    count: u64,
}

fn leftover(l: &Leftover, end: End) -> JsonLeftover {
    let (parent_pid, parent_comm) = match &l.parent {
        Parent::Rinit => (None, None),
        Parent::Own { pid, comm } => (Some(*pid), comm.clone()),
    };
    let (end_after_ms, exit_code, signal) = match end {
        End::Exited { after, exit } => {
            let (code, signal) = match exit {
                ChildExit::Exited(code) => (Some(code), None),
                ChildExit::Signaled(sig) => (None, Some(sig.number())),
            };
            (Some(after.as_millis() as u64), code, signal)
        }
        End::Killed => (None, None, Some(crate::signals::SIGKILL.number())),
        End::Gone | End::Stuck => (None, None, None),
    };
    let (cmdline, cmdline_truncated) =
        crate::escape::bounded_args(&l.cmdline, CMDLINE_ARGS, CMDLINE_BYTES);
    JsonLeftover {
        pid: l.pid,
        comm: l.comm.clone(),
        cmdline,
        cmdline_truncated,
        cmdline_bytes: crate::escape::joined_len(&l.cmdline) as u64,
        ran_for_ms: l.ran_for.map(|d| d.as_millis() as u64),
        pgrp: l.pgrp,
        session: l.session,
        reparented: l.parent == Parent::Rinit,
        parent_pid,
        parent_comm,
        now_comm: l.became.as_ref().map(|b| b.comm.clone()),
        // Capped as `cmdline` is; its own length is not kept.
        now_cmdline: l
            .became
            .as_ref()
            .map(|b| crate::escape::bounded_args(&b.cmdline, CMDLINE_ARGS, CMDLINE_BYTES).0),
        end: end.name(),
        end_after_ms,
        exit_code,
        signal,
    }
}

pub fn to_json(facts: Facts) -> String {
    let document = Document {
        schema_version: SCHEMA_VERSION,
        rinit_version: env!("CARGO_PKG_VERSION"),
        exit_code: facts.exit_code,
        main_child: Some(facts.main),
        start_error: None,
        leaks_mode: facts.leaks_mode.name(),
        leftovers: facts
            .leftovers
            .map(|all| all.iter().map(|(l, end)| leftover(l, *end)).collect()),
        orphans: JsonOrphans {
            count: facts.orphans.total,
            names: facts
                .orphans
                .ranked()
                .into_iter()
                .map(|(name, count)| JsonName { name, count })
                .collect(),
        },
        oom_kills: facts.oom_kills,
        stuck: facts.stuck,
        ready: facts.ready,
    };
    miniserde::json::to_string(&document)
}

/// The report of a run that failed before the command started (no child,
/// no teardown): rinit's exit code and what went wrong.
pub fn start_failure(exit_code: u8, leaks_mode: Mode, why: &str) -> String {
    let document = Document {
        schema_version: SCHEMA_VERSION,
        rinit_version: env!("CARGO_PKG_VERSION"),
        exit_code,
        main_child: None,
        start_error: Some(why),
        leaks_mode: leaks_mode.name(),
        leftovers: None,
        orphans: JsonOrphans {
            count: 0,
            names: Vec::new(),
        },
        oom_kills: 0,
        stuck: None,
        ready: None,
    };
    miniserde::json::to_string(&document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaks::Became;
    use crate::signals::{SIGKILL, SIGTERM};
    use std::time::Duration;

    fn sleeper(pid: i32, parent: Parent) -> Leftover {
        Leftover {
            pid,
            comm: "sleep".into(),
            cmdline: vec!["sleep".into(), "1000".into()],
            ran_for: Some(Duration::from_millis(1500)),
            pgrp: 3,
            session: 1,
            parent,
            start_ticks: 100,
            became: None,
        }
    }

    #[test]
    fn main_child_names_its_end() {
        let killed = main_child(2, Some(ChildExit::Signaled(SIGKILL)), |_| 0);
        assert_eq!((killed.exit_code, killed.signal), (Some(0), Some(9)));
        let exited = main_child(2, Some(ChildExit::Exited(3)), ChildExit::code);
        assert_eq!((exited.exit_code, exited.signal), (Some(3), None));
        let running = main_child(2, None, |_| panic!("no exit, no code"));
        assert_eq!((running.exit_code, running.signal), (None, None));
    }

    #[test]
    fn a_report_with_leftovers_and_orphans() {
        let leftovers = [
            (
                sleeper(5, Parent::Rinit),
                End::Exited {
                    after: Duration::from_millis(4),
                    exit: ChildExit::Signaled(SIGTERM),
                },
            ),
            (
                Leftover {
                    became: Some(Became {
                        comm: "sleep".into(),
                        cmdline: vec!["sleep".into(), "1".into()],
                    }),
                    ..sleeper(
                        6,
                        Parent::Own {
                            pid: 5,
                            comm: Some("sh".into()),
                        },
                    )
                },
                End::Killed,
            ),
        ];
        let mut orphans = Names::default();
        orphans.add("sleep");
        orphans.add("sleep");
        let json = to_json(Facts {
            exit_code: 99,
            main: main_child(2, Some(ChildExit::Exited(0)), ChildExit::code),
            leaks_mode: Mode::Fail,
            leftovers: Some(&leftovers),
            orphans: &orphans,
            oom_kills: 0,
            stuck: None,
            ready: Some(Readiness {
                condition: "tcp:127.0.0.1:8080".into(),
                after_ms: Some(12),
            }),
        });
        let expected = concat!(
            "{\"schema_version\":2,\"rinit_version\":\"",
            env!("CARGO_PKG_VERSION"),
            "\",\"exit_code\":99,",
            "\"main_child\":{\"pid\":2,\"exit_code\":0,\"signal\":null},\"start_error\":null,",
            "\"leaks_mode\":\"fail\",\"leftovers\":[",
            "{\"pid\":5,\"comm\":\"sleep\",\"cmdline\":[\"sleep\",\"1000\"],\"cmdline_truncated\":false,\"cmdline_bytes\":10,\"ran_for_ms\":1500,",
            "\"pgrp\":3,\"session\":1,\"reparented\":true,\"parent_pid\":null,\"parent_comm\":null,",
            "\"now_comm\":null,\"now_cmdline\":null,",
            "\"end\":\"exited\",\"end_after_ms\":4,\"exit_code\":null,\"signal\":15},",
            "{\"pid\":6,\"comm\":\"sleep\",\"cmdline\":[\"sleep\",\"1000\"],\"cmdline_truncated\":false,\"cmdline_bytes\":10,\"ran_for_ms\":1500,",
            "\"pgrp\":3,\"session\":1,\"reparented\":false,\"parent_pid\":5,\"parent_comm\":\"sh\",",
            "\"now_comm\":\"sleep\",\"now_cmdline\":[\"sleep\",\"1\"],",
            "\"end\":\"killed\",\"end_after_ms\":null,\"exit_code\":null,\"signal\":9}],",
            "\"orphans\":{\"count\":2,\"names\":[{\"name\":\"sleep\",\"count\":2}]},",
            "\"oom_kills\":0,\"stuck\":null,",
            "\"ready\":{\"condition\":\"tcp:127.0.0.1:8080\",\"after_ms\":12}}"
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn a_huge_command_line_is_capped() {
        let mut huge = sleeper(5, Parent::Rinit);
        huge.cmdline = vec!["python3".into(), "x".repeat(1 << 20)];
        let mut many = sleeper(6, Parent::Rinit);
        many.cmdline = (0..1000).map(|i| i.to_string()).collect();
        let leftovers = [(huge, End::Killed), (many, End::Killed)];
        let json = to_json(Facts {
            exit_code: 0,
            main: main_child(2, Some(ChildExit::Exited(0)), ChildExit::code),
            leaks_mode: Mode::Warn,
            leftovers: Some(&leftovers),
            orphans: &Names::default(),
            oom_kills: 0,
            stuck: None,
            ready: None,
        });
        assert!(json.len() < 2 * CMDLINE_BYTES, "{}", json.len());
        let huge_arg = format!("\"{}\"", "x".repeat(CMDLINE_BYTES - "python3".len()));
        let huge_cmdline = format!(
            "\"cmdline\":[\"python3\",{huge_arg}],\"cmdline_truncated\":true,\"cmdline_bytes\":1048584,"
        );
        assert!(json.contains(&huge_cmdline), "{json}");
        let first_64: Vec<String> = (0..64).map(|i| format!("\"{i}\"")).collect();
        let many_cmdline = format!(
            "\"cmdline\":[{}],\"cmdline_truncated\":true,\"cmdline_bytes\":3889,",
            first_64.join(",")
        );
        assert!(json.contains(&many_cmdline), "{json}");
    }

    #[test]
    fn untracked_leftovers_are_null_and_the_stuck_section_nests() {
        let section = crate::stuck::report(None, &[], Duration::from_secs(1), false).section;
        let json = to_json(Facts {
            exit_code: 1,
            main: main_child(2, None, ChildExit::code),
            leaks_mode: Mode::Off,
            leftovers: None,
            orphans: &Names::default(),
            oom_kills: 2,
            stuck: Some(section),
            ready: None,
        });
        assert!(json.contains("\"leftovers\":null"), "{json}");
        assert!(
            json.contains("\"orphans\":{\"count\":0,\"names\":[]},\"oom_kills\":2,\"stuck\":{\"listed\":false,\"stuck_timeout_ms\":1000,"),
            "{json}"
        );
    }

    #[test]
    fn the_format_decides_the_form() {
        assert_eq!(Format::parse("TEXT"), Some(Format::Text));
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("yaml"), None);
        let orphans = Names::default();
        let facts = || Facts {
            exit_code: 3,
            main: main_child(2, Some(ChildExit::Exited(3)), ChildExit::code),
            leaks_mode: Mode::Off,
            leftovers: None,
            orphans: &orphans,
            oom_kills: 0,
            stuck: None,
            ready: None,
        };
        assert_eq!(render(Format::Text, facts()), "exit 3\n");
        assert!(render(Format::Json, facts()).starts_with("{\"schema_version\":2,"));
        assert_eq!(
            render_start_failure(Format::Text, 1, Mode::Off, "cannot fork"),
            "exit 1 (not started: cannot fork)\n"
        );
    }

    #[test]
    fn a_start_failure_has_no_main_child() {
        let json = start_failure(1, Mode::Warn, "cannot fork: \"x\"");
        let expected = concat!(
            "{\"schema_version\":2,\"rinit_version\":\"",
            env!("CARGO_PKG_VERSION"),
            "\",\"exit_code\":1,\"main_child\":null,",
            "\"start_error\":\"cannot fork: \\\"x\\\"\",\"leaks_mode\":\"warn\",",
            "\"leftovers\":null,\"orphans\":{\"count\":0,\"names\":[]},",
            "\"oom_kills\":0,\"stuck\":null,\"ready\":null}"
        );
        assert_eq!(json, expected);
    }
}
