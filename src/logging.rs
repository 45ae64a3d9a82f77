//! Logs go to stderr only, as `rinit: LEVEL message`: no colour, no
//! timestamps (the container runtime adds its own), nothing on a clean run.
//! This is the one place that knows the logging backend.

use crate::cli::LogSpec;
use log::LevelFilter;
use std::io::Write;

pub fn init(spec: &LogSpec) {
    let mut builder = env_logger::Builder::new();
    builder
        .format(|buf, record| writeln!(buf, "rinit: {} {}", record.level(), record.args()))
        .target(env_logger::Target::Stderr)
        .write_style(env_logger::WriteStyle::Never);
    match spec {
        LogSpec::Level(n) => {
            builder.filter_level(match n {
                0 => LevelFilter::Error,
                1 => LevelFilter::Warn,
                2 => LevelFilter::Info,
                3 => LevelFilter::Debug,
                _ => LevelFilter::Trace,
            });
        }
        LogSpec::Filter(filter) => {
            builder.parse_filters(filter);
        }
    }
    // Only fails if a logger is already set, which cannot happen here.
    let _ = builder.try_init();
}
