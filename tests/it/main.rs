//! Integration tests: the real rinit binary, as PID 1 of a fresh PID
//! namespace and as a subreaper. One test per behaviour; every run has a
//! watchdog (see `common`).

mod cgroups;
mod child_setup;
mod cli;
mod common;
mod container;
mod exit_status;
mod reaping;
mod shutdown;
mod signals;
mod stuck;
