//! The child's cgroup on disk: create it under rinit's own cgroup in every
//! usable hierarchy, apply the memory limit, watch the OOM counter, signal
//! and kill its members, know when it is empty, and remove it.
//!
//! Every error names the operation and the file; any failure during set-up
//! undoes what was done, so a degraded run leaves nothing behind.

use super::discover::{self as cgroup, Hierarchy, Kind};
use crate::os::sys;
use crate::signals::{self, Signo};
use log::{debug, warn};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the cgroup could not be set up: one line, naming the file.
#[derive(Debug)]
pub struct SetupError(pub String);

fn op_error(op: &str, path: &Path, err: io::Error) -> SetupError {
    SetupError(format!("cannot {op} {}: {}", path.display(), plain(&err)))
}

/// "Read-only file system" rather than "Read-only file system (os error 30)".
pub fn plain(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn write(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)
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
                let path = h.own_dir.join("cgroup.controllers");
                let text = fs::read_to_string(&path).map_err(|e| op_error("read", &path, e))?;
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
            fs::create_dir(&dir).map_err(|e| op_error("create", &dir, e))?;
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
                dir.to_path_buf(),
                cg.dir(Kind::V1Memory).is_none(),
                limit,
            )?);
        }
        for (_, dir) in &cg.dirs {
            let path = dir.join("cgroup.procs");
            let file = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_CLOEXEC)
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
        let enabled = fs::read_to_string(&control).map_err(|e| op_error("read", &control, e))?;
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
        fs::create_dir(&leaf_dir).map_err(|e| op_error("create", &leaf_dir, e))?;
        self.leaf = Some(Leaf {
            own_dir: own_dir.to_path_buf(),
            leaf_dir: leaf_dir.clone(),
            enabled: String::new(),
        });
        let procs = leaf_dir.join("cgroup.procs");
        write(&procs, "0").map_err(|e| op_error("move rinit into", &procs, e))?;
        write(&control, &format!("+{controller}")).map_err(|e| op_error("write", &control, e))?;
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
                libc::POLLPRI
            } else {
                libc::POLLIN
            };
            fds.push((notify.as_raw_fd(), events));
        }
        if let Some(events) = &self.events {
            fds.push((events.as_raw_fd(), libc::POLLPRI));
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

    /// Members of the cgroup (any hierarchy lists them all).
    pub fn members(&self) -> Vec<i32> {
        let Some((_, dir)) = self.dirs.first() else {
            return Vec::new();
        };
        fs::read_to_string(dir.join("cgroup.procs"))
            .map(|t| cgroup::parse_pids(&t))
            .unwrap_or_default()
    }

    /// Whether the v2 cgroup still holds a task; `None` without v2.
    pub fn populated(&self) -> Option<bool> {
        let mut file = self.events.as_ref()?;
        let mut text = String::new();
        file.seek(SeekFrom::Start(0)).ok()?;
        file.read_to_string(&mut text).ok()?;
        cgroup::keyed_value(&text, "populated").map(|v| v != 0)
    }

    pub fn signal_members(&self, sig: Signo) {
        for pid in self.members() {
            if let Err(e) = sys::send_signal(pid, sig) {
                warn!(
                    "cannot send {sig} to pid {pid} in cgroup {}: {e}",
                    self.name
                );
            }
        }
    }

    /// The atomic kill, once: v2 `cgroup.kill`; else v1 freeze, SIGKILL
    /// every member, thaw. Freezing first means nobody can fork meanwhile.
    pub fn kill_all(&mut self) {
        if std::mem::replace(&mut self.killed, true) {
            return;
        }
        if let Some(dir) = self.dir(Kind::V2) {
            let path = dir.join("cgroup.kill");
            match write(&path, "1") {
                Ok(()) => {
                    debug!("wrote 1 to {}", path.display());
                    return;
                }
                Err(e) => debug!(
                    "cannot write {}: {} (no cgroup.kill before Linux 5.14)",
                    path.display(),
                    plain(&e)
                ),
            }
        }
        if let Some(dir) = self.dir(Kind::V1Freezer).map(Path::to_path_buf) {
            let state = dir.join("freezer.state");
            let frozen =
                write(&state, "FROZEN").is_ok() && wait_frozen(&state, Duration::from_secs(1));
            if !frozen {
                debug!(
                    "{} did not reach FROZEN; killing members unfrozen",
                    state.display()
                );
            }
            let members = self.members();
            self.signal_members(signals::SIGKILL);
            if let Err(e) = write(&state, "THAWED") {
                warn!("cannot write {}: {}", state.display(), plain(&e));
            }
            debug!(
                "froze {}, sent SIGKILL to {} member(s), thawed",
                dir.display(),
                members.len()
            );
            return;
        }
        self.signal_members(signals::SIGKILL);
    }

    /// Removes the child's cgroups (retrying briefly while the kernel
    /// finishes with exited tasks), then undoes rinit's own leaf move.
    pub fn remove(mut self) {
        self.release();
    }

    fn release(&mut self) {
        self.memory = None;
        self.events = None;
        self.join.clear();
        for (_, dir) in self.dirs.drain(..).rev() {
            remove_dir_retrying(&dir);
        }
        if let Some(leaf) = self.leaf.take() {
            if !leaf.enabled.is_empty() {
                let control = leaf.own_dir.join("cgroup.subtree_control");
                if let Err(e) = write(&control, &format!("-{}", leaf.enabled)) {
                    warn!("cannot write {}: {}", control.display(), plain(&e));
                }
            }
            let procs = leaf.own_dir.join("cgroup.procs");
            if let Err(e) = write(&procs, "0") {
                warn!(
                    "cannot move rinit back into {}: {}",
                    procs.display(),
                    plain(&e)
                );
            }
            remove_dir_retrying(&leaf.leaf_dir);
        }
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        self.release();
    }
}

fn wait_frozen(state: &Path, limit: Duration) -> bool {
    // freezer.state moves to FROZEN lazily, when read; there is no event.
    let deadline = Instant::now() + limit;
    loop {
        if fs::read_to_string(state).is_ok_and(|s| s.trim() == "FROZEN") {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn remove_dir_retrying(dir: &Path) {
    // rmdir can fail with EBUSY for a moment after the last task exited.
    for attempt in 0..20 {
        match fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 19 => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                let pids = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                let pids = cgroup::parse_pids(&pids);
                warn!(
                    "cannot remove {}: {}{}",
                    dir.display(),
                    plain(&e),
                    if pids.is_empty() {
                        String::new()
                    } else {
                        format!(" (still holds pids {pids:?})")
                    }
                );
                return;
            }
        }
    }
}

impl Memory {
    fn open(dir: PathBuf, v2: bool, limit: Option<u64>) -> Result<Memory, SetupError> {
        if let Some(bytes) = limit {
            let path = dir.join(if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            });
            write(&path, &bytes.to_string()).map_err(|e| op_error("write", &path, e))?;
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
            let efd = sys::eventfd()
                .map_err(|e| SetupError(format!("cannot create an eventfd: {}", plain(&e))))?;
            let registration = memory.dir.join("cgroup.event_control");
            match write(
                &registration,
                &format!("{} {}", efd.as_raw_fd(), oom_control.as_raw_fd()),
            ) {
                Ok(()) => {
                    memory.notify = Some(File::from(efd));
                    memory.oom_control = Some(oom_control);
                }
                // Without notification the counter is still read at exit.
                Err(e) => debug!("cannot write {}: {}", registration.display(), plain(&e)),
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
        let text = fs::read_to_string(self.dir.join(file)).ok()?;
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
