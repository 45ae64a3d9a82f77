//! How a child ended, and the exit code rinit passes on for it.
//!
//! Decoded from the raw `waitpid` status by hand: nix's `waitpid` fails with
//! EINVAL for a child killed by a real-time signal, after the kernel has
//! already consumed the status, and an init that trusted it would never
//! learn that its child died.

use crate::signals::Signo;
use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChildExit {
    Exited(u8),
    Signaled(Signo),
}

impl ChildExit {
    /// Decodes a raw wait status of a terminated child. Stopped and
    /// continued statuses are never asked for (no WUNTRACED/WCONTINUED), so
    /// anything else is a bug in the caller and yields `None`.
    pub fn from_raw(status: i32) -> Option<ChildExit> {
        let low = status & 0x7f;
        if low == 0 {
            Some(ChildExit::Exited(((status >> 8) & 0xff) as u8))
        } else if low != 0x7f {
            Signo::new(low).map(ChildExit::Signaled)
        } else {
            None
        }
    }

    /// The shell's convention: the code itself, or 128 + the signal number.
    pub fn code(self) -> u8 {
        match self {
            ChildExit::Exited(code) => code,
            ChildExit::Signaled(sig) => (128 + sig.number()) as u8,
        }
    }
}

impl fmt::Display for ChildExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildExit::Exited(code) => write!(f, "exited with code {code}"),
            ChildExit::Signaled(sig) => write!(f, "was killed by {sig}"),
        }
    }
}

/// `-e CODE`: exit codes of the main child that rinit reports as 0.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Remap([u128; 2]);

impl Remap {
    pub fn insert(&mut self, code: u8) {
        self.0[usize::from(code >> 7)] |= 1u128 << (code & 0x7f);
    }

    pub fn contains(&self, code: u8) -> bool {
        self.0[usize::from(code >> 7)] & (1u128 << (code & 0x7f)) != 0
    }

    /// The code rinit exits with for the main child's `exit`.
    pub fn exit_code(&self, exit: ChildExit) -> u8 {
        let code = exit.code();
        if self.contains(code) { 0 } else { code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exit_codes() {
        for code in 0..=255u8 {
            let raw = i32::from(code) << 8;
            assert_eq!(ChildExit::from_raw(raw), Some(ChildExit::Exited(code)));
            assert_eq!(ChildExit::from_raw(raw).unwrap().code(), code);
        }
    }

    #[test]
    fn decodes_signals_including_realtime_and_core_dumps() {
        assert_eq!(
            ChildExit::from_raw(15),
            Some(ChildExit::Signaled(Signo::new(15).unwrap()))
        );
        // SIGSEGV with the core-dump bit.
        assert_eq!(
            ChildExit::from_raw(11 | 0x80),
            Some(ChildExit::Signaled(Signo::new(11).unwrap()))
        );
        let rt = ChildExit::from_raw(37).unwrap();
        assert_eq!(rt, ChildExit::Signaled(Signo::new(37).unwrap()));
        assert_eq!(rt.code(), 165);
        assert_eq!(ChildExit::from_raw(64).unwrap().code(), 192);
    }

    #[test]
    fn refuses_stopped_status() {
        assert_eq!(ChildExit::from_raw(0x137f), None);
        assert_eq!(ChildExit::from_raw(0xffff), None);
    }

    #[test]
    fn remaps_codes_to_zero() {
        let mut remap = Remap::default();
        remap.insert(143);
        remap.insert(0);
        remap.insert(255);
        assert!(remap.contains(143) && remap.contains(255) && !remap.contains(142));
        assert_eq!(
            remap.exit_code(ChildExit::Signaled(Signo::new(15).unwrap())),
            0
        );
        assert_eq!(remap.exit_code(ChildExit::Exited(143)), 0);
        assert_eq!(remap.exit_code(ChildExit::Exited(3)), 3);
        assert_eq!(remap.exit_code(ChildExit::Exited(255)), 0);
    }

    #[test]
    fn describes_itself() {
        assert_eq!(ChildExit::Exited(3).to_string(), "exited with code 3");
        assert_eq!(
            ChildExit::Signaled(Signo::new(34).unwrap()).to_string(),
            "was killed by SIGRTMIN"
        );
    }
}
