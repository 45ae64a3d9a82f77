//! `/proc/PID/fdinfo/N`: which mount an open file is on (the stuck report
//! matches it against FUSE mounts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::fdinfo_mnt_id;

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    if let Some(id) = fdinfo_mnt_id(text) {
        // It came from a `mnt_id:` line of the input.
        assert!(
            text.lines().any(|l| l
                .strip_prefix("mnt_id:")
                .is_some_and(|v| v.trim().parse() == Ok(id))),
            "{id} from {text:?}"
        );
    }
    // The kernel's line, among any other lines, is found.
    let id = rinit_fuzz::number(data);
    let garbage = rinit_fuzz::without_key(text, "mnt_id", ':');
    let fdinfo = format!("pos:\t0\n{garbage}\nmnt_id:\t{id}\n{garbage}\n");
    assert_eq!(fdinfo_mnt_id(&fdinfo), Some(id), "{fdinfo:?}");
});
