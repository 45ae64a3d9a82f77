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

mod cgroup;
mod cli;
mod exit_status;
mod logging;
mod os;
mod runtime;
mod signals;
mod spawn;
mod stuck;
mod supervisor;

use log::{debug, error, warn};
use os::sys;
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

/// The process entry point, called by the C runtime. rinit skips Rust's
/// `lang_start` on purpose: it sets SIGPIPE to SIG_IGN before `main` (so the
/// caller's disposition would be lost and the child would inherit "ignored")
/// and reopens closed standard descriptors, and the child must get exactly
/// what rinit's caller gave.
#[cfg(not(test))]
#[allow(unsafe_code)] // exporting the symbol; no unsafe block here
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    std::ffi::c_int::from(main_with_args(sys::args_from_c(argc, argv)))
}

/// Everything after the C entry point, with the whole argv.
#[cfg_attr(test, allow(dead_code))] // its caller, the C entry point, is not in test builds
fn main_with_args(args: Vec<OsString>) -> u8 {
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

    let mut cgroup = match setup_cgroup(&config, own_pid) {
        Ok(cgroup) => cgroup,
        Err(code) => return code,
    };
    let join = cgroup
        .as_ref()
        .map(cgroup::ChildCgroup::join_fds)
        .unwrap_or_default();
    let take_terminal = sys::owns_foreground_terminal();
    let main_pid = match spawn::spawn(&config.command, caller_mask, take_terminal, join) {
        Ok(pid) => pid,
        Err(spawn::SpawnError::Os(e)) => {
            error!("cannot execute '{}': {e}", config.command[0].display());
            return spawn::exec_failure_code(&e);
        }
        Err(spawn::SpawnError::JoinCgroup(e)) => {
            let name = cgroup.as_ref().map_or("", |c| c.name());
            error!(
                "cannot move the child into cgroup {name}: {}",
                cgroup::plain(&e)
            );
            return EXIT_FAILURE;
        }
    };
    debug!("started main child {main_pid} (terminal hand-off: {take_terminal})");
    if let Some(cg) = &mut cgroup {
        cg.child_joined();
    }

    // Let go of what the caller gave us: its cwd may be a mount someone
    // wants to unmount, its descriptors may be sockets the child owns now.
    if let Err(e) = std::env::set_current_dir("/") {
        warn!("cannot change directory to /: {e}");
    }
    let keep = cgroup
        .as_ref()
        .map(cgroup::ChildCgroup::own_fds)
        .unwrap_or_default();
    if let Err(e) = sys::close_inherited_fds(&keep) {
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

    runtime::Runtime::new(
        main_pid,
        config.signal_child_only,
        scope,
        supervisor::Supervisor::new(config.policy),
        signal_fd,
        cgroup,
        runtime::ReportConfig {
            path: config.report,
            fuse_abort: config.fuse_abort,
        },
    )
    .run(pending)
}

/// The child's cgroup, when asked for. Failing to make it is a warning
/// (rinit runs without it: the cgroup filesystem is read-only in most
/// containers) unless --cgroup-required makes it an error (exit 1).
fn setup_cgroup(config: &cli::Config, own_pid: i32) -> Result<Option<cgroup::ChildCgroup>, u8> {
    if config.cgroup.is_none() && config.memory_limit.is_none() {
        return Ok(None);
    }
    let name = config
        .cgroup
        .clone()
        .unwrap_or_else(|| default_cgroup_name(own_pid));
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map_err(|e| cgroup::SetupError(format!("cannot read {path}: {}", cgroup::plain(&e))))
    };
    let created = read("/proc/self/mountinfo").and_then(|mountinfo| {
        let hierarchies = cgroup::discover(&mountinfo, &read("/proc/self/cgroup")?);
        cgroup::ChildCgroup::create(&hierarchies, &name, config.memory_limit)
    });
    match created {
        Ok(cg) => {
            debug!("child cgroup {name} ready");
            Ok(Some(cg))
        }
        Err(cgroup::SetupError(why)) if config.cgroup_required => {
            error!("cgroup {name} is required, but {why}");
            Err(EXIT_FAILURE)
        }
        Err(cgroup::SetupError(why)) => {
            warn!("running without cgroup {name}: {why}");
            Ok(None)
        }
    }
}

/// "rinit-<pid>-<suffix>": every container's rinit is pid 1, so the pid
/// alone would collide between containers sharing a parent cgroup.
fn default_cgroup_name(own_pid: i32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("rinit-{own_pid}-{:06x}", nanos & 0xff_ffff)
}

fn print_stdout(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => EXIT_FAILURE,
    }
}
