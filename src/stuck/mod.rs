//! Stuck exits: tasks that survive SIGKILL. `gather` reads the facts from
//! /proc and sysfs; `task` classifies them and formats the report, as log
//! lines and as one JSON document.

mod gather;
mod task;

pub use gather::{Fusectl, gather};
pub use task::{AbortOutcome, Class, MainChild, to_json};
