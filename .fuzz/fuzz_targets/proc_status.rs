//! `/proc/PID/status`: `State:`, `NSpid:` and the signal-set fields that
//! the stuck report and teardown read. Besides whatever the input says
//! itself, a well-formed field injected among its lines must be found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{nspid, status_field};
use rinit::signals::SigSet;

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    for key in ["State", "NSpid", "SigPnd", "ShdPnd", "SigBlk", "Name"] {
        if let Some(value) = status_field(text, key) {
            assert_eq!(value, value.trim());
            assert!(!value.contains('\n'), "{key}: {value:?}");
            assert!(text.contains(value));
        }
    }
    let pids = nspid(text);
    let line = status_field(text, "NSpid").unwrap_or_default();
    assert!(pids.len() <= line.split_whitespace().count());

    // Inject the fields the kernel writes, after garbage that does not
    // start with their keys.
    let seed = rinit_fuzz::number(data);
    let (outer, inner) = (
        i32::try_from(seed >> 1).unwrap_or(1).max(1),
        1 + (seed % 64) as i32,
    );
    let mask = u64::from(seed) << 17 | 0x100;
    let garbage = ["State", "NSpid", "SigPnd"]
        .iter()
        .fold(text.to_string(), |t, key| {
            rinit_fuzz::without_key(&t, key, ':')
        });
    let status = format!(
        "{garbage}\nState:\tD (disk sleep)\nNSpid:\t{outer}\t{inner}\nSigPnd:\t{mask:016x}\n{garbage}"
    );
    assert_eq!(
        status_field(&status, "State"),
        Some("D (disk sleep)"),
        "{status:?}"
    );
    assert_eq!(nspid(&status), [outer, inner], "{status:?}");
    assert_eq!(
        status_field(&status, "SigPnd").and_then(SigSet::from_proc_hex),
        Some(SigSet(mask))
    );
});
