//! The cgroup files rinit reads: flat-keyed ones (`cgroup.events`,
//! `memory.events`, v1 `memory.oom_control`) and pid lists
//! (`cgroup.procs`), whose every pid gets a signal at teardown: none may be
//! 0 or negative (`kill(0)`, `kill(-1)`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::cgroup::{keyed_value, parse_pids};

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    let pids = parse_pids(text);
    assert!(pids.iter().all(|&p| p > 0), "{pids:?} from {text:?}");
    assert!(pids.len() <= text.split_whitespace().count());

    for key in ["populated", "frozen", "oom_kill", "oom", "max"] {
        if let Some(v) = keyed_value(text, key) {
            assert!(
                text.lines().any(|l| l
                    .strip_prefix(key)
                    .and_then(|r| r.strip_prefix(' '))
                    .is_some_and(|r| r.trim().parse() == Ok(v))),
                "{key} {v} from {text:?}"
            );
        }
    }
    // The kernel's line, among any other lines, is found.
    let count = u64::from(rinit_fuzz::number(data)) << 7;
    let garbage = rinit_fuzz::without_key(text, "oom_kill", ' ');
    let events = format!("{garbage}\noom_kill {count}\n{garbage}");
    assert_eq!(keyed_value(&events, "oom_kill"), Some(count), "{events:?}");
});
