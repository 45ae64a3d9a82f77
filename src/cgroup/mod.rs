//! The child's own cgroup: where it goes (`discover`, pure parsing of
//! mountinfo and /proc/self/cgroup, names and sizes) and the directories
//! themselves (`child`: create, limit, watch, kill, remove), and which OOM
//! kills to report when (`oom`, pure).

mod child;
mod discover;
#[cfg(test)]
mod fake_kernel;
pub mod oom;

pub use child::{ChildCgroup, SetupError};
pub use discover::{
    Hierarchy, Kind, describe_size, dir_in, discover, keyed_value, memberships, parse_pids,
    parse_size, valid_name,
};

use crate::os::procfs::Proc;

/// The hierarchies rinit can use, from `proc`'s `self/mountinfo` and
/// `self/cgroup`.
pub fn discover_own(proc: &Proc) -> Result<Vec<Hierarchy>, SetupError> {
    let mountinfo = proc.self_mountinfo().map_err(SetupError)?;
    let own = proc.self_cgroup().map_err(SetupError)?;
    Ok(discover(&mountinfo, &own))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::TempDir;

    #[test]
    fn discovers_own_hierarchies_through_a_proc_tree() {
        let tmp = TempDir::new();
        let proc = Proc::at(tmp.path());
        let err = discover_own(&proc).expect_err("no mountinfo");
        assert!(err.0.starts_with("cannot read "), "{}", err.0);
        tmp.file(
            "self/mountinfo",
            "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        tmp.file("self/cgroup", "0::/app\n");
        assert_eq!(
            discover_own(&proc).map_err(|e| e.0),
            Ok(vec![Hierarchy {
                kind: Kind::V2,
                own_dir: "/sys/fs/cgroup/app".into()
            }])
        );
    }
}
