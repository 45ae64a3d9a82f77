//! The rest of a stuck task's /proc files: `stack` (function names that
//! classify why it cannot die) and `cmdline` (what the report names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{parse_cmdline, parse_stack};

fuzz_target!(|data: &[u8]| {
    let args = parse_cmdline(data);
    assert!(args.iter().all(|a| !a.is_empty() && !a.contains('\0')));
    // NUL-joined again, UTF-8 arguments come back unchanged.
    if std::str::from_utf8(data).is_ok() {
        let joined: Vec<u8> = args.join("\0").into_bytes();
        assert_eq!(parse_cmdline(&joined), args);
    }

    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    let frames = parse_stack(text);
    assert!(frames.len() <= text.lines().count());
    for f in &frames {
        assert!(!f.contains('+') && !f.contains('\n'), "{f:?}");
    }
    // A frame as the kernel writes it is found among any other lines.
    let line = "[<0>] fuse_flush+0x9c/0x1d0";
    let stack = format!("{text}\n{line}\n{text}");
    assert!(
        parse_stack(&stack).iter().any(|f| f == "fuse_flush"),
        "{stack:?}"
    );
});
