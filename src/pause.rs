//! --pause (-P, as catatonit spells it): rinit runs no command. It sits as
//! a pod's pause process (podman's infra container, a rootless pause
//! process): it holds the namespaces others join, reaps whatever is
//! reparented to it, and exits 0 on SIGINT or SIGTERM. Every other signal
//! is ignored. Idle, it sleeps in one read(2) of the signalfd: no timer,
//! no wake-up.
//!
//! `on_signal` decides (pure); `run` is the loop that carries it out.

use crate::os::sys::{self, Reap, SignalBatch, SignalFd};
use crate::signals::{self, Disposition, Signo};
use log::{debug, error, info};
use std::time::Duration;

/// What a signal means to the pause process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// SIGCHLD: reap every exited child.
    Reap,
    /// SIGINT or SIGTERM: the pod stops; exit 0.
    Exit,
    /// Anything else: there is nobody to forward it to.
    Ignore,
}

pub fn on_signal(sig: Signo) -> Step {
    if sig.disposition() == Disposition::Reap {
        Step::Reap
    } else if sig == signals::SIGINT || sig == signals::SIGTERM {
        Step::Exit
    } else {
        Step::Ignore
    }
}

/// Serves signals until SIGINT or SIGTERM; returns the exit code, 0.
pub fn run(signals: &SignalFd) -> u8 {
    // A child left by whoever exec'd rinit may have exited before SIGCHLD
    // was blocked: no signal would tell of it.
    reap_all();
    let mut batch = SignalBatch::default();
    loop {
        match signals.read_batch(&mut batch) {
            Ok(()) => {}
            Err(e) => {
                error!("cannot read the signalfd: {e}");
                // Never spin; and reap, in case the error hid a SIGCHLD.
                std::thread::sleep(Duration::from_millis(100));
                reap_all();
                continue;
            }
        };
        let mut reap = false;
        for (sig, origin) in batch.iter() {
            match on_signal(sig) {
                Step::Reap => reap = true,
                Step::Exit => {
                    info!("{sig} from pid {}: exiting (--pause)", origin.pid);
                    return 0;
                }
                Step::Ignore => debug!("ignoring {sig} from pid {} (--pause)", origin.pid),
            }
        }
        if reap {
            reap_all();
        }
    }
}

/// Drains every exited child.
fn reap_all() {
    loop {
        match sys::reap(sys::Child::Any) {
            Ok(Reap::Exited { pid, status }) => {
                debug!("reaped zombie process with pid={pid} ({status:#x})")
            }
            Ok(Reap::NoneReady | Reap::NoChildren) => return,
            Err(e) => {
                error!("wait4 failed: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaps_on_chld_exits_on_int_and_term_ignores_the_rest() {
        let sig = |name| Signo::parse(name).unwrap();
        assert_eq!(on_signal(sig("CHLD")), Step::Reap);
        assert_eq!(on_signal(sig("INT")), Step::Exit);
        assert_eq!(on_signal(sig("TERM")), Step::Exit);
        for other in [
            "HUP", "QUIT", "USR1", "USR2", "PIPE", "ALRM", "WINCH", "CONT", "TSTP", "ABRT",
            "RTMIN", "RTMAX",
        ] {
            assert_eq!(on_signal(sig(other)), Step::Ignore, "{other}");
        }
    }
}
