//! Signalling: whatever is left, with kill(-1) as PID 1, and as a
//! subreaper each process of the census through a pidfd, pinned before a
//! second census confirms it, so that a pid recycled since the first is
//! never signalled; and the main child, forwarded to, continued, killed.

use super::census::Census;
use crate::os::describe_error;
use crate::os::procfs::Proc;
use crate::os::sys::{self, Delivery};
use crate::signals::{SIGCONT, SIGKILL, Signo};
use crate::supervisor::Action;
use log::{debug, warn};

/// How many pidfds the teardown holds at once: a fork bomb's thousands of
/// descendants must not exhaust rinit's descriptors.
const PIN_BATCH: usize = 256;

/// Sends `sigs`, in order, to every process in `all`, once each (an app
/// may take a second SIGTERM as "quit now"); `census` counts again once a
/// batch is pinned. Returns whether anything was there to signal.
pub fn each(all: &Census, sigs: &[Signo], census: impl Fn() -> Census) -> bool {
    let mut reached = false;
    for batch in all.present().chunks(PIN_BATCH) {
        let pinned: Vec<(i32, Option<sys::PidFd>)> =
            batch.iter().filter_map(|p| pin(p.pid)).collect();
        // Read again now that the pids are pinned: whatever is still there
        // is the very process the pidfd holds, or the pidfd's process is
        // gone and the signal reaches nobody.
        let again = census();
        let still = again.present();
        for (pid, pidfd) in pinned {
            if still.binary_search_by_key(&pid, |p| p.pid).is_err() {
                debug!("pid {pid} is no longer a descendant: not signalled");
                continue;
            }
            for &sig in sigs {
                let delivery = match &pidfd {
                    Some(pidfd) => sys::pidfd_send_signal(pidfd, sig).or_else(|e| {
                        refused_once(&PIDFD_SEND_SIGNAL_REFUSED, "pidfd_send_signal", &e);
                        sys::send_signal(pid, sig)
                    }),
                    None => sys::send_signal(pid, sig),
                };
                match delivery {
                    Ok(Delivery::Sent) => {
                        reached = true;
                        debug!("sent {sig} to pid {pid}");
                    }
                    Ok(Delivery::TargetGone) => debug!("pid {pid} is already gone ({sig})"),
                    Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
                }
            }
        }
    }
    reached
}

/// Sends `sigs` to `pid`, which may be -1 (everyone) or a negated process
/// group; returns whether anything was there.
pub fn broadcast(pid: i32, sigs: &[Signo], to: &str) -> bool {
    let mut reached = false;
    for &sig in sigs {
        match sys::send_signal(pid, sig) {
            Ok(Delivery::Sent) => reached = true,
            Ok(Delivery::TargetGone) => {}
            Err(e) => warn!("cannot send {sig} to {to}: {e}"),
        }
    }
    reached
}

/// Opens a pidfd on `pid`; `None` when it is gone already. When pidfds
/// are refused (ENOSYS before Linux 5.3, EPERM from a seccomp profile such
/// as Docker's before 20.10), `Some(None)`: signalled by pid after the
/// re-check, as before pidfds, rather than not at all.
fn pin(pid: i32) -> Option<(i32, Option<sys::PidFd>)> {
    match sys::pidfd_open(pid) {
        Ok(pidfd) => Some((pid, Some(pidfd))),
        Err(e) if sys::process_gone(&e) => {
            debug!("pid {pid} is gone before its pidfd was opened");
            None
        }
        Err(e) => {
            refused_once(&PIDFD_OPEN_REFUSED, "pidfd_open", &e);
            Some((pid, None))
        }
    }
}

static PIDFD_OPEN_REFUSED: std::sync::Once = std::sync::Once::new();
static PIDFD_SEND_SIGNAL_REFUSED: std::sync::Once = std::sync::Once::new();

/// Says once per call what a refused pidfd call costs: the signal still
/// goes, by pid.
fn refused_once(said: &std::sync::Once, call: &str, e: &std::io::Error) {
    said.call_once(|| {
        warn!(
            "{call} failed ({}): the teardown signals by pid after a re-check, which a pid recycled in between can misdirect",
            describe_error(e)
        );
    });
}

/// The main child, as rinit's signals reach it.
#[derive(Clone, Copy, Debug)]
pub struct Main {
    pub pid: i32,
    /// --single-child (signal the child alone, not its process group).
    pub child_only: bool,
}

impl Main {
    /// Passes `sig` on: to the main child's process group, or to the child
    /// alone.
    pub fn forward(self, sig: Signo) {
        if self.child_only {
            send(self.pid, sig);
            return;
        }
        // The child may have left its group (a shell with job control); then
        // the group is gone and the child itself is the target.
        match sys::send_signal(-self.pid, sig) {
            Ok(Delivery::Sent) => debug!("forwarded {sig} to process group {}", self.pid),
            Ok(Delivery::TargetGone) => send(self.pid, sig),
            Err(e) => warn!("cannot send {sig} to process group {}: {e}", self.pid),
        }
    }

    /// --kill-after: SIGKILL to the process group and to the child.
    pub fn kill(self) {
        warn!(
            "main child {} still running after --kill-after: sending SIGKILL",
            self.pid
        );
        if let Err(e) = sys::send_signal(-self.pid, SIGKILL) {
            warn!("cannot send {SIGKILL} to process group {}: {e}", self.pid);
        }
        send(self.pid, SIGKILL);
    }

    /// After a request to end was forwarded (`received` before --rewrite, or
    /// what it became) to a main child that is stopped (Ctrl-Z, SIGSTOP):
    /// SIGCONT, the same way, as systemd does: a stopped process runs no
    /// handler until continued. Only when stopped: a running child with a
    /// CONT handler (shells, editors redraw) must not see one nobody sent.
    pub fn continue_if_stopped(self, proc: &Proc, received: Signo, actions: &[Action]) {
        let forwarded = actions.iter().find_map(|action| match *action {
            Action::Forward(sig) => Some(sig),
            _ => None,
        });
        let Some(forwarded) = forwarded else {
            return;
        };
        if !(received.asks_to_end() || forwarded.asks_to_end()) {
            return;
        }
        if proc.stat(self.pid).is_some_and(|s| s.state == 'T') {
            debug!("main child {} is stopped: continuing it", self.pid);
            self.forward(SIGCONT);
        }
    }
}

fn send(pid: i32, sig: Signo) {
    match sys::send_signal(pid, sig) {
        Ok(Delivery::Sent) => debug!("sent {sig} to pid {pid}"),
        Ok(Delivery::TargetGone) => debug!("pid {pid} is already gone ({sig})"),
        Err(e) => warn!("cannot send {sig} to pid {pid}: {e}"),
    }
}
