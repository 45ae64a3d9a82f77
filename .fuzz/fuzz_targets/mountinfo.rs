//! `/proc/PID/mountinfo`: rinit's own (cgroup discovery) and a stuck
//! task's (which FUSE connection to name and abort). Every mount parsed
//! must render back, escaped as the kernel escapes, to a line that parses
//! to the same mount.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{parse_mountinfo, unescape};
use rinit_fuzz::escape_mountinfo;

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    let mounts = parse_mountinfo(text);
    assert!(mounts.len() <= text.lines().count());
    for m in &mounts {
        assert!(!m.fstype.contains(' ') && !m.options.contains(' '), "{m:?}");
        if let Some(conn) = m.fuse_connection() {
            assert!(m.is_fuse());
            assert_eq!(conn & 0xfffff, u64::from(m.minor) & 0xfffff);
        }
        let line = format!(
            "{} 1 {}:{} {} {} rw,relatime shared:1 - {} src {}",
            m.id,
            m.major,
            m.minor,
            escape_mountinfo(&m.root),
            escape_mountinfo(&m.point),
            m.fstype,
            m.options
        );
        assert_eq!(parse_mountinfo(&line), std::slice::from_ref(m), "{line:?}");
    }
    // Any field, escaped, unescapes to itself.
    assert_eq!(unescape(&escape_mountinfo(text)), text);
});
