//! Stuck exits: tasks that survive SIGKILL. `gather` reads the facts from
//! /proc and sysfs; `task` classifies them and formats them, as log lines
//! and as the exit report's section; `report` decides who is reported and
//! which FUSE connections to abort.

mod gather;
mod report;
mod task;

pub use report::{Reported, report};
pub use task::StuckSection;
