//! --ready in the loop: checks the condition at the times `next_delay`
//! gives, each check started and looked at without waiting (a connect in
//! progress, a check program running), so that signals and reaping are
//! never held up; once it holds, READY=1 to NOTIFY_SOCKET, an info line and
//! the exit report. It stops at --ready-timeout (one warning: the service
//! keeps running) and when the main child exits.

use super::{Condition, NotifyAddress, next_delay, notify_address, notify_message};
use crate::exit_report::Readiness;
use crate::leaks;
use crate::os::describe_error;
use crate::os::ready::{self as os, Connecting};
use log::{debug, info, warn};
use std::time::{Duration, Instant};

/// How long one connect or one check program may take before it counts as
/// a failure (and a check program is killed).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long ending a check program may hold the loop: a SIGKILLed process
/// is gone in microseconds unless it sleeps in the kernel.
const END_PATIENCE: Duration = Duration::from_millis(20);

pub struct Watch {
    condition: Condition,
    /// As given, for the log and the report.
    text: String,
    main_pid: i32,
    notify: Option<NotifyAddress>,
    started: Instant,
    timeout: Duration,
    tries: u32,
    next: Instant,
    attempt: Option<Attempt>,
    /// Checking is over: ready, timed out, or the main child exited.
    over: bool,
    /// A check program killed at the end that had not died yet.
    dying: Option<i32>,
}

/// A check under way, and since when.
enum Attempt {
    Connect(Connecting, Instant),
    Exec(i32, Instant),
    /// The check program ended (rinit's reaping got it first): its status.
    Ended(i32),
}

/// What one look at the condition found.
enum Found {
    Held,
    NotYet(String),
    /// A check is under way: look again at the next time.
    Pending,
}

impl Watch {
    /// `notify`: NOTIFY_SOCKET's value, when set.
    pub fn new(
        condition: Condition,
        text: String,
        timeout: Duration,
        main_pid: i32,
        notify: Option<&[u8]>,
        now: Instant,
    ) -> Watch {
        let notify = notify.and_then(|value| match notify_address(value) {
            Ok(address) => Some(address),
            Err(why) => {
                warn!(
                    "NOTIFY_SOCKET '{}' is unusable ({why}): --ready will not send READY=1",
                    String::from_utf8_lossy(value)
                );
                None
            }
        });
        Watch {
            condition,
            text,
            main_pid,
            notify,
            started: now,
            timeout,
            tries: 0,
            next: now,
            attempt: None,
            over: false,
            dying: None,
        }
    }

    /// When the loop must wake up for the next check; `None` when over.
    pub fn deadline(&self) -> Option<Instant> {
        match (self.over, self.dying) {
            (false, _) => Some(self.next.min(self.started + self.timeout)),
            (true, Some(_)) => Some(self.next),
            (true, None) => None,
        }
    }

    /// On every wake-up of the loop, before its reaping (so that a check
    /// program is gone before the teardown counts what the main child left).
    /// `report`: the exit report's record.
    pub fn on_wake(&mut self, report: &mut Option<Readiness>) {
        if self.over {
            self.reap_dying();
            return;
        }
        let record = report.get_or_insert_with(|| Readiness {
            condition: self.text.clone(),
            after_ms: None,
        });
        if os::has_exited(self.main_pid) {
            debug!("main child exited before {} held", self.text);
            return self.stop();
        }
        let now = Instant::now();
        let timed_out = now >= self.started + self.timeout;
        // An attempt under way is looked at on any wake-up: a check
        // program's end wakes the loop (SIGCHLD), and is taken at once.
        let due = timed_out || now >= self.next;
        if !due && self.attempt.is_none() {
            return;
        }
        let settled = match self.look(now) {
            Found::Held => {
                let after = now.saturating_duration_since(self.started);
                record.after_ms = Some(after.as_millis() as u64);
                self.on_ready(after);
                return self.stop();
            }
            Found::NotYet(why) => {
                debug!("not ready yet: {} ({why})", self.text);
                true
            }
            Found::Pending => false,
        };
        if timed_out {
            warn!(
                "main child {} is not ready after {} ms: {} never held; it keeps running{}",
                self.main_pid,
                leaks::millis(self.timeout),
                self.text,
                if self.notify.is_some() {
                    ", and NOTIFY_SOCKET gets no READY=1"
                } else {
                    ""
                }
            );
            return self.stop();
        }
        if due || settled {
            self.next = now + next_delay(self.tries);
            self.tries = self.tries.saturating_add(1);
        }
    }

    /// Looks at the attempt under way, or starts one.
    fn look(&mut self, now: Instant) -> Found {
        let over_time = |since: Instant| now.saturating_duration_since(since) >= ATTEMPT_TIMEOUT;
        match self.attempt.take() {
            Some(Attempt::Connect(connecting, since)) => match connecting.outcome(Duration::ZERO) {
                Some(Ok(())) => Found::Held,
                Some(Err(e)) => Found::NotYet(describe_error(&e)),
                None if over_time(since) => Found::NotYet("connect timed out".into()),
                None => {
                    self.attempt = Some(Attempt::Connect(connecting, since));
                    Found::Pending
                }
            },
            Some(Attempt::Exec(pid, since)) => match os::check_status(pid) {
                Ok(Some(status)) if os::succeeded(status) => Found::Held,
                Ok(Some(status)) => Found::NotYet(format!("wait status {status:#x}")),
                Err(e) => Found::NotYet(format!("cannot wait for the check: {e}")),
                Ok(None) if over_time(since) => {
                    self.end_check(pid);
                    Found::NotYet("the check timed out".into())
                }
                Ok(None) => {
                    self.attempt = Some(Attempt::Exec(pid, since));
                    Found::Pending
                }
            },
            Some(Attempt::Ended(status)) if os::succeeded(status) => Found::Held,
            Some(Attempt::Ended(status)) => Found::NotYet(format!("wait status {status:#x}")),
            None => self.start(now),
        }
    }

    fn start(&mut self, now: Instant) -> Found {
        match &self.condition {
            Condition::Tcp(addr) => match os::start_connect(*addr) {
                // A loopback connect is decided at once: looked at now.
                Ok(connecting) => {
                    self.attempt = Some(Attempt::Connect(connecting, now));
                    self.look(now)
                }
                Err(e) => Found::NotYet(describe_error(&e)),
            },
            Condition::File(path) if os::exists(path) => Found::Held,
            Condition::File(_) => Found::NotYet("not there".into()),
            Condition::Exec(argv) => match os::start_check(argv) {
                Ok(pid) => {
                    self.attempt = Some(Attempt::Exec(pid, now));
                    Found::Pending
                }
                Err(e) => Found::NotYet(format!("cannot start the check: {e}")),
            },
            // Refused by the parser: the loop has no HTTP client.
            Condition::Http(_) => Found::NotYet("http is for rinit probe".into()),
        }
    }

    fn on_ready(&self, after: Duration) {
        info!(
            "main child {} is ready after {} ms: {}",
            self.main_pid,
            leaks::millis(after),
            self.text
        );
        let Some(address) = &self.notify else {
            return;
        };
        let message = notify_message(self.main_pid);
        if let Err(e) = os::send_datagram(&address.0, message.as_bytes()) {
            warn!(
                "cannot send READY=1 to NOTIFY_SOCKET '{}': {}",
                String::from_utf8_lossy(&address.0).replace('\0', "@"),
                describe_error(&e)
            );
        }
    }

    /// Ends checking, and any check under way.
    fn stop(&mut self) {
        self.over = true;
        if let Some(Attempt::Exec(pid, _)) = self.attempt.take() {
            self.end_check(pid);
        }
    }

    fn end_check(&mut self, pid: i32) {
        if !os::end_check(pid, END_PATIENCE) {
            self.dying = Some(pid);
            self.next = Instant::now() + Duration::from_secs(1);
        }
    }

    /// From rinit's reaping: whether `pid` was a check program (then its
    /// status is the watch's, and no orphan of the command's).
    pub fn claim(&mut self, pid: i32, status: i32) -> bool {
        if self.dying == Some(pid) {
            self.dying = None;
            return true;
        }
        match self.attempt {
            Some(Attempt::Exec(check, _)) if check == pid => {
                self.attempt = Some(Attempt::Ended(status));
                true
            }
            _ => false,
        }
    }

    fn reap_dying(&mut self) {
        if let Some(pid) = self.dying {
            match os::check_status(pid) {
                Ok(None) => self.next = Instant::now() + Duration::from_secs(1),
                Ok(Some(_)) | Err(_) => self.dying = None,
            }
        }
    }
}
