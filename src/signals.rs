//! Signal numbers, names and rinit's policy for each of them.
//!
//! rinit must forward `SIGRTMIN+3` (systemd's stop signal) as readily as
//! `SIGTERM`, so signals are plain numbers here, with the standard ones
//! named by the target's own constants (`os::signo`). Names follow the Linux userland convention that
//! Docker, bash and systemd use: `RTMIN` is 34 and `RTMAX` is 64, whatever
//! the C library rinit was linked against reserves for itself (musl says 35).

use crate::os::signo;
use std::fmt;

/// The highest signal number Linux knows (`_NSIG - 1`).
pub const MAX: i32 = 64;
pub const SIGHUP: Signo = Signo(signo::SIGHUP);
pub const SIGINT: Signo = Signo(signo::SIGINT);
pub const SIGQUIT: Signo = Signo(signo::SIGQUIT);
pub const SIGILL: Signo = Signo(signo::SIGILL);
pub const SIGTRAP: Signo = Signo(signo::SIGTRAP);
pub const SIGABRT: Signo = Signo(signo::SIGABRT);
pub const SIGBUS: Signo = Signo(signo::SIGBUS);
pub const SIGFPE: Signo = Signo(signo::SIGFPE);
pub const SIGKILL: Signo = Signo(signo::SIGKILL);
pub const SIGSEGV: Signo = Signo(signo::SIGSEGV);
pub const SIGPIPE: Signo = Signo(signo::SIGPIPE);
pub const SIGTERM: Signo = Signo(signo::SIGTERM);
pub const SIGCHLD: Signo = Signo(signo::SIGCHLD);
pub const SIGCONT: Signo = Signo(signo::SIGCONT);
pub const SIGSTOP: Signo = Signo(signo::SIGSTOP);
pub const SIGXFSZ: Signo = Signo(signo::SIGXFSZ);
pub const SIGPOLL: Signo = Signo(signo::SIGPOLL);
pub const SIGSYS: Signo = Signo(signo::SIGSYS);
pub const RTMIN: i32 = 34;

/// Names of the standard signals, indexed by number (0 is unused), in the
/// numbering every architecture rinit ships for shares (a unit test checks
/// it against the constants above).
const NAMES: [&str; 32] = [
    "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];
const ALIASES: [(&str, Signo); 4] = [
    ("IOT", SIGABRT),
    ("CLD", SIGCHLD),
    ("POLL", SIGPOLL),
    ("UNUSED", SIGSYS),
];

/// A signal number between 1 and 64.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signo(i32);

/// What rinit does when a signal reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Synchronous faults: left unblocked so a bug in rinit kills it
    /// visibly instead of spinning; never received through the signalfd.
    Fault,
    /// SIGKILL and SIGSTOP: the kernel never lets anyone catch them.
    Uncatchable,
    /// SIGCHLD: a reason to reap, not something to pass on.
    Reap,
    /// Everything else, real-time signals included.
    Forward,
}

impl Signo {
    /// Inlined: it runs on every signal received (at opt-level "z" the
    /// range's `contains` was a call of its own).
    #[inline]
    pub fn new(n: i32) -> Option<Signo> {
        matches!(n, 1..=MAX).then_some(Signo(n))
    }

    pub fn number(self) -> i32 {
        self.0
    }

    pub fn all() -> impl Iterator<Item = Signo> {
        (1..=MAX).map(Signo)
    }

    pub fn disposition(self) -> Disposition {
        match self {
            // ABRT is not here: abort() unblocks it for itself, and a
            // SIGABRT sent by a user (for a core dump of the app) deserves
            // forwarding like any other signal.
            SIGILL | SIGTRAP | SIGBUS | SIGFPE | SIGSEGV | SIGSYS => Disposition::Fault,
            SIGKILL | SIGSTOP => Disposition::Uncatchable,
            SIGCHLD => Disposition::Reap,
            _ => Disposition::Forward,
        }
    }

    /// Parses `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN`, `SIGRTMIN+3`,
    /// `RTMAX-2`.
    pub fn parse(text: &str) -> Option<Signo> {
        let text = text.trim();
        if let Ok(n) = text.parse::<i32>() {
            return Signo::new(n);
        }
        let upper = text.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some(i) = NAMES.iter().position(|&n| !n.is_empty() && n == name) {
            return Signo::new(i as i32);
        }
        if let Some(&(_, sig)) = ALIASES.iter().find(|(alias, _)| *alias == name) {
            return Some(sig);
        }
        let offset = |rest: &str, sign: i32| -> Option<i32> {
            if rest.is_empty() {
                return Some(0);
            }
            let digits = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i32>().ok()?.checked_mul(sign)
        };
        // Checked: RTMIN+2147483647 is text anyone can type.
        let n = if let Some(rest) = name.strip_prefix("RTMIN") {
            RTMIN.checked_add(offset(rest, 1)?)?
        } else if let Some(rest) = name.strip_prefix("RTMAX") {
            MAX.checked_add(offset(rest, -1)?)?
        } else {
            return None;
        };
        (RTMIN..=MAX).contains(&n).then_some(Signo(n))
    }

    /// HUP, INT, QUIT and TERM: the signals that ask a process to end (a
    /// hang-up, Ctrl-C, the quit key, the engines' default stop signal).
    /// A stopped process acts on them only once continued. The others
    /// (USR1, WINCH, the real-time ones) ask a running process for
    /// something; whoever stopped it (Ctrl-Z, a debugger) decides when it
    /// runs again.
    pub fn asks_to_end(self) -> bool {
        matches!(self, SIGHUP | SIGINT | SIGQUIT | SIGTERM)
    }

    /// The bit of this signal in a kernel `sigset_t` word.
    pub fn bit(self) -> u64 {
        1u64 << (self.0 - 1)
    }
}

impl fmt::Display for Signo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n @ 1..=31 => write!(f, "SIG{}", NAMES[n as usize]),
            n if n == RTMIN => f.write_str("SIGRTMIN"),
            n if n == MAX => f.write_str("SIGRTMAX"),
            n if n > RTMIN && n <= RTMIN + 15 => write!(f, "SIGRTMIN+{}", n - RTMIN),
            n if n > RTMIN => write!(f, "SIGRTMAX-{}", MAX - n),
            // 32 and 33 have no name: glibc keeps them for its threads.
            n => write!(f, "signal {n}"),
        }
    }
}

impl fmt::Debug for Signo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}({})", self.0)
    }
}

/// A set of signals in the kernel's 64-bit `sigset_t` layout.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct SigSet(pub u64);

impl SigSet {
    /// Every signal rinit blocks and waits for: all but the faults (and the
    /// two the kernel never blocks anyway).
    pub fn waited() -> SigSet {
        SigSet(
            Signo::all()
                .filter(|s| matches!(s.disposition(), Disposition::Forward | Disposition::Reap))
                .fold(0, |mask, s| mask | s.bit()),
        )
    }

    pub fn contains(self, sig: Signo) -> bool {
        self.0 & sig.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Signo> {
        Signo::all().filter(move |&s| self.contains(s))
    }

    /// Parses the hexadecimal form of `/proc/PID/status` (`SigPnd:` etc.).
    pub fn from_proc_hex(text: &str) -> Option<SigSet> {
        u64::from_str_radix(text.trim(), 16).ok().map(SigSet)
    }
}

/// The signal state rinit's caller left it, which the child gets back:
/// rinit blocks signals and takes SIGCHLD off the ignored ones for itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CallerSignals {
    pub mask: SigSet,
    pub sigchld_ignored: bool,
}

/// Who sent a signal, as the signalfd reports it: `ssi_pid` and `ssi_code`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Origin {
    pub pid: u32,
    pub code: i32,
}

impl Origin {
    /// `si_code` of kill(2) (and of the signals the kernel raises at the
    /// writer of a failed write: SIGPIPE, SIGXFSZ) and of tkill/tgkill.
    const SI_USER: i32 = 0;
    const SI_TKILL: i32 = -6;

    /// True when process `pid` sent the signal. Only those two codes carry
    /// a sender's pid; for the others (SIGCHLD's, a timer's) the same field
    /// holds something else. The pid is as seen from the receiver's PID
    /// namespace, 0 for a sender outside it, so it names rinit only when
    /// rinit is the sender.
    pub fn is_process(self, pid: i32) -> bool {
        (self.code == Self::SI_USER || self.code == Self::SI_TKILL)
            && i32::try_from(self.pid).is_ok_and(|p| p == pid)
    }
}

/// `-r FROM:TO` rules: what each received signal becomes before it is
/// forwarded; `None` drops it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Rewrites {
    table: [u8; MAX as usize + 1],
}

impl Default for Rewrites {
    fn default() -> Self {
        let mut table = [0u8; MAX as usize + 1];
        for (i, slot) in table.iter_mut().enumerate() {
            *slot = i as u8;
        }
        Rewrites { table }
    }
}

impl Rewrites {
    pub fn set(&mut self, from: Signo, to: Option<Signo>) {
        self.table[from.0 as usize] = to.map_or(0, |s| s.0 as u8);
    }

    pub fn apply(&self, sig: Signo) -> Option<Signo> {
        Signo::new(i32::from(self.table[sig.0 as usize]))
    }

    /// Parses one `FROM:TO` rule; TO may be `0` to drop FROM.
    pub fn parse_rule(text: &str) -> Result<(Signo, Option<Signo>), String> {
        let (from, to) = text
            .split_once(':')
            .ok_or_else(|| format!("'{text}' is not FROM:TO"))?;
        let from = Signo::parse(from).ok_or_else(|| format!("'{from}' is not a signal"))?;
        if from.disposition() != Disposition::Forward {
            return Err(format!(
                "{from} never reaches rinit as a forwardable signal"
            ));
        }
        if to.trim() == "0" {
            return Ok((from, None));
        }
        let to = Signo::parse(to).ok_or_else(|| format!("'{to}' is not a signal or 0"))?;
        Ok((from, Some(to)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_numbers_and_realtime_offsets() {
        assert_eq!(Signo::parse("TERM"), Some(SIGTERM));
        assert_eq!(Signo::parse("SIGTERM"), Some(SIGTERM));
        assert_eq!(Signo::parse("sigterm"), Some(SIGTERM));
        assert_eq!(Signo::parse("15"), Some(SIGTERM));
        assert_eq!(Signo::parse("IOT"), Signo::new(6));
        assert_eq!(Signo::parse("RTMIN"), Signo::new(34));
        assert_eq!(Signo::parse("SIGRTMIN+3"), Signo::new(37));
        assert_eq!(Signo::parse("RTMAX"), Signo::new(64));
        assert_eq!(Signo::parse("RTMAX-2"), Signo::new(62));
        assert_eq!(Signo::parse("64"), Signo::new(64));
    }

    #[test]
    fn rejects_what_is_not_a_signal() {
        for bad in [
            "",
            "0",
            "65",
            "-1",
            "FOO",
            "SIG",
            "RTMIN+31",
            "RTMAX-31",
            "RTMIN-1",
            "RTMIN+",
            "RTMIN+x",
            "RTMAX+1",
            "RTMIN+2147483647",
            "RTMIN+2147483614",
            "RTMAX-2147483647",
            "RTMAX-2147483648",
            "RTMIN+99999999999",
            "SIGRTMIN+2147483647",
        ] {
            assert_eq!(Signo::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_match_the_targets_numbers() {
        for (sig, name) in [
            (SIGHUP, "HUP"),
            (SIGINT, "INT"),
            (SIGQUIT, "QUIT"),
            (SIGILL, "ILL"),
            (SIGTRAP, "TRAP"),
            (SIGABRT, "ABRT"),
            (SIGBUS, "BUS"),
            (SIGFPE, "FPE"),
            (SIGKILL, "KILL"),
            (SIGSEGV, "SEGV"),
            (SIGPIPE, "PIPE"),
            (SIGTERM, "TERM"),
            (SIGCHLD, "CHLD"),
            (SIGCONT, "CONT"),
            (SIGSTOP, "STOP"),
            (SIGXFSZ, "XFSZ"),
            (SIGPOLL, "IO"),
            (SIGSYS, "SYS"),
        ] {
            assert_eq!(NAMES[sig.number() as usize], name);
        }
    }

    #[test]
    fn names_round_trip_for_every_number() {
        for sig in Signo::all() {
            let name = sig.to_string();
            if let Some(bare) = name.strip_prefix("SIG") {
                assert_eq!(Signo::parse(&name), Some(sig), "{name}");
                assert_eq!(Signo::parse(bare), Some(sig), "{bare}");
            } else {
                assert!(sig.number() == 32 || sig.number() == 33, "{name}");
            }
        }
        assert_eq!(Signo::new(49).unwrap().to_string(), "SIGRTMIN+15");
        assert_eq!(Signo::new(50).unwrap().to_string(), "SIGRTMAX-14");
    }

    #[test]
    fn policy_leaves_faults_and_forwards_the_rest() {
        let waited = SigSet::waited();
        for n in [4, 5, 7, 8, 11, 31, 9, 19] {
            assert!(!waited.contains(Signo::new(n).unwrap()), "{n}");
        }
        for n in [
            1, 2, 3, 6, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 28, 32, 33, 34, 64,
        ] {
            assert!(waited.contains(Signo::new(n).unwrap()), "{n}");
        }
        assert_eq!(SIGCHLD.disposition(), Disposition::Reap);
        assert_eq!(Signo::new(64).unwrap().disposition(), Disposition::Forward);
    }

    #[test]
    fn only_hup_int_quit_and_term_ask_to_end() {
        let ending: Vec<i32> = Signo::all()
            .filter(|s| s.asks_to_end())
            .map(Signo::number)
            .collect();
        assert_eq!(ending, [1, 2, 3, 15]);
    }

    #[test]
    fn a_sender_is_known_only_from_kill_and_tkill_codes() {
        let from = |pid, code| Origin { pid, code };
        assert!(
            from(1, 0).is_process(1),
            "kill, or a failed write's SIGPIPE"
        );
        assert!(from(4242, -6).is_process(4242), "tgkill");
        assert!(!from(1, 0).is_process(4242), "another process");
        assert!(!from(0, 0).is_process(1), "a sender outside the namespace");
        assert!(
            !from(1, -1).is_process(1),
            "sigqueue: not something rinit does"
        );
        assert!(
            !from(1, 1).is_process(1),
            "CLD_EXITED: the pid is the child's"
        );
        assert!(!from(u32::MAX, 0).is_process(-1));
    }

    #[test]
    fn proc_hex_sets() {
        let set = SigSet::from_proc_hex("0000000000000100").unwrap();
        assert!(set.contains(SIGKILL));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![SIGKILL]);
        assert_eq!(SigSet::from_proc_hex("zz"), None);
    }

    #[test]
    fn rewrite_rules() {
        let mut rw = Rewrites::default();
        assert_eq!(rw.apply(SIGTERM), Some(SIGTERM));
        let (from, to) = Rewrites::parse_rule("TERM:QUIT").unwrap();
        rw.set(from, to);
        assert_eq!(rw.apply(SIGTERM), Signo::new(3));
        let (from, to) = Rewrites::parse_rule("RTMIN+3:0").unwrap();
        rw.set(from, to);
        assert_eq!(rw.apply(Signo::new(37).unwrap()), None);
        assert_eq!(
            Rewrites::parse_rule("15:10").unwrap(),
            (SIGTERM, Signo::new(10))
        );
        assert!(Rewrites::parse_rule("TERM").is_err());
        assert!(Rewrites::parse_rule("FOO:TERM").is_err());
        assert!(Rewrites::parse_rule("TERM:FOO").is_err());
        assert!(Rewrites::parse_rule("KILL:TERM").is_err());
        assert!(Rewrites::parse_rule("CHLD:TERM").is_err());
    }
}
