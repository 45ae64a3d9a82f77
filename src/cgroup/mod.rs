//! The child's own cgroup: where it goes (`discover`, pure parsing of
//! mountinfo and /proc/self/cgroup, names and sizes) and the directories
//! themselves (`child`: create, limit, watch, kill, remove).

mod child;
mod discover;

pub use child::{ChildCgroup, SetupError, plain};
pub use discover::{Kind, describe_size, dir_in, discover, memberships, parse_size, valid_name};
