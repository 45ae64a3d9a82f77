//! The init's own CPU time per forwarded signal and per reaped orphan: the
//! first field of `/proc/PID/schedstat` (nanoseconds on a CPU, user and
//! kernel) read before and after a window of events sent one at a time.
//! It is what an init's own work per event costs, wake-up and syscalls
//! included. These machines have no hardware counters (perf stat cannot
//! count instructions), so run time is the finest measure there is; it is
//! less sensitive to a busy machine than wall time, not immune to it (a
//! colder cache after another task ran), hence medians of interleaved
//! rounds.

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
