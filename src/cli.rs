//! Command line and `RINIT_*` environment: text in, a validated [`Config`]
//! out. No syscalls here; the environment arrives through a lookup closure so
//! every rule is tested on literal strings.
//!
//! Option parsing stops at the first word that is not an option, so
//! `rinit ls -l` runs `ls -l`, and `--` ends the options explicitly. A flag
//! wins over its environment variable; for repeatable flags, any use of the
//! flag replaces the whole variable.
//!
//! Each option is defined once, in [`options::OPTIONS`]: `parse` reads its
//! spellings and kinds, [`help`] prints it, `build` gives each option its
//! meaning and its table default, and the tests in `docs` hold the man page
//! and the README's options table to it.

#[cfg(test)]
mod docs;
mod help;
pub mod options;

use crate::cgroup;
use crate::exit_report::Format;
use crate::exit_status::Remap;
use crate::leaks::{DEFAULT_EXIT_CODE, LeakPolicy, Mode};
use crate::signals::{Disposition, Rewrites, Signo};
use crate::supervisor::Policy;
use options::{Absent, Id, Kind, OPTIONS, Opt, opt};
use std::ffi::OsString;
use std::time::Duration;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--license` prints.
pub const LICENSE: &str = include_str!("../LICENSE");

/// What `--version` prints: one line in the form dockerd parses for
/// `docker info` (moby's `parseInitVersion`: a `tini version X` prefix is
/// the version, a ` - git.SHA` suffix the commit; a line with neither is
/// "unknown output format"). catatonit says `tini version 0.1.7_catatonit`
/// for the same reason; rinit says `tini version 0.3.0_rinit - git.SHA`.
/// The commit is there when the build knew it (build.rs).
pub fn version() -> String {
    version_line(VERSION, option_env!("RINIT_GIT_SHA"))
}

fn version_line(version: &str, sha: Option<&str>) -> String {
    match sha {
        Some(sha) if !sha.is_empty() => format!("tini version {version}_rinit - git.{sha}\n"),
        _ => format!("tini version {version}_rinit\n"),
    }
}

pub use help::help;

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Request {
    Help,
    Version,
    /// --pause: no command; reap, and exit 0 on INT/TERM.
    Pause(LogSpec),
    License,
    Run(Box<Config>),
}

#[derive(Debug, PartialEq)]
pub struct Config {
    pub command: Vec<OsString>,
    pub log: LogSpec,
    pub signal_child_only: bool,
    /// --rewrite, --remap-exit, --grace, --kill-after, --stop-delay and
    /// --stuck-timeout.
    pub policy: Policy,
    pub pdeathsig: Option<Signo>,
    /// The child's cgroup name, when asked for by --cgroup (a
    /// --memory-limit alone leaves it to the caller to pick a name).
    pub cgroup: Option<String>,
    pub memory_limit: Option<u64>,
    pub cgroup_required: bool,
    pub report: Option<ReportPath>,
    pub fuse_abort: bool,
    pub leaks: LeakPolicy,
    pub ready: Option<ReadySpec>,
}

/// --ready and --ready-timeout.
#[derive(Debug, PartialEq)]
pub struct ReadySpec {
    pub condition: crate::ready::Condition,
    /// As given, for the log and the report.
    pub text: String,
    pub timeout: Duration,
}

/// --report: where the report goes, which of the flag or its variable
/// said so (for the start-up check's message), and in which form.
#[derive(Debug, PartialEq)]
pub struct ReportPath {
    /// As given; relative to the directory rinit was started in, which
    /// rinit leaves for / once the child runs, so resolve it before.
    pub path: std::path::PathBuf,
    pub source: String,
    /// --report-format.
    pub format: Format,
}

impl ReportPath {
    /// The path against `start_dir`, the directory rinit was started in.
    pub fn resolved(&self, start_dir: &std::path::Path) -> std::path::PathBuf {
        start_dir.join(&self.path)
    }
}

/// How much to log: a level from `-v`/`-q`, or an env_logger filter.
#[derive(Debug, PartialEq, Clone)]
pub enum LogSpec {
    /// 0 = errors only, 1 = warnings (default), 2 = info, 3 = debug, 4+ = trace.
    Level(u8),
    Filter(String),
}

/// A usage error: one line naming the problem.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Escaped as a whole: the message holds the user's values (and lexopt's
/// and env_filter's words about them), and must stay one line whatever they
/// hold.
fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(crate::escape::escape(&msg.into()).to_string())
}

/// Parses `args` (without the program name) and the `RINIT_*` variables
/// that `env` returns.
pub fn parse<I>(args: I, env: impl Fn(&str) -> Option<OsString>) -> Result<Request, UsageError>
where
    I: IntoIterator<Item = OsString>,
{
    use lexopt::Arg::{Long, Short, Value};
    let mut parser = lexopt::Parser::from_args(args);
    // getopt's reading: in `-e=3` the value is `=3`, refused like any other
    // bad value, rather than a second spelling of `-e3`.
    parser.set_short_equals(false);
    let mut given = Given {
        uses: vec![Vec::new(); OPTIONS.len()],
        env: &env,
    };
    let command = loop {
        let entry = match parser.next().map_err(lex_error)? {
            None if given.count(Id::Pause) > 0 => return pause(&given),
            None => return Err(usage("no command given")),
            Some(Short(c)) => OPTIONS
                .iter()
                .find(|o| o.short == Some(c))
                .ok_or_else(|| usage(format!("unknown option -{c}")))?,
            Some(Long(name)) => OPTIONS
                .iter()
                .find(|o| o.long == name)
                .ok_or_else(|| usage(format!("unknown option --{name}")))?,
            // The first word that is not an option starts the command; the
            // rest is its own, options or not.
            Some(Value(first)) if given.count(Id::Pause) > 0 => {
                return Err(usage(format!(
                    "--pause runs no command, but '{}' was given",
                    first.to_string_lossy()
                )));
            }
            Some(Value(first)) => {
                let mut command = vec![first];
                command.extend(parser.raw_args().map_err(lex_error)?);
                break command;
            }
        };
        match entry.id {
            Id::Help => return Ok(Request::Help),
            Id::Version => return Ok(Request::Version),
            Id::License => return Ok(Request::License),
            _ => {}
        }
        let value = match entry.kind {
            Kind::Switch | Kind::Count { .. } => String::new(),
            Kind::Value(_) | Kind::List(_) => value(&mut parser, entry)?,
        };
        given.uses[entry.id as usize].push(value);
    };
    build(&given, command).map(|config| Request::Run(Box::new(config)))
}

/// The value of the option just read.
fn value(parser: &mut lexopt::Parser, entry: &Opt) -> Result<String, UsageError> {
    parser
        .value()
        .map_err(lex_error)?
        .into_string()
        .map_err(|v| {
            usage(format!(
                "value {} for {} is not valid UTF-8",
                v.display(),
                entry.flag()
            ))
        })
}

fn lex_error(e: lexopt::Error) -> UsageError {
    match e {
        lexopt::Error::MissingValue {
            option: Some(option),
        } => usage(format!("option {option} needs a value")),
        lexopt::Error::UnexpectedValue { option, .. } => {
            usage(format!("option {option} takes no value"))
        }
        // The calls made here (next, value, raw_args) fail in no other
        // way. lexopt's own text for the rest would quote the caller's
        // bytes with Rust's Debug escapes, and link them in (2 KB).
        _ => usage("missing argument".to_string()),
    }
}

/// What the command line gave, and the environment behind it: each
/// option's text from its flag, else its variable, else its default, with
/// the name of where it came from for the error messages.
struct Given<'env, E> {
    /// Per option, in table order, the value of each use (empty for a
    /// switch).
    uses: Vec<Vec<String>>,
    env: &'env E,
}

impl<E: Fn(&str) -> Option<OsString>> Given<'_, E> {
    /// How often the flag was given.
    fn count(&self, id: Id) -> usize {
        self.uses[id as usize].len()
    }

    /// The option's variable as UTF-8 text, and its name; unset and empty
    /// are the same, so `RINIT_GRACE= rinit ...` and an empty `env:` entry
    /// mean "not set".
    fn variable(&self, id: Id) -> Result<Option<(String, String)>, UsageError> {
        let Some(var) = opt(id).var else {
            return Ok(None);
        };
        match (self.env)(var) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => v
                .into_string()
                .map(|text| Some((text, var.to_string())))
                .map_err(|v| usage(format!("{var}={} is not valid UTF-8", v.display()))),
        }
    }

    /// A switch: given, else its variable as a boolean, else off.
    fn switch(&self, id: Id) -> Result<bool, UsageError> {
        if self.count(id) > 0 {
            return Ok(true);
        }
        match self.variable(id)? {
            None => Ok(false),
            Some((text, var)) => {
                parse_bool(&text).ok_or_else(|| invalid(&text, &var, "1/true/yes or 0/false/no"))
            }
        }
    }

    /// A switch whose variable is tini's: given, or its variable set to
    /// anything (tini reads no value; empty is unset, as for every
    /// variable).
    fn tini_switch(&self, id: Id) -> Result<bool, UsageError> {
        Ok(self.count(id) > 0 || self.variable(id)?.is_some())
    }

    /// A value option: the last value given, else the variable, else the
    /// default.
    fn value(&self, id: Id) -> Result<Option<(String, String)>, UsageError> {
        let entry = opt(id);
        if let Some(text) = self.uses[id as usize].last() {
            return Ok(Some((text.clone(), entry.flag())));
        }
        if let Some(found) = self.variable(id)? {
            return Ok(Some(found));
        }
        Ok(match entry.default {
            Absent::Value(text) => Some((text.to_string(), entry.flag())),
            Absent::Unset | Absent::Means(_) => None,
        })
    }

    /// A repeatable value option: every value given, else the items of its
    /// comma-separated variable.
    fn values(&self, id: Id) -> Result<Vec<(String, String)>, UsageError> {
        let given = &self.uses[id as usize];
        if !given.is_empty() {
            let flag = opt(id).flag();
            return Ok(given.iter().map(|v| (v.clone(), flag.clone())).collect());
        }
        Ok(self
            .variable(id)?
            .map(|(list, var)| {
                list.split(',')
                    .map(|item| (item.trim().to_string(), var.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// `invalid value 'TEXT' for SOURCE: expected EXPECTED`.
fn invalid(text: &str, source: &str, expected: &str) -> UsageError {
    usage(format!(
        "invalid value '{text}' for {source}: expected {expected}"
    ))
}

/// --pause with the options it takes: -v and -q. Any other would be
/// silently idle, so it is refused; of the variables only RINIT_LOG is
/// read (an image's other RINIT_* are for a command, and there is none).
fn pause<E: Fn(&str) -> Option<OsString>>(given: &Given<'_, E>) -> Result<Request, UsageError> {
    let takes = [Id::Pause, Id::Verbose, Id::Quiet, Id::Verbosity];
    if let Some(other) = OPTIONS
        .iter()
        .find(|o| !takes.contains(&o.id) && given.count(o.id) > 0)
    {
        return Err(usage(format!(
            "{} does nothing with --pause, which runs no command",
            other.flag()
        )));
    }
    log_spec(given).map(Request::Pause)
}

/// -v, -q or RINIT_LOG.
fn log_spec<E: Fn(&str) -> Option<OsString>>(given: &Given<'_, E>) -> Result<LogSpec, UsageError> {
    let verbose = given.count(Id::Verbose);
    // tini's levels are rinit's: 0 errors ... 4 trace.
    let level = |(text, source): (String, String)| {
        text.parse().map(LogSpec::Level).map_err(|_| {
            invalid(
                &text,
                &source,
                "a level 0..255 (0 errors, 1 warnings, 2 info, 3 debug, 4 and up trace)",
            )
        })
    };
    // Flags first, then rinit's variable, then tini's.
    Ok(if given.count(Id::Quiet) > 0 {
        LogSpec::Level(0)
    } else if verbose > 0 {
        LogSpec::Level(u8::try_from(verbose).unwrap_or(u8::MAX).saturating_add(1))
    } else if given.count(Id::Verbosity) > 0 {
        level(given.value(Id::Verbosity)?.expect("given"))?
    } else if let Some((filter, var)) = given.variable(Id::Verbose)? {
        // env_logger would only print a warning and drop the bad directive.
        if let Err(e) = env_filter::Builder::new().try_parse(&filter) {
            return Err(usage(format!(
                "invalid value '{filter}' for {var} ({e}): expected a filter such as debug, warn,rinit::cgroup=trace or info/text"
            )));
        }
        LogSpec::Filter(filter)
    } else if let Some(given) = given.variable(Id::Verbosity)? {
        level(given)?
    } else {
        LogSpec::Level(1)
    })
}

/// What each option means.
fn build<E: Fn(&str) -> Option<OsString>>(
    given: &Given<'_, E>,
    command: Vec<OsString>,
) -> Result<Config, UsageError> {
    let log = log_spec(given)?;
    let signal_child_only = given.switch(Id::SignalChildOnly)?;
    if signal_child_only && given.tini_switch(Id::SignalGroup)? {
        return Err(usage(format!(
            "{} and {} contradict each other: give one",
            opt(Id::SignalChildOnly).flag(),
            opt(Id::SignalGroup).flag()
        )));
    }
    let warn_on_reap = given.switch(Id::WarnOnReap)?;
    let cgroup_required = given.switch(Id::CgroupRequired)?;
    let fuse_abort = given.switch(Id::FuseAbort)?;
    let format = match given.value(Id::ReportFormat)? {
        None => Format::Json,
        Some((text, source)) => {
            Format::parse(&text).ok_or_else(|| invalid(&text, &source, "json or text"))?
        }
    };
    let report = match given.value(Id::Report)? {
        None if given.count(Id::ReportFormat) > 0 => {
            return Err(usage(
                "--report-format needs --report PATH: the report has nowhere to go",
            ));
        }
        None => None,
        // An empty variable counts as unset; an empty flag value is a slip.
        Some((path, source)) if path.is_empty() => {
            return Err(invalid("", &source, "the path of the report file"));
        }
        Some((path, source)) => Some(ReportPath {
            path: path.into(),
            source,
            format,
        }),
    };
    let mode = match given.value(Id::Leaks)? {
        None => Mode::Off,
        Some((text, source)) => {
            Mode::parse(&text).ok_or_else(|| invalid(&text, &source, "off, warn or fail"))?
        }
    };
    let leaks_exit_code = match given.value(Id::LeaksExitCode)? {
        None => DEFAULT_EXIT_CODE,
        // 0 would let a leak pass as a success.
        Some((text, source)) => text
            .parse()
            .ok()
            .filter(|&c: &u8| c != 0)
            .ok_or_else(|| invalid(&text, &source, "an exit code 1..255"))?,
    };
    let cgroup = match given.value(Id::Cgroup)? {
        None => None,
        Some((name, _)) if cgroup::valid_name(&name) => Some(name),
        Some((name, source)) => {
            return Err(invalid(
                &name,
                &source,
                "a cgroup name of letters, digits, '-', '_' and '.'",
            ));
        }
    };
    let memory_limit = match given.value(Id::MemoryLimit)? {
        None => None,
        Some((text, source)) => Some(
            cgroup::parse_size(&text)
                .ok_or_else(|| invalid(&text, &source, "a size such as 64M, 1G or 1048576"))?,
        ),
    };

    let mut rewrites = Rewrites::default();
    for (rule, source) in given.values(Id::Rewrite)? {
        let (from, to) = Rewrites::parse_rule(&rule).map_err(|why| {
            usage(format!(
                "invalid value for {source}: {why}; expected FROM:TO such as TERM:QUIT"
            ))
        })?;
        rewrites.set(from, to);
    }

    let mut remap = Remap::default();
    for (code, source) in given.values(Id::RemapExit)? {
        let code: u8 = code
            .parse()
            .map_err(|_| invalid(&code, &source, "an exit code 0..255"))?;
        remap.insert(code);
    }

    let pdeathsig = match given.value(Id::Pdeathsig)? {
        None => None,
        Some((name, source)) => {
            let sig = Signo::parse(&name)
                .ok_or_else(|| invalid(&name, &source, "a signal such as TERM or 15"))?;
            if let Some(why) = unfit_for_pdeathsig(sig) {
                return Err(usage(format!(
                    "invalid value '{name}' for {source}: {why}; use a signal rinit acts on, such as TERM"
                )));
            }
            Some(sig)
        }
    };

    const A_DURATION: &str = "a duration such as 500ms, 5s or 2m";
    let duration = |id| -> Result<Option<Duration>, UsageError> {
        match given.value(id)? {
            None => Ok(None),
            Some((text, source)) => parse_duration(&text)
                .map(Some)
                .ok_or_else(|| invalid(&text, &source, A_DURATION)),
        }
    };
    // Both have a default (options::OPTIONS), so there is always a value.
    let grace = duration(Id::Grace)?.unwrap_or_default();
    let stuck_timeout = duration(Id::StuckTimeout)?.unwrap_or_default();
    let stop_delay = duration(Id::StopDelay)?.unwrap_or_default();
    let kill_after = match given.value(Id::KillAfter)? {
        None => None,
        Some((text, _)) if text.eq_ignore_ascii_case("off") => None,
        Some((text, source)) => Some(
            parse_duration(&text)
                .ok_or_else(|| invalid(&text, &source, &format!("{A_DURATION}, or off")))?,
        ),
    };

    let ready = match given.value(Id::Ready)? {
        None => None,
        Some((text, source)) => Some(ReadySpec {
            condition: crate::ready::parse(&text, crate::ready::Use::Ready)
                .map_err(|why| usage(format!("invalid value '{text}' for {source}: {why}")))?,
            text,
            timeout: duration(Id::ReadyTimeout)?
                .filter(|t| !t.is_zero())
                .ok_or_else(|| usage("--ready-timeout must be more than 0"))?,
        }),
    };

    Ok(Config {
        command,
        log,
        signal_child_only,
        policy: Policy {
            rewrites,
            remap,
            grace,
            kill_after,
            stuck_timeout,
            stop_delay,
            warn_on_reap,
        },
        pdeathsig,
        cgroup,
        memory_limit,
        cgroup_required,
        report,
        fuse_abort,
        leaks: LeakPolicy {
            mode,
            exit_code: leaks_exit_code,
        },
        ready,
    })
}

/// Why `sig` cannot be rinit's parent-death signal: the kernel delivers it
/// to rinit itself, and these never reach rinit's loop (no teardown, no
/// forwarding, nothing reaped afterwards).
fn unfit_for_pdeathsig(sig: Signo) -> Option<String> {
    match sig.disposition() {
        Disposition::Uncatchable if sig == crate::signals::SIGKILL => {
            Some("SIGKILL would kill rinit at once, with no teardown of its child".to_string())
        }
        Disposition::Uncatchable => Some(format!(
            "{sig} would stop rinit for good: nothing reaped or forwarded"
        )),
        Disposition::Fault => Some(format!(
            "{sig} is a fault signal rinit does not catch: it would kill rinit with no teardown"
        )),
        Disposition::Reap | Disposition::Forward => None,
    }
}

pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(millis_per_unit).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    fn run(list: &[&str]) -> Config {
        match parse(args(list), no_env) {
            Ok(Request::Run(cfg)) => *cfg,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    fn run_with(list: &[&str], env: &[(&str, &str)]) -> Config {
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        match parse(args(list), lookup) {
            Ok(Request::Run(cfg)) => *cfg,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    fn err(list: &[&str], env: &[(&str, &str)]) -> String {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        };
        match parse(args(list), lookup) {
            Err(UsageError(msg)) => msg,
            other => panic!("{list:?} should fail: {other:?}"),
        }
    }

    /// moby's `parseInitVersion` (daemon/info_unix.go), which reads the
    /// whole stdout of `INIT --version` for `docker info`: (version,
    /// commit), or its error.
    fn dockerd_parse(v: &str) -> Result<(String, String), &'static str> {
        let parts: Vec<&str> = v.split(" - ").collect();
        let mut commit = String::new();
        if parts.len() >= 2 {
            let git_parts: Vec<&str> = parts[1].trim().split('.').collect();
            if git_parts.len() == 2 && git_parts[0] == "git" {
                commit = git_parts[1].to_string();
            }
        }
        let version = parts[0]
            .trim()
            .strip_prefix("tini version ")
            .unwrap_or("")
            .to_string();
        if version.is_empty() && commit.is_empty() {
            return Err("unknown output format");
        }
        Ok((version, commit))
    }

    #[test]
    fn dockerd_reads_a_version_and_the_commit() {
        let with_commit = version_line("0.2.0", Some("4e402e8"));
        assert_eq!(with_commit, "tini version 0.2.0_rinit - git.4e402e8\n");
        assert_eq!(
            dockerd_parse(&with_commit),
            Ok(("0.2.0_rinit".to_string(), "4e402e8".to_string()))
        );
        for unknown in [None, Some("")] {
            let bare = version_line("0.2.0", unknown);
            assert_eq!(bare, "tini version 0.2.0_rinit\n");
            assert_eq!(
                dockerd_parse(&bare),
                Ok(("0.2.0_rinit".to_string(), String::new()))
            );
        }
        // This build's, whichever way it got its commit.
        let (version, commit) = dockerd_parse(&version()).unwrap();
        assert_eq!(version, format!("{VERSION}_rinit"));
        assert_eq!(commit, option_env!("RINIT_GIT_SHA").unwrap_or(""));
        // What 0.2.0 printed, and the parser's verdict on it.
        assert_eq!(
            dockerd_parse("rinit version 0.2.0\n"),
            Err("unknown output format")
        );
    }

    #[test]
    fn defaults() {
        let cfg = run(&["sleep", "1"]);
        assert_eq!(cfg.command, args(&["sleep", "1"]));
        assert_eq!(cfg.log, LogSpec::Level(1));
        assert!(!cfg.signal_child_only);
        assert_eq!(cfg.policy.rewrites, Rewrites::default());
        assert_eq!(cfg.policy.remap, Remap::default());
        assert_eq!(cfg.pdeathsig, None);
        assert_eq!(cfg.policy.grace, Duration::from_secs(5));
        assert_eq!(cfg.policy.kill_after, None);
        assert_eq!(cfg.policy.stuck_timeout, Duration::from_secs(10));
        assert_eq!(cfg.cgroup, None);
        assert_eq!(cfg.memory_limit, None);
        assert!(!cfg.cgroup_required);
        assert_eq!(cfg.report, None);
        assert!(!cfg.fuse_abort);
    }

    #[test]
    fn leaks_options() {
        assert_eq!(run(&["x"]).leaks, LeakPolicy::default());
        assert_eq!(run(&["x"]).leaks.exit_code, 99);
        let cfg = run(&["--leaks", "fail", "--leaks-exit-code", "7", "x"]);
        assert_eq!(
            cfg.leaks,
            LeakPolicy {
                mode: Mode::Fail,
                exit_code: 7
            }
        );
        let env = [("RINIT_LEAKS", "warn"), ("RINIT_LEAKS_EXIT_CODE", "42")];
        assert_eq!(
            run_with(&["x"], &env).leaks,
            LeakPolicy {
                mode: Mode::Warn,
                exit_code: 42
            }
        );
        // The flag wins over the variable.
        assert_eq!(run_with(&["--leaks=off", "x"], &env).leaks.mode, Mode::Off);
        assert_eq!(
            err(&["--leaks", "loud", "x"], &[]),
            "invalid value 'loud' for --leaks: expected off, warn or fail"
        );
        assert_eq!(
            err(&["x"], &[("RINIT_LEAKS_EXIT_CODE", "0")]),
            "invalid value '0' for RINIT_LEAKS_EXIT_CODE: expected an exit code 1..255"
        );
        assert!(err(&["--leaks-exit-code", "256", "x"], &[]).contains("1..255"));
    }

    #[test]
    fn report_options() {
        let cfg = run(&["--report", "/run/r.json", "--fuse-abort", "x"]);
        let report = |path: &str, source: &str| {
            Some(ReportPath {
                path: path.into(),
                source: source.into(),
                format: Format::Json,
            })
        };
        assert_eq!(cfg.report, report("/run/r.json", "--report"));
        assert!(cfg.fuse_abort);
        let env = [("RINIT_REPORT", "/tmp/r.json"), ("RINIT_FUSE_ABORT", "yes")];
        let cfg = run_with(&["x"], &env);
        assert_eq!(cfg.report, report("/tmp/r.json", "RINIT_REPORT"));
        assert!(cfg.fuse_abort);
        assert!(err(&["x"], &[("RINIT_FUSE_ABORT", "maybe")]).contains("RINIT_FUSE_ABORT"));
    }

    #[test]
    fn report_format() {
        let format = |cfg: Config| cfg.report.map(|r| r.format);
        assert_eq!(format(run(&["--report", "/r", "x"])), Some(Format::Json));
        assert_eq!(
            format(run(&["--report", "/r", "--report-format", "text", "x"])),
            Some(Format::Text)
        );
        let env = [
            ("RINIT_REPORT", "/dev/termination-log"),
            ("RINIT_REPORT_FORMAT", "text"),
        ];
        assert_eq!(format(run_with(&["x"], &env)), Some(Format::Text));
        assert_eq!(
            format(run_with(&["--report-format=json", "x"], &env)),
            Some(Format::Json)
        );
        // The variable alone may be set image-wide: it asks for nothing.
        assert_eq!(
            format(run_with(&["x"], &[("RINIT_REPORT_FORMAT", "text")])),
            None
        );
        assert_eq!(
            err(&["--report-format", "text", "x"], &[]),
            "--report-format needs --report PATH: the report has nowhere to go"
        );
        assert_eq!(
            err(&["--report", "/r", "--report-format", "yaml", "x"], &[]),
            "invalid value 'yaml' for --report-format: expected json or text"
        );
    }

    #[test]
    fn stop_delay() {
        assert_eq!(run(&["x"]).policy.stop_delay, Duration::ZERO);
        assert_eq!(
            run(&["--stop-delay", "15s", "x"]).policy.stop_delay,
            Duration::from_secs(15)
        );
        assert_eq!(
            run_with(&["x"], &[("RINIT_STOP_DELAY", "500ms")])
                .policy
                .stop_delay,
            Duration::from_millis(500)
        );
        assert!(err(&["--stop-delay", "soon", "x"], &[]).contains("'soon' for --stop-delay"));
    }

    #[test]
    fn pause_runs_no_command() {
        assert_eq!(
            parse(args(&["-P"]), no_env),
            Ok(Request::Pause(LogSpec::Level(1)))
        );
        assert_eq!(
            parse(args(&["--pause", "-vv"]), no_env),
            Ok(Request::Pause(LogSpec::Level(3)))
        );
        assert_eq!(
            parse(args(&["-qP"]), no_env),
            Ok(Request::Pause(LogSpec::Level(0)))
        );
        // Other variables are the command's business; there is none.
        let lookup = |n: &str| (n == "RINIT_GRACE").then(|| OsString::from("bad"));
        assert_eq!(
            parse(args(&["-P"]), lookup),
            Ok(Request::Pause(LogSpec::Level(1)))
        );
        assert_eq!(
            err(&["-P", "sleep", "1"], &[]),
            "--pause runs no command, but 'sleep' was given"
        );
        assert_eq!(
            err(&["-P", "--", "sleep"], &[]),
            "--pause runs no command, but 'sleep' was given"
        );
        assert_eq!(
            err(&["--grace", "1s", "-P"], &[]),
            "--grace does nothing with --pause, which runs no command"
        );
        assert_eq!(parse(args(&["-P", "--help"]), no_env), Ok(Request::Help));
    }

    #[test]
    fn an_empty_report_path_is_a_usage_error() {
        assert_eq!(
            err(&["--report", "", "x"], &[]),
            "invalid value '' for --report: expected the path of the report file"
        );
        assert_eq!(err(&["--report=", "x"], &[]).lines().count(), 1);
        // An empty variable is unset, as for every variable.
        assert_eq!(run_with(&["x"], &[("RINIT_REPORT", "")]).report, None);
    }

    #[test]
    fn a_relative_report_path_is_taken_from_the_start_directory() {
        let relative = run(&["--report", "out/r.json", "x"]).report.unwrap();
        assert_eq!(
            relative.resolved(std::path::Path::new("/srv/app")),
            std::path::Path::new("/srv/app/out/r.json")
        );
        let absolute = run(&["--report", "/run/r.json", "x"]).report.unwrap();
        assert_eq!(
            absolute.resolved(std::path::Path::new("/srv/app")),
            std::path::Path::new("/run/r.json")
        );
    }

    #[test]
    fn pdeathsig_refuses_what_rinit_cannot_act_on() {
        for (name, why) in [
            ("KILL", "SIGKILL would kill rinit at once"),
            ("9", "SIGKILL would kill rinit at once"),
            ("SIGSTOP", "SIGSTOP would stop rinit for good"),
            ("SEGV", "SIGSEGV is a fault signal"),
            ("bus", "SIGBUS is a fault signal"),
            ("ILL", "SIGILL is a fault signal"),
            ("FPE", "SIGFPE is a fault signal"),
            ("TRAP", "SIGTRAP is a fault signal"),
            ("SYS", "SIGSYS is a fault signal"),
        ] {
            let msg = err(&["-p", name, "x"], &[]);
            assert!(
                msg.starts_with(&format!("invalid value '{name}' for --pdeathsig: {why}")),
                "{msg}"
            );
            let msg = err(&["x"], &[("RINIT_PDEATHSIG", name)]);
            assert!(msg.contains("for RINIT_PDEATHSIG: "), "{msg}");
        }
        for fine in [
            "TERM", "INT", "HUP", "QUIT", "ABRT", "USR1", "RTMIN+3", "CHLD",
        ] {
            assert_eq!(
                run(&["-p", fine, "x"]).pdeathsig,
                Signo::parse(fine),
                "{fine}"
            );
        }
    }

    #[test]
    fn usage_errors_are_one_line_whatever_the_value_holds() {
        for (list, env) in [
            (vec!["--grace", "5\nrinit: ERROR forged", "x"], vec![]),
            (vec!["-r", "TERM\n:X", "x"], vec![]),
            (vec!["--bogus\x1b[2J", "x"], vec![]),
            (vec!["-\n", "x"], vec![]),
            (vec!["--cgroup", "a\rb", "x"], vec![]),
            (vec!["x"], vec![("RINIT_LOG", "rinit=lo\nud")]),
            (vec!["x"], vec![("RINIT_MEMORY_LIMIT", "1\u{2028}G")]),
        ] {
            let msg = err(&list, &env);
            assert_eq!(msg.lines().count(), 1, "{msg:?}");
            assert!(!msg.chars().any(char::is_control), "{msg:?}");
        }
        assert_eq!(
            err(&["--grace", "5\nx", "x"], &[]),
            "invalid value '5\\nx' for --grace: expected a duration such as 500ms, 5s or 2m"
        );
        assert_eq!(err(&["--a\x1bb", "x"], &[]), "unknown option --a\\x1bb");
    }

    #[test]
    fn the_longest_duration_still_makes_a_deadline() {
        let longest = parse_duration(&format!("{}ms", u64::MAX)).unwrap();
        assert!(std::time::Instant::now().checked_add(longest).is_some());
        assert_eq!(
            parse_duration(&format!("{}ms", u128::from(u64::MAX) + 1)),
            None
        );
        assert_eq!(
            parse_duration(&format!("{}h", u64::MAX / 3_600_000 + 1)),
            None
        );
        assert!(err(&["-r", "RTMIN+2147483647:TERM", "x"], &[]).contains("is not a signal"));
        assert!(err(&["-p", "RTMIN+4294967330", "x"], &[]).contains("--pdeathsig"));
    }

    #[test]
    fn cgroup_options() {
        let cfg = run(&[
            "--cgroup",
            "app",
            "--memory-limit",
            "64M",
            "--cgroup-required",
            "x",
        ]);
        assert_eq!(cfg.cgroup.as_deref(), Some("app"));
        assert_eq!(cfg.memory_limit, Some(64 << 20));
        assert!(cfg.cgroup_required);
        let env = [
            ("RINIT_CGROUP", "web"),
            ("RINIT_MEMORY_LIMIT", "1G"),
            ("RINIT_CGROUP_REQUIRED", "true"),
        ];
        let cfg = run_with(&["x"], &env);
        assert_eq!(cfg.cgroup.as_deref(), Some("web"));
        assert_eq!(cfg.memory_limit, Some(1 << 30));
        assert!(cfg.cgroup_required);
        assert!(err(&["--cgroup", "a/b", "x"], &[]).contains("'a/b' for --cgroup"));
        assert!(err(&["--cgroup", "..", "x"], &[]).contains("--cgroup"));
        assert!(err(&["--memory-limit", "lots", "x"], &[]).contains("'lots' for --memory-limit"));
        assert!(
            err(&["x"], &[("RINIT_CGROUP_REQUIRED", "sure")]).contains("RINIT_CGROUP_REQUIRED")
        );
    }

    #[test]
    fn stops_at_first_non_option() {
        assert_eq!(run(&["ls", "-l"]).command, args(&["ls", "-l"]));
        assert_eq!(run(&["-v", "ls", "-v"]).command, args(&["ls", "-v"]));
        assert_eq!(run(&["--", "-v", "x"]).command, args(&["-v", "x"]));
        assert_eq!(run(&["-", "x"]).command, args(&["-", "x"]));
        assert_eq!(
            run(&["--grace", "1s", "--", "--", "x"]).command,
            args(&["--", "x"])
        );
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(parse(args(&["-h"]), no_env), Ok(Request::Help));
        assert_eq!(
            parse(args(&["--help", "--bogus"]), no_env),
            Ok(Request::Help)
        );
        assert_eq!(parse(args(&["-V"]), no_env), Ok(Request::Version));
        assert_eq!(parse(args(&["-vV"]), no_env), Ok(Request::Version));
        assert_eq!(parse(args(&["--version"]), no_env), Ok(Request::Version));
    }

    #[test]
    fn verbosity() {
        assert_eq!(run(&["-v", "x"]).log, LogSpec::Level(2));
        assert_eq!(run(&["-vvv", "x"]).log, LogSpec::Level(4));
        assert_eq!(run(&["-v", "--verbose", "x"]).log, LogSpec::Level(3));
        assert_eq!(run(&["-q", "x"]).log, LogSpec::Level(0));
        let lookup = |n: &str| (n == "RINIT_LOG").then(|| OsString::from("debug"));
        match parse(args(&["x"]), lookup) {
            Ok(Request::Run(cfg)) => assert_eq!(cfg.log, LogSpec::Filter("debug".into())),
            other => panic!("{other:?}"),
        }
        match parse(args(&["-q", "x"]), lookup) {
            Ok(Request::Run(cfg)) => assert_eq!(cfg.log, LogSpec::Level(0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn log_filter_is_checked_when_used() {
        let lookup =
            |n: &str| (n == "RINIT_LOG").then(|| OsString::from("warn,rinit::cgroup=trace/oom"));
        match parse(args(&["x"]), lookup) {
            Ok(Request::Run(cfg)) => {
                assert_eq!(
                    cfg.log,
                    LogSpec::Filter("warn,rinit::cgroup=trace/oom".into())
                )
            }
            other => panic!("{other:?}"),
        }
        for bad in ["rinit=loud", "info,a=b=c", "info/a/b"] {
            let msg = err(&["x"], &[("RINIT_LOG", bad)]);
            assert!(
                msg.starts_with(&format!("invalid value '{bad}' for RINIT_LOG")),
                "{msg}"
            );
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
        // A flag wins, so the variable is not read at all.
        assert_eq!(
            run_with(&["-v", "x"], &[("RINIT_LOG", "rinit=loud")]).log,
            LogSpec::Level(2)
        );
        assert_eq!(
            run_with(&["-q", "x"], &[("RINIT_LOG", "rinit=loud")]).log,
            LogSpec::Level(0)
        );
    }

    #[test]
    fn tinis_command_line() {
        let cfg = run(&["-s", "-g", "-w", "--", "cmd"]);
        assert_eq!(cfg.command, args(&["cmd"]));
        assert!(cfg.policy.warn_on_reap && !cfg.signal_child_only);
        let cfg = run(&["-sgwvv", "-e", "143", "-p", "SIGTERM", "cmd"]);
        assert_eq!(cfg.log, LogSpec::Level(3));
        assert!(cfg.policy.remap.contains(143));
        assert_eq!(cfg.pdeathsig, Some(crate::signals::SIGTERM));
        assert_eq!(parse(args(&["-l"]), no_env), Ok(Request::License));
        assert!(LICENSE.starts_with("MIT License\n"));
        // tini reads its switches' variables as set or not.
        for value in ["1", "0", "anything"] {
            let env = [
                ("TINI_SUBREAPER", value),
                ("TINI_KILL_PROCESS_GROUP", value),
            ];
            assert!(!run_with(&["cmd"], &env).signal_child_only);
        }
        assert!(!run(&["cmd"]).policy.warn_on_reap);
        assert!(
            run_with(&["cmd"], &[("RINIT_WARN_ON_REAP", "yes")])
                .policy
                .warn_on_reap
        );
    }

    #[test]
    fn signal_group_and_child_only_contradict() {
        let msg = "--signal-child-only and --signal-group contradict each other: give one";
        assert_eq!(err(&["-g", "--signal-child-only", "x"], &[]), msg);
        assert_eq!(
            err(
                &["x"],
                &[
                    ("TINI_KILL_PROCESS_GROUP", "1"),
                    ("RINIT_SIGNAL_CHILD_ONLY", "1")
                ]
            ),
            msg
        );
        // Empty is unset, for tini's variables too.
        let env = [
            ("TINI_KILL_PROCESS_GROUP", ""),
            ("RINIT_SIGNAL_CHILD_ONLY", "1"),
        ];
        assert!(run_with(&["x"], &env).signal_child_only);
    }

    #[test]
    fn tini_verbosity() {
        let level = |list: &[&str], env: &[(&str, &str)]| run_with(list, env).log;
        for n in 0..=4u8 {
            let text = n.to_string();
            assert_eq!(
                level(&["x"], &[("TINI_VERBOSITY", &text)]),
                LogSpec::Level(n)
            );
            assert_eq!(level(&["--verbosity", &text, "x"], &[]), LogSpec::Level(n));
        }
        // Flags first, then rinit's variable, then tini's.
        let both = [("TINI_VERBOSITY", "3"), ("RINIT_LOG", "info")];
        assert_eq!(level(&["x"], &both), LogSpec::Filter("info".into()));
        assert_eq!(level(&["--verbosity=0", "x"], &both), LogSpec::Level(0));
        assert_eq!(
            level(&["-v", "--verbosity=0", "x"], &both),
            LogSpec::Level(2)
        );
        assert_eq!(level(&["-q", "x"], &both), LogSpec::Level(0));
        assert!(
            err(&["x"], &[("TINI_VERBOSITY", "loud")])
                .starts_with("invalid value 'loud' for TINI_VERBOSITY: expected a level")
        );
        assert!(err(&["--verbosity", "-1", "x"], &[]).contains("for --verbosity"));
    }

    #[test]
    fn verbosity_saturates() {
        let many = format!("-{}", "v".repeat(300));
        assert_eq!(run(&[&many, "x"]).log, LogSpec::Level(u8::MAX));
    }

    #[test]
    fn short_values_keep_an_equals_sign() {
        assert!(err(&["-e=3", "x"], &[]).contains("'=3' for --remap-exit"));
        assert_eq!(err(&["-q=1", "x"], &[]), "unknown option -=");
    }

    #[test]
    fn values_and_commands_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let latin1 = || OsString::from_vec(b"caf\xe9".to_vec());
        let Err(UsageError(msg)) = parse([OsString::from("-r"), latin1(), "x".into()], no_env)
        else {
            panic!()
        };
        assert_eq!(msg, "value caf\u{FFFD} for --rewrite is not valid UTF-8");
        let command = vec![latin1(), latin1()];
        match parse(command.clone(), no_env) {
            Ok(Request::Run(cfg)) => assert_eq!(cfg.command, command),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_in_every_spelling() {
        for spelling in [
            &["-r", "TERM:QUIT", "x"][..],
            &["-rTERM:QUIT", "x"],
            &["--rewrite", "TERM:QUIT", "x"],
            &["--rewrite=TERM:QUIT", "x"],
            &["-vrTERM:QUIT", "x"],
        ] {
            let cfg = run(spelling);
            assert_eq!(
                cfg.policy.rewrites.apply(crate::signals::SIGTERM),
                Signo::new(3),
                "{spelling:?}"
            );
        }
        let cfg = run(&[
            "-e",
            "143",
            "-e",
            "130",
            "-p",
            "HUP",
            "--grace",
            "500ms",
            "--kill-after",
            "2m",
            "--stuck-timeout",
            "3",
            "x",
        ]);
        assert!(
            cfg.policy.remap.contains(143)
                && cfg.policy.remap.contains(130)
                && !cfg.policy.remap.contains(0)
        );
        assert_eq!(cfg.pdeathsig, Signo::new(1));
        assert_eq!(cfg.policy.grace, Duration::from_millis(500));
        assert_eq!(cfg.policy.kill_after, Some(Duration::from_secs(120)));
        assert_eq!(cfg.policy.stuck_timeout, Duration::from_secs(3));
        assert!(run(&["--signal-child-only", "x"]).signal_child_only);
        assert_eq!(run(&["--kill-after=off", "x"]).policy.kill_after, None);
    }

    #[test]
    fn environment_fills_in_and_flags_win() {
        let env = [
            ("RINIT_SIGNAL_CHILD_ONLY", "yes"),
            ("RINIT_REWRITE", "TERM:QUIT, USR1:0"),
            ("RINIT_REMAP_EXIT", "3,4"),
            ("RINIT_PDEATHSIG", "SIGUSR2"),
            ("RINIT_GRACE", "2s"),
            ("RINIT_KILL_AFTER", "1s"),
            ("RINIT_STUCK_TIMEOUT", "1m"),
        ];
        let cfg = run_with(&["x"], &env);
        assert!(cfg.signal_child_only);
        assert_eq!(
            cfg.policy.rewrites.apply(crate::signals::SIGTERM),
            Signo::new(3)
        );
        assert_eq!(cfg.policy.rewrites.apply(Signo::new(10).unwrap()), None);
        assert!(cfg.policy.remap.contains(3) && cfg.policy.remap.contains(4));
        assert_eq!(cfg.pdeathsig, Signo::new(12));
        assert_eq!(cfg.policy.grace, Duration::from_secs(2));
        assert_eq!(cfg.policy.kill_after, Some(Duration::from_secs(1)));
        assert_eq!(cfg.policy.stuck_timeout, Duration::from_secs(60));

        let cfg = run_with(
            &[
                "-e",
                "5",
                "-r",
                "HUP:INT",
                "--grace",
                "1",
                "--kill-after",
                "off",
                "x",
            ],
            &env,
        );
        assert!(cfg.policy.remap.contains(5) && !cfg.policy.remap.contains(3));
        assert_eq!(
            cfg.policy.rewrites.apply(crate::signals::SIGTERM),
            Some(crate::signals::SIGTERM)
        );
        assert_eq!(
            cfg.policy.rewrites.apply(Signo::new(1).unwrap()),
            Some(crate::signals::SIGINT)
        );
        assert_eq!(cfg.policy.grace, Duration::from_secs(1));
        assert_eq!(cfg.policy.kill_after, None);
    }

    #[test]
    fn empty_variables_are_unset() {
        let lookup = |_: &str| Some(OsString::new());
        let Ok(Request::Run(cfg)) = parse(args(&["x"]), lookup) else {
            panic!()
        };
        assert_eq!(cfg.policy.grace, Duration::from_secs(5));
        assert!(!cfg.signal_child_only);
    }

    #[test]
    fn usage_errors_name_the_problem() {
        assert_eq!(err(&[], &[]), "no command given");
        assert_eq!(err(&["-v"], &[]), "no command given");
        assert_eq!(err(&["--bogus", "x"], &[]), "unknown option --bogus");
        assert_eq!(err(&["-z", "x"], &[]), "unknown option -z");
        assert_eq!(err(&["--grace"], &[]), "option --grace needs a value");
        assert_eq!(err(&["-r"], &[]), "option -r needs a value");
        assert_eq!(
            err(&["--quiet=1", "x"], &[]),
            "option --quiet takes no value"
        );
        assert!(err(&["--grace", "soon", "x"], &[]).contains("'soon' for --grace"));
        assert!(err(&["-e", "256", "x"], &[]).contains("'256' for --remap-exit"));
        assert!(err(&["-p", "NOPE", "x"], &[]).contains("'NOPE' for --pdeathsig"));
        assert!(err(&["-r", "TERM", "x"], &[]).contains("--rewrite"));
        assert!(err(&["--kill-after", "-1", "x"], &[]).contains("--kill-after"));
        assert!(
            err(&["x"], &[("RINIT_SIGNAL_CHILD_ONLY", "maybe")])
                .contains("RINIT_SIGNAL_CHILD_ONLY")
        );
        assert!(err(&["x"], &[("RINIT_GRACE", "5x")]).contains("'5x' for RINIT_GRACE"));
        assert!(err(&["x"], &[("RINIT_REMAP_EXIT", "1,x")]).contains("RINIT_REMAP_EXIT"));
        assert!(err(&["x"], &[("RINIT_REWRITE", "TERM:NOPE")]).contains("RINIT_REWRITE"));
    }

    #[test]
    fn usage_errors_are_one_line_whatever_the_value() {
        // Found by the fuzzer (.fuzz/fuzz_targets/cli.rs): a BEL in an
        // option name, a newline in a value and in a variable.
        assert_eq!(
            err(&["-vv", "--\u{7}RINIT_FUSORT=:0"], &[]),
            "unknown option --\\x07RINIT_FUSORT"
        );
        assert_eq!(
            err(&["--grace", "5s\nrinit: ERROR forged", "x"], &[]),
            "invalid value '5s\\nrinit: ERROR forged' for --grace: expected a duration such as 500ms, 5s or 2m"
        );
        let msg = err(&["x"], &[("RINIT_CGROUP", "a\r\x1b[2Kb\tc")]);
        assert!(
            msg.starts_with("invalid value 'a\\r\\x1b[2Kb\\tc' for RINIT_CGROUP"),
            "{msg}"
        );
    }

    #[test]
    fn booleans() {
        for t in ["1", "true", "YES", "True"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["0", "false", "no", "NO"] {
            assert_eq!(parse_bool(f), Some(false));
        }
        for bad in ["", "2", "on", "y"] {
            assert_eq!(parse_bool(bad), None);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "s", "5x", "-1", "1.5s", "5 s", "99999999999999999999"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
