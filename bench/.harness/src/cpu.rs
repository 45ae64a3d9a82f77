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
/// run, under its own; undone (and the cgroup removed) on drop.
pub struct Placement {
    /// (the cgroup made, the cgroup.procs file to return to).
    cgroup: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// The affinity before, restored as it was.
    affinity: libc::cpu_set_t,
}

impl Placement {
    pub fn enter() -> Placement {
        let affinity = get_affinity();
        // The highest CPU allowed: the one the machine's own work is least
        // likely on (CPU 0 takes most interrupts).
        // SAFETY: CPU_ISSET reads within the set.
        let cpu = (0..libc::CPU_SETSIZE as usize)
            .rev()
            .find(|&c| unsafe { libc::CPU_ISSET(c, &affinity) })
            .unwrap_or(0);
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it.
        let one = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            set
        };
        set_affinity(&one);
        let cgroup = own_cpu_cgroup().and_then(|own| {
            let made = own.join(format!("rinit-bench-{}", std::process::id()));
            std::fs::create_dir(&made).ok()?;
            if std::fs::write(made.join("cgroup.procs"), "0").is_err() {
                let _ = std::fs::remove_dir(&made);
                return None;
            }
            Some((made, own.join("cgroup.procs")))
        });
        match &cgroup {
            Some((made, _)) => eprintln!("CPU windows: on CPU {cpu}, in {}", made.display()),
            None => eprintln!(
                "CPU windows: on CPU {cpu}; NOT in a cpu cgroup (no cpu controller to write to): \
                 with autogroup on, an init that starts its child in a new session is favoured"
            ),
        }
        Placement { cgroup, affinity }
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        if let Some((made, back)) = &self.cgroup {
            let _ = std::fs::write(back, "0");
            if let Err(e) = std::fs::remove_dir(made) {
                eprintln!("cannot remove {}: {e}", made.display());
            }
        }
        set_affinity(&self.affinity);
    }
}

fn get_affinity() -> libc::cpu_set_t {
    // SAFETY: a zeroed cpu_set_t is valid; the kernel fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        set
    }
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: the set is a whole cpu_set_t.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
}

/// The directory of this process's cgroup in a hierarchy with the cpu
/// controller: cgroup v1's cpu hierarchy, or v2 when its parent hands the
/// cpu controller down (`cgroup.subtree_control`).
fn own_cpu_cgroup() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in mountinfo.lines() {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
        let mut left = left.split(' ');
        let root = left.nth(3)?;
        let point = left.next()?;
        let own = |controllers: &dyn Fn(&str) -> bool| {
            cgroups.lines().find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, list, path) = (f.next()?, f.next()?, f.next()?);
                controllers(list).then(|| path.to_string())
            })
        };
        let path = match fstype {
            "cgroup" if options.split(',').any(|o| o == "cpu") => {
                own(&|list| list.split(',').any(|c| c == "cpu"))?
            }
            "cgroup2" => {
                let path = own(&|list| list.is_empty())?;
                let dir = std::path::Path::new(point).join(path.trim_start_matches('/'));
                let parent_control =
                    std::fs::read_to_string(dir.join("cgroup.subtree_control")).ok()?;
                if !parent_control.split_whitespace().any(|c| c == "cpu") {
                    continue;
                }
                path
            }
            _ => continue,
        };
        // The path is relative to the hierarchy's root; the mount shows `root`.
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .trim_start_matches('/');
        return Some(std::path::Path::new(point).join(rel));
    }
    None
}
