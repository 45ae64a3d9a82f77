//! rinit: a small init for containers. It runs one command as its child,
//! forwards every signal to it, reaps every zombie, tears down whatever is
//! left in bounded stages, and exits with the command's status.
//!
//! The lifecycle, in order: block signals (before anything else, so none is
//! lost or acted on by default), parse the command line, set up logging,
//! become a subreaper (when not PID 1), spawn the child, let go of the
//! caller's cwd and descriptors, then loop until the supervisor says exit.
//! Before the loop any failure ends rinit; inside it nothing does.
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod cli;
mod logging;
mod procfs;
mod runtime;
mod shutdown;
mod signals;
mod spawn;
mod status;
mod sys;

use log::{debug, error, warn};
use std::ffi::OsString;
use std::io::Write;

/// Exit code for a usage error; the command is not run.
const EXIT_USAGE: u8 = 2;
/// Exit code when rinit itself fails before the command could start.
const EXIT_FAILURE: u8 = 1;

fn version() -> String {
    match option_env!("RINIT_GIT_SHA") {
        Some(sha) if !sha.is_empty() => format!("rinit version {} - git.{sha}", cli::VERSION),
        _ => format!("rinit version {}", cli::VERSION),
    }
}

/// Called from the C entry point in `sys` with the whole argv.
pub fn main_with_args(args: Vec<OsString>) -> u8 {
    // First of all: from here on every signal waits in the queue for the
    // loop, and none can kill or stop rinit by its default action.
    let caller_mask = match sys::block_signals(signals::SigSet::waited()) {
        Ok(mask) => mask,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rinit: cannot block signals: {e}");
            return EXIT_FAILURE;
        }
    };
    let config = match cli::parse(args.into_iter().skip(1), |name| std::env::var_os(name)) {
        Ok(cli::Request::Run(config)) => *config,
        Ok(cli::Request::Help) => return print_stdout(cli::USAGE),
        Ok(cli::Request::Version) => return print_stdout(&format!("{}\n", version())),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "rinit: {e} (try 'rinit --help')");
            return EXIT_USAGE;
        }
    };
    logging::init(&config.log);

    let own_pid = sys::getpid();
    let scope = if own_pid == 1 {
        runtime::Scope::Namespace
    } else {
        if let Err(e) = sys::set_child_subreaper() {
            warn!("cannot become a child subreaper ({e}): orphans will not be reaped by rinit");
        }
        runtime::Scope::Descendants { own_pid }
    };

    let mut pending = Vec::new();
    if let Some(sig) = config.pdeathsig {
        let parent = sys::getppid();
        if let Err(e) = sys::set_parent_death_signal(sig) {
            warn!("cannot set the parent-death signal {sig}: {e}");
        } else if sys::getppid() != parent {
            // The parent died before the prctl took effect.
            pending.push(sig);
        }
    }

    let take_terminal = sys::owns_foreground_terminal();
    let main_pid = match spawn::spawn(&config.command, caller_mask, take_terminal) {
        Ok(pid) => pid,
        Err(spawn::SpawnError::BadArgument(arg)) => {
            error!(
                "cannot run the command: argument {} contains a NUL byte",
                arg.display()
            );
            return EXIT_USAGE;
        }
        Err(spawn::SpawnError::Os(e)) => {
            error!("cannot execute '{}': {e}", config.command[0].display());
            return spawn::exec_failure_code(&e);
        }
    };
    debug!("started main child {main_pid} (terminal hand-off: {take_terminal})");

    // Let go of what the caller gave us: its cwd may be a mount someone
    // wants to unmount, its descriptors may be sockets the child owns now.
    if let Err(e) = std::env::set_current_dir("/") {
        warn!("cannot change directory to /: {e}");
    }
    if let Err(e) = sys::close_fds_from(3) {
        warn!("cannot close inherited descriptors: {e}");
    }
    let signal_fd = match sys::SignalFd::new(signals::SigSet::waited()) {
        Ok(fd) => fd,
        Err(e) => {
            // Without it rinit can neither forward nor reap; kill the child
            // rather than leave it unsupervised.
            error!("cannot create a signalfd: {e}");
            let _ = sys::kill(-main_pid, signals::SIGKILL);
            return EXIT_FAILURE;
        }
    };

    let policy = shutdown::Policy {
        rewrites: config.rewrites,
        remap: config.remap,
        grace: config.grace,
        kill_after: config.kill_after,
        stuck_timeout: config.stuck_timeout,
    };
    runtime::Runtime {
        main_pid,
        signal_child_only: config.signal_child_only,
        scope,
        supervisor: shutdown::Supervisor::new(policy),
        signals: signal_fd,
    }
    .run(pending)
}

fn print_stdout(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => EXIT_FAILURE,
    }
}
