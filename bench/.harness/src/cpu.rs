//! The init's own CPU time per forwarded signal and per reaped orphan: the
//! first field of `/proc/PID/schedstat` (nanoseconds on a CPU, user and
//! kernel) read before and after a window of events sent one at a time.
//! It is what an init's own work per event costs, wake-up and syscalls
//! included. These machines have no hardware counters (perf stat cannot
//! count instructions), so run time is the finest measure there is; it is
//! less sensitive to a busy machine than wall time, not immune to it (a
//! colder cache after another task ran), hence medians of interleaved
//! rounds.
//!
//! Every window runs on one CPU and in a cpu cgroup of its own
//! ([`Placement`]), as an init in a container does. Both matter, and
//! neither is the init's work: on two CPUs the figure depends on where the
//! scheduler puts the init and the event's sender (a wake-up across CPUs
//! costs more than one on the same CPU, and windows split into two groups
//! ~50% apart); and outside a cpu cgroup the kernel's autogroup puts every
//! session in its own scheduling group, so an init that starts its child
//! in a new session (dumb-init) is scheduled differently from one that
//! does not: measured here, dumb-init reaped an orphan for 7.0 µs and
//! `dumb-init -c` (no new session) for 8.8 µs, the same binary. Inside a
//! cpu cgroup (every container engine makes one) autogroup does not apply,
//! and the two are equal (6.8 and 6.9 µs).

use crate::Init;
use crate::events::{self, Measured};
use crate::runtime_ns;
use rinit::os::procfs;
use std::path::{Path, PathBuf};

/// Which events a window sends.
#[derive(Clone, Copy)]
pub enum Kind {
    Signals,
    Orphans,
}

/// Nanoseconds of the init's CPU time per event over `n` events; NaN for
/// an init that polls (its CPU time grows with time, not events).
pub fn per_event_ns(kind: Kind, init: &Init, exe: &str, n: u64) -> f64 {
    let start = |pid: i32| (pid, runtime_ns(pid));
    // The init is asleep again after the last event, so its run time is
    // up to date (the kernel adds it up when the task leaves the CPU).
    let finish = |(pid, before): (i32, u64)| runtime_ns(pid).saturating_sub(before);
    let Measured { value, slept } = match kind {
        Kind::Signals => events::signals(init, exe, n, start, finish),
        Kind::Orphans => events::orphans(init, exe, n, start, finish),
    };
    if slept {
        value as f64 / n as f64
    } else {
        f64::NAN
    }
}

/// Where the CPU windows run: the harness (and so every init and workload
/// it starts) pinned to one CPU and moved into a cpu cgroup made for the
/// run; undone (and the cgroup removed) on drop.
pub struct Placement {
    /// (the cgroup made, the cgroup.procs file to return to).
    cgroup: Option<(PathBuf, PathBuf)>,
    /// The affinity before, restored as it was; `None` if it could not be
    /// read (then nothing was pinned).
    affinity: Option<libc::cpu_set_t>,
}

impl Placement {
    pub fn enter() -> Placement {
        let affinity = get_affinity();
        // The highest CPU allowed: the one the machine's own work is least
        // likely on (CPU 0 takes most interrupts).
        let cpu = affinity.and_then(|set| {
            // SAFETY: CPU_ISSET reads within the set.
            (0..libc::CPU_SETSIZE as usize)
                .rev()
                .find(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        });
        if let Some(cpu) = cpu {
            crate::pin_to_cpu(0, cpu);
        }
        let made = own_cpu_cgroup().and_then(|(parent, back)| {
            let made = parent.join(format!("rinit-bench-{}", std::process::id()));
            if let Err(e) = std::fs::create_dir(&made) {
                eprintln!("cannot create {}: {e}", made.display());
                return None;
            }
            if let Err(e) = std::fs::write(made.join("cgroup.procs"), "0") {
                eprintln!("cannot move into {}: {e}", made.display());
                let _ = std::fs::remove_dir(&made);
                return None;
            }
            Some((made, back))
        });
        let on = cpu.map_or("NOT pinned (no affinity mask)".to_string(), |c| {
            format!("on CPU {c}")
        });
        match &made {
            Some((dir, _)) => eprintln!("CPU windows: {on}, in {}", dir.display()),
            None => eprintln!(
                "CPU windows: {on}; NOT in a cpu cgroup: with autogroup on, an init \
                 that starts its child in a new session is favoured"
            ),
        }
        Placement {
            cgroup: made,
            affinity: cpu.and(affinity),
        }
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        if let Some((made, back)) = &self.cgroup {
            let _ = std::fs::write(back, "0");
            // Anything of a window still there (the windows end their
            // workloads, so normally nothing) goes back with the harness,
            // so that the directory can go.
            if std::fs::remove_dir(made).is_err() {
                for pid in std::fs::read_to_string(made.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                {
                    let _ = std::fs::write(back, pid);
                }
                if let Err(e) = std::fs::remove_dir(made) {
                    eprintln!("cannot remove {}: {e}", made.display());
                }
            }
        }
        if let Some(set) = &self.affinity {
            set_affinity(set);
        }
    }
}

fn get_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: a zeroed cpu_set_t is valid; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
    }
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: the set is a whole cpu_set_t.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
}

/// Where to make the run's cpu cgroup, and the cgroup.procs file of this
/// process's own cgroup (to return to): cgroup v1's cpu hierarchy (under
/// the own cgroup), or v2 where the cpu controller is handed down (beside
/// the own cgroup: a v2 cgroup with processes cannot hand it down itself;
/// under the root when the own cgroup is the root).
fn own_cpu_cgroup() -> Option<(PathBuf, PathBuf)> {
    // rinit's own parser: mount points unescaped (`\040`), roots kept.
    let mounts = procfs::parse_mountinfo(&std::fs::read("/proc/self/mountinfo").ok()?);
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let own = |wanted: &dyn Fn(&str) -> bool| {
        cgroups.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, list, path) = (f.next()?, f.next()?, f.next()?);
            wanted(list).then(|| path.to_string())
        })
    };
    let has = |file: PathBuf, word: &str| {
        std::fs::read_to_string(file).is_ok_and(|t| t.split_whitespace().any(|w| w == word))
    };
    for mount in &mounts {
        let v1 = mount.fstype == "cgroup" && mount.options.split(',').any(|o| o == "cpu");
        if !v1 && mount.fstype != "cgroup2" {
            continue;
        }
        let path = if v1 {
            own(&|list| list.split(',').any(|c| c == "cpu"))
        } else {
            own(&|list| list.is_empty())
        };
        let Some(path) = path else { continue };
        // The path is relative to the hierarchy's root; the mount shows
        // `root` of it at `point`.
        let Ok(rel) = Path::new(&path).strip_prefix(&mount.root) else {
            continue;
        };
        let dir = mount.point.join(rel);
        let back = dir.join("cgroup.procs");
        if v1 {
            return Some((dir, back));
        }
        if rel.as_os_str().is_empty() {
            if has(dir.join("cgroup.subtree_control"), "cpu") {
                return Some((dir, back));
            }
        } else if has(dir.join("cgroup.controllers"), "cpu") {
            return Some((dir.parent()?.to_path_buf(), back));
        }
    }
    None
}
