//! `/proc/PID/stat`, one per line, and the process tree built from them.
//! Their pids decide whom teardown signals, so a parsed entry must never
//! name pid 0 or a negative pid (`kill(0)` and `kill(-1)` reach whole
//! groups), must render back to itself, and the walk of any table (cycles
//! and duplicates included: /proc is read one file at a time while pids
//! are reused) must end, each pid once, parents first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{ProcStat, descendants, parse_stat};

fuzz_target!(|data: &[u8]| {
    let Some(text) = rinit_fuzz::text(data) else {
        return;
    };
    let table: Vec<ProcStat> = text.lines().filter_map(parse_stat).collect();
    for stat in &table {
        assert!(stat.pid > 0, "pid {} from {text:?}", stat.pid);
        assert!(stat.ppid >= 0, "ppid {} from {text:?}", stat.ppid);
        assert!(!stat.state.is_ascii_whitespace());
        // The command name is everything between the first '(' and the
        // last ')', however odd: rendered as the kernel would, it parses
        // back.
        let line = format!(
            "{} ({}) {} {} 1 1 0 -1 {} 0 0",
            stat.pid, stat.comm, stat.state, stat.ppid, stat.flags
        );
        assert_eq!(parse_stat(&line).as_ref(), Some(stat), "{line:?}");
    }

    for root in table.iter().flat_map(|s| [s.pid, s.ppid]).take(8) {
        let found = descendants(&table, root);
        let mut reached = vec![root];
        for &pid in &found {
            assert!(
                !reached.contains(&pid),
                "{pid} twice below {root}: {found:?}"
            );
            assert!(
                table
                    .iter()
                    .any(|s| s.pid == pid && reached.contains(&s.ppid)),
                "{pid} below {root} before its parent: {found:?}"
            );
            reached.push(pid);
        }
    }
});
