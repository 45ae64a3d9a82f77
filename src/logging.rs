//! Logs go to stderr only, as `rinit: LEVEL message`: no colour, no
//! timestamps (the container runtime adds its own), nothing on a clean run.
//!
//! A small `log::Log` of our own instead of env_logger (as ripgrep does): it
//! ships in every container, and env_logger with its filter crate cost
//! 25 KB of binary, and as much resident memory, for features an init does
//! not use. `RINIT_LOG` keeps env_logger's filter syntax: comma-separated
//! `LEVEL`, `MODULE` (everything from it) or `MODULE=LEVEL`, the longest
//! matching module wins, and a `/TEXT` suffix keeps only messages containing
//! TEXT (env_logger's behaviour without its regex feature).

use crate::cli::LogSpec;
use log::{LevelFilter, Log, Metadata, Record};
use std::io::Write;

#[derive(Debug, PartialEq)]
struct Filter {
    default: LevelFilter,
    modules: Vec<(String, LevelFilter)>,
    text: Option<String>,
}

fn parse_level(text: &str) -> Option<LevelFilter> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

impl Filter {
    fn parse(spec: &str) -> Filter {
        let (directives, text) = match spec.split_once('/') {
            Some((d, t)) => (d, Some(t.to_string())),
            None => (spec, None),
        };
        let mut filter = Filter {
            default: LevelFilter::Off,
            modules: Vec::new(),
            text,
        };
        for directive in directives
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            match directive.split_once('=') {
                Some((module, level)) => {
                    if let Some(level) = parse_level(level) {
                        filter.modules.push((module.trim().to_string(), level));
                    }
                }
                None => match parse_level(directive) {
                    Some(level) => filter.default = level,
                    None => filter
                        .modules
                        .push((directive.to_string(), LevelFilter::Trace)),
                },
            }
        }
        filter
    }

    fn level_for(&self, target: &str) -> LevelFilter {
        self.modules
            .iter()
            .filter(|(m, _)| {
                target == m
                    || target
                        .strip_prefix(m.as_str())
                        .is_some_and(|r| r.starts_with("::"))
            })
            .max_by_key(|(m, _)| m.len())
            .map_or(self.default, |(_, level)| *level)
    }

    fn max(&self) -> LevelFilter {
        self.modules
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, Ord::max)
    }
}

struct Logger(Filter);

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.0.level_for(metadata.target())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        if self
            .0
            .text
            .as_ref()
            .is_some_and(|t| !message.contains(t.as_str()))
        {
            return;
        }
        // A failed write (stderr closed) must never take PID 1 down.
        let _ = writeln!(
            std::io::stderr().lock(),
            "rinit: {} {message}",
            record.level()
        );
    }

    fn flush(&self) {}
}

pub fn init(spec: &LogSpec) {
    let filter = match spec {
        LogSpec::Level(n) => Filter {
            default: match n {
                0 => LevelFilter::Error,
                1 => LevelFilter::Warn,
                2 => LevelFilter::Info,
                3 => LevelFilter::Debug,
                _ => LevelFilter::Trace,
            },
            modules: Vec::new(),
            text: None,
        },
        LogSpec::Filter(text) => Filter::parse(text),
    };
    let max = filter.max();
    // Only fails if a logger is already set, which cannot happen here.
    if log::set_logger(Box::leak(Box::new(Logger(filter)))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels() {
        let f = Filter::parse("debug");
        assert_eq!(f.default, LevelFilter::Debug);
        assert_eq!(f.level_for("rinit::runtime"), LevelFilter::Debug);
        assert_eq!(Filter::parse("OFF").default, LevelFilter::Off);
    }

    #[test]
    fn modules_longest_match_wins() {
        let f = Filter::parse("warn,rinit::runtime=trace,rinit::cgroupfs");
        assert_eq!(f.level_for("rinit::runtime"), LevelFilter::Trace);
        assert_eq!(f.level_for("rinit::runtimex"), LevelFilter::Warn);
        assert_eq!(f.level_for("rinit::cgroupfs"), LevelFilter::Trace);
        assert_eq!(f.level_for("rinit"), LevelFilter::Warn);
        assert_eq!(f.max(), LevelFilter::Trace);
        let f = Filter::parse("rinit=info,rinit::sys=error");
        assert_eq!(f.level_for("rinit::sys"), LevelFilter::Error);
        assert_eq!(f.level_for("rinit::main"), LevelFilter::Info);
        assert_eq!(f.level_for("other"), LevelFilter::Off);
    }

    #[test]
    fn text_suffix_and_junk() {
        let f = Filter::parse("info/cgroup");
        assert_eq!(f.default, LevelFilter::Info);
        assert_eq!(f.text.as_deref(), Some("cgroup"));
        let f = Filter::parse(" ,rinit=loud, ");
        assert_eq!(
            f,
            Filter {
                default: LevelFilter::Off,
                modules: vec![],
                text: None
            }
        );
    }
}
