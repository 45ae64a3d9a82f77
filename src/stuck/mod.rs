//! Stuck exits: tasks that survive SIGKILL. `gather` reads the facts from
//! /proc and sysfs; `task` classifies them and formats them, as log lines
//! and as one JSON document; `report` decides who is reported, which FUSE
//! connections to abort, and writes it all out.

mod gather;
mod report;
mod task;

pub use report::{ReportConfig, main_child, report, survivors};
