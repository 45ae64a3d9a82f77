//! The loop's one wait: until a signal, a watched cgroup file, the main
//! child's exec status or a deadline, whichever comes first, and what woke
//! it. Signals rinit raised at itself are dropped here, and SIGCHLD becomes
//! "reap".

use crate::cgroup::ChildCgroup;
use crate::os::sys::{self, SignalBatch, SignalFd};
use crate::signals::Disposition;
use log::{debug, error};
use std::os::fd::RawFd;
use std::time::Duration;

/// What woke the loop up.
#[derive(Default)]
pub struct Wakeup {
    /// The signals taken, SIGCHLD aside, in a small fixed array: a heap
    /// allocation or a large copy per wake-up showed in rinit's CPU time.
    pub received: SignalBatch,
    /// Children may have exited: drain wait4.
    pub reap: bool,
    /// A watched cgroup file changed.
    pub cgroup_event: bool,
    /// The exec status of the main child is there to read.
    pub exec_status: bool,
}

/// What the wait watches.
pub struct Sources<'a> {
    pub signals: &'a SignalFd,
    /// As signalfd reports senders: 1 as PID 1.
    pub own_pid: i32,
    /// Until the nearest deadline; `None`: none.
    pub timeout: Option<Duration>,
    pub exec_status: Option<RawFd>,
    /// Whose event files to watch (`ChildCgroup::poll_fds`).
    pub cgroup: Option<&'a ChildCgroup>,
}

/// Sleeps until something in `sources` is ready; says what in `wakeup`,
/// which is overwritten (filled in place: no copy of the batch per wake-up).
pub fn wait(sources: Sources<'_>, wakeup: &mut Wakeup) {
    wakeup.reap = false;
    wakeup.cgroup_event = false;
    wakeup.exec_status = false;
    wakeup.received.clear();
    let Sources {
        signals,
        own_pid,
        timeout,
        exec_status,
        cgroup,
    } = sources;
    // An Option, not an empty Vec, without a cgroup: this runs before every
    // sleep, and dropping even an empty Vec is a call at opt-level z.
    let cgroup = cgroup
        .map(ChildCgroup::poll_fds)
        .filter(|fds| !fds.is_empty());
    let received = if timeout.is_none() && cgroup.is_none() && exec_status.is_none() {
        // Nothing but signals to wait for: sleep in the wait for them
        // itself, the cheapest wake-up there is (`SignalFd::wait_one`).
        signals.wait_one(&mut wakeup.received)
    } else {
        let mut fds = vec![(signals.as_raw_fd(), sys::POLLIN)];
        fds.extend(exec_status.map(|fd| (fd, sys::POLLIN)));
        let first_cgroup = fds.len();
        fds.extend(cgroup.into_iter().flatten());
        let ready = sys::poll(&fds, timeout);
        if let Ok(ready) = &ready {
            wakeup.exec_status = exec_status.is_some() && ready[1];
            wakeup.cgroup_event = ready[first_cgroup..].iter().any(|&r| r);
            if !ready[0] {
                return;
            }
        }
        ready.and_then(|_| signals.read_batch(&mut wakeup.received))
    };
    match received {
        Ok(()) => {
            let reap = &mut wakeup.reap;
            wakeup.received.retain(|sig, origin| {
                // Raised by rinit's own doing: a log or report write that
                // failed (SIGPIPE, SIGXFSZ). Passed on, it would kill the
                // child for rinit's trouble. Dropped without a word: the
                // word's write could raise it again. Setting SIGPIPE to
                // ignored would not do: a blocked signal is queued even
                // when ignored, a SIGPIPE someone else sends must still
                // be forwarded, and SIGXFSZ would remain.
                if origin.is_process(own_pid) {
                    return false;
                }
                if sig.disposition() == Disposition::Reap {
                    *reap = true;
                    return false;
                }
                debug!("received {sig} from pid {}", origin.pid);
                true
            });
        }
        Err(e) => {
            error!("cannot wait for signals (poll, signalfd or sigtimedwait): {e}");
            // Never spin: the error is unexpected, but pace the retries;
            // and reap, in case it hid a SIGCHLD.
            std::thread::sleep(Duration::from_millis(100));
            wakeup.reap = true;
        }
    }
}
