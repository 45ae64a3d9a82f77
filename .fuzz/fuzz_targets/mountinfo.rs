//! `/proc/PID/mountinfo`: rinit's own (cgroup discovery) and a stuck
//! task's (which FUSE connection to name and abort). Every mount parsed
//! must render back, escaped as the kernel escapes, to a line that parses
//! to the same mount. The input is bytes: the kernel escapes blanks and
//! backslashes only, so a mount point in Latin-1 comes through raw, and
//! must neither hide the other mounts nor lose its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{parse_mountinfo, unescape};
use rinit_fuzz::escape_mountinfo;
use std::os::unix::ffi::OsStrExt;

fuzz_target!(|data: &[u8]| {
    let mounts = parse_mountinfo(data);
    assert!(mounts.len() <= data.split(|&b| b == b'\n').count());
    for m in &mounts {
        assert!(!m.fstype.contains(' ') && !m.options.contains(' '), "{m:?}");
        if let Some(conn) = m.fuse_connection() {
            assert!(m.is_fuse());
            assert_eq!(conn & 0xfffff, u64::from(m.minor) & 0xfffff);
        }
        let mut line = format!("{} 1 {}:{} ", m.id, m.major, m.minor).into_bytes();
        line.extend(escape_mountinfo(m.root.as_os_str().as_bytes()));
        line.push(b' ');
        line.extend(escape_mountinfo(m.point.as_os_str().as_bytes()));
        line.extend(format!(" rw,relatime shared:1 - {} src {}", m.fstype, m.options).bytes());
        assert_eq!(
            parse_mountinfo(&line),
            std::slice::from_ref(m),
            "{:?}",
            String::from_utf8_lossy(&line)
        );
    }
    // Any field, escaped, unescapes to itself.
    assert_eq!(unescape(&escape_mountinfo(data)), data);

    // A mount point of any bytes, escaped as the kernel does, after the
    // input's lines: it parses to exactly those bytes.
    let point = [b"/".as_slice(), &data[..data.len().min(64)]].concat();
    let mut table = data.to_vec();
    table.extend_from_slice(b"\n7 1 0:5 / ");
    table.extend(escape_mountinfo(&point));
    table.extend_from_slice(b" rw - tmpfs tmpfs rw\n");
    let last = parse_mountinfo(&table)
        .pop()
        .expect("the injected line parses");
    assert_eq!(last.point.as_os_str().as_bytes(), point.as_slice());
    assert_eq!((last.id, last.fstype.as_str()), (7, "tmpfs"));
});
