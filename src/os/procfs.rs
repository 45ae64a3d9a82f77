//! Reading `/proc`: pure parsers for its files, and `Proc`, the one place
//! that knows its paths. The files are bytes, not text (`os::read_file`):
//! numbers are parsed from the bytes, names converted lossily for display
//! only, mount points kept as the bytes they are. Parsers split `stat` at
//! the *last* `)`, since a command name may itself contain `)` and spaces.

use crate::os::{cannot, lossy, read_file, read_text};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One process (or thread) as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// For display: the kernel's bytes, converted lossily (a name cut at
    /// 15 bytes may end in half a character).
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    /// The kernel's PF_* flags (field 9).
    pub flags: u64,
}

/// The task is exiting (PF_EXITING): a `D` task with it is stuck *in exit*.
pub const PF_EXITING: u64 = 0x4;

/// A kernel thread (PF_KTHREAD): it takes no signals and never exits, so
/// it is never a process left to signal or a survivor of SIGKILL.
pub const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// A decimal number of a /proc file.
fn number<T: FromStr>(raw: &[u8]) -> Option<T> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// The blank-separated fields of a line.
fn fields(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split(u8::is_ascii_whitespace).filter(|f| !f.is_empty())
}

/// The fields of `stat` after the command name, which is everything
/// between the first `(` and the last `)`.
fn after_comm(raw: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = raw.iter().rposition(|&b| b == b')')?;
    Some(fields(&raw[close + 1..]))
}

/// `None` for a pid below 1 or a negative ppid: the kernel never writes
/// them, and a table entry with pid 0 or -1 would turn a `kill(pid)` of
/// teardown into a signal to a whole process group or to everyone.
pub fn parse_stat(raw: &[u8]) -> Option<ProcStat> {
    let open = raw.iter().position(|&b| b == b'(')?;
    let close = raw.iter().rposition(|&b| b == b')')?;
    let pid = number(raw[..open].trim_ascii()).filter(|&p| p > 0)?;
    let comm = lossy(raw.get(open + 1..close)?);
    let mut rest = fields(&raw[close + 1..]);
    // The kernel's states are ASCII letters; anything else is shown as
    // `?` rather than hiding the process.
    let state = match *rest.next()?.first()? {
        b if b.is_ascii() => char::from(b),
        _ => '?',
    };
    let ppid = number(rest.next()?).filter(|&p| p >= 0)?;
    // pgrp, session, tty_nr, tpgid, then flags.
    let flags = rest.nth(4).and_then(number).unwrap_or(0);
    Some(ProcStat {
        pid,
        comm,
        state,
        ppid,
        flags,
    })
}

/// What CI mode tells of a process besides `ProcStat`: /proc/PID/stat's
/// process group, session and start time (clock ticks since boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatDetails {
    pub pgrp: i32,
    pub session: i32,
    pub start_ticks: u64,
}

pub fn parse_stat_details(raw: &[u8]) -> Option<StatDetails> {
    // After the name: state (3), ppid (4), pgrp (5), session (6), ...,
    // starttime (22).
    let fields: Vec<&[u8]> = after_comm(raw)?.collect();
    Some(StatDetails {
        pgrp: number(fields.get(2)?)?,
        session: number(fields.get(3)?)?,
        start_ticks: number(fields.get(19)?)?,
    })
}

/// A field of `/proc/PID/status`: `State:\tD (disk sleep)` → "D (disk sleep)".
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}

/// `NSpid:` as a list: the pid in the reader's namespace first, then in
/// each nested one.
pub fn nspid(status: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for field in status_field(status, "NSpid")
        .unwrap_or("")
        .split_whitespace()
    {
        if let Ok(pid) = field.parse() {
            pids.push(pid);
        }
    }
    pids
}

/// The function names of `/proc/PID/stack` ("[<0>] fuse_flush+0x9c/0x1d0").
pub fn parse_stack(text: &str) -> Vec<String> {
    let mut frames = Vec::new();
    for line in text.lines() {
        let frame = line.split_once("] ").map_or(line, |(_, f)| f).trim();
        if !frame.is_empty() {
            frames.push(frame.split('+').next().unwrap_or(frame).to_string());
        }
    }
    frames
}

/// A NUL-separated `cmdline`.
pub fn parse_cmdline(raw: &[u8]) -> Vec<String> {
    let mut args = Vec::new();
    for arg in raw.split(|&b| b == 0) {
        if !arg.is_empty() {
            args.push(String::from_utf8_lossy(arg).into_owned());
        }
    }
    args
}

/// Octal escapes of mountinfo (`\040` for a space). The kernel writes
/// bytes, so `\400` and above are not escapes (and would overflow a byte);
/// it escapes only blanks and backslashes, so other bytes, UTF-8 or not,
/// come through as they are.
pub fn unescape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && (b'0'..=b'3').contains(&bytes[i + 1])
            && bytes[i + 2..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            out.push(
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'),
            );
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// One line of `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub major: u32,
    pub minor: u32,
    /// Paths as the kernel's bytes: rinit opens files under them.
    pub root: PathBuf,
    pub point: PathBuf,
    pub fstype: String,
    pub options: String,
}

fn path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

pub fn parse_mountinfo(raw: &[u8]) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        if let Some(mount) = parse_mount(line) {
            mounts.push(mount);
        }
    }
    mounts
}

/// One line: `ID PARENT MAJOR:MINOR ROOT POINT OPTIONS... - FSTYPE SOURCE
/// SUPER_OPTIONS`.
fn parse_mount(line: &[u8]) -> Option<Mount> {
    let at = line.windows(3).position(|w| w == b" - ")?;
    let mut left = line[..at].split(|&b| b == b' ');
    let mut right = line[at + 3..].split(|&b| b == b' ');
    let id = left.next()?;
    let device = left.nth(1)?;
    let (root, point) = (left.next()?, left.next()?);
    let colon = device.iter().position(|&b| b == b':')?;
    let fstype = lossy(right.next()?);
    let _source = right.next();
    Some(Mount {
        id: number(id)?,
        major: number(&device[..colon])?,
        minor: number(&device[colon + 1..])?,
        root: path(root),
        point: path(point),
        fstype,
        options: right.next().map(lossy).unwrap_or_default(),
    })
}

impl Mount {
    pub fn is_fuse(&self) -> bool {
        self.fstype == "fuse" || self.fstype == "fuseblk" || self.fstype.starts_with("fuse.")
    }

    /// The name of its directory in /sys/fs/fuse/connections: the kernel's
    /// dev_t, `major << 20 | minor` (just the minor for plain fuse, whose
    /// anonymous devices have major 0).
    pub fn fuse_connection(&self) -> Option<u64> {
        self.is_fuse()
            .then(|| u64::from(self.major) << 20 | u64::from(self.minor))
    }
}

/// `mnt_id:` of `/proc/PID/fdinfo/N`: which mount an open file is on,
/// learned without touching the file (a stat could hang on a dead FUSE
/// daemon).
pub fn fdinfo_mnt_id(text: &str) -> Option<u32> {
    status_field(text, "mnt_id")?.parse().ok()
}

/// The processes of a `/proc` mount; entries that vanish meanwhile are
/// skipped (a process may exit between readdir and open).
pub fn read_table(proc_root: &Path) -> Vec<ProcStat> {
    let mut table = Vec::new();
    each_stat(proc_root, &mut |stat, _| table.push(stat));
    table
}

/// Calls `found` with each process's parsed `stat` and its raw bytes, for
/// the callers that read more of the same file. One walk for all of them
/// (not generic: a `dyn`, so it is compiled once).
fn each_stat(proc_root: &Path, found: &mut dyn FnMut(ProcStat, &[u8])) {
    let Ok(dir) = fs::read_dir(proc_root) else {
        return;
    };
    for entry in dir.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<i32>().is_ok());
        if !is_pid {
            continue;
        }
        let Ok(raw) = read_file(&entry.path().join("stat")) else {
            continue;
        };
        if let Some(stat) = parse_stat(&raw) {
            found(stat, &raw);
        }
    }
}

/// Whether `proc_root` shows this process's own PID namespace: `self`
/// resolves to the pid that `getpid` gave.
pub fn shows_own_namespace(proc_root: &Path, own_pid: i32) -> bool {
    fs::read_link(proc_root.join("self"))
        .ok()
        .and_then(|target| target.to_str()?.parse::<i32>().ok())
        == Some(own_pid)
}

/// How a `/proc` mount relates to rinit's own PID namespace, which decides
/// whether its pids may be signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// It shows rinit's namespace: its pids are rinit's.
    Own,
    /// It shows an outer namespace (the host's /proc after `unshare --pid`
    /// without a new mount): rinit is `self_pid` there, and a descendant's
    /// pid in rinit's namespace is entry `level` of its `NSpid` list.
    Outer { self_pid: i32, level: usize },
    /// Absent, or a namespace rinit is not in: its pids name strangers.
    Foreign,
}

/// The view, from where `/proc/self` leads (`self_link`) and the `NSpid`
/// list read there, for the process that is `own_pid` in its namespace.
pub fn view(own_pid: i32, self_link: Option<i32>, self_nspid: &[i32]) -> View {
    match self_link {
        Some(pid) if pid == own_pid => View::Own,
        // The list runs from the mount's namespace down to rinit's own: it
        // must start where the link led and end in rinit's own pid.
        Some(pid)
            if self_nspid.len() >= 2
                && self_nspid.first() == Some(&pid)
                && self_nspid.last() == Some(&own_pid) =>
        {
            View::Outer {
                self_pid: pid,
                level: self_nspid.len() - 1,
            }
        }
        _ => View::Foreign,
    }
}

/// A command line for a log line: arguments joined by spaces, escaped so
/// that a hostile argv cannot forge log lines, and cut after
/// `escape::COMMAND_SHOWN` characters (with the whole length) so that a
/// megabyte of argv makes no megabyte line; the `[comm]` when there are no
/// arguments (a kernel thread, a zombie).
pub fn display_command(args: &[String], comm: &str) -> String {
    let text = if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    };
    crate::escape::escape_bounded(&text, crate::escape::COMMAND_SHOWN).to_string()
}

/// A `/proc` mount: `Proc::system()`, or a fake tree in tests. Every path
/// under /proc is spelled here; a file that cannot be read (the process
/// exited meanwhile, no permission) reads as `None` unless the caller
/// needs to say why.
#[derive(Clone, Debug)]
pub struct Proc {
    root: PathBuf,
}

impl Proc {
    pub fn system() -> Proc {
        Proc::at("/proc")
    }

    pub fn at(root: impl Into<PathBuf>) -> Proc {
        Proc { root: root.into() }
    }

    /// Every process, with entries that vanish meanwhile skipped.
    pub fn table(&self) -> Vec<ProcStat> {
        read_table(&self.root)
    }

    /// [`Proc::table`], with each process's group (pid, pgrp), sorted by
    /// pid: read from the same `stat`, as a group seen later may be gone.
    pub fn table_with_groups(&self) -> (Vec<ProcStat>, Vec<(i32, i32)>) {
        let (mut table, mut groups) = (Vec::new(), Vec::new());
        each_stat(&self.root, &mut |stat, raw| {
            if let Some(details) = parse_stat_details(raw) {
                groups.push((stat.pid, details.pgrp));
                table.push(stat);
            }
        });
        groups.sort_unstable();
        (table, groups)
    }

    /// Whether this mount shows the PID namespace in which rinit is
    /// `own_pid`.
    pub fn shows_own_namespace(&self, own_pid: i32) -> bool {
        shows_own_namespace(&self.root, own_pid)
    }

    /// How this mount relates to the namespace in which rinit is
    /// `own_pid`.
    pub fn view(&self, own_pid: i32) -> View {
        let self_link = fs::read_link(self.root.join("self"))
            .ok()
            .and_then(|target| target.to_str()?.parse::<i32>().ok());
        // The usual case, rinit's own /proc, needs no more than the link:
        // spare every start-up the read of a 1.5 KB status file.
        if self_link == Some(own_pid) {
            return View::Own;
        }
        let status = read_text(&self.root.join("self/status")).unwrap_or_default();
        view(own_pid, self_link, &nspid(&status))
    }

    fn process(&self, pid: i32) -> PathBuf {
        self.root.join(pid.to_string())
    }

    fn thread(&self, pid: i32, tid: i32) -> PathBuf {
        self.process(pid).join("task").join(tid.to_string())
    }

    pub fn stat(&self, pid: i32) -> Option<ProcStat> {
        parse_stat(&read_file(&self.process(pid).join("stat")).ok()?)
    }

    pub fn stat_details(&self, pid: i32) -> Option<StatDetails> {
        parse_stat_details(&read_file(&self.process(pid).join("stat")).ok()?)
    }

    /// `status` as text: its `Name:` may hold half a character, shown as
    /// U+FFFD; the numeric fields rinit reads are ASCII.
    pub fn status(&self, pid: i32) -> Option<String> {
        read_text(&self.process(pid).join("status")).ok()
    }

    /// The arguments; empty for a kernel thread, a zombie, or a process
    /// that is gone.
    pub fn cmdline(&self, pid: i32) -> Vec<String> {
        read_file(&self.process(pid).join("cmdline"))
            .map(|raw| parse_cmdline(&raw))
            .unwrap_or_default()
    }

    /// The thread ids of a process, in order; `None` when it is gone.
    pub fn thread_ids(&self, pid: i32) -> Option<Vec<i32>> {
        let entries = fs::read_dir(self.process(pid).join("task")).ok()?;
        let mut tids = Vec::new();
        for entry in entries.flatten() {
            if let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                tids.push(tid);
            }
        }
        tids.sort_unstable();
        Some(tids)
    }

    pub fn thread_stat(&self, pid: i32, tid: i32) -> Option<ProcStat> {
        parse_stat(&self.thread_file(pid, tid, "stat")?)
    }

    /// `status`, `wchan`, `cgroup` or `mountinfo` of one thread, as bytes.
    pub fn thread_file(&self, pid: i32, tid: i32, name: &str) -> Option<Vec<u8>> {
        read_file(&self.thread(pid, tid).join(name)).ok()
    }

    /// The kernel stack of one thread: the error matters, since reading it
    /// needs CAP_SYS_ADMIN.
    pub fn thread_stack(&self, pid: i32, tid: i32) -> io::Result<Vec<String>> {
        read_text(&self.thread(pid, tid).join("stack")).map(|text| parse_stack(&text))
    }

    /// The mount ids of the files a thread has open (`fdinfo` `mnt_id`).
    pub fn thread_open_mounts(&self, pid: i32, tid: i32) -> Vec<u32> {
        let Ok(fds) = fs::read_dir(self.thread(pid, tid).join("fdinfo")) else {
            return Vec::new();
        };
        let mut ids = Vec::new();
        for fd in fds.flatten() {
            if let Some(id) = read_text(&fd.path()).ok().and_then(|t| fdinfo_mnt_id(&t)) {
                ids.push(id);
            }
        }
        ids
    }

    /// rinit's own mount table; the error names the file.
    pub fn self_mountinfo(&self) -> Result<Vec<u8>, String> {
        self.read_self("mountinfo")
    }

    /// rinit's own cgroups; the error names the file.
    pub fn self_cgroup(&self) -> Result<Vec<u8>, String> {
        self.read_self("cgroup")
    }

    fn read_self(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.root.join("self").join(name);
        read_file(&path).map_err(|e| cannot("read", &path, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The parsers take the kernel's bytes; most cases here are text.
    fn parse_stat(text: &str) -> Option<ProcStat> {
        super::parse_stat(text.as_bytes())
    }

    fn parse_stat_details(text: &str) -> Option<StatDetails> {
        super::parse_stat_details(text.as_bytes())
    }

    fn parse_mountinfo(text: &str) -> Vec<Mount> {
        super::parse_mountinfo(text.as_bytes())
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
                ppid: 1,
                flags: 4194560
            })
        );
        assert_eq!(parse_stat("7 (a b) Z 0 0").unwrap().state, 'Z');
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("x (y) S 1"), None);
        assert_eq!(parse_stat("1 (y)"), None);
    }

    #[test]
    fn stat_of_a_name_cut_inside_a_character() {
        // "приложение" is 20 bytes; the kernel keeps 15, ending in half
        // of "н". Such a process must be in the table like any other.
        let mut line = b"4321 (".to_vec();
        line.extend_from_slice(&"приложение".as_bytes()[..15]);
        line.extend_from_slice(b") T 7 4321 4321 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 555 1 2");
        let stat = super::parse_stat(&line).expect("a stat with a cut name parses");
        assert_eq!((stat.pid, stat.ppid, stat.state), (4321, 7, 'T'));
        assert_eq!(stat.comm, "приложе\u{fffd}");
        assert_eq!(
            super::parse_stat_details(&line).map(|d| d.start_ticks),
            Some(555)
        );
        // Latin-1, a ')' in the name, and a state byte that is not ASCII.
        let stat = super::parse_stat(b"9 (caf\xe9) x) \xe9 1 9 9").unwrap();
        assert_eq!((stat.comm.as_str(), stat.state), ("caf\u{fffd}) x", '?'));
    }

    #[test]
    fn stat_details_read_group_session_and_start() {
        let text = "4242 (a) b) (c) S 1 4240 4239 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 200 18446744073709551615";
        assert_eq!(
            parse_stat_details(text),
            Some(StatDetails {
                pgrp: 4240,
                session: 4239,
                start_ticks: 987654
            })
        );
        assert_eq!(parse_stat_details("7 (x) S 1 7"), None);
    }

    #[test]
    fn stat_never_names_pid_zero_or_below() {
        // Found by the fuzzer (.fuzz/fuzz_targets/proc_stat.rs): a table
        // entry with pid 0 or -1 would become kill(0) or kill(-1).
        for bad in [
            "0 (swapper) S 0 0 0",
            "-1 (x) S 1 1 1",
            "-0 (x) S 1 1 1",
            "5 (x) S -1 1 1",
            "1234 (my (\u{2}\0) \u{2}0\0  -1 \0\0 129",
        ] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
        assert_eq!(parse_stat("2 (kthreadd) S 0 0 0").map(|s| s.ppid), Some(0));
    }

    #[test]
    fn flags_and_exiting() {
        let line = "5 (sh) S 1 5 5 0 -1 4194316 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.flags, 0x40000c);
        assert!(stat.flags & PF_EXITING != 0);
        assert!(!stat.is_kernel_thread());
        let kthreadd = parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0").unwrap();
        assert!(kthreadd.is_kernel_thread());
    }

    #[test]
    fn status_fields() {
        let status =
            "Name:\tsh\nState:\tD (disk sleep)\nNSpid:\t812\t1\nSigPnd:\t0000000000000100\n";
        assert_eq!(status_field(status, "State"), Some("D (disk sleep)"));
        assert_eq!(status_field(status, "SigPnd"), Some("0000000000000100"));
        assert_eq!(status_field(status, "Nope"), None);
        assert_eq!(nspid(status), vec![812, 1]);
        assert_eq!(nspid("Name:\tx\n"), Vec::<i32>::new());
    }

    #[test]
    fn stacks_and_cmdlines() {
        let stack = "[<0>] request_wait_answer+0x151/0x2a0\n[<0>] __fuse_simple_request+0xd5/0x2b0\n[<0>] fuse_flush+0x9c/0x1d0\n";
        assert_eq!(
            parse_stack(stack),
            ["request_wait_answer", "__fuse_simple_request", "fuse_flush"]
        );
        assert_eq!(parse_stack(""), Vec::<String>::new());
        assert_eq!(
            parse_cmdline(b"python3\0-c\0x y\0"),
            ["python3", "-c", "x y"]
        );
    }

    #[test]
    fn mountinfo_and_fuse_connections() {
        let text = "\
91 80 0:41 / /tmp/my\\040mnt rw,nosuid,nodev,relatime - fuse hangfs rw,user_id=0,group_id=0
92 80 8:1 / /data rw - fuseblk /dev/sda1 rw
93 80 0:5 / /proc rw - proc proc rw
";
        let mounts = parse_mountinfo(text);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].point, Path::new("/tmp/my mnt"));
        assert_eq!(mounts[0].fuse_connection(), Some(41));
        assert_eq!(mounts[1].fuse_connection(), Some((8 << 20) | 1));
        assert_eq!(mounts[2].fuse_connection(), None);
        // Found by the fuzzer (.fuzz/fuzz_targets/mountinfo.rs): \4xx and
        // above overflowed a byte (a panic in a debug build); the kernel
        // escapes bytes, so they are plain text.
        assert_eq!(unescape(b"\\777\\400x"), b"\\777\\400x");
        assert_eq!(unescape(b"\\377"), b"\xff");
        assert_eq!(unescape(b"a\\134b\\011\\0"), b"a\\b\t\\0");
        assert_eq!(
            fdinfo_mnt_id("pos:\t0\nflags:\t0100000\nmnt_id:\t91\nino:\t2\n"),
            Some(91)
        );
    }

    #[test]
    fn mount_points_are_bytes() {
        // The kernel escapes blanks and backslashes only: a Latin-1 byte
        // comes through raw, and the path keeps it.
        use std::os::unix::ffi::OsStrExt;
        let raw = b"70 1 0:60 / /mnt/caf\xe9\\040x rw - tmpfs t\xe9 rw\n\
            71 1 0:61 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let mounts = super::parse_mountinfo(raw);
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].point.as_os_str().as_bytes(), b"/mnt/caf\xe9 x");
        assert_eq!(mounts[0].fstype, "tmpfs");
        assert_eq!(mounts[1].point, Path::new("/sys/fs/cgroup"));
    }

    #[test]
    fn views_of_proc() {
        assert_eq!(view(7, Some(7), &[7]), View::Own);
        assert_eq!(view(1, Some(1), &[]), View::Own);
        // The host's /proc after `unshare --pid --fork` without --mount-proc.
        assert_eq!(
            view(2, Some(4321), &[4321, 2]),
            View::Outer {
                self_pid: 4321,
                level: 1
            }
        );
        assert_eq!(
            view(2, Some(4321), &[4321, 88, 2]),
            View::Outer {
                self_pid: 4321,
                level: 2
            }
        );
        // A list that does not lead to rinit's own pid, no /proc/self at all,
        // a sibling namespace's /proc where `self` does not resolve.
        assert_eq!(view(2, Some(4321), &[4321, 3]), View::Foreign);
        assert_eq!(view(2, Some(4321), &[4321]), View::Foreign);
        assert_eq!(view(2, Some(4321), &[]), View::Foreign);
        assert_eq!(view(2, None, &[]), View::Foreign);
    }

    #[test]
    fn commands_for_log_lines() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            display_command(&args(&["sh", "-c", "sleep 1"]), "sh"),
            "sh -c sleep 1"
        );
        assert_eq!(
            display_command(&args(&["evil\nrinit: ERROR fake", "\x1b[31m"]), "x"),
            r"evil\nrinit: ERROR fake \x1b[31m"
        );
        let long = args(&["python3", &"x".repeat(1 << 20)]);
        let shown = display_command(&long, "python3");
        assert_eq!(shown.len(), 256 + "... (1048584 bytes in all)".len());
        assert!(shown.starts_with("python3 xxx"), "{shown}");
        assert_eq!(display_command(&[], "kworker/0:1"), "[kworker/0:1]");
    }

    #[test]
    fn proc_reads_a_fake_tree() {
        let tmp = crate::os::TempDir::new();
        tmp.file("proc/1/stat", "1 (rinit) S 0 1 1 0 -1 4194560 0 0");
        tmp.file("proc/7/stat", "7 (sh) Z 1 7 7 0 -1 4194316 0 0");
        tmp.file("proc/7/status", "Name:\tsh\nSigPnd:\t0000000000000100\n");
        tmp.file("proc/7/task/7/stat", "7 (sh) Z 1 7 7 0 -1 4194316 0 0");
        tmp.file("proc/7/task/9/stat", "9 (sh) D 1 7 7 0 -1 4194368 0 0");
        tmp.file("proc/self/cgroup", "0::/app\n");
        // A name cut by the kernel in the middle of a character.
        let cut = tmp.path().join("proc/8/stat");
        std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
        std::fs::write(&cut, b"8 (\xd0\xbf\xd1) S 7 7 7 0 -1 0 0 0").unwrap();
        std::fs::write(
            tmp.path().join("proc/8/status"),
            b"Name:\t\xd0\xbf\xd1\nNSpid:\t8\t2\n",
        )
        .unwrap();
        let proc = Proc::at(tmp.path().join("proc"));
        let mut pids: Vec<i32> = proc.table().iter().map(|p| p.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, [1, 7, 8]);
        assert_eq!(proc.stat(7).map(|s| s.state), Some('Z'));
        assert_eq!(proc.stat(8).map(|s| s.comm), Some("п\u{fffd}".into()));
        assert_eq!(proc.status(8).map(|s| nspid(&s)), Some(vec![8, 2]));
        assert_eq!(proc.stat(9), None);
        assert!(proc.status(7).unwrap().contains("SigPnd"));
        assert_eq!(proc.thread_ids(7), Some(vec![7, 9]));
        assert_eq!(proc.thread_ids(9), None);
        assert_eq!(proc.thread_stat(7, 9).map(|s| s.state), Some('D'));
        assert_eq!(proc.cmdline(7), Vec::<String>::new());
        assert_eq!(proc.self_cgroup(), Ok(b"0::/app\n".to_vec()));
        let missing = tmp.path().join("proc/self/mountinfo");
        assert_eq!(
            proc.self_mountinfo(),
            Err(format!(
                "cannot read {}: No such file or directory",
                missing.display()
            ))
        );
        assert!(!proc.shows_own_namespace(1), "no self link");
        std::fs::remove_dir_all(tmp.path().join("proc/self")).unwrap();
        std::os::unix::fs::symlink("1", tmp.path().join("proc/self")).unwrap();
        assert!(proc.shows_own_namespace(1));
        assert!(!proc.shows_own_namespace(2));
    }
}
