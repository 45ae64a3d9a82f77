//! Logs go to stderr only, as `rinit: LEVEL message`: no colour, no
//! timestamps (the container runtime adds its own), nothing on a clean run.
//!
//! env_logger with its default features off: no colour, timestamp or regex
//! code in the binary, and `RINIT_LOG` is its filter syntax exactly (cli.rs
//! has already checked it parses). A failed write (stderr a closed pipe) is
//! dropped by env_logger's `Log::log`, so it cannot take PID 1 down; that
//! holds for its `Pipe` target used here, not for `is_test`, which prints
//! with `eprint!` and panics.

use crate::cli::LogSpec;
use crate::escape::escape;
use crate::os::sys;
use crate::signals::{self, Signo};
use log::LevelFilter;
use std::io::{self, Write};

/// stderr, minus the signal a failed write raises at rinit: SIGPIPE for a
/// closed pipe, SIGXFSZ for a file past RLIMIT_FSIZE. The loop drops
/// signals rinit sent itself anyway, but one left pending would wake it,
/// and a log line about that would raise another, without end.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = io::stderr().write(buf);
        if let Err(e) = &written
            && let Some(raised) = signal_raised_by(e.kind())
        {
            let _ = sys::take_own_signal(raised);
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// The signal the kernel raises at a writer whose write failed this way.
fn signal_raised_by(kind: io::ErrorKind) -> Option<Signo> {
    match kind {
        io::ErrorKind::BrokenPipe => Some(signals::SIGPIPE),
        io::ErrorKind::FileTooLarge => Some(signals::SIGXFSZ),
        _ => None,
    }
}

fn builder(spec: &LogSpec) -> env_logger::Builder {
    let mut builder = env_logger::Builder::new();
    match spec {
        LogSpec::Level(n) => builder.filter_level(match n {
            0 => LevelFilter::Error,
            1 => LevelFilter::Warn,
            2 => LevelFilter::Info,
            3 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        }),
        LogSpec::Filter(text) => builder.parse_filters(text),
    };
    // Messages carry names from outside (argv, /proc): escaped here, at the
    // one place every line passes, none can end its line early.
    builder.format(|out, record| {
        let message = record.args().to_string();
        writeln!(out, "rinit: {} {}", record.level(), escape(&message))
    });
    builder
}

pub fn init(spec: &LogSpec) {
    // Only fails if a logger is already set, which cannot happen here.
    let _ = builder(spec)
        .target(env_logger::Target::Pipe(Box::new(Stderr)))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::{Level, Log, Record};
    use std::io;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What the logger for `spec` prints for these (level, target, message).
    fn printed(spec: LogSpec, records: &[(Level, &str, &str)]) -> String {
        let out = Captured::default();
        let logger = builder(&spec)
            .target(env_logger::Target::Pipe(Box::new(out.clone())))
            .build();
        for &(level, target, message) in records {
            logger.log(
                &Record::builder()
                    .level(level)
                    .target(target)
                    .module_path(Some(target))
                    .args(format_args!("{message}"))
                    .build(),
            );
        }
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn one_plain_line_per_record() {
        assert_eq!(
            printed(
                LogSpec::Level(2),
                &[
                    (Level::Warn, "rinit::runtime", "careful"),
                    (Level::Info, "rinit::cgroup::child", "made app"),
                    (Level::Debug, "rinit::runtime", "hidden"),
                ]
            ),
            "rinit: WARN careful\nrinit: INFO made app\n"
        );
    }

    #[test]
    fn a_message_is_one_line_whatever_it_holds() {
        assert_eq!(
            printed(
                LogSpec::Level(1),
                &[(
                    Level::Error,
                    "rinit",
                    "cannot execute 'a\nrinit: ERROR forged\x1b[2J'"
                )]
            ),
            "rinit: ERROR cannot execute 'a\\nrinit: ERROR forged\\x1b[2J'\n"
        );
    }

    #[test]
    fn levels_from_the_flags() {
        let all = [
            (Level::Error, "rinit", "e"),
            (Level::Warn, "rinit", "w"),
            (Level::Info, "rinit", "i"),
            (Level::Debug, "rinit", "d"),
            (Level::Trace, "rinit", "t"),
        ];
        let count = |n| printed(LogSpec::Level(n), &all).lines().count();
        assert_eq!(
            [0, 1, 2, 3, 4, 255].map(count),
            [1, 2, 3, 4, 5, 5],
            "-q, default, -v, -vv, -vvv, more"
        );
    }

    #[test]
    fn env_logger_filter_syntax() {
        let records = [
            (Level::Debug, "rinit::runtime", "loop woke"),
            (Level::Debug, "rinit::cgroup", "cgroup made"),
            (Level::Trace, "rinit::cgroup::child", "wrote 0"),
            (Level::Info, "rinit::spawn", "spawned"),
        ];
        let filtered = |spec: &str| printed(LogSpec::Filter(spec.into()), &records);
        assert_eq!(filtered("debug").lines().count(), 3);
        assert_eq!(
            filtered("warn,rinit::cgroup=trace"),
            "rinit: DEBUG cgroup made\nrinit: TRACE wrote 0\n"
        );
        assert_eq!(filtered("trace/made"), "rinit: DEBUG cgroup made\n");
        assert_eq!(filtered("rinit::runtime=debug"), "rinit: DEBUG loop woke\n");
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn failed_writes_that_raise_a_signal() {
        assert_eq!(
            signal_raised_by(io::Error::from_raw_os_error(sys::errno::EPIPE).kind()),
            Some(signals::SIGPIPE)
        );
        assert_eq!(
            signal_raised_by(io::Error::from_raw_os_error(sys::errno::EFBIG).kind()),
            Some(signals::SIGXFSZ)
        );
        assert_eq!(signal_raised_by(io::ErrorKind::WouldBlock), None);
    }

    #[test]
    fn a_failed_write_is_dropped() {
        let logger = builder(&LogSpec::Level(1))
            .target(env_logger::Target::Pipe(Box::new(Broken)))
            .build();
        for _ in 0..2 {
            logger.log(
                &Record::builder()
                    .level(Level::Error)
                    .args(format_args!("lost"))
                    .build(),
            );
        }
    }
}
