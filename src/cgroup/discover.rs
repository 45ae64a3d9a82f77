//! Where rinit's own cgroups are, and where the child's go: pure parsing of
//! `/proc/self/mountinfo` and `/proc/self/cgroup`, names and sizes. The
//! file operations live in `cgroupfs`.
//!
//! rinit uses, when mounted: the v1 `freezer` hierarchy (atomic kill:
//! freeze, SIGKILL, thaw), the v1 `memory` hierarchy (limit, OOM counter),
//! and the v2 unified hierarchy (`cgroup.kill`, `populated`, and on a pure
//! v2 host `memory.max`/`memory.events`). The child's cgroup is created
//! under rinit's own cgroup in each of them, never above it.

use crate::os::procfs;
use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    V1Freezer,
    V1Memory,
    V2,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::V1Freezer => "cgroup v1 freezer",
            Kind::V1Memory => "cgroup v1 memory",
            Kind::V2 => "cgroup v2",
        })
    }
}

/// One hierarchy rinit can use, and the directory of rinit's own cgroup in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub kind: Kind,
    pub own_dir: PathBuf,
}

/// The directory of `own` (a path from /proc/self/cgroup) under a mount
/// whose root is `root`; `None` when the cgroup is not visible there (a
/// cgroup namespace showing the host's mount with root `/..`). Compared
/// and joined as bytes: neither path need be UTF-8.
fn own_dir(point: &Path, root: &Path, own: &Path) -> Option<PathBuf> {
    let (root, own) = (root.as_os_str().as_bytes(), own.as_os_str().as_bytes());
    let rel = if root == b"/" {
        own
    } else {
        let rest = own.strip_prefix(root)?;
        if !rest.is_empty() && !rest.starts_with(b"/") {
            return None;
        }
        rest
    };
    if rel.split(|&b| b == b'/').any(|c| c == b"..") {
        return None;
    }
    let relative = rel
        .iter()
        .position(|&b| b != b'/')
        .map_or(&[][..], |at| &rel[at..]);
    Some(point.join(OsStr::from_bytes(relative)))
}

/// The hierarchies rinit can use, from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`. The first mount of each kind wins.
pub fn discover(mountinfo: &[u8], proc_cgroup: &[u8]) -> Vec<Hierarchy> {
    let mounts = procfs::parse_mountinfo(mountinfo);
    let mut found: Vec<Hierarchy> = Vec::new();
    for (kind, path) in memberships(proc_cgroup) {
        if found.iter().any(|h| h.kind == kind) {
            continue;
        }
        if let Some(own_dir) = dir_in(&mounts, kind, &path) {
            // In order of kind as they come: a sort would bring its own
            // copy of the generic sort code (3.3 KB) for at most 3 items.
            let at = found.partition_point(|h| (h.kind as u8) < kind as u8);
            found.insert(at, Hierarchy { kind, own_dir });
        }
    }
    found
}

/// The (hierarchy, path) pairs of a `/proc/PID/cgroup` file that rinit
/// cares about. The paths are the kernel's bytes (a cgroup's name need not
/// be UTF-8), since rinit opens files under them.
pub fn memberships(proc_cgroup: &[u8]) -> Vec<(Kind, PathBuf)> {
    let mut out = Vec::new();
    for line in proc_cgroup.split(|&b| b == b'\n') {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = Path::new(OsStr::from_bytes(path));
        if id == b"0" && controllers.is_empty() {
            out.push((Kind::V2, path.to_path_buf()));
        }
        for c in controllers.split(|&b| b == b',') {
            match c {
                b"freezer" => out.push((Kind::V1Freezer, path.to_path_buf())),
                b"memory" => out.push((Kind::V1Memory, path.to_path_buf())),
                _ => {}
            }
        }
    }
    out
}

/// The directory of cgroup `path` of hierarchy `kind`, through the first
/// mount of that hierarchy that shows it.
pub fn dir_in(mounts: &[procfs::Mount], kind: Kind, path: &Path) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|m| match kind {
            Kind::V2 => m.fstype == "cgroup2",
            Kind::V1Freezer => m.fstype == "cgroup" && m.options.split(',').any(|o| o == "freezer"),
            Kind::V1Memory => m.fstype == "cgroup" && m.options.split(',').any(|o| o == "memory"),
        })
        .find_map(|m| own_dir(&m.point, &m.root, path))
}

/// A cgroup name: one path component of safe characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// `64M`, `1G`, `512k`, `1048576`, `64MiB`, `64MB`: binary units.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    let bytes = n.checked_mul(1u64 << shift)?;
    (bytes > 0).then_some(bytes)
}

/// `33554432` → "32 MiB"; sizes that are not whole MiB stay in bytes.
pub fn describe_size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

/// One field of a flat-keyed cgroup file (`cgroup.events`, `memory.events`,
/// v1 `memory.oom_control`): "populated 1\nfrozen 0\n".
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// The process ids listed in `cgroup.procs`. Each gets a signal at
/// teardown, so anything below 1 is dropped: `kill(0)` and `kill(-1)`
/// would reach rinit's own group or every process.
pub fn parse_pids(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .filter(|&p| p > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(mountinfo: &str, proc_cgroup: &str) -> Vec<Hierarchy> {
        discover(mountinfo.as_bytes(), proc_cgroup.as_bytes())
    }

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
6:freezer:/
4:memory:/process_api/c1
1:cpu:/
0::/
";

    #[test]
    fn hierarchies_come_in_order_of_kind() {
        let listed_backwards = "0::/\n4:memory:/m\n6:freezer:/f\n";
        let kinds: Vec<Kind> = found(HYBRID_MOUNTINFO, listed_backwards)
            .into_iter()
            .map(|h| h.kind)
            .collect();
        assert_eq!(kinds, [Kind::V1Freezer, Kind::V1Memory, Kind::V2]);
    }

    #[test]
    fn hybrid_host() {
        assert_eq!(
            found(HYBRID_MOUNTINFO, HYBRID_CGROUP),
            vec![
                Hierarchy {
                    kind: Kind::V1Freezer,
                    own_dir: "/sys/fs/cgroup/freezer".into()
                },
                Hierarchy {
                    kind: Kind::V1Memory,
                    own_dir: "/sys/fs/cgroup/memory/process_api/c1".into()
                },
                Hierarchy {
                    kind: Kind::V2,
                    own_dir: "/sys/fs/cgroup/unified".into()
                },
            ]
        );
    }

    #[test]
    fn pure_v2_in_a_container_namespace() {
        let mountinfo = "1219 1210 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            found(mountinfo, "0::/\n"),
            vec![Hierarchy {
                kind: Kind::V2,
                own_dir: "/sys/fs/cgroup".into()
            }]
        );
        assert_eq!(
            found(mountinfo, "0::/app/web\n"),
            vec![Hierarchy {
                kind: Kind::V2,
                own_dir: "/sys/fs/cgroup/app/web".into()
            }]
        );
    }

    #[test]
    fn combined_v1_controllers_and_bind_mounted_roots() {
        let mountinfo = "\
50 31 0:40 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory,freezer
51 31 0:41 /.. /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let proc_cgroup = "5:memory,freezer:/docker/abc/sub\n0::/elsewhere\n";
        assert_eq!(
            found(mountinfo, proc_cgroup),
            vec![
                Hierarchy {
                    kind: Kind::V1Freezer,
                    own_dir: "/sys/fs/cgroup/memory/sub".into()
                },
                Hierarchy {
                    kind: Kind::V1Memory,
                    own_dir: "/sys/fs/cgroup/memory/sub".into()
                },
            ]
        );
        // Not visible under the mount: skipped.
        assert_eq!(found(mountinfo, "5:memory:/other\n"), vec![]);
        assert_eq!(
            own_dir(
                "/m".as_ref(),
                "/docker/abc".as_ref(),
                "/docker/abcdef".as_ref()
            ),
            None
        );
        assert_eq!(
            own_dir("/m".as_ref(), "/".as_ref(), "/a/../b".as_ref()),
            None
        );
    }

    #[test]
    fn nothing_mounted() {
        assert_eq!(found("", HYBRID_CGROUP), vec![]);
        assert_eq!(found(HYBRID_MOUNTINFO, ""), vec![]);
    }

    #[test]
    fn mount_points_with_spaces() {
        let mountinfo = "41 31 0:38 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            found(mountinfo, "0::/\n")[0].own_dir,
            PathBuf::from("/sys/fs/my cgroup")
        );
    }

    #[test]
    fn paths_that_are_not_utf8() {
        // A Latin-1 mount point elsewhere must not hide the cgroup mount,
        // and a mount point or cgroup name in Latin-1 is used as its bytes.
        let mountinfo = b"60 31 0:50 / /mnt/caf\xe9 rw - tmpfs tmpfs rw\n\
            41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n\
            37 31 0:34 / /sys/fs/fr\xe9ezer rw - cgroup cgroup rw,freezer\n";
        let proc_cgroup = b"6:freezer:/\xe9t\xe9\n0::/app\xff\n";
        let dir = |bytes: &[u8]| PathBuf::from(OsStr::from_bytes(bytes));
        assert_eq!(
            discover(mountinfo, proc_cgroup),
            vec![
                Hierarchy {
                    kind: Kind::V1Freezer,
                    own_dir: dir(b"/sys/fs/fr\xe9ezer/\xe9t\xe9"),
                },
                Hierarchy {
                    kind: Kind::V2,
                    own_dir: dir(b"/sys/fs/cgroup/app\xff"),
                },
            ]
        );
    }

    #[test]
    fn names() {
        for good in ["app", "rinit-1-abc", "a.b_c"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "x\n", &"a".repeat(201)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("64MiB"), Some(64 << 20));
        assert_eq!(parse_size("64mb"), Some(64 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        for bad in ["", "M", "0", "-1", "1.5G", "64X", "99999999999T"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(describe_size(32 << 20), "32 MiB");
        assert_eq!(describe_size(2 << 30), "2 GiB");
        assert_eq!(describe_size(1000), "1000 bytes");
    }

    #[test]
    fn keyed_files_and_pids() {
        let events = "populated 1\nfrozen 0\n";
        assert_eq!(keyed_value(events, "populated"), Some(1));
        assert_eq!(keyed_value(events, "frozen"), Some(0));
        assert_eq!(keyed_value(events, "nope"), None);
        let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed_value(oom, "oom_kill"), Some(3));
        assert_eq!(parse_pids("12\n345\n"), vec![12, 345]);
        assert_eq!(parse_pids(""), Vec::<i32>::new());
        // Found by the fuzzer (.fuzz/fuzz_targets/cgroup_files.rs).
        assert_eq!(parse_pids("populated 1\nfrozen 0\n"), vec![1]);
        assert_eq!(parse_pids("-1 12 0 +13 -0"), vec![12, 13]);
    }
}
