//! The kernel's side of cgroup filesystems, simulated on a fixture tree for
//! the `child` unit tests: what mkdir, rmdir, control-file writes and
//! signals do, with a log of what rinit asked for and what came of it.
//! It finds cgroups by path; rinit reaches sub-cgroups only by name under
//! an open parent (`CgroupDir`), as it does on the real kernel.

use super::child::{CgroupDir, CgroupFs};
use super::discover::{Hierarchy, Kind, parse_pids};
use crate::os::sys::Delivery;
use crate::os::{TempDir, write_control};
use crate::signals::{SIGKILL, Signo};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// rinit's pid in the fixtures; "0" written to cgroup.procs means it.
pub const RINIT: i32 = 100;
/// The child's pid. No signal reaches the real kill(2) (the fake takes
/// them all); should one escape, a pid above the kernel's PID_MAX_LIMIT
/// (4194304) makes it fail with ESRCH rather than hit a process.
pub const CHILD: i32 = 1_999_999_999;
/// Processes in sub-cgroups of the child's cgroup, as unreal.
pub const IN_SUB: i32 = 1_999_999_998;
pub const IN_DEEPER: i32 = 1_999_999_997;
/// The pid of a hopper's first fork; later ones count down from it.
pub const FIRST_HOP: i32 = 1_999_999_900;

const V1_UNLIMITED: &str = "9223372036854771712\n";
const V1_OOM_CONTROL: &str = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n";
const V2_MEMORY_EVENTS: &str = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n";

/// What rinit asked of the fake kernel, and what came of it, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// rinit sent `Signo` to the pid (existing or not).
    Signal(i32, Signo),
    /// FROZEN written to this cgroup's `freezer.state`.
    Freeze(PathBuf),
    /// THAWED written to this cgroup's `freezer.state`.
    Thaw(PathBuf),
    /// 1 written to this cgroup's `cgroup.kill`.
    CgroupKill(PathBuf),
    /// The process died of a SIGKILL and left every cgroup.
    Exit(i32),
    /// rmdir of this directory was attempted.
    Rmdir(PathBuf),
    /// 1 written to this cgroup's `cgroup.freeze`.
    V2Freeze(PathBuf),
    /// 0 written to this cgroup's `cgroup.freeze`.
    V2Thaw(PathBuf),
    /// A hopper forked (the second pid) and exited, a zombie (the first).
    Hop(i32, i32),
}

/// State shared by the fixture and every fake kernel it hands out.
#[derive(Default)]
struct Shared {
    log: Vec<Event>,
    /// SIGKILLed while in a frozen v1 freezer cgroup: they die once thawed.
    doomed: BTreeSet<i32>,
    /// Exited, not reaped: still listed in cgroup.procs, deaf to signals.
    zombies: BTreeSet<i32>,
    /// Hoppers, with how many more times each will fork and exit.
    hoppers: BTreeMap<i32, u32>,
    next_hop: i32,
}

/// The kernel's side of a cgroup filesystem, on a fixture tree whose
/// top-level directories are the hierarchies: mkdir fills a cgroup with
/// its control files (v2 memory ones only when the parent enables memory
/// for its children), a pid written to `cgroup.procs` leaves its old
/// cgroup in that hierarchy, the no-internal-process rule makes
/// `subtree_control` EBUSY, rmdir of a populated cgroup or of one with
/// sub-cgroups is EBUSY, `cgroup.kill` SIGKILLs the whole subtree (a v2
/// freeze does not stop it), v1 memsw may not go below the memory limit.
/// Swap files exist in a new cgroup when its parent has them (swap
/// accounting on). A signal goes to a pid of some cgroup.procs, or is
/// ESRCH; SIGKILL ends the process, leaving every hierarchy, at once or,
/// when a v1 freezer cgroup of it or above it is not THAWED, once thawed.
/// A hopper forks a new member and exits (a zombie, listed until reaped)
/// right after each read of a cgroup.procs that lists it, unless a v1 or
/// v2 freezer holds it or it got SIGKILL, as many times as it was given.
pub struct FakeKernel {
    root: PathBuf,
    shared: Rc<RefCell<Shared>>,
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn pids(dir: &Path) -> Vec<i32> {
    parse_pids(&fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default())
}

pub fn busy() -> io::Error {
    io::Error::from(io::ErrorKind::ResourceBusy)
}

fn set_pids(dir: &Path, list: &[i32]) {
    let text: String = list.iter().map(|p| format!("{p}\n")).collect();
    fs::write(dir.join("cgroup.procs"), text).unwrap();
    refresh_events(dir);
}

/// cgroup.events: populated, and frozen when this cgroup or one above it
/// has cgroup.freeze 1 (the fake freezes at once).
fn refresh_events(dir: &Path) {
    let events = dir.join("cgroup.events");
    if events.exists() {
        let populated = u8::from(!pids(dir).is_empty());
        let frozen = u8::from(v2_frozen(dir));
        fs::write(events, format!("populated {populated}\nfrozen {frozen}\n")).unwrap();
    }
}

fn v2_frozen(dir: &Path) -> bool {
    dir.ancestors()
        .any(|a| fs::read_to_string(a.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1"))
}

/// Every cgroup of the tree at `dir` (by path), each after its sub-cgroups.
pub fn cgroups_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < found.len() {
        if let Ok(entries) = fs::read_dir(&found[i]) {
            found.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    found.reverse();
    found
}

fn memory_files_v2(dir: &Path, on: bool) {
    let parent = dir.parent().expect("a cgroup has a parent");
    let swap = parent.join("memory.swap.max").exists();
    for (name, text) in [
        ("memory.max", "max\n"),
        ("memory.events", V2_MEMORY_EVENTS),
        ("memory.swap.max", "max\n"),
    ] {
        if on && (swap || name != "memory.swap.max") {
            fs::write(dir.join(name), text).unwrap();
        } else {
            let _ = fs::remove_file(dir.join(name));
        }
    }
}

impl FakeKernel {
    fn log(&self, event: Event) {
        self.shared.borrow_mut().log.push(event);
    }

    fn hierarchy_of(&self, dir: &Path) -> PathBuf {
        let rel = dir.strip_prefix(&self.root).expect("inside the fixture");
        self.root
            .join(rel.components().next().expect("below a hierarchy"))
    }

    /// Every cgroup of every hierarchy.
    fn all_cgroups(&self) -> Vec<PathBuf> {
        cgroups_under(&self.root)
            .into_iter()
            .filter(|d| d.join("cgroup.procs").exists())
            .collect()
    }

    fn move_pid(&self, into: &Path, pid: i32) {
        let all = cgroups_under(&self.hierarchy_of(into));
        for dir in all.iter().filter(|d| d.join("cgroup.procs").exists()) {
            let mut list = pids(dir);
            if dir == into {
                list.push(pid);
            } else if list.contains(&pid) {
                list.retain(|&p| p != pid);
            } else {
                continue;
            }
            set_pids(dir, &list);
        }
    }

    fn exists(&self, pid: i32) -> bool {
        self.all_cgroups().iter().any(|d| pids(d).contains(&pid))
    }

    /// Whether `pid` is in a v1 freezer cgroup that, or an ancestor of
    /// which, is not THAWED (a frozen parent freezes its sub-cgroups).
    fn frozen(&self, pid: i32) -> bool {
        self.all_cgroups()
            .iter()
            .filter(|d| d.join("freezer.state").exists() && pids(d).contains(&pid))
            .any(|dir| {
                let top = self.hierarchy_of(dir);
                dir.ancestors()
                    .take_while(|a| a.starts_with(&top))
                    .any(|a| {
                        fs::read_to_string(a.join("freezer.state"))
                            .is_ok_and(|s| s.trim() != "THAWED")
                    })
            })
    }

    /// Whether any freezer, v1 or v2, holds `pid` (a v2-frozen task still
    /// dies of SIGKILL, but cannot fork).
    fn held(&self, pid: i32) -> bool {
        self.frozen(pid)
            || self
                .all_cgroups()
                .iter()
                .any(|d| d.join("cgroup.freeze").exists() && pids(d).contains(&pid) && v2_frozen(d))
    }

    /// After a read of cgroup.procs listing `listed`: each hopper there
    /// that can, forks a member into its cgroups and exits.
    fn hop(&self, listed: &[i32]) {
        for &pid in listed {
            let left = self.shared.borrow().hoppers.get(&pid).copied();
            let Some(left) = left else { continue };
            if left == 0 || self.held(pid) || self.shared.borrow().doomed.contains(&pid) {
                continue;
            }
            let new = {
                let mut shared = self.shared.borrow_mut();
                let new = shared.next_hop;
                shared.next_hop -= 1;
                shared.hoppers.remove(&pid);
                shared.hoppers.insert(new, left - 1);
                shared.zombies.insert(pid);
                new
            };
            for dir in self.all_cgroups() {
                let mut list = pids(&dir);
                if list.contains(&pid) {
                    list.push(new);
                    set_pids(&dir, &list);
                }
            }
            self.log(Event::Hop(pid, new));
        }
    }

    /// SIGKILL: `pid` dies now, or once no freezer holds it.
    fn doom(&self, pid: i32) {
        self.shared.borrow_mut().doomed.insert(pid);
        self.end_doomed();
    }

    fn end_doomed(&self) {
        let doomed: Vec<i32> = self.shared.borrow().doomed.iter().copied().collect();
        for pid in doomed.into_iter().filter(|&p| !self.frozen(p)) {
            for dir in self.all_cgroups() {
                let mut list = pids(&dir);
                if list.contains(&pid) {
                    list.retain(|&p| p != pid);
                    set_pids(&dir, &list);
                }
            }
            self.shared.borrow_mut().doomed.remove(&pid);
            self.log(Event::Exit(pid));
        }
    }

    fn subtree_control(&self, dir: &Path, text: &str) -> io::Result<()> {
        let control = dir.join("cgroup.subtree_control");
        let mut enabled: Vec<String> = read(&control)
            .split_whitespace()
            .map(String::from)
            .collect();
        let is_root = dir == self.hierarchy_of(dir);
        for change in text.split_whitespace() {
            let (on, controller) = change.split_at(1);
            if on == "+" {
                if !read(&dir.join("cgroup.controllers"))
                    .split_whitespace()
                    .any(|c| c == controller)
                {
                    return Err(io::ErrorKind::NotFound.into());
                }
                if !is_root && !pids(dir).is_empty() {
                    return Err(busy());
                }
                if !enabled.iter().any(|c| c == controller) {
                    enabled.push(controller.to_string());
                }
            } else {
                enabled.retain(|c| c != controller);
            }
        }
        fs::write(&control, enabled.join(" "))?;
        let memory = enabled.iter().any(|c| c == "memory");
        for child in fs::read_dir(dir)?.flatten() {
            if child.file_type()?.is_dir() {
                fs::write(child.path().join("cgroup.controllers"), enabled.join(" "))?;
                memory_files_v2(&child.path(), memory);
            }
        }
        Ok(())
    }

    fn memory_limit(&self, file: &Path, text: &str) -> io::Result<()> {
        let dir = file.parent().expect("a file has a directory");
        let is_memory = file.ends_with("memory.limit_in_bytes");
        let other = if is_memory {
            "memory.memsw.limit_in_bytes"
        } else {
            "memory.limit_in_bytes"
        };
        let bytes = |t: &str| t.trim().parse::<u64>().ok();
        let new = bytes(text).ok_or(io::ErrorKind::InvalidInput)?;
        if let Some(current) = fs::read_to_string(dir.join(other))
            .ok()
            .and_then(|t| bytes(&t))
        {
            let (memory, memsw) = if is_memory {
                (new, current)
            } else {
                (current, new)
            };
            if memsw < memory {
                return Err(io::ErrorKind::InvalidInput.into());
            }
        }
        write_control(file, text)
    }
}

impl CgroupFs for FakeKernel {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)?;
        let parent = dir.parent().expect("a cgroup has a parent");
        let mut files: Vec<(&str, String)> = vec![("cgroup.procs", String::new())];
        if parent.join("cgroup.controllers").exists() {
            let enabled = read(&parent.join("cgroup.subtree_control"));
            memory_files_v2(dir, enabled.split_whitespace().any(|c| c == "memory"));
            files.extend([
                ("cgroup.controllers", enabled),
                ("cgroup.subtree_control", String::new()),
                ("cgroup.events", "populated 0\nfrozen 0\n".into()),
                ("cgroup.kill", String::new()),
                ("cgroup.freeze", "0\n".into()),
            ]);
        }
        if parent.join("freezer.state").exists() {
            files.push(("freezer.state", "THAWED\n".into()));
        }
        if parent.join("memory.limit_in_bytes").exists() {
            files.extend([
                ("memory.limit_in_bytes", V1_UNLIMITED.into()),
                ("memory.oom_control", V1_OOM_CONTROL.into()),
                ("cgroup.event_control", String::new()),
            ]);
        }
        if parent.join("memory.memsw.limit_in_bytes").exists() {
            files.push(("memory.memsw.limit_in_bytes", V1_UNLIMITED.into()));
        }
        for (name, text) in files {
            fs::write(dir.join(name), text)?;
        }
        Ok(())
    }

    fn write(&self, file: &Path, text: &str) -> io::Result<()> {
        if !file.is_file() {
            return write_control(file, text);
        }
        let dir = file.parent().expect("a file has a directory");
        match file.file_name().and_then(|n| n.to_str()) {
            Some("cgroup.procs") => {
                let pid = if text == "0" {
                    RINIT
                } else {
                    text.trim()
                        .parse()
                        .map_err(|_| io::ErrorKind::InvalidInput)?
                };
                self.move_pid(dir, pid);
                Ok(())
            }
            Some("cgroup.subtree_control") => self.subtree_control(dir, text),
            Some("cgroup.kill") => {
                self.log(Event::CgroupKill(dir.to_path_buf()));
                let mut members: Vec<i32> =
                    cgroups_under(dir).iter().flat_map(|d| pids(d)).collect();
                members.sort_unstable();
                members.into_iter().for_each(|pid| self.doom(pid));
                Ok(())
            }
            // The real freezer passes through FREEZING, seen on read.
            Some("freezer.state") => {
                write_control(file, &format!("{text}\n"))?;
                match text {
                    "FROZEN" => self.log(Event::Freeze(dir.to_path_buf())),
                    _ => {
                        self.log(Event::Thaw(dir.to_path_buf()));
                        self.end_doomed();
                    }
                }
                Ok(())
            }
            Some("cgroup.freeze") => {
                write_control(file, text)?;
                let event = match text.trim() {
                    "1" => Event::V2Freeze(dir.to_path_buf()),
                    _ => Event::V2Thaw(dir.to_path_buf()),
                };
                self.log(event);
                cgroups_under(dir).iter().for_each(|d| refresh_events(d));
                Ok(())
            }
            Some("memory.limit_in_bytes" | "memory.memsw.limit_in_bytes") => {
                self.memory_limit(file, text)
            }
            _ => write_control(file, text),
        }
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        self.log(Event::Rmdir(dir.to_path_buf()));
        if !dir.is_dir() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let all = cgroups_under(dir);
        if all.len() > 1 || !pids(dir).is_empty() {
            return Err(busy());
        }
        fs::remove_dir_all(dir)
    }

    fn signal(&self, pid: i32, sig: Signo) -> io::Result<Delivery> {
        self.log(Event::Signal(pid, sig));
        if !self.exists(pid) {
            return Ok(Delivery::TargetGone);
        }
        if sig == SIGKILL && !self.shared.borrow().zombies.contains(&pid) {
            self.doom(pid);
        }
        Ok(Delivery::Sent)
    }

    fn open_dir(&self, dir: &Path) -> io::Result<CgroupDir> {
        if !dir.is_dir() {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(CgroupDir::by_path(dir.to_path_buf()))
    }

    fn open_sub(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<CgroupDir> {
        assert!(
            name == ".." || Path::new(name).components().count() == 1,
            "a sub-cgroup is one component: {name:?}"
        );
        match name.to_str() {
            Some("..") => self.open_dir(parent.path.parent().expect("below the fixture")),
            _ => self.open_dir(&parent.path.join(name)),
        }
    }

    fn sub_cgroups(&self, dir: &CgroupDir) -> io::Result<Vec<OsString>> {
        let mut names: Vec<OsString> = fs::read_dir(&dir.path)?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name())
            .collect();
        names.sort();
        Ok(names)
    }

    fn read_at(&self, dir: &CgroupDir, file: &str) -> io::Result<String> {
        let text = fs::read_to_string(dir.path.join(file))?;
        if file == "cgroup.procs" {
            self.hop(&parse_pids(&text));
        }
        Ok(text)
    }

    fn write_at(&self, dir: &CgroupDir, file: &str, text: &str) -> io::Result<()> {
        self.write(&dir.path.join(file), text)
    }

    fn remove_at(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<()> {
        self.remove_dir(&parent.path.join(name))
    }

    fn has_exited(&self, pid: i32) -> bool {
        self.shared.borrow().zombies.contains(&pid) || !self.exists(pid)
    }
}

/// A fixture tree of cgroup hierarchies and the fake kernels that act on
/// it, sharing one log.
pub struct Fixture {
    tmp: TempDir,
    shared: Rc<RefCell<Shared>>,
}

impl Fixture {
    pub fn new() -> Fixture {
        let shared = Shared {
            next_hop: FIRST_HOP,
            ..Shared::default()
        };
        Fixture {
            tmp: TempDir::new(),
            shared: Rc::new(RefCell::new(shared)),
        }
    }

    /// `pid` becomes a hopper that forks and exits `hops` times.
    pub fn hopper(&self, pid: i32, hops: u32) {
        self.shared.borrow_mut().hoppers.insert(pid, hops);
    }

    /// rinit reaps: the zombies leave every cgroup.
    pub fn reap(&self) {
        let zombies = std::mem::take(&mut self.shared.borrow_mut().zombies);
        for dir in self.kernel_paths() {
            let mut list = pids(&dir);
            list.retain(|p| !zombies.contains(p));
            set_pids(&dir, &list);
        }
    }

    fn kernel_paths(&self) -> Vec<PathBuf> {
        cgroups_under(self.tmp.path())
            .into_iter()
            .filter(|d| d.join("cgroup.procs").exists())
            .collect()
    }

    pub fn dir(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn file(&self, rel: &str, text: &str) {
        self.tmp.file(rel, text);
    }

    pub fn kernel(&self) -> Box<dyn CgroupFs> {
        Box::new(FakeKernel {
            root: self.tmp.path().to_path_buf(),
            shared: Rc::clone(&self.shared),
        })
    }

    /// The log so far, emptied.
    pub fn take_log(&self) -> Vec<Event> {
        std::mem::take(&mut self.shared.borrow_mut().log)
    }

    /// The rmdirs attempted, in order, from the log (which keeps them).
    pub fn rmdirs(&self) -> Vec<PathBuf> {
        let shared = self.shared.borrow();
        let rmdirs = shared.log.iter().filter_map(|e| match e {
            Event::Rmdir(dir) => Some(dir.clone()),
            _ => None,
        });
        rmdirs.collect()
    }

    /// A cgroup2 hierarchy with rinit in `app` (alongside `others`),
    /// `subtree_control` of `app` as given.
    pub fn v2(&self, others: &[i32], subtree_control: &str) -> Hierarchy {
        self.file("unified/cgroup.controllers", "cpu memory pids\n");
        self.file("unified/cgroup.subtree_control", "cpu memory pids\n");
        self.file("unified/cgroup.procs", "1\n");
        self.file("unified/app/cgroup.controllers", "cpu memory pids\n");
        self.file("unified/app/cgroup.subtree_control", subtree_control);
        self.file("unified/app/cgroup.events", "populated 1\nfrozen 0\n");
        let mut procs = vec![RINIT];
        procs.extend(others);
        set_pids(&self.dir("unified/app"), &procs);
        Hierarchy {
            kind: Kind::V2,
            own_dir: self.dir("unified/app"),
        }
    }

    /// v1 freezer and memory hierarchies with rinit in `app` of each.
    pub fn v1(&self) -> [Hierarchy; 2] {
        self.file("freezer/cgroup.procs", "1\n");
        self.file("freezer/app/freezer.state", "THAWED\n");
        self.file("freezer/app/cgroup.procs", &format!("{RINIT}\n"));
        self.file("memory/cgroup.procs", "1\n");
        self.file("memory/app/memory.limit_in_bytes", V1_UNLIMITED);
        self.file("memory/app/memory.memsw.limit_in_bytes", V1_UNLIMITED);
        self.file("memory/app/memory.oom_control", V1_OOM_CONTROL);
        self.file("memory/app/cgroup.event_control", "");
        self.file("memory/app/cgroup.procs", &format!("{RINIT}\n"));
        [
            Hierarchy {
                kind: Kind::V1Freezer,
                own_dir: self.dir("freezer/app"),
            },
            Hierarchy {
                kind: Kind::V1Memory,
                own_dir: self.dir("memory/app"),
            },
        ]
    }

    /// The workload makes the sub-cgroup `rel` and moves `pid` into it.
    pub fn workload_makes(&self, rel: &str, pid: Option<i32>) {
        let dir = self.dir(rel);
        self.kernel().create_dir(&dir).unwrap();
        if let Some(pid) = pid {
            self.joins(&dir, pid);
        }
    }

    /// `pid` moves itself into the cgroup `dir`.
    pub fn joins(&self, dir: &Path, pid: i32) {
        self.kernel()
            .write(&dir.join("cgroup.procs"), &pid.to_string())
            .unwrap();
    }
}
