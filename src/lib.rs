//! rinit's parts, as a library so that the fuzz targets (.fuzz/) can drive the
//! parsers; the binary (main.rs) is the start-up sequence that uses them.
//!
//! Pure logic, no syscalls, unit-tested on strings: `cli`, `escape`,
//! `signals`, `exit_status`, `supervisor`, `pause::on_signal`, `cgroup::discover`,
//! `cgroup::oom`, `teardown::census`, `stuck::task`, and the parsers in
//! `os::procfs`. The operating-system layer is `os` (`sys`: every syscall
//! and the only `unsafe`; `procfs`: every read of /proc). Driving both:
//! `runtime` (the loop), `wake` (its one wait), `teardown` (who is left after the main child,
//! signalling them, what the end tells), `spawn`, `cgroup::child`,
//! `stuck::gather` and `stuck::report`, and `logging`.
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroup;
pub mod cli;
pub mod escape;
pub mod exit_report;
pub mod exit_status;
pub mod leaks;
pub mod logging;
pub mod os;
pub mod pause;
pub mod ready;
pub mod runtime;
pub mod signals;
pub mod spawn;
pub mod stuck;
pub mod supervisor;
pub mod teardown;
pub mod wake;
