//! Every option, once: its spellings, its variable, what it takes, its
//! default and its help line. The parser reads this table, `--help` is made
//! from it, and the tests in `cli::docs` hold the man page and the README's
//! options table to it. What an option means is in `cli::build`.
//!
//! Adding an option: an [`Id`], an entry in [`OPTIONS`] at the same place,
//! and its meaning in `build`; the man page and the README then fail their
//! tests until they describe it.

/// Names an option for `build`; the position of its entry in [`OPTIONS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    Help,
    Version,
    License,
    Pause,
    Verbose,
    Verbosity,
    Quiet,
    SignalChildOnly,
    SignalGroup,
    Rewrite,
    RemapExit,
    Pdeathsig,
    Subreaper,
    WarnOnReap,
    Grace,
    KillAfter,
    StopDelay,
    StuckTimeout,
    Report,
    ReportFormat,
    Leaks,
    LeaksExitCode,
    FuseAbort,
    Cgroup,
    MemoryLimit,
    CgroupRequired,
    Ready,
    ReadyTimeout,
}

/// What an option takes on the command line, and so what its variable holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Given or not; its variable is a boolean.
    Switch,
    /// Counted (`-vvv`); its variable holds a value of another kind, named
    /// here.
    Count { var_value: &'static str },
    /// One value, named here; the last one given wins.
    Value(&'static str),
    /// A value, named here, and repeatable; its variable is a
    /// comma-separated list, and any use of the flag replaces all of it.
    List(&'static str),
}

/// What applies when neither the flag nor its variable is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absent {
    /// Nothing: a switch is off, a value option has no value.
    Unset,
    /// This text, read exactly as a given value is.
    Value(&'static str),
    /// What this says, for a default that is no value of the option (the
    /// log level without `-v`).
    Means(&'static str),
}

#[derive(Debug)]
pub struct Opt {
    pub id: Id,
    /// Without the leading `--`.
    pub long: &'static str,
    pub short: Option<char>,
    /// The environment variable; the flag wins over it.
    pub var: Option<&'static str>,
    pub kind: Kind,
    pub default: Absent,
    /// One line for `--help`, wrapped there; a [`Absent::Value`] default
    /// is added to it.
    pub help: &'static str,
}

pub static OPTIONS: &[Opt] = &[
    Opt {
        id: Id::Help,
        long: "help",
        short: Some('h'),
        var: None,
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "print this help and exit",
    },
    Opt {
        id: Id::Version,
        long: "version",
        short: Some('V'),
        var: None,
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "print the version and exit",
    },
    Opt {
        id: Id::License,
        long: "license",
        short: Some('l'),
        var: None,
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "print the license and exit",
    },
    Opt {
        id: Id::Pause,
        long: "pause",
        short: Some('P'),
        var: None,
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "run no command: reap, and exit 0 on INT/TERM (a pod's pause process)",
    },
    Opt {
        id: Id::Verbose,
        long: "verbose",
        short: Some('v'),
        var: Some("RINIT_LOG"),
        kind: Kind::Count {
            var_value: "FILTER",
        },
        default: Absent::Means("warnings only"),
        help: "log more (repeat for more)",
    },
    Opt {
        id: Id::Verbosity,
        long: "verbosity",
        short: None,
        var: Some("TINI_VERBOSITY"),
        kind: Kind::Value("LEVEL"),
        default: Absent::Means("1"),
        help: "log level: 0 errors, 1 warnings, 2 info, 3 debug, 4 trace",
    },
    Opt {
        id: Id::Quiet,
        long: "quiet",
        short: Some('q'),
        var: None,
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "log errors only",
    },
    Opt {
        id: Id::SignalChildOnly,
        long: "signal-child-only",
        short: None,
        var: Some("RINIT_SIGNAL_CHILD_ONLY"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "forward to the child, not its group",
    },
    Opt {
        id: Id::SignalGroup,
        long: "signal-group",
        short: Some('g'),
        var: Some("TINI_KILL_PROCESS_GROUP"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "forward to the child's group: a no-op (the default)",
    },
    Opt {
        id: Id::Rewrite,
        long: "rewrite",
        short: Some('r'),
        var: Some("RINIT_REWRITE"),
        kind: Kind::List("FROM:TO"),
        default: Absent::Unset,
        help: "forward FROM as TO (TO=0 drops it)",
    },
    Opt {
        id: Id::RemapExit,
        long: "remap-exit",
        short: Some('e'),
        var: Some("RINIT_REMAP_EXIT"),
        kind: Kind::List("CODE"),
        default: Absent::Unset,
        help: "report the child's CODE as 0",
    },
    Opt {
        id: Id::Pdeathsig,
        long: "pdeathsig",
        short: Some('p'),
        var: Some("RINIT_PDEATHSIG"),
        kind: Kind::Value("SIGNAL"),
        default: Absent::Unset,
        help: "act on SIGNAL when my parent dies",
    },
    Opt {
        id: Id::Subreaper,
        long: "subreaper",
        short: Some('s'),
        var: Some("TINI_SUBREAPER"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "be a subreaper: a no-op (rinit is, unless PID 1)",
    },
    Opt {
        id: Id::WarnOnReap,
        long: "warn-on-reap",
        short: Some('w'),
        var: Some("RINIT_WARN_ON_REAP"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "warn for each zombie reaped but COMMAND",
    },
    Opt {
        id: Id::Grace,
        long: "grace",
        short: None,
        var: Some("RINIT_GRACE"),
        kind: Kind::Value("DURATION"),
        default: Absent::Value("5s"),
        help: "SIGTERM-to-SIGKILL time",
    },
    Opt {
        id: Id::KillAfter,
        long: "kill-after",
        short: None,
        var: Some("RINIT_KILL_AFTER"),
        kind: Kind::Value("DURATION"),
        default: Absent::Value("off"),
        help: "SIGKILL the child DURATION after a forwarded TERM/INT",
    },
    Opt {
        id: Id::StopDelay,
        long: "stop-delay",
        short: None,
        var: Some("RINIT_STOP_DELAY"),
        kind: Kind::Value("DURATION"),
        default: Absent::Value("0"),
        help: "hold the first TERM/INT for DURATION before forwarding it",
    },
    Opt {
        id: Id::StuckTimeout,
        long: "stuck-timeout",
        short: None,
        var: Some("RINIT_STUCK_TIMEOUT"),
        kind: Kind::Value("DURATION"),
        default: Absent::Value("10s"),
        help: "wait after the final SIGKILL",
    },
    Opt {
        id: Id::Report,
        long: "report",
        short: None,
        var: Some("RINIT_REPORT"),
        kind: Kind::Value("PATH"),
        default: Absent::Unset,
        help: "write the exit report there",
    },
    Opt {
        id: Id::ReportFormat,
        long: "report-format",
        short: None,
        var: Some("RINIT_REPORT_FORMAT"),
        kind: Kind::Value("FORMAT"),
        default: Absent::Value("json"),
        help: "json (the whole report) or text (a termination message, 4096 bytes at most)",
    },
    Opt {
        id: Id::Leaks,
        long: "leaks",
        short: None,
        var: Some("RINIT_LEAKS"),
        kind: Kind::Value("MODE"),
        default: Absent::Value("off"),
        help: "off, warn (say what the command left behind) or fail (also exit \
               with the leak code if it succeeded)",
    },
    Opt {
        id: Id::LeaksExitCode,
        long: "leaks-exit-code",
        short: None,
        var: Some("RINIT_LEAKS_EXIT_CODE"),
        kind: Kind::Value("CODE"),
        default: Absent::Value("99"),
        help: "exit code for --leaks fail",
    },
    Opt {
        id: Id::FuseAbort,
        long: "fuse-abort",
        short: None,
        var: Some("RINIT_FUSE_ABORT"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "abort FUSE connections that hold stuck tasks, after the report",
    },
    Opt {
        id: Id::Cgroup,
        long: "cgroup",
        short: None,
        var: Some("RINIT_CGROUP"),
        kind: Kind::Value("NAME"),
        default: Absent::Unset,
        help: "run the child in cgroup NAME, made under rinit's own cgroup",
    },
    Opt {
        id: Id::MemoryLimit,
        long: "memory-limit",
        short: None,
        var: Some("RINIT_MEMORY_LIMIT"),
        kind: Kind::Value("SIZE"),
        default: Absent::Unset,
        help: "memory limit of that cgroup (64M, 1G; implies a cgroup)",
    },
    Opt {
        id: Id::CgroupRequired,
        long: "cgroup-required",
        short: None,
        var: Some("RINIT_CGROUP_REQUIRED"),
        kind: Kind::Switch,
        default: Absent::Unset,
        help: "fail (exit 1) instead of running without the cgroup",
    },
    Opt {
        id: Id::Ready,
        long: "ready",
        short: None,
        var: Some("RINIT_READY"),
        kind: Kind::Value("CONDITION"),
        default: Absent::Unset,
        help: "once tcp:[HOST:]PORT, file:PATH or exec:PROGRAM holds, send READY=1 to \
               NOTIFY_SOCKET",
    },
    Opt {
        id: Id::ReadyTimeout,
        long: "ready-timeout",
        short: None,
        var: Some("RINIT_READY_TIMEOUT"),
        kind: Kind::Value("DURATION"),
        default: Absent::Value("60s"),
        help: "stop checking --ready then, with a warning",
    },
];

/// The entry of `id`.
pub fn opt(id: Id) -> &'static Opt {
    &OPTIONS[id as usize]
}

impl Opt {
    /// `--grace`: how errors name the flag, whichever spelling was used.
    pub fn flag(&self) -> String {
        format!("--{}", self.long)
    }

    /// `-r, --rewrite FROM:TO`, as --help, the man page and the README
    /// write it.
    pub fn spelling(&self) -> String {
        let short = self.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        match self.kind {
            Kind::Value(value) | Kind::List(value) => format!("{short}--{} {value}", self.long),
            Kind::Switch | Kind::Count { .. } => format!("{short}--{}", self.long),
        }
    }

    /// `RINIT_REWRITE=FROM:TO,...`: the variable and what it holds.
    pub fn var_spelling(&self) -> Option<String> {
        let var = self.var?;
        Some(match self.kind {
            Kind::Switch => format!("{var}=1"),
            Kind::Count { var_value } => format!("{var}={var_value}"),
            Kind::Value(_) => var.to_string(),
            Kind::List(value) => format!("{var}={value},..."),
        })
    }

    pub fn repeatable(&self) -> bool {
        matches!(self.kind, Kind::Count { .. } | Kind::List(_))
    }

    /// The default in words, as the README's table writes it: the value,
    /// else `off` for a switch or `none` for a value, and nothing for an
    /// option with no variable (there is nothing to be off).
    pub fn default_in_words(&self) -> &'static str {
        match (self.default, self.kind, self.var) {
            (Absent::Value(text) | Absent::Means(text), _, _) => text,
            (Absent::Unset, _, None) => "",
            (Absent::Unset, Kind::Switch | Kind::Count { .. }, Some(_)) => "off",
            (Absent::Unset, Kind::Value(_) | Kind::List(_), Some(_)) => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_entry_sits_at_its_id() {
        for (at, entry) in OPTIONS.iter().enumerate() {
            assert_eq!(entry.id as usize, at, "{entry:?}");
        }
    }

    #[test]
    fn names_are_unique_and_well_formed() {
        for (at, a) in OPTIONS.iter().enumerate() {
            assert!(
                a.long.len() > 1 && a.long.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{a:?}"
            );
            assert!(
                a.var.is_none_or(
                    |v| !v.is_empty() && v.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                ),
                "{a:?}"
            );
            assert!(!a.help.is_empty() && !a.help.contains('\n'), "{a:?}");
            for b in &OPTIONS[at + 1..] {
                assert_ne!(a.long, b.long);
                assert!(a.short.is_none() || a.short != b.short, "{a:?} {b:?}");
                assert!(a.var.is_none() || a.var != b.var, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn spellings() {
        assert_eq!(opt(Id::Rewrite).spelling(), "-r, --rewrite FROM:TO");
        assert_eq!(opt(Id::Grace).spelling(), "--grace DURATION");
        assert_eq!(opt(Id::Quiet).spelling(), "-q, --quiet");
        assert_eq!(
            opt(Id::Rewrite).var_spelling().as_deref(),
            Some("RINIT_REWRITE=FROM:TO,...")
        );
        assert_eq!(
            opt(Id::FuseAbort).var_spelling().as_deref(),
            Some("RINIT_FUSE_ABORT=1")
        );
        assert_eq!(
            opt(Id::Verbose).var_spelling().as_deref(),
            Some("RINIT_LOG=FILTER")
        );
        assert_eq!(opt(Id::Help).var_spelling(), None);
        assert_eq!(opt(Id::Grace).default_in_words(), "5s");
        assert_eq!(opt(Id::Cgroup).default_in_words(), "none");
        assert_eq!(opt(Id::FuseAbort).default_in_words(), "off");
        assert_eq!(opt(Id::Quiet).default_in_words(), "");
    }
}
