//! The stuck-exit report: what each task that survived SIGKILL is doing, why
//! it cannot die, and what would release it. Pure: `diagnose` gathers the
//! facts from /proc and sysfs; this module classifies and formats them, as
//! log lines and as a section of the exit report.

use crate::escape::Joined;
use crate::escape::{COMMAND_SHOWN, bounded_args, escape_bounded, joined_len};
use crate::exit_report::{CMDLINE_ARGS, CMDLINE_BYTES};
use crate::os::procfs::PF_EXITING;
use crate::signals::{SigSet, Signo};
use miniserde::Serialize;
use std::fmt::Write;

/// A FUSE connection a task may be waiting on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuseConnection {
    /// The directory name under /sys/fs/fuse/connections.
    pub connection: u64,
    pub mountpoint: String,
    pub fstype: String,
    /// Requests the daemon has not answered (None when fusectl is not
    /// readable).
    pub waiting: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freezer {
    /// The task's freezer cgroup, as /proc/PID/cgroup names it.
    pub cgroup: String,
    /// Its freezer.state file and what it read.
    pub state_file: String,
    pub state: String,
}

/// Everything known about one thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub pid: i32,
    pub tid: i32,
    /// NSpid: the pid in rinit's namespace, then in nested ones.
    pub nspid: Vec<i32>,
    pub comm: String,
    pub cmdline: Vec<String>,
    pub state: char,
    pub flags: u64,
    pub wchan: Option<String>,
    /// Function names, or why the stack could not be read.
    pub stack: Result<Vec<String>, String>,
    pub pending: SigSet,
    pub shared_pending: SigSet,
    /// The task's cgroup lines (`0::/path`, `6:freezer:/path`).
    pub cgroups: Vec<String>,
    pub freezer: Option<Freezer>,
    pub fuse: Vec<FuseConnection>,
    /// Other live threads of the same process (for a zombie leader).
    pub live_siblings: Vec<i32>,
    /// Processes whose parent this process is (for a namespace init).
    pub children: Vec<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Fuse,
    Frozen,
    PidNsInit,
    ZombieLeader,
    Zombie,
    Uninterruptible,
    Alive,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Fuse => "fuse",
            Class::Frozen => "frozen",
            Class::PidNsInit => "pidns_init",
            Class::ZombieLeader => "zombie_leader",
            Class::Zombie => "zombie",
            Class::Uninterruptible => "uninterruptible",
            Class::Alive => "alive",
        }
    }
}

impl Task {
    pub fn exiting(&self) -> bool {
        self.flags & PF_EXITING != 0
    }

    fn in_kernel(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.wchan.as_deref().is_some_and(&pred)
            || self.stack.as_ref().is_ok_and(|s| s.iter().any(|f| pred(f)))
    }

    /// Waits in FUSE code, judging by wchan and stack.
    pub fn waits_on_fuse(&self) -> bool {
        self.in_kernel(|f| {
            f == "request_wait_answer" || f.starts_with("fuse_") || f.starts_with("__fuse_")
        })
    }

    pub fn classify(&self) -> Class {
        if self.state == 'Z' {
            return if self.tid == self.pid && !self.live_siblings.is_empty() {
                Class::ZombieLeader
            } else {
                Class::Zombie
            };
        }
        if self.waits_on_fuse() {
            return Class::Fuse;
        }
        if self
            .freezer
            .as_ref()
            .is_some_and(|f| f.state == "FROZEN" || f.state == "FREEZING")
            || self.in_kernel(|f| f == "__refrigerator")
        {
            return Class::Frozen;
        }
        if self.nspid.len() >= 2
            && self.nspid.last() == Some(&1)
            && (self.in_kernel(|f| f == "zap_pid_ns_processes")
                || (self.exiting() && self.in_kernel(|f| f == "do_wait")))
        {
            return Class::PidNsInit;
        }
        if self.state == 'D' {
            return Class::Uninterruptible;
        }
        Class::Alive
    }

    /// What is going on, in plain words, and what would end it.
    pub fn explain(&self) -> (String, String) {
        let wchan = self
            .wchan
            .as_deref()
            .unwrap_or("an unknown kernel function");
        match self.classify() {
            Class::Fuse => {
                let when = if self.exiting() {
                    " while exiting (closing its files)"
                } else {
                    " inside a system call"
                };
                let conns = self.fuse.iter().map(describe_connection).collect::<Vec<_>>().join(", ");
                let which = if conns.is_empty() { "an unknown FUSE connection".to_string() } else { conns };
                let remedy = match self.fuse.first() {
                    Some(c) => format!(
                        "abort the connection: echo 1 > /sys/fs/fuse/connections/{}/abort (or make its daemon answer, or end the daemon if it is another process); rinit does it with --fuse-abort",
                        c.connection
                    ),
                    None => "abort the FUSE connection under /sys/fs/fuse/connections/N/abort".to_string(),
                };
                (
                    format!(
                        "blocked on a FUSE request{when} that the filesystem's daemon never answered: {which}"
                    ),
                    remedy,
                )
            }
            Class::Frozen => {
                let (cgroup, state, file) =
                    self.freezer.as_ref().map_or(("?", "FROZEN", "freezer.state"), |f| {
                        (f.cgroup.as_str(), f.state.as_str(), f.state_file.as_str())
                    });
                (
                    format!(
                        "frozen by the cgroup v1 freezer (cgroup {cgroup}, {state}): a frozen task cannot act on SIGKILL"
                    ),
                    format!("thaw it: echo THAWED > {file}"),
                )
            }
            Class::PidNsInit => (
                format!(
                    "the init of a nested PID namespace is exiting and waits in zap_pid_ns_processes for members that cannot die: {}",
                    pids(&self.children)
                ),
                "release the members it waits for (see their entries); the namespace then ends on its own"
                    .to_string(),
            ),
            Class::ZombieLeader => (
                format!(
                    "a zombie thread-group leader: the process cannot be reaped while its thread(s) {} live",
                    pids(&self.live_siblings)
                ),
                "see the entries of its live threads".to_string(),
            ),
            Class::Zombie => (
                "a zombie its parent has not reaped".to_string(),
                "its parent must reap it (or exit, so that it is re-parented and reaped)".to_string(),
            ),
            Class::Uninterruptible => (
                format!(
                    "in uninterruptible sleep in {wchan}: SIGKILL acts only when the kernel operation ends"
                ),
                format!("find what {wchan} waits for (a device, a network filesystem) and make it answer"),
            ),
            Class::Alive => (
                format!("alive in state {} (wchan {wchan}) although SIGKILL was sent", self.state),
                "it may be in another PID namespace or have been re-parented; end it by pid".to_string(),
            ),
        }
    }

    /// The log lines for this task.
    pub fn text(&self) -> Vec<String> {
        // Each line written into one buffer: a String per part was larger
        // code.
        let (why, remedy) = self.explain();
        let mut head = format!(
            "pid {} tid {} ({}) state {}",
            self.pid, self.tid, self.comm, self.state
        );
        if self.exiting() {
            head.push_str(", exiting");
        }
        if let Some(wchan) = &self.wchan {
            _ = write!(head, ", wchan {wchan}");
        }
        if self.nspid.len() > 1 {
            _ = write!(head, ", NSpid {}", pids(&self.nspid));
        }
        let pending = describe_pending(self.pending, self.shared_pending);
        if !pending.is_empty() {
            _ = write!(head, ", {pending}");
        }
        _ = write!(head, ": {why}");
        let mut details = String::from("  cmdline: ");
        if self.cmdline.is_empty() {
            details.push_str("(none)");
        } else {
            let all = self.cmdline.join(" ");
            _ = write!(details, "{}", escape_bounded(&all, COMMAND_SHOWN));
        }
        details.push_str("; cgroup: ");
        let shown = self
            .cgroups
            .iter()
            .filter(|l| l.starts_with("0::") || l.contains(":freezer:") || l.contains(":memory:"));
        for (i, line) in shown.enumerate() {
            if i > 0 {
                details.push(' ');
            }
            details.push_str(line);
        }
        if let Some(f) = &self.freezer {
            _ = write!(details, "; freezer {} {}", f.cgroup, f.state);
        }
        details.push_str("; stack: ");
        match &self.stack {
            Ok(frames) if frames.is_empty() => details.push_str("empty"),
            Ok(frames) => details.push_str(&frames.join(" < ")),
            Err(why) => _ = write!(details, "unreadable ({why})"),
        }
        vec![head, format!("  remedy: {remedy}"), details]
    }
}

fn pids(list: &[i32]) -> String {
    if list.is_empty() {
        return "(none found)".to_string();
    }
    Joined(list, " ").to_string()
}

fn describe_connection(c: &FuseConnection) -> String {
    let waiting = c.waiting.map_or("waiting count unknown".to_string(), |w| {
        format!("{w} waiting")
    });
    format!(
        "connection {} ({} on {}, {waiting})",
        c.connection, c.fstype, c.mountpoint
    )
}

/// "SIGKILL pending" / "SIGKILL pending (process-wide)".
pub fn describe_pending(thread: SigSet, process: SigSet) -> String {
    let names = |set: SigSet| {
        set.iter()
            .map(|s: Signo| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (thread.0 != 0, process.0 != 0) {
        (false, false) => String::new(),
        (true, false) => format!("{} pending", names(thread)),
        (false, true) => format!("{} pending (process-wide)", names(process)),
        (true, true) if thread == process => {
            format!("{} pending (thread and process-wide)", names(thread))
        }
        (true, true) => format!(
            "{} pending, {} pending (process-wide)",
            names(thread),
            names(process)
        ),
    }
}

/// What --fuse-abort did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AbortOutcome {
    pub aborted: Vec<u64>,
    pub errors: Vec<String>,
}

/// The stuck section of the exit report (docs/exit-report.schema.json).
#[derive(Serialize)]
pub struct StuckSection {
    /// Whether /proc could list the survivors; `tasks` is empty when not.
    listed: bool,
    stuck_timeout_ms: u64,
    tasks: Vec<JsonTask>,
    fuse_abort: Option<AbortOutcome>,
}

impl StuckSection {
    /// Whether /proc could list the survivors.
    pub fn listed(&self) -> bool {
        self.listed
    }

    /// Each task's pid, name and class, for the short text form.
    pub fn tasks(&self) -> impl Iterator<Item = (i32, &str, &str)> {
        self.tasks
            .iter()
            .map(|t| (t.pid, t.comm.as_str(), t.class.as_str()))
    }
}

#[derive(Serialize)]
struct JsonTask {
    pid: i32,
    tid: i32,
    nspid: Vec<i32>,
    comm: String,
    cmdline: Vec<String>,
    cmdline_truncated: bool,
    cmdline_bytes: u64,
    state: String,
    exiting: bool,
    flags: String,
    wchan: Option<String>,
    stack: Option<Vec<String>>,
    stack_error: Option<String>,
    pending: Vec<String>,
    shared_pending: Vec<String>,
    cgroups: Vec<String>,
    freezer: Option<Freezer>,
    fuse: Vec<FuseConnection>,
    class: String,
    explanation: String,
    remedy: String,
    live_threads: Vec<i32>,
    waiting_for: Vec<i32>,
}

/// The section for the tasks that survived SIGKILL; `tasks` is `None`
/// when /proc could not list them.
pub fn stuck_section(
    stuck_timeout_ms: u64,
    tasks: Option<&[Task]>,
    fuse_abort: Option<&AbortOutcome>,
) -> StuckSection {
    let names = |set: SigSet| set.iter().map(|s| s.to_string()).collect();
    StuckSection {
        listed: tasks.is_some(),
        stuck_timeout_ms,
        tasks: tasks
            .unwrap_or_default()
            .iter()
            .map(|t| {
                let (explanation, remedy) = t.explain();
                let class = t.classify();
                let (cmdline, cmdline_truncated) =
                    bounded_args(&t.cmdline, CMDLINE_ARGS, CMDLINE_BYTES);
                JsonTask {
                    pid: t.pid,
                    tid: t.tid,
                    nspid: t.nspid.clone(),
                    comm: t.comm.clone(),
                    cmdline,
                    cmdline_truncated,
                    cmdline_bytes: joined_len(&t.cmdline) as u64,
                    state: t.state.to_string(),
                    exiting: t.exiting(),
                    flags: format!("{:#x}", t.flags),
                    wchan: t.wchan.clone(),
                    stack: t.stack.as_ref().ok().cloned(),
                    stack_error: t.stack.as_ref().err().cloned(),
                    pending: names(t.pending),
                    shared_pending: names(t.shared_pending),
                    cgroups: t.cgroups.clone(),
                    freezer: t.freezer.clone(),
                    fuse: t.fuse.clone(),
                    class: class.name().to_string(),
                    explanation,
                    remedy,
                    live_threads: if class == Class::ZombieLeader {
                        t.live_siblings.clone()
                    } else {
                        Vec::new()
                    },
                    waiting_for: if class == Class::PidNsInit {
                        t.children.clone()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect(),
        fuse_abort: fuse_abort.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            pid: 7,
            tid: 7,
            nspid: vec![7],
            comm: "sleep".into(),
            cmdline: vec!["sleep".into(), "1000".into()],
            state: 'S',
            flags: 0x400000,
            wchan: Some("hrtimer_nanosleep".into()),
            stack: Ok(vec!["hrtimer_nanosleep".into(), "common_nsleep".into()]),
            pending: SigSet(0),
            shared_pending: SigSet(0),
            cgroups: vec!["0::/".into()],
            freezer: None,
            fuse: Vec::new(),
            live_siblings: Vec::new(),
            children: Vec::new(),
        }
    }

    fn fuse_thread() -> Task {
        Task {
            pid: 10,
            tid: 11,
            comm: "python3".into(),
            state: 'D',
            wchan: Some("request_wait_answer".into()),
            stack: Ok(vec![
                "request_wait_answer".into(),
                "__fuse_simple_request".into(),
                "fuse_flush".into(),
            ]),
            pending: SigSet(1 << 8),
            shared_pending: SigSet(1 << 8),
            fuse: vec![FuseConnection {
                connection: 41,
                mountpoint: "/mnt".into(),
                fstype: "fuse".into(),
                waiting: Some(1),
            }],
            ..task()
        }
    }

    #[test]
    fn fuse_flush_in_a_syscall() {
        let t = fuse_thread();
        assert_eq!(t.classify(), Class::Fuse);
        let (why, remedy) = t.explain();
        assert!(
            why.contains("inside a system call")
                && why.contains("connection 41 (fuse on /mnt, 1 waiting)"),
            "{why}"
        );
        assert!(
            remedy.contains("echo 1 > /sys/fs/fuse/connections/41/abort"),
            "{remedy}"
        );
        let lines = t.text();
        assert!(lines[0].starts_with("pid 10 tid 11 (python3) state D, wchan request_wait_answer, SIGKILL pending (thread and process-wide): blocked on a FUSE request"), "{}", lines[0]);
        assert!(
            lines[2].contains("stack: request_wait_answer < __fuse_simple_request < fuse_flush"),
            "{}",
            lines[2]
        );
    }

    #[test]
    fn fuse_flush_at_exit_seen_through_the_stack_only() {
        let t = Task {
            flags: 0x40050c,
            wchan: None,
            stack: Ok(vec![
                "request_wait_answer".into(),
                "fuse_flush".into(),
                "do_exit".into(),
            ]),
            fuse: vec![],
            ..fuse_thread()
        };
        assert_eq!(t.classify(), Class::Fuse);
        assert!(
            t.explain().0.contains("while exiting")
                && t.explain().0.contains("unknown FUSE connection")
        );
    }

    #[test]
    fn frozen_task() {
        let t = Task {
            state: 'D',
            pending: SigSet(1 << 8),
            shared_pending: SigSet(1 << 8),
            freezer: Some(Freezer {
                cgroup: "/t".into(),
                state_file: "/sys/fs/cgroup/freezer/t/freezer.state".into(),
                state: "FROZEN".into(),
            }),
            ..task()
        };
        assert_eq!(t.classify(), Class::Frozen);
        let (why, remedy) = t.explain();
        assert!(why.contains("cgroup /t, FROZEN"), "{why}");
        assert_eq!(
            remedy,
            "thaw it: echo THAWED > /sys/fs/cgroup/freezer/t/freezer.state"
        );
        // Frozen while running: no freezer state known, but __refrigerator.
        let t = Task {
            wchan: Some("__refrigerator".into()),
            ..task()
        };
        assert_eq!(t.classify(), Class::Frozen);
    }

    #[test]
    fn namespace_init_in_zap() {
        let t = Task {
            pid: 20,
            tid: 20,
            nspid: vec![20, 1],
            comm: "sh".into(),
            flags: 0x40000c,
            wchan: Some("do_wait".into()),
            stack: Err("Permission denied".into()),
            children: vec![21],
            ..task()
        };
        assert_eq!(t.classify(), Class::PidNsInit);
        assert!(
            t.explain()
                .0
                .contains("zap_pid_ns_processes for members that cannot die: 21")
        );
        assert!(t.text()[0].contains("NSpid 20 1"));
        assert!(t.text()[2].contains("stack: unreadable (Permission denied)"));
        // Not exiting: an ordinary nested init waiting for its children.
        assert_eq!(
            Task {
                flags: 0,
                ..t.clone()
            }
            .classify(),
            Class::Alive
        );
    }

    #[test]
    fn zombie_leader_and_plain_zombie() {
        let t = Task {
            state: 'Z',
            wchan: None,
            live_siblings: vec![11],
            ..task()
        };
        assert_eq!(t.classify(), Class::ZombieLeader);
        assert!(t.explain().0.contains("thread(s) 11 live"));
        assert_eq!(
            Task {
                live_siblings: vec![],
                ..t
            }
            .classify(),
            Class::Zombie
        );
    }

    #[test]
    fn uninterruptible_elsewhere() {
        let t = Task {
            state: 'D',
            wchan: Some("nfs_wait_bit_killable".into()),
            stack: Ok(vec![]),
            ..task()
        };
        assert_eq!(t.classify(), Class::Uninterruptible);
        assert!(t.explain().0.contains("in nfs_wait_bit_killable"));
        assert_eq!(task().classify(), Class::Alive);
    }

    #[test]
    fn pending_signals() {
        assert_eq!(describe_pending(SigSet(0), SigSet(0)), "");
        assert_eq!(
            describe_pending(SigSet(1 << 8), SigSet(0)),
            "SIGKILL pending"
        );
        assert_eq!(
            describe_pending(SigSet(0), SigSet(1 << 8)),
            "SIGKILL pending (process-wide)"
        );
        assert_eq!(
            describe_pending(SigSet(1 << 14), SigSet(1 << 8)),
            "SIGTERM pending, SIGKILL pending (process-wide)"
        );
    }

    #[test]
    fn json_document() {
        let to_json = |timeout, tasks: &[Task], outcome| {
            miniserde::json::to_string(&stuck_section(timeout, Some(tasks), outcome))
        };
        let outcome = AbortOutcome {
            aborted: vec![41],
            errors: vec![],
        };
        let json = to_json(1000, &[fuse_thread()], Some(&outcome));
        let value: miniserde::json::Value = miniserde::json::from_str(&json).unwrap();
        let miniserde::json::Value::Object(top) = value else {
            panic!("{json}")
        };
        assert!(json.contains("\"listed\":true"), "{json}");
        assert!(json.contains("\"class\":\"fuse\""), "{json}");
        assert!(json.contains("\"pending\":[\"SIGKILL\"]"), "{json}");
        assert!(json.contains("\"connection\":41"), "{json}");
        assert!(
            json.contains("\"fuse_abort\":{\"aborted\":[41],\"errors\":[]}"),
            "{json}"
        );
        assert!(top.contains_key("tasks") && top.contains_key("stuck_timeout_ms"));
        // Quotes and newlines in names are escaped by the library.
        let odd = Task {
            comm: "a\"b\nc".into(),
            ..task()
        };
        let json = to_json(1, &[odd], None);
        assert!(
            miniserde::json::from_str::<miniserde::json::Value>(&json).is_ok(),
            "{json}"
        );
        let unlisted = miniserde::json::to_string(&stuck_section(1, None, None));
        assert!(
            unlisted.starts_with("{\"listed\":false,\"stuck_timeout_ms\":1,\"tasks\":[]"),
            "{unlisted}"
        );
    }

    #[test]
    fn a_huge_command_line_is_capped() {
        let huge = Task {
            cmdline: vec!["python3".into(), "x".repeat(1 << 20)],
            ..task()
        };
        let json =
            miniserde::json::to_string(&stuck_section(1, Some(std::slice::from_ref(&huge)), None));
        assert!(json.len() < 2 * CMDLINE_BYTES, "{}", json.len());
        assert!(
            json.contains("\"cmdline_truncated\":true,\"cmdline_bytes\":1048584,"),
            "{json}"
        );
        for line in huge.text() {
            assert!(line.len() < 1000, "{}", line.len());
        }
        assert!(
            huge.text()[2].contains("xxx... (1048584 bytes in all); cgroup: "),
            "{:?}",
            huge.text()
        );
    }
}
