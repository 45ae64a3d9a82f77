//! `/proc/PID/stat`, one per line, and the process tree built from them.
//! Their pids decide whom teardown signals, so a parsed entry must never
//! name pid 0 or a negative pid (`kill(0)` and `kill(-1)` reach whole
//! groups), must render back to itself, and the walk of any table (cycles
//! and duplicates included: /proc is read one file at a time while pids
//! are reused) must end, each pid once, parents first. The input is bytes,
//! as the kernel's are: a command name cut at 15 bytes may end in half a
//! character, and that process must still be seen.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rinit::os::procfs::{ProcStat, parse_stat};
use rinit::teardown::census::descendants;

fuzz_target!(|data: &[u8]| {
    let table: Vec<ProcStat> = data.split(|&b| b == b'\n').filter_map(parse_stat).collect();
    for stat in &table {
        assert!(stat.pid > 0, "pid {} from {data:?}", stat.pid);
        assert!(stat.ppid >= 0, "ppid {} from {data:?}", stat.ppid);
        assert!(!stat.state.is_ascii_whitespace());
        // The command name is everything between the first '(' and the
        // last ')', however odd: rendered as the kernel would, it parses
        // back (its lossy conversion is already UTF-8).
        let line = format!(
            "{} ({}) {} {} 1 1 0 -1 {} 0 0",
            stat.pid, stat.comm, stat.state, stat.ppid, stat.flags
        );
        assert_eq!(parse_stat(line.as_bytes()).as_ref(), Some(stat), "{line:?}");
    }

    // Whatever bytes the command name holds (newlines included: the
    // kernel does not escape them in stat), the process is seen.
    let comm = &data[..data.len().min(64)];
    let mut line = b"4321 (".to_vec();
    line.extend_from_slice(comm);
    line.extend_from_slice(b") T 7 4321 4321 0 -1 4194304 0 0");
    let stat = parse_stat(&line).unwrap_or_else(|| panic!("comm {comm:?} hides the process"));
    assert_eq!((stat.pid, stat.ppid, stat.state), (4321, 7, 'T'));
    assert_eq!(stat.flags, 4194304);

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
