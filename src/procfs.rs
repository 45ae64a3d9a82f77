//! Reading `/proc`: pure parsers for its text, and the one function that
//! walks the directory. Parsers split `stat` at the *last* `)`, since a
//! command name may itself contain `)` and spaces.

use std::fs;
use std::path::Path;

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
}

pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text.get(open + 1..close)?.to_string();
    let mut rest = text[close + 1..].split_ascii_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcStat {
        pid,
        comm,
        state,
        ppid,
    })
}

/// Every process below `root` in the parent/child tree, parents first.
pub fn descendants(table: &[ProcStat], root: i32) -> Vec<i32> {
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|p| p.ppid == parent && p.pid != root)
                .map(|p| p.pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// The processes of a `/proc` mount; entries that vanish meanwhile are
/// skipped (a process may exit between readdir and open).
pub fn read_table(proc_root: &Path) -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let entry = entry.ok()?;
        entry.file_name().to_str()?.parse::<i32>().ok()?;
        parse_stat(&fs::read_to_string(entry.path().join("stat")).ok()?)
    })
    .collect()
}

/// Whether `proc_root` shows this process's own PID namespace: `self`
/// resolves to the pid that `getpid` gave.
pub fn shows_own_namespace(proc_root: &Path, own_pid: i32) -> bool {
    fs::read_link(proc_root.join("self"))
        .ok()
        .and_then(|target| target.to_str()?.parse::<i32>().ok())
        == Some(own_pid)
}

/// "pid 12 (sleep, D), pid 15 (fuse daemon, Z)".
pub fn describe(procs: &[ProcStat]) -> String {
    procs
        .iter()
        .map(|p| format!("pid {} ({}, {})", p.pid, p.comm, p.state))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            pid,
            comm: format!("p{pid}"),
            state: 'S',
            ppid,
        }
    }

    #[test]
    fn parses_stat_with_awkward_names() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                pid: 1234,
                comm: "my (odd) name".into(),
                state: 'S',
                ppid: 1
            })
        );
        assert_eq!(parse_stat("7 (a b) Z 0 0").unwrap().state, 'Z');
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("x (y) S 1"), None);
        assert_eq!(parse_stat("1 (y)"), None);
    }

    #[test]
    fn finds_descendants_only() {
        // 10 is us; 11 and 12 our children; 13 a grandchild; 20 a stranger
        // with its own child 21.
        let table = vec![
            stat(1, 0),
            stat(10, 1),
            stat(11, 10),
            stat(12, 10),
            stat(13, 12),
            stat(20, 1),
            stat(21, 20),
        ];
        assert_eq!(descendants(&table, 10), vec![11, 12, 13]);
        assert_eq!(descendants(&table, 13), Vec::<i32>::new());
        assert_eq!(descendants(&table, 99), Vec::<i32>::new());
    }

    #[test]
    fn describes_processes() {
        let procs = vec![
            stat(12, 1),
            ProcStat {
                pid: 15,
                comm: "fuse d".into(),
                state: 'D',
                ppid: 1,
            },
        ];
        assert_eq!(describe(&procs), "pid 12 (p12, S), pid 15 (fuse d, D)");
    }
}
