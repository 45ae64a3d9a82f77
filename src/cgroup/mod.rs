//! The child's own cgroup: where it goes (`discover`, pure parsing of
//! mountinfo and /proc/self/cgroup, names and sizes) and the directories
//! themselves (`child`: create, limit, watch, kill, remove), and which OOM
//! kills to report when (`oom`, pure).

mod child;
mod discover;
pub mod oom;

pub use child::{ChildCgroup, SetupError, plain};
pub use discover::{Kind, dir_in, discover, memberships, parse_size, valid_name};
