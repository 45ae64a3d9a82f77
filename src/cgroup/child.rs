//! The child's cgroup on disk: create it under rinit's own cgroup in every
//! usable hierarchy, apply the memory limit, watch the OOM counter, signal
//! and kill its members, know when it is empty, and remove it.
//!
//! Every error names the operation and the file; any failure during set-up
//! undoes what was done, so a degraded run leaves nothing behind.

use super::discover::{self as cgroup, Hierarchy, Kind};
use crate::escape::Joined;
use crate::os::procfs::Proc;
use crate::os::{cannot, describe_error, lossy, read_text, sys, write_control};
use crate::signals::{self, Signo};
use log::{debug, warn};
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the cgroup could not be set up: one line, naming the file.
#[derive(Debug)]
pub struct SetupError(pub String);

fn op_error(op: &str, path: &Path, err: io::Error) -> SetupError {
    SetupError(format!(
        "cannot {op} {}: {}",
        path.display(),
        describe_error(&err)
    ))
}

/// An open cgroup directory. The real kernel's is a descriptor, so that a
/// tree nested past PATH_MAX (4096 bytes of path) is walked one component
/// at a time; `path` names it in messages (it may be too long to open) and
/// is how the fake kernel finds it.
pub struct CgroupDir {
    pub path: PathBuf,
    fd: Option<OwnedFd>,
}

impl CgroupDir {
    /// A directory known by its path alone (the fake kernel's).
    #[cfg(test)]
    pub(super) fn by_path(path: PathBuf) -> CgroupDir {
        CgroupDir { path, fd: None }
    }

    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.fd
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or_else(|| io::ErrorKind::InvalidInput.into())
    }
}

/// The operations on cgroups whose effect is the kernel's: making and
/// removing a cgroup (the kernel fills and empties the directory), writing
/// a control file (which moves processes, enables controllers, freezes,
/// kills), reading one (a hopper can fork between two reads), signalling
/// a member, and whether a member has exited. Sub-cgroups are reached
/// through their parent's `CgroupDir` by name, never by path. Unit tests
/// put a fake that applies the kernel's rules to a fixture tree in its
/// place, so none of them sends a real signal.
pub trait CgroupFs {
    fn create_dir(&self, dir: &Path) -> io::Result<()>;
    fn write(&self, file: &Path, text: &str) -> io::Result<()>;
    fn remove_dir(&self, dir: &Path) -> io::Result<()>;
    fn signal(&self, pid: i32, sig: Signo) -> io::Result<sys::Delivery>;
    /// The cgroup at `dir` (a short path: rinit's own cgroup and NAME).
    fn open_dir(&self, dir: &Path) -> io::Result<CgroupDir>;
    /// The sub-cgroup `name` of `parent`, or its parent for "..".
    fn open_sub(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<CgroupDir>;
    /// The names of the sub-cgroups of `dir`, sorted.
    fn sub_cgroups(&self, dir: &CgroupDir) -> io::Result<Vec<OsString>>;
    fn read_at(&self, dir: &CgroupDir, file: &str) -> io::Result<String>;
    fn write_at(&self, dir: &CgroupDir, file: &str, text: &str) -> io::Result<()>;
    fn remove_at(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<()>;
    /// Whether `pid` has exited (a zombie, or gone): a member that got
    /// SIGKILL in the middle of a fork has listed its child once it has.
    fn has_exited(&self, pid: i32) -> bool;
}

/// The real cgroup filesystems.
pub struct Kernel;

impl CgroupFs for Kernel {
    fn create_dir(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir(dir)
    }

    fn write(&self, file: &Path, text: &str) -> io::Result<()> {
        write_control(file, text)
    }

    fn remove_dir(&self, dir: &Path) -> io::Result<()> {
        fs::remove_dir(dir)
    }

    fn signal(&self, pid: i32, sig: Signo) -> io::Result<sys::Delivery> {
        sys::send_signal(pid, sig)
    }

    fn open_dir(&self, dir: &Path) -> io::Result<CgroupDir> {
        Ok(CgroupDir {
            path: dir.to_path_buf(),
            fd: Some(sys::open_dir_at(None, dir)?),
        })
    }

    fn open_sub(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<CgroupDir> {
        let path = match name.to_str() {
            Some("..") => parent.path.parent().unwrap_or(&parent.path).to_path_buf(),
            _ => parent.path.join(name),
        };
        let fd = sys::open_dir_at(Some(parent.fd()?), Path::new(name))?;
        Ok(CgroupDir { path, fd: Some(fd) })
    }

    fn sub_cgroups(&self, dir: &CgroupDir) -> io::Result<Vec<OsString>> {
        sys::sub_directories(dir.fd()?)
    }

    fn read_at(&self, dir: &CgroupDir, file: &str) -> io::Result<String> {
        // Bytes: a stray byte must not hide the numbers around it.
        let mut raw = Vec::new();
        sys::open_file_at(dir.fd()?, OsStr::new(file), false)?.read_to_end(&mut raw)?;
        Ok(lossy(&raw))
    }

    fn write_at(&self, dir: &CgroupDir, file: &str, text: &str) -> io::Result<()> {
        // One write: a control file takes the whole value at once.
        sys::open_file_at(dir.fd()?, OsStr::new(file), true)?.write_all(text.as_bytes())
    }

    fn remove_at(&self, parent: &CgroupDir, name: &OsStr) -> io::Result<()> {
        sys::remove_dir_at(parent.fd()?, name)
    }

    fn has_exited(&self, pid: i32) -> bool {
        // Not shown (another PID namespace's /proc) counts as exited: the
        // loop then rests on "each pid gets one SIGKILL" alone.
        Proc::system()
            .stat(pid)
            .is_none_or(|s| matches!(s.state, 'Z' | 'X' | 'x'))
    }
}

/// Where the memory limit and OOM counter live, and how rinit hears of OOM.
struct Memory {
    dir: PathBuf,
    v2: bool,
    limit: Option<u64>,
    oom_kills_at_start: u64,
    /// v1: a non-blocking eventfd registered through cgroup.event_control
    /// (POLLIN); v2: memory.events itself (POLLPRI on change, re-armed by
    /// reading it through the same descriptor).
    notify: Option<File>,
    /// v1 keeps memory.oom_control open for the registration's lifetime.
    oom_control: Option<File>,
}

/// rinit moved itself into a leaf to enable a v2 controller for the child.
struct Leaf {
    own_dir: PathBuf,
    leaf_dir: PathBuf,
    enabled: String,
}

pub struct ChildCgroup {
    fs: Box<dyn CgroupFs>,
    name: String,
    dirs: Vec<(Kind, PathBuf)>,
    join: Vec<OwnedFd>,
    memory: Option<Memory>,
    events: Option<File>,
    leaf: Option<Leaf>,
    killed: bool,
}

impl ChildCgroup {
    /// Creates NAME under rinit's own cgroup in each hierarchy.
    pub fn create(
        hierarchies: &[Hierarchy],
        name: &str,
        limit: Option<u64>,
    ) -> Result<ChildCgroup, SetupError> {
        ChildCgroup::create_on(Box::new(Kernel), hierarchies, name, limit)
    }

    /// `create`, on the cgroup filesystem `fs`.
    pub fn create_on(
        fs: Box<dyn CgroupFs>,
        hierarchies: &[Hierarchy],
        name: &str,
        limit: Option<u64>,
    ) -> Result<ChildCgroup, SetupError> {
        let find = |kind| hierarchies.iter().find(|h| h.kind == kind);
        let v2 = find(Kind::V2);
        let freezer = find(Kind::V1Freezer);
        let v1_memory = find(Kind::V1Memory);
        if v2.is_none() && freezer.is_none() {
            return Err(SetupError(
                "no cgroup v2 hierarchy and no v1 freezer is mounted".into(),
            ));
        }
        let v2_memory = match v2 {
            Some(h) if v1_memory.is_none() => {
                // A limit needs memory available, and rinit enables it for
                // the child. Without a limit, only the OOM counter is at
                // stake: it is worth having when children get the
                // controller already, not worth a move into a leaf, and
                // otherwise the child's cgroup has no memory.events.
                let path = h.own_dir.join(if limit.is_some() {
                    "cgroup.controllers"
                } else {
                    "cgroup.subtree_control"
                });
                let text = read_text(&path).map_err(|e| op_error("read", &path, e))?;
                text.split_whitespace().any(|c| c == "memory")
            }
            _ => false,
        };
        if limit.is_some() && v1_memory.is_none() && !v2_memory {
            return Err(SetupError(
                "no memory controller is available for a memory limit".into(),
            ));
        }
        let mut cg = ChildCgroup {
            fs,
            name: name.to_string(),
            dirs: Vec::new(),
            join: Vec::new(),
            memory: None,
            events: None,
            leaf: None,
            killed: false,
        };
        // On failure, `cg` is dropped unfinished and removes what it made.
        for h in [freezer, v1_memory, v2].into_iter().flatten() {
            let dir = h.own_dir.join(name);
            cg.fs
                .create_dir(&dir)
                .map_err(|e| op_error("create", &dir, e))?;
            cg.dirs.push((h.kind, dir));
        }
        if let Some(h) = v2
            && v2_memory
            && limit.is_some()
        {
            cg.enable_v2_controller(&h.own_dir, "memory")?;
        }
        let memory_dir = cg
            .dir(Kind::V1Memory)
            .or_else(|| v2_memory.then(|| cg.dir(Kind::V2)).flatten());
        if let Some(dir) = memory_dir {
            cg.memory = Some(Memory::open(
                cg.fs.as_ref(),
                dir.to_path_buf(),
                cg.dir(Kind::V1Memory).is_none(),
                limit,
            )?);
        }
        for (_, dir) in &cg.dirs {
            let path = dir.join("cgroup.procs");
            let file = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| op_error("open", &path, e))?;
            cg.join.push(file.into());
        }
        if let Some(dir) = cg.dir(Kind::V2) {
            let path = dir.join("cgroup.events");
            cg.events = Some(File::open(&path).map_err(|e| op_error("open", &path, e))?);
        }
        Ok(cg)
    }

    /// The no-internal-process rule: a v2 cgroup with processes of its own
    /// cannot enable controllers for its children, so rinit first moves
    /// itself into a leaf beside the child's cgroup.
    fn enable_v2_controller(&mut self, own_dir: &Path, controller: &str) -> Result<(), SetupError> {
        let control = own_dir.join("cgroup.subtree_control");
        let enabled = read_text(&control).map_err(|e| op_error("read", &control, e))?;
        if enabled.split_whitespace().any(|c| c == controller) {
            return Ok(());
        }
        if !own_dir.join("cgroup.events").exists() {
            return Err(SetupError(format!(
                "{controller} is not enabled in {} (the root cgroup; rinit does not change it)",
                control.display()
            )));
        }
        let leaf_dir = own_dir.join(format!("{}.rinit", self.name));
        self.fs
            .create_dir(&leaf_dir)
            .map_err(|e| op_error("create", &leaf_dir, e))?;
        self.leaf = Some(Leaf {
            own_dir: own_dir.to_path_buf(),
            leaf_dir: leaf_dir.clone(),
            enabled: String::new(),
        });
        let procs = leaf_dir.join("cgroup.procs");
        self.fs
            .write(&procs, "0")
            .map_err(|e| op_error("move rinit into", &procs, e))?;
        self.fs
            .write(&control, &format!("+{controller}"))
            .map_err(|e| op_error("write", &control, e))?;
        if let Some(leaf) = &mut self.leaf {
            leaf.enabled = controller.to_string();
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn dir(&self, kind: Kind) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| d.as_path())
    }

    /// Descriptors of every `cgroup.procs`, for the child to write "0" to
    /// before it execs.
    pub fn join_fds(&self) -> Vec<RawFd> {
        self.join.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// The child is in its cgroups: the `cgroup.procs` descriptors are done.
    pub fn child_joined(&mut self) {
        self.join.clear();
    }

    /// Every descriptor the cgroup keeps open, which rinit must not close.
    pub fn own_fds(&self) -> Vec<RawFd> {
        let mut fds: Vec<RawFd> = self.join.iter().map(AsRawFd::as_raw_fd).collect();
        if let Some(memory) = &self.memory {
            fds.extend(memory.notify.as_ref().map(AsRawFd::as_raw_fd));
            fds.extend(memory.oom_control.as_ref().map(AsRawFd::as_raw_fd));
        }
        fds.extend(self.events.as_ref().map(AsRawFd::as_raw_fd));
        fds
    }

    /// Extra descriptors for the main loop's poll: (fd, events).
    pub fn poll_fds(&self) -> Vec<(RawFd, i16)> {
        let mut fds = Vec::new();
        if let Some(notify) = self.memory.as_ref().and_then(|m| m.notify.as_ref()) {
            let events = if self.memory.as_ref().is_some_and(|m| m.v2) {
                sys::POLLPRI
            } else {
                sys::POLLIN
            };
            fds.push((notify.as_raw_fd(), events));
        }
        if let Some(events) = &self.events {
            fds.push((events.as_raw_fd(), sys::POLLPRI));
        }
        fds
    }

    pub fn memory_limit(&self) -> Option<u64> {
        self.memory.as_ref().and_then(|m| m.limit)
    }

    /// OOM kills in the cgroup since it was made (and re-arms the
    /// notification).
    pub fn oom_kills(&mut self) -> u64 {
        let Some(memory) = &mut self.memory else {
            return 0;
        };
        memory.drain_notify();
        memory
            .oom_kills()
            .unwrap_or(0)
            .saturating_sub(memory.oom_kills_at_start)
    }

    /// Members of the cgroup and of every sub-cgroup the workload made
    /// under it, in every hierarchy: a process from outside may have been
    /// moved into a sub-cgroup of one hierarchy only (a workload that sees
    /// only cgroup2 does that). Any depth: the walk goes by descriptors.
    pub fn members(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        for (_, dir) in &self.dirs {
            walk_tree(self.fs.as_ref(), dir, false, &mut |cgroup| {
                if let Ok(text) = self.fs.read_at(cgroup, "cgroup.procs") {
                    pids.extend(cgroup::parse_pids(&text));
                }
            });
        }
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Whether the v2 cgroup still holds a task; `None` without v2.
    pub fn populated(&self) -> Option<bool> {
        let mut file = self.events.as_ref()?;
        let mut raw = Vec::new();
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_to_end(&mut raw).ok()?;
        cgroup::keyed_value(&lossy(&raw), "populated").map(|v| v != 0)
    }

    pub fn signal_members(&self, sig: Signo) {
        for pid in self.members() {
            if let Err(e) = self.fs.signal(pid, sig) {
                warn!(
                    "cannot send {sig} to pid {pid} in cgroup {}: {e}",
                    self.name
                );
            }
        }
    }

    /// The kill, once. v2 `cgroup.kill` (5.14+) is atomic: it reaches the
    /// whole subtree, frozen sub-cgroups too, and no fork escapes it. Else
    /// v1 freeze, SIGKILL every member, thaw: frozen, nobody can fork
    /// meanwhile. Else (pure v2 before 5.14) v2 freeze where there is
    /// `cgroup.freeze` (5.2+), then rounds of SIGKILL until no member is
    /// left that has not had one, then thaw. The freeze is what stops a
    /// member that keeps forking and exiting cold: a v2-frozen task cannot
    /// fork, yet dies of SIGKILL, so the first round reaches every member.
    /// The rounds are for what a freeze does not stop (no cgroup.freeze
    /// before 5.2, a freeze that does not complete, a process moved in from
    /// outside, a v2-only member beside the v1 freezer). Every path ends by
    /// thawing every v1-frozen cgroup of the subtree: a task frozen there
    /// dies of its SIGKILL only once thawed.
    pub fn kill_all(&mut self) {
        if std::mem::replace(&mut self.killed, true) {
            return;
        }
        if let Some(dir) = self.dir(Kind::V2) {
            let path = dir.join("cgroup.kill");
            match self.fs.write(&path, "1") {
                Ok(()) => {
                    debug!("wrote 1 to {}", path.display());
                    self.thaw_v1();
                    return;
                }
                Err(e) => debug!(
                    "cannot write {}: {} (no cgroup.kill before Linux 5.14)",
                    path.display(),
                    describe_error(&e)
                ),
            }
        }
        let mut killed = BTreeSet::new();
        if let Some(dir) = self.dir(Kind::V1Freezer).map(Path::to_path_buf) {
            let state = dir.join("freezer.state");
            let frozen = self.fs.write(&state, "FROZEN").is_ok()
                && wait_until_read(&state, "FROZEN", Duration::from_secs(1));
            if !frozen {
                debug!(
                    "{} did not reach FROZEN; killing members unfrozen",
                    state.display()
                );
            }
            let members = self.members();
            self.kill_members(&members, &mut killed);
            self.thaw_v1();
            debug!(
                "froze {}, sent SIGKILL to {} member(s), thawed",
                dir.display(),
                members.len()
            );
        }
        let v2_frozen = killed.is_empty() && self.freeze_v2();
        self.kill_until_empty(&mut killed);
        if v2_frozen {
            self.thaw_v2();
        }
        // A process moved into a frozen v1 cgroup meanwhile.
        self.thaw_v1();
    }

    /// Freezes the v2 cgroup through `cgroup.freeze` and waits (briefly) for
    /// `frozen 1`; whether it froze.
    fn freeze_v2(&self) -> bool {
        let Some(dir) = self.dir(Kind::V2) else {
            return false;
        };
        let path = dir.join("cgroup.freeze");
        if let Err(e) = self.fs.write(&path, "1") {
            debug!(
                "cannot write {}: {} (no cgroup.freeze before Linux 5.2)",
                path.display(),
                describe_error(&e)
            );
            return false;
        }
        let events = dir.join("cgroup.events");
        let frozen = wait_until_read(&events, "frozen 1", Duration::from_secs(1));
        debug!(
            "wrote 1 to {}{}",
            path.display(),
            if frozen {
                ""
            } else {
                " (not frozen after 1 s)"
            }
        );
        true
    }

    /// SIGKILL to each of `members` that has not had one yet.
    fn kill_members(&self, members: &[i32], killed: &mut BTreeSet<i32>) {
        for &pid in members {
            if killed.insert(pid)
                && let Err(e) = self.fs.signal(pid, signals::SIGKILL)
            {
                warn!(
                    "cannot send SIGKILL to pid {pid} in cgroup {}: {e}",
                    self.name
                );
            }
        }
    }

    /// Rounds of SIGKILL to every member not yet sent one, until a round
    /// finds none and every member killed has exited (a member killed in
    /// the middle of a fork lists its child by then; a task that got
    /// SIGKILL forks no more). Each pid gets one SIGKILL: a zombie, which
    /// stays listed until rinit reaps it after this, is done, not spun on
    /// (rinit's zombies also keep their pids from reuse meanwhile). Bounded
    /// by `KILL_ROUNDS` and `KILL_LIMIT`, then says what is left.
    fn kill_until_empty(&self, killed: &mut BTreeSet<i32>) {
        let deadline = Instant::now() + KILL_LIMIT;
        let mut rounds = 0;
        loop {
            let members = self.members();
            if members.iter().all(|p| killed.contains(p)) {
                let dying = members.iter().any(|&p| !self.fs.has_exited(p));
                if !dying || Instant::now() >= deadline {
                    if rounds > 1 {
                        debug!(
                            "cgroup {}: {rounds} rounds of SIGKILL for {} member(s)",
                            self.name,
                            killed.len()
                        );
                    }
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let mut fresh = members;
            fresh.retain(|p| !killed.contains(p));
            if rounds >= KILL_ROUNDS || Instant::now() >= deadline {
                warn!(
                    "cgroup {}: still new members after {rounds} rounds of SIGKILL ({} killed): pids {} are left",
                    self.name,
                    killed.len(),
                    Joined(&fresh, " ")
                );
                return;
            }
            rounds += 1;
            self.kill_members(&fresh, killed);
        }
    }

    /// A SIGKILL was sent into the cgroup: thaws every frozen cgroup of the
    /// subtree that rinit owns, v1 (where a frozen task dies of SIGKILL
    /// only once thawed) and v2 `cgroup.freeze` (where it would die
    /// anyway, but the rest of the teardown needs the others running).
    /// Every path that SIGKILLs into the cgroup calls this or `kill_all`.
    pub fn thaw(&self) {
        self.thaw_v1();
        self.thaw_v2();
    }

    /// Thaws every cgroup of the v1 freezer subtree that is not THAWED:
    /// the one rinit froze, and sub-cgroups the workload froze itself
    /// (thawing a parent leaves those frozen).
    fn thaw_v1(&self) {
        if let Some(dir) = self.dir(Kind::V1Freezer) {
            self.thaw_tree(dir, "freezer.state", |s| s != "THAWED", "THAWED");
        }
    }

    /// Thaws every cgroup of the v2 subtree whose `cgroup.freeze` is 1.
    fn thaw_v2(&self) {
        if let Some(dir) = self.dir(Kind::V2) {
            self.thaw_tree(dir, "cgroup.freeze", |s| s == "1", "0");
        }
    }

    fn thaw_tree(&self, dir: &Path, file: &str, frozen: fn(&str) -> bool, thawed: &str) {
        walk_tree(self.fs.as_ref(), dir, false, &mut |cgroup| {
            if !self
                .fs
                .read_at(cgroup, file)
                .is_ok_and(|s| frozen(s.trim()))
            {
                return;
            }
            let path = cgroup.path.join(file);
            match self.fs.write_at(cgroup, file, thawed) {
                Ok(()) => debug!("wrote {thawed} to {}", path.display()),
                Err(e) => warn!("{}", cannot("write", &path, &e)),
            }
        });
    }

    /// Removes the child's cgroups with every sub-cgroup the workload made
    /// (retrying briefly while the kernel finishes with exited tasks), then
    /// undoes rinit's own leaf move.
    pub fn remove(mut self) {
        self.release();
    }

    fn release(&mut self) {
        self.memory = None;
        self.events = None;
        self.join.clear();
        for (_, dir) in self.dirs.drain(..).rev() {
            remove_tree(self.fs.as_ref(), &dir);
        }
        if let Some(leaf) = self.leaf.take() {
            if !leaf.enabled.is_empty() {
                let control = leaf.own_dir.join("cgroup.subtree_control");
                if let Err(e) = self.fs.write(&control, &format!("-{}", leaf.enabled)) {
                    warn!("{}", cannot("write", &control, &e));
                }
            }
            let procs = leaf.own_dir.join("cgroup.procs");
            if let Err(e) = self.fs.write(&procs, "0") {
                warn!(
                    "cannot move rinit back into {}: {}",
                    procs.display(),
                    describe_error(&e)
                );
            }
            remove_tree(self.fs.as_ref(), &leaf.leaf_dir);
        }
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        self.release();
    }
}

/// How many rounds of SIGKILL `kill_until_empty` sends at most, and for
/// how long: a member that forks and exits faster than rinit reads the
/// member list cannot keep it busy for ever.
const KILL_ROUNDS: u32 = 200;
const KILL_LIMIT: Duration = Duration::from_secs(2);

/// Whether a line of `file` reads `line` within `limit`. freezer.state
/// moves to FROZEN lazily, when read; cgroup.events could be polled, but
/// this is a one-off wait of milliseconds.
fn wait_until_read(file: &Path, line: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if read_text(file).is_ok_and(|s| s.lines().any(|l| l.trim() == line)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One level of `walk_tree`: the sub-cgroups still to visit, this
/// cgroup's name in its parent (none for the top), and whether a
/// sub-cgroup of it stayed.
struct Level {
    pending: Vec<OsString>,
    name: Option<OsString>,
    stayed: bool,
}

/// Visits every cgroup of the tree at `top`, each after all of its
/// sub-cgroups, and with `remove` removes it after the visit (rmdir of a
/// cgroup that has sub-cgroups is EBUSY). One directory is open at a time:
/// down by name, back up through "..", which in a cgroupfs always leads
/// back (a cgroup can be renamed only within its parent), so neither the
/// depth nor PATH_MAX nor the descriptor limit matters. A sub-cgroup that
/// cannot be opened is visited as a leaf would be: only its removal is
/// tried. The retry budget of the removal is shared by the whole tree, so
/// a tree takes no longer than one cgroup; a cgroup that stays is reported
/// once, and its ancestors, which cannot go either, are not tried.
/// `visit` is a `dyn`: the walk is compiled once, not once per caller.
fn walk_tree(fs: &dyn CgroupFs, top: &Path, remove: bool, visit: &mut dyn FnMut(&CgroupDir)) {
    let mut retries = RMDIR_RETRIES;
    let mut current = match fs.open_dir(top) {
        Ok(dir) => dir,
        Err(e) => {
            if e.kind() != io::ErrorKind::NotFound {
                debug!("{}", cannot("open", top, &e));
            }
            return;
        }
    };
    let listing = |dir: &CgroupDir| {
        let mut names = fs.sub_cgroups(dir).unwrap_or_default();
        names.reverse();
        names
    };
    let mut levels = vec![Level {
        pending: listing(&current),
        name: None,
        stayed: false,
    }];
    loop {
        let level = levels.last_mut().expect("the top stays until the end");
        if let Some(name) = level.pending.pop() {
            match fs.open_sub(&current, &name) {
                Ok(sub) => {
                    current = sub;
                    let pending = listing(&current);
                    levels.push(Level {
                        pending,
                        name: Some(name),
                        stayed: false,
                    });
                }
                Err(_) if remove => {
                    let gone = remove_retrying(fs, &current, &name, &mut retries);
                    level.stayed |= !gone;
                }
                Err(_) => {}
            }
            continue;
        }
        visit(&current);
        let level = levels.pop().expect("the level just read");
        let Some(name) = level.name else {
            if remove && !level.stayed {
                remove_top(fs, top, &mut retries);
            }
            return;
        };
        current = match fs.open_sub(&current, OsStr::new("..")) {
            Ok(parent) => parent,
            Err(e) => {
                warn!(
                    "cannot open the parent of {}: {}",
                    current.path.display(),
                    describe_error(&e)
                );
                return;
            }
        };
        let parent = levels.last_mut().expect("a sub-cgroup has a parent");
        if level.stayed || (remove && !remove_retrying(fs, &current, &name, &mut retries)) {
            parent.stayed = true;
        }
    }
}

/// How many 10 ms waits one tree's removal may spend on EBUSY: the kernel
/// can take a moment after the last task exited to let a cgroup go.
const RMDIR_RETRIES: u32 = 19;

/// Removes the cgroup at `dir` and every sub-cgroup under it, deepest
/// first.
fn remove_tree(cgroupfs: &dyn CgroupFs, dir: &Path) {
    walk_tree(cgroupfs, dir, true, &mut |_| {});
}

/// Whether the sub-cgroup `name` of `parent` is gone (removed now, or
/// already).
fn remove_retrying(fs: &dyn CgroupFs, parent: &CgroupDir, name: &OsStr, retries: &mut u32) -> bool {
    let holds = || {
        fs.open_sub(parent, name)
            .and_then(|dir| fs.read_at(&dir, "cgroup.procs"))
    };
    let path = parent.path.join(name);
    retrying(&path, retries, || fs.remove_at(parent, name), holds)
}

/// `remove_retrying` for the top of a tree, by its (short) path.
fn remove_top(fs: &dyn CgroupFs, dir: &Path, retries: &mut u32) -> bool {
    let holds = || read_text(&dir.join("cgroup.procs"));
    retrying(dir, retries, || fs.remove_dir(dir), holds)
}

fn retrying(
    dir: &Path,
    retries: &mut u32,
    mut rmdir: impl FnMut() -> io::Result<()>,
    procs: impl Fn() -> io::Result<String>,
) -> bool {
    loop {
        match rmdir() {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
            Err(e) if e.kind() == io::ErrorKind::ResourceBusy && *retries > 0 => {
                *retries -= 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                let pids = cgroup::parse_pids(&procs().unwrap_or_default());
                warn!(
                    "cannot remove {}: {}{}",
                    dir.display(),
                    describe_error(&e),
                    if pids.is_empty() {
                        String::new()
                    } else {
                        format!(" (still holds pids {})", Joined(&pids, " "))
                    }
                );
                return false;
            }
        }
    }
}

impl Memory {
    fn open(
        fs: &dyn CgroupFs,
        dir: PathBuf,
        v2: bool,
        limit: Option<u64>,
    ) -> Result<Memory, SetupError> {
        if let Some(bytes) = limit {
            // Memory and swap together, or swapping lets the child use more
            // than the limit says. v1 checks memsw >= the memory limit, so
            // the memory limit goes first. No swap file means the kernel
            // accounts no swap (docs/cgroups.md: the limit is then memory only).
            let (memory_file, swap_file, swap) = if v2 {
                ("memory.max", "memory.swap.max", "0".to_string())
            } else {
                (
                    "memory.limit_in_bytes",
                    "memory.memsw.limit_in_bytes",
                    bytes.to_string(),
                )
            };
            let path = dir.join(memory_file);
            fs.write(&path, &bytes.to_string())
                .map_err(|e| op_error("write", &path, e))?;
            let path = dir.join(swap_file);
            match fs.write(&path, &swap) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(op_error("write", &path, e));
                }
                _ => {}
            }
        }
        let mut memory = Memory {
            dir,
            v2,
            limit,
            oom_kills_at_start: 0,
            notify: None,
            oom_control: None,
        };
        memory.oom_kills_at_start = memory.oom_kills().unwrap_or(0);
        if v2 {
            let path = memory.dir.join("memory.events");
            let file = File::open(&path).map_err(|e| op_error("open", &path, e))?;
            memory.notify = Some(file);
        } else {
            // cgroup.event_control: "<eventfd> <fd of memory.oom_control>".
            let control = memory.dir.join("memory.oom_control");
            let oom_control = File::open(&control).map_err(|e| op_error("open", &control, e))?;
            let efd = sys::eventfd().map_err(|e| {
                SetupError(format!("cannot create an eventfd: {}", describe_error(&e)))
            })?;
            let registration = memory.dir.join("cgroup.event_control");
            match fs.write(
                &registration,
                &format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd()),
            ) {
                Ok(()) => {
                    memory.notify = Some(File::from(efd));
                    memory.oom_control = Some(oom_control);
                }
                // Without notification the counter is still read at exit.
                Err(e) => debug!("{}", cannot("write", &registration, &e)),
            }
        }
        Ok(memory)
    }

    fn oom_kills(&self) -> Option<u64> {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        let text = read_text(&self.dir.join(file)).ok()?;
        cgroup::keyed_value(&text, "oom_kill")
    }

    fn drain_notify(&mut self) {
        let Some(file) = &mut self.notify else { return };
        let mut buf = [0u8; 512];
        if self.v2 {
            let _ = file.seek(SeekFrom::Start(0));
        }
        let _ = file.read(&mut buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::fake_kernel::{
        CHILD, Event, FIRST_HOP, Fixture, IN_DEEPER, IN_SUB, RINIT, busy, pids, read,
    };

    fn create(
        fx: &Fixture,
        hierarchies: &[Hierarchy],
        limit: Option<u64>,
    ) -> Result<ChildCgroup, String> {
        ChildCgroup::create_on(fx.kernel(), hierarchies, "job", limit).map_err(|e| e.0)
    }

    /// The child joins its cgroups, as its `join_fds` writes do.
    fn child_joins(fx: &Fixture, cg: &ChildCgroup) {
        for (_, dir) in &cg.dirs {
            fx.joins(dir, CHILD);
        }
    }

    #[test]
    fn v2_moves_rinit_into_a_leaf_to_enable_memory() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        let mut cg = create(&fx, &[h], Some(64 << 20)).unwrap();
        let (app, job, leaf) = (
            fx.dir("unified/app"),
            fx.dir("unified/app/job"),
            fx.dir("unified/app/job.rinit"),
        );
        assert_eq!(pids(&app), Vec::<i32>::new());
        assert_eq!(pids(&leaf), [RINIT]);
        assert_eq!(read(&app.join("cgroup.subtree_control")), "memory");
        assert_eq!(read(&job.join("memory.max")), "67108864");
        assert_eq!(cg.memory_limit(), Some(64 << 20));
        assert_eq!(cg.join_fds().len(), 1);
        let events: Vec<i16> = cg.poll_fds().iter().map(|&(_, e)| e).collect();
        assert_eq!(events, [sys::POLLPRI, sys::POLLPRI]);
        assert_eq!(cg.own_fds().len(), 3);
        assert_eq!(cg.populated(), Some(false));

        child_joins(&fx, &cg);
        cg.child_joined();
        assert_eq!(cg.join_fds(), Vec::<RawFd>::new());
        assert_eq!(cg.members(), [CHILD]);
        assert_eq!(cg.populated(), Some(true));
        fs::write(
            job.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 2);

        fx.take_log();
        cg.kill_all();
        assert_eq!(
            fx.take_log(),
            [Event::CgroupKill(job.clone()), Event::Exit(CHILD)]
        );
        assert_eq!(cg.members(), Vec::<i32>::new());
        assert_eq!(cg.populated(), Some(false));
        cg.remove();
        assert!(!job.exists() && !leaf.exists());
        assert_eq!(pids(&app), [RINIT]);
        assert_eq!(read(&app.join("cgroup.subtree_control")), "");
    }

    #[test]
    fn v2_leaf_move_fails_when_rinit_is_not_alone_and_is_undone() {
        let fx = Fixture::new();
        let h = fx.v2(&[300], "");
        let err = create(&fx, &[h], Some(64 << 20)).err().expect("refused");
        let app = fx.dir("unified/app");
        let control = app.join("cgroup.subtree_control");
        assert_eq!(
            err,
            format!(
                "cannot write {}: {}",
                control.display(),
                describe_error(&busy())
            )
        );
        assert!(!app.join("job").exists() && !app.join("job.rinit").exists());
        assert_eq!(pids(&app), [300, RINIT]);
        assert_eq!(read(&control), "");
    }

    #[test]
    fn v2_memory_already_enabled_needs_no_leaf() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "memory");
        let cg = create(&fx, &[h], Some(1 << 30)).unwrap();
        assert!(!fx.dir("unified/app/job.rinit").exists());
        assert_eq!(pids(&fx.dir("unified/app")), [RINIT]);
        assert_eq!(read(&fx.dir("unified/app/job/memory.max")), "1073741824");
        drop(cg);
        assert!(!fx.dir("unified/app/job").exists());
        assert_eq!(
            read(&fx.dir("unified/app/cgroup.subtree_control")),
            "memory"
        );
    }

    #[test]
    fn v2_root_cgroup_is_left_alone() {
        let fx = Fixture::new();
        fx.v2(&[], "");
        fs::write(fx.dir("unified/cgroup.subtree_control"), "cpu").unwrap();
        let root = Hierarchy {
            kind: Kind::V2,
            own_dir: fx.dir("unified"),
        };
        let err = create(&fx, &[root], Some(64 << 20)).err().expect("refused");
        assert_eq!(
            err,
            format!(
                "memory is not enabled in {} (the root cgroup; rinit does not change it)",
                fx.dir("unified/cgroup.subtree_control").display()
            )
        );
        assert!(!fx.dir("unified/job").exists());
        assert!(!fx.dir("unified/job.rinit").exists());
    }

    #[test]
    fn refuses_what_it_cannot_do_before_touching_anything() {
        let fx = Fixture::new();
        assert_eq!(
            create(&fx, &[], None).err().expect("refused"),
            "no cgroup v2 hierarchy and no v1 freezer is mounted"
        );
        let h = fx.v2(&[], "");
        fs::write(fx.dir("unified/app/cgroup.controllers"), "cpu pids\n").unwrap();
        assert_eq!(
            create(&fx, &[h], Some(64 << 20)).err().expect("refused"),
            "no memory controller is available for a memory limit"
        );
        assert!(!fx.dir("unified/app/job").exists());
        let [freezer, _] = fx.v1();
        assert_eq!(
            create(&fx, &[freezer], Some(64 << 20))
                .err()
                .expect("refused"),
            "no memory controller is available for a memory limit"
        );
        assert!(!fx.dir("freezer/app/job").exists());
    }

    #[test]
    fn an_existing_name_is_an_error_and_not_removed() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        fx.file("unified/app/job/cgroup.procs", "");
        let err = create(&fx, &[h], None).err().expect("refused");
        assert!(
            err.starts_with(&format!(
                "cannot create {}: ",
                fx.dir("unified/app/job").display()
            )),
            "{err}"
        );
        assert!(fx.dir("unified/app/job").exists());
    }

    #[test]
    fn v1_limit_oom_counter_and_freezer_kill() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        let mut cg = create(&fx, &[memory, freezer], Some(32 << 20)).unwrap();
        let job = fx.dir("memory/app/job");
        assert_eq!(read(&job.join("memory.limit_in_bytes")), "33554432");
        // Memory and swap together (the fake, like the kernel, refuses a
        // memsw limit below the memory limit: the memory limit went first).
        assert_eq!(read(&job.join("memory.memsw.limit_in_bytes")), "33554432");
        // "<eventfd> <fd of memory.oom_control>", both open in this process.
        let registration = read(&job.join("cgroup.event_control"));
        let fds: Vec<RawFd> = registration
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        assert_eq!(fds.len(), 2);
        assert!(fds.iter().all(|fd| cg.own_fds().contains(fd)));
        let events: Vec<i16> = cg.poll_fds().iter().map(|&(_, e)| e).collect();
        assert_eq!(events, [sys::POLLIN]);
        assert_eq!(cg.join_fds().len(), 2);
        assert_eq!(cg.populated(), None);
        assert!(!fx.dir("memory/app/job.rinit").exists());

        child_joins(&fx, &cg);
        assert_eq!(cg.members(), [CHILD]);
        assert_eq!(pids(&fx.dir("freezer/app/job")), [CHILD]);
        fs::write(
            job.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 1);

        fx.take_log();
        cg.kill_all();
        // SIGKILL while frozen, which ends the child only once thawed.
        let freezer_job = fx.dir("freezer/app/job");
        assert_eq!(
            fx.take_log(),
            [
                Event::Freeze(freezer_job.clone()),
                Event::Signal(CHILD, signals::SIGKILL),
                Event::Thaw(freezer_job.clone()),
                Event::Exit(CHILD),
            ]
        );
        assert_eq!(read(&freezer_job.join("freezer.state")), "THAWED\n");
        assert_eq!(cg.members(), Vec::<i32>::new());
        cg.remove();
        assert!(!fx.dir("freezer/app/job").exists() && !job.exists());
        assert_eq!(pids(&fx.dir("memory/app")), [RINIT]);
    }

    #[test]
    fn v2_without_a_limit_leaves_subtree_control_alone() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        let mut cg = create(&fx, &[h], None).unwrap();
        assert!(!fx.dir("unified/app/job.rinit").exists());
        assert_eq!(pids(&fx.dir("unified/app")), [RINIT]);
        assert_eq!(read(&fx.dir("unified/app/cgroup.subtree_control")), "");
        assert_eq!(cg.memory_limit(), None);
        assert_eq!(cg.oom_kills(), 0);
        assert_eq!(cg.poll_fds().len(), 1);
    }

    #[test]
    fn v2_without_a_limit_counts_ooms_when_memory_is_on_for_children() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "memory");
        let mut cg = create(&fx, &[h], None).unwrap();
        fs::write(
            fx.dir("unified/app/job/memory.events"),
            "low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 1);
        assert_eq!(cg.memory_limit(), None);
        assert_eq!(cg.poll_fds().len(), 2);
    }

    #[test]
    fn a_missing_control_file_is_an_error_not_a_new_file() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        fs::remove_file(fx.dir("memory/app/memory.limit_in_bytes")).unwrap();
        let err = create(&fx, &[freezer, memory], Some(64 << 20));
        let limit = fx.dir("memory/app/job/memory.limit_in_bytes");
        assert_eq!(
            err.err(),
            Some(format!(
                "cannot write {}: No such file or directory",
                limit.display()
            ))
        );
        assert!(!fx.dir("memory/app/job").exists());
        assert!(!fx.dir("freezer/app/job").exists());
    }

    #[test]
    fn v2_sub_cgroups_are_members_killed_and_removed_deepest_first() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        let mut cg = create(&fx, std::slice::from_ref(&h), None).unwrap();
        child_joins(&fx, &cg);
        fx.workload_makes("unified/app/job/sub", Some(IN_SUB));
        fx.workload_makes("unified/app/job/sub/deeper", Some(IN_DEEPER));
        fs::write(fx.dir("unified/app/job/sub/cgroup.freeze"), "1\n").unwrap();
        assert_eq!(cg.members(), [IN_DEEPER, IN_SUB, CHILD]);

        fx.take_log();
        cg.kill_all();
        let job = fx.dir("unified/app/job");
        // A v2 freeze does not hold off cgroup.kill; no signal of rinit's.
        assert_eq!(
            fx.take_log(),
            [
                Event::CgroupKill(job.clone()),
                Event::Exit(IN_DEEPER),
                Event::Exit(IN_SUB),
                Event::Exit(CHILD),
            ]
        );
        assert_eq!(cg.members(), Vec::<i32>::new());
        cg.remove();
        assert_eq!(
            fx.rmdirs(),
            [job.join("sub/deeper"), job.join("sub"), job.clone()]
        );
        assert!(!job.exists());
        // The next run gets the same name.
        let again = create(&fx, &[h], None).unwrap();
        assert!(job.is_dir());
        drop(again);
        assert!(!job.exists());
    }

    #[test]
    fn v1_freeze_kill_thaw_reaches_sub_cgroups_and_thaws_frozen_ones() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        let mut cg = create(&fx, &[freezer, memory], None).unwrap();
        child_joins(&fx, &cg);
        fx.workload_makes("freezer/app/job/sub", Some(IN_SUB));
        fx.workload_makes("memory/app/job/sub", Some(IN_SUB));
        fx.workload_makes("freezer/app/job/sub/deeper", Some(IN_DEEPER));
        // The workload froze `sub`; the kernel shows `deeper` frozen too.
        for rel in ["sub", "sub/deeper"] {
            let state = fx.dir("freezer/app/job").join(rel).join("freezer.state");
            fs::write(state, "FROZEN\n").unwrap();
        }
        assert_eq!(cg.members(), [IN_DEEPER, IN_SUB, CHILD]);

        fx.take_log();
        cg.kill_all();
        let (freezer_job, memory_job) = (fx.dir("freezer/app/job"), fx.dir("memory/app/job"));
        // Frozen, every member of the subtree SIGKILLed, every frozen
        // cgroup thawed; the members die once nothing above them is frozen.
        let kill = |pid| Event::Signal(pid, signals::SIGKILL);
        assert_eq!(
            fx.take_log(),
            [
                Event::Freeze(freezer_job.clone()),
                kill(IN_DEEPER),
                kill(IN_SUB),
                kill(CHILD),
                Event::Thaw(freezer_job.join("sub/deeper")),
                Event::Thaw(freezer_job.join("sub")),
                Event::Thaw(freezer_job.clone()),
                Event::Exit(IN_DEEPER),
                Event::Exit(IN_SUB),
                Event::Exit(CHILD),
            ]
        );
        for rel in ["job", "job/sub", "job/sub/deeper"] {
            let state = fx.dir("freezer/app").join(rel).join("freezer.state");
            assert_eq!(read(&state), "THAWED\n", "{}", state.display());
        }
        assert_eq!(cg.members(), Vec::<i32>::new());
        cg.remove();
        assert_eq!(
            fx.rmdirs(),
            [
                memory_job.join("sub"),
                memory_job.clone(),
                freezer_job.join("sub/deeper"),
                freezer_job.join("sub"),
                freezer_job.clone(),
            ]
        );
        assert!(!freezer_job.exists() && !memory_job.exists());
    }

    #[test]
    fn hybrid_cgroup_kill_reaches_v2_only_members_and_thaws_v1_frozen_sub_cgroups() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        let v2 = fx.v2(&[], "");
        let mut cg = create(&fx, &[freezer, memory, v2], None).unwrap();
        child_joins(&fx, &cg);
        // A process from outside, moved into a v2 sub-cgroup only.
        fx.workload_makes("unified/app/job/sub", Some(IN_SUB));
        // The child moved itself into a v1 sub-cgroup and froze it.
        fx.workload_makes("freezer/app/job/cold", Some(CHILD));
        fs::write(fx.dir("freezer/app/job/cold/freezer.state"), "FROZEN\n").unwrap();
        assert_eq!(cg.members(), [IN_SUB, CHILD]);

        fx.take_log();
        cg.kill_all();
        let v2_job = fx.dir("unified/app/job");
        let cold = fx.dir("freezer/app/job/cold");
        // cgroup.kill reaches the v1-frozen child, which dies once thawed.
        assert_eq!(
            fx.take_log(),
            [
                Event::CgroupKill(v2_job.clone()),
                Event::Exit(IN_SUB),
                Event::Thaw(cold.clone()),
                Event::Exit(CHILD),
            ]
        );
        assert_eq!(cg.members(), Vec::<i32>::new());
        assert_eq!(pids(&v2_job), Vec::<i32>::new());
        assert_eq!(pids(&v2_job.join("sub")), Vec::<i32>::new());
        assert_eq!(
            read(&fx.dir("freezer/app/job/cold/freezer.state")),
            "THAWED\n"
        );
        assert_eq!(read(&fx.dir("freezer/app/job/freezer.state")), "THAWED\n");
        // Killed through v2, the child is gone from the v1 hierarchies too.
        for dir in [cold, fx.dir("freezer/app/job"), fx.dir("memory/app/job")] {
            assert_eq!(pids(&dir), Vec::<i32>::new(), "{}", dir.display());
        }
        cg.remove();
        for dir in ["unified/app/job", "freezer/app/job", "memory/app/job"] {
            assert!(!fx.dir(dir).exists(), "{dir} left behind");
        }
    }

    /// v2 before 5.14: the child, IN_SUB in a sub-cgroup, and no
    /// cgroup.kill (nor, with `freeze` false, cgroup.freeze: before 5.2).
    fn v2_without_cgroup_kill(fx: &Fixture, freeze: bool) -> (ChildCgroup, PathBuf) {
        let h = fx.v2(&[], "");
        let cg = create(fx, &[h], None).unwrap();
        child_joins(fx, &cg);
        fx.workload_makes("unified/app/job/sub", Some(IN_SUB));
        let job = fx.dir("unified/app/job");
        for dir in [job.join("sub"), job.clone()] {
            fs::remove_file(dir.join("cgroup.kill")).unwrap();
            if !freeze {
                fs::remove_file(dir.join("cgroup.freeze")).unwrap();
            }
        }
        (cg, job)
    }

    fn kill(pid: i32) -> Event {
        Event::Signal(pid, signals::SIGKILL)
    }

    #[test]
    fn v2_without_cgroup_kill_freezes_so_a_hopper_cannot_escape() {
        let fx = Fixture::new();
        let (mut cg, job) = v2_without_cgroup_kill(&fx, true);
        // The child forks and exits whenever it gets the chance.
        fx.hopper(CHILD, 5);
        fx.take_log();

        cg.signal_members(signals::SIGTERM);
        let term = |pid| Event::Signal(pid, signals::SIGTERM);
        let (child, next) = (CHILD, FIRST_HOP);
        assert_eq!(
            fx.take_log(),
            [Event::Hop(child, next), term(IN_SUB), term(CHILD)]
        );
        fx.reap();
        assert_eq!(pids(&job), [next]);

        cg.kill_all();
        // Frozen, it forks no more, and a v2-frozen task dies of SIGKILL.
        assert_eq!(
            fx.take_log(),
            [
                Event::V2Freeze(job.clone()),
                kill(next),
                Event::Exit(next),
                kill(IN_SUB),
                Event::Exit(IN_SUB),
                Event::V2Thaw(job.clone()),
            ]
        );
        assert_eq!(cg.members(), Vec::<i32>::new());
        assert_eq!(cg.populated(), Some(false));
        assert_eq!(read(&job.join("cgroup.freeze")), "0");
        cg.kill_all();
        assert_eq!(fx.take_log(), [], "the kill is once");
        cg.remove();
        assert!(!job.exists());
    }

    #[test]
    fn without_cgroup_kill_or_freeze_sigkill_repeats_until_no_member_is_new() {
        let fx = Fixture::new();
        let (mut cg, job) = v2_without_cgroup_kill(&fx, false);
        fx.hopper(CHILD, 3);
        fx.take_log();
        cg.kill_all();
        let hop = |n: i32| FIRST_HOP - n;
        // Each read of the members lets the hopper fork and exit once: a
        // single pass would have killed a zombie and let hop(0) escape.
        // Each pid gets one SIGKILL; zombies are not spun on.
        assert_eq!(
            fx.take_log(),
            [
                Event::Hop(CHILD, hop(0)),
                kill(IN_SUB),
                Event::Exit(IN_SUB),
                kill(CHILD),
                Event::Hop(hop(0), hop(1)),
                kill(hop(0)),
                Event::Hop(hop(1), hop(2)),
                kill(hop(1)),
                kill(hop(2)),
                Event::Exit(hop(2)),
            ]
        );
        // Left: rinit's zombies, until it reaps them.
        assert_eq!(cg.members(), [hop(1), hop(0), CHILD]);
        fx.reap();
        assert_eq!(cg.members(), Vec::<i32>::new());
        cg.remove();
        assert!(!job.exists());
    }

    #[test]
    fn a_hopper_that_never_stops_ends_the_rounds_at_their_bound() {
        let fx = Fixture::new();
        let (mut cg, _job) = v2_without_cgroup_kill(&fx, false);
        fx.hopper(CHILD, u32::MAX);
        fx.take_log();
        cg.kill_all();
        let log = fx.take_log();
        let kills: Vec<i32> = log
            .iter()
            .filter_map(|e| match e {
                Event::Signal(pid, sig) if *sig == signals::SIGKILL => Some(*pid),
                _ => None,
            })
            .collect();
        let rounds = kills.len() - 1; // IN_SUB went with the first round.
        assert!((1..=KILL_ROUNDS as usize).contains(&rounds), "{rounds}");
        let distinct: BTreeSet<i32> = kills.iter().copied().collect();
        assert_eq!(distinct.len(), kills.len(), "a pid got two SIGKILLs");
        assert!(!cg.members().is_empty(), "the hopper escaped, reported");
        fx.hopper(cg.members()[0], 0);
    }

    #[test]
    fn thaw_after_a_sigkill_thaws_v1_and_v2_frozen_cgroups_of_the_subtree() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        let v2 = fx.v2(&[], "");
        let cg = create(&fx, &[freezer, memory, v2], None).unwrap();
        child_joins(&fx, &cg);
        fx.workload_makes("freezer/app/job/sub", Some(IN_SUB));
        let (freezer_job, v2_job) = (fx.dir("freezer/app/job"), fx.dir("unified/app/job"));
        // Frozen from outside, as `docker pause` on a v1 host does.
        fx.kernel()
            .write(&freezer_job.join("freezer.state"), "FROZEN")
            .unwrap();
        fs::write(freezer_job.join("sub/freezer.state"), "FROZEN\n").unwrap();
        fx.kernel()
            .write(&v2_job.join("cgroup.freeze"), "1")
            .unwrap();
        fx.take_log();
        // The runtime's SIGKILL to the main child after --kill-after.
        fx.kernel().signal(CHILD, signals::SIGKILL).unwrap();
        assert_eq!(cg.members(), [IN_SUB, CHILD], "frozen, it cannot die");
        cg.thaw();
        assert_eq!(
            fx.take_log(),
            [
                kill(CHILD),
                Event::Thaw(freezer_job.join("sub")),
                Event::Thaw(freezer_job.clone()),
                Event::Exit(CHILD),
                Event::V2Thaw(v2_job.clone()),
            ]
        );
        assert_eq!(cg.members(), [IN_SUB]);
        cg.thaw();
        assert_eq!(fx.take_log(), [], "nothing frozen is left");
    }

    #[test]
    fn a_sub_cgroup_that_stays_uses_one_retry_budget_and_keeps_its_parents() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        let cg = create(&fx, &[h], None).unwrap();
        fx.workload_makes("unified/app/job/a", None);
        fx.workload_makes("unified/app/job/b", Some(IN_SUB));
        fx.workload_makes("unified/app/job/b/c", None);
        cg.remove();
        let job = fx.dir("unified/app/job");
        assert!(!job.join("a").exists() && !job.join("b/c").exists());
        assert!(job.join("b").exists());
        let rmdirs = fx.rmdirs();
        let tries = |dir: &Path| rmdirs.iter().filter(|d| *d == dir).count();
        assert_eq!(tries(&job.join("b")), RMDIR_RETRIES as usize + 1);
        assert_eq!(tries(&job), 0, "a parent of a cgroup that stays");
        assert_eq!(rmdirs.len(), RMDIR_RETRIES as usize + 3);
    }

    #[test]
    fn v2_limit_covers_swap_when_the_kernel_accounts_it() {
        let fx = Fixture::new();
        let h = fx.v2(&[], "");
        fx.file("unified/app/memory.swap.max", "max\n");
        let job = fx.dir("unified/app/job");
        let cg = create(&fx, std::slice::from_ref(&h), Some(32 << 20)).unwrap();
        assert_eq!(read(&job.join("memory.max")), "33554432");
        assert_eq!(read(&job.join("memory.swap.max")), "0");
        drop(cg);
        // No swap accounting: no swap file, the limit is memory only.
        fs::remove_file(fx.dir("unified/app/memory.swap.max")).unwrap();
        let cg = create(&fx, &[h], Some(32 << 20)).unwrap();
        assert_eq!(read(&job.join("memory.max")), "33554432");
        assert!(!job.join("memory.swap.max").exists());
        drop(cg);
    }

    #[test]
    fn v1_without_memsw_limits_memory_only() {
        let fx = Fixture::new();
        let [freezer, memory] = fx.v1();
        fs::remove_file(fx.dir("memory/app/memory.memsw.limit_in_bytes")).unwrap();
        let cg = create(&fx, &[freezer, memory], Some(32 << 20)).unwrap();
        let job = fx.dir("memory/app/job");
        assert_eq!(read(&job.join("memory.limit_in_bytes")), "33554432");
        assert!(!job.join("memory.memsw.limit_in_bytes").exists());
        drop(cg);
    }
}
