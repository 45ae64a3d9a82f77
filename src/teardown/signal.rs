//! Signalling: whatever is left, with kill(-1) as PID 1, and as a
//! subreaper each process of the census through a pidfd, pinned before a
//! re-check confirms it still descends from rinit, so that a pid recycled
//! since the census is never signalled; and the main child, forwarded to,
//! continued, killed. Where pidfds are refused (a seccomp profile, an old
//! kernel), by pid after the same re-check, as before pidfds, said once.

use super::census::Present;
use crate::os::procfs::Proc;
use crate::os::sys::{self, Delivery};
use crate::signals::{SIGCONT, SIGKILL, Signo};
use crate::supervisor::Action;
use log::{debug, warn};
use std::sync::atomic::{AtomicBool, Ordering};

/// How many pidfds the teardown holds at once: a fork bomb's thousands of
/// descendants must not exhaust rinit's descriptors.
const PIN_BATCH: usize = 256;

/// pidfd_open, then pidfd_send_signal, was refused once: a refusal is a
/// policy (seccomp) or the kernel, not about one process, so it is not
/// tried again.
static OPEN_REFUSED: AtomicBool = AtomicBool::new(false);
static SEND_REFUSED: AtomicBool = AtomicBool::new(false);

/// Sends `sigs`, in order, to every process in `targets`, once each (an
/// app may take a second SIGTERM as "quit now"), each pinned first, then
/// re-checked by `still_ours` (a batch at a time: whether each is still
/// rinit's). Appends the pids signalled to `sent`; returns whether
/// anything was there to signal.
pub fn each(
    targets: &[Present],
    sigs: &[Signo],
    mut still_ours: impl FnMut(&[Present]) -> Vec<bool>,
    sent: &mut Vec<i32>,
) -> bool {
    let mut reached = false;
    for batch in targets.chunks(PIN_BATCH) {
        let pinned: Vec<(Present, Pin)> = batch
            .iter()
            .filter_map(|p| Some((*p, pin(p.pid)?)))
            .collect();
        // Checked now that the pids are pinned: whatever is still ours is
        // the very process the pidfd holds, or the pidfd's process is gone
        // and the signal reaches nobody.
        let present: Vec<Present> = pinned.iter().map(|(p, _)| *p).collect();
        let ours = still_ours(&present);
        for ((p, pin), ours) in pinned.iter().zip(ours) {
            let pid = p.pid;
            if !ours {
                debug!("pid {pid} is no longer a descendant: not signalled");
                continue;
            }
            sent.push(pid);
            for &sig in sigs {
                match deliver(pid, pin, sig) {
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

/// How a process is held between its pin and its signal.
enum Pin {
    Fd(sys::PidFd),
    /// pidfds refused, or none to spare: by pid, after the re-check.
    ByPid,
}

/// Pins `pid`; `None` when it is gone already.
fn pin(pid: i32) -> Option<Pin> {
    if OPEN_REFUSED.load(Ordering::Relaxed) {
        return Some(Pin::ByPid);
    }
    match sys::pidfd_open(pid) {
        Ok(pidfd) => Some(Pin::Fd(pidfd)),
        Err(e) if sys::is_gone(&e) => None,
        Err(e) => {
            if let Some(why) = sys::pidfd_refusal(&e) {
                OPEN_REFUSED.store(true, Ordering::Relaxed);
                say_refused("pidfd_open", why);
            } else {
                debug!("cannot open a pidfd for pid {pid}: {e}: signalling it by pid");
            }
            Some(Pin::ByPid)
        }
    }
}

/// Sends `sig` through the pin; by pid when pidfd_send_signal is
/// refused, unless the pidfd tells that its process has exited (its pid
/// may be another's by now).
fn deliver(pid: i32, pin: &Pin, sig: Signo) -> std::io::Result<Delivery> {
    if let Pin::Fd(pidfd) = pin {
        if !SEND_REFUSED.load(Ordering::Relaxed) {
            let delivery = sys::pidfd_send_signal(pidfd, sig);
            let Some(why) = delivery.as_ref().err().and_then(sys::pidfd_refusal) else {
                return delivery;
            };
            SEND_REFUSED.store(true, Ordering::Relaxed);
            say_refused("pidfd_send_signal", why);
        }
        if sys::pidfd_exited(pidfd) {
            return Ok(Delivery::TargetGone);
        }
    }
    sys::send_signal(pid, sig)
}

/// Once per run: what a refused pidfd call costs.
fn say_refused(call: &str, why: &str) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        warn!(
            "{call} refused ({why}): the teardown signals by pid after a re-check, which a pid recycled in between can misdirect"
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
