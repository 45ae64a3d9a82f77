//! `/proc/self/cgroup` with `/proc/self/mountinfo` (NUL-separated): where
//! rinit's own cgroups are. The child's cgroup is created in the directory
//! found, so it must lie under a cgroup mount of the right kind, and never
//! above the part of the tree that mount shows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::cgroup::{Kind, discover, memberships};
use rinit::os::procfs::parse_mountinfo;
use std::path::{Component, Path};

fuzz_target!(|data: &[u8]| {
    let Some((mountinfo, proc_cgroup)) = rinit_fuzz::two_texts(data) else {
        return;
    };
    for (kind, path) in memberships(proc_cgroup) {
        let line = proc_cgroup
            .lines()
            .find(|l| l.ends_with(&format!(":{path}")))
            .unwrap_or_else(|| panic!("{kind:?} {path:?} from no line"));
        assert!(!line.is_empty());
    }

    let mounts = parse_mountinfo(mountinfo);
    let found = discover(mountinfo, proc_cgroup);
    let mut kinds: Vec<Kind> = found.iter().map(|h| h.kind).collect();
    kinds.dedup();
    assert_eq!(
        kinds.len(),
        found.len(),
        "one directory per kind: {found:?}"
    );
    for h in &found {
        let under_a_mount = mounts.iter().any(|m| {
            let right_kind = match h.kind {
                Kind::V2 => m.fstype == "cgroup2",
                Kind::V1Freezer | Kind::V1Memory => m.fstype == "cgroup",
            };
            right_kind
                && h.own_dir
                    .strip_prefix(Path::new(&m.point))
                    .is_ok_and(|rel| {
                        rel.components()
                            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
                    })
        });
        assert!(
            under_a_mount,
            "{h:?} is not inside a cgroup mount of {mounts:?}"
        );
    }
});
