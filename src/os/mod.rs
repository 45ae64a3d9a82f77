//! The operating-system layer: every syscall (`sys`, the only module with
//! `unsafe`) and every read of /proc (`procfs`). The rest of rinit is pure
//! logic, or drives these two.

pub mod procfs;
pub mod sys;
