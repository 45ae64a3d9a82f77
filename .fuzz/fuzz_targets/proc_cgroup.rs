//! `/proc/self/cgroup` with `/proc/self/mountinfo` (NUL-separated): where
//! rinit's own cgroups are. The child's cgroup is created in the directory
//! found, so it must lie under a cgroup mount of the right kind, and never
//! above the part of the tree that mount shows. Both are bytes: a mount
//! point or a cgroup name need not be UTF-8, and one that is not must not
//! hide the other mounts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::cgroup::{Kind, discover, memberships};
use rinit::os::procfs::parse_mountinfo;
use std::os::unix::ffi::OsStrExt;
use std::path::Component;

fuzz_target!(|data: &[u8]| {
    let (mountinfo, proc_cgroup) = rinit_fuzz::two_inputs(data);
    for (kind, path) in memberships(proc_cgroup) {
        let suffix = [b":".as_slice(), path.as_os_str().as_bytes()].concat();
        let line = proc_cgroup
            .split(|&b| b == b'\n')
            .find(|l| l.ends_with(&suffix))
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
                && h.own_dir.strip_prefix(&m.point).is_ok_and(|rel| {
                    rel.components()
                        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
                })
        });
        assert!(
            under_a_mount,
            "{h:?} is not inside a cgroup mount of {mounts:?}"
        );
    }

    // A cgroup2 mount after the input's lines, whatever they hold, is
    // found.
    let with_v2 = [
        mountinfo,
        b"\n41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    ]
    .concat();
    assert!(
        discover(&with_v2, b"0::/app\n")
            .iter()
            .any(|h| h.kind == Kind::V2),
        "{:?}",
        String::from_utf8_lossy(&with_v2)
    );
});
