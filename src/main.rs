//! rinit: a small init for containers. It runs one command as its child,
//! forwards every signal to it, reaps every zombie, tears down whatever is
//! left in bounded stages, and exits with the command's status.
//!
//! The lifecycle is `start_and_supervise`, one step per line: block signals
//! and un-ignore SIGCHLD (before anything else, so none is lost or acted on
//! by default, and every child's exit is kept for waitpid), parse the
//! command line, open the --report directory, start logging, become a
//! subreaper (when not PID 1), arm the parent-death signal, create the
//! signalfd, set up the cgroup, fork the child, let go of the caller's cwd
//! and descriptors, then loop until the supervisor says exit. Everything
//! that can fail comes before the fork: a failure ends rinit before the
//! command has run at all, with the exit code its `StartError` means (and
//! an exit report, once its path is known); inside the loop nothing does.
//! The child's exec status comes to the loop, which serves signals
//! meanwhile: a failed exec ends rinit from there, with the same message
//! and code.
//! With --pause there is no command: after the signals, the parsing, the
//! logging, the subreaper and the signalfd, `pause::run` reaps until
//! SIGINT or SIGTERM.
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use rinit::escape::escape;
use rinit::{
    cgroup, cli, exit_report, logging, os, pause, ready, runtime, signals, spawn, supervisor,
};

use log::{debug, error, warn};
use os::procfs::Proc;
use os::sys;
use signals::Signo;
use spawn::EXIT_FAILURE;
use std::ffi::OsString;
use std::io::Write;
use supervisor::Scope;

/// Exit code for a usage error; the command is not run.
const EXIT_USAGE: u8 = 2;

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
    // Before anything else: a probe is a short-lived client of the service,
    // not an init (no signals taken over, no subreaper).
    if let Some(code) = rinit::ready::probe::run_if_asked(args.get(1..).unwrap_or_default()) {
        return code;
    }
    let code = start_and_supervise(args).unwrap_or_else(|e| e.report());
    // As a machine's PID 1, rinit's exit panics the kernel, and whatever
    // the console has not sent yet (the stuck-exit report, written last) is
    // lost; give it a moment to go out. In a container the namespace's end
    // loses nothing: the engine holds the other end of the pipe or pty.
    if sys::getpid() == 1 {
        sys::drain_stderr(std::time::Duration::from_secs(2));
    }
    code
}

/// The lifecycle, step by step. Before the loop any error ends rinit; inside
/// it nothing does.
fn start_and_supervise(args: Vec<OsString>) -> Result<u8, StartError> {
    let caller_signals = take_over_signals()?;
    let config = match parse_command_line(args)? {
        cli::Request::Run(config) => *config,
        cli::Request::Help => return Ok(print_stdout(&cli::help())),
        cli::Request::Version => return Ok(print_stdout(&cli::version())),
        cli::Request::License => return Ok(print_stdout(cli::LICENSE)),
        cli::Request::Pause(log) => return pause(&log),
    };
    let report = open_report(config.report.as_ref())?;
    logging::init(&config.log);
    let own_pid = sys::getpid();
    let scope = become_subreaper(own_pid);
    let pending = arm_pdeathsig(config.pdeathsig);
    let (signals, cgroup, main_pid, exec) = match set_up_and_spawn(&config, own_pid, caller_signals)
    {
        Ok(started) => started,
        Err(e) => return Ok(fail_with_report(e, report.as_ref(), &config)),
    };
    let mut keep = vec![signals.as_raw_fd(), exec.fd()];
    keep.extend(report.as_ref().map(exit_report::Target::dir_fd));
    let_go_of_cwd_and_inherited_fds(cgroup.as_ref(), &keep);
    let setup = runtime::Setup {
        main_pid,
        exec,
        signal_child_only: config.signal_child_only,
        scope,
        policy: config.policy,
        signals,
        cgroup,
        report,
        fuse_abort: config.fuse_abort,
        leaks: config.leaks,
        ready: config.ready.map(|spec| watch_readiness(spec, main_pid)),
    };
    Ok(runtime::Runtime::new(setup).run(pending))
}

/// --pause: no command. As for a command: a subreaper when not PID 1, and
/// nothing kept of the caller's cwd and descriptors.
fn pause(log: &cli::LogSpec) -> Result<u8, StartError> {
    logging::init(log);
    become_subreaper(sys::getpid());
    let signals = create_signalfd()?;
    let_go_of_cwd_and_inherited_fds(None, &[signals.as_raw_fd()]);
    Ok(pause::run(&signals))
}

/// Everything that can fail, then the fork: the signalfd and the cgroup
/// come first, so that a failure leaves no command half-started.
#[allow(clippy::type_complexity)] // four values used once, by the caller
fn set_up_and_spawn(
    config: &cli::Config,
    own_pid: i32,
    caller_signals: signals::CallerSignals,
) -> Result<
    (
        sys::SignalFd,
        Option<cgroup::ChildCgroup>,
        i32,
        spawn::PendingExec,
    ),
    StartError,
> {
    let signals = create_signalfd()?;
    let mut cgroup = set_up_cgroup(config, own_pid)?;
    let (main_pid, exec) = spawn_child(&config.command, caller_signals, cgroup.as_mut())?;
    Ok((signals, cgroup, main_pid, exec))
}

/// --ready: checked from the child's start on. NOTIFY_SOCKET is read only
/// then: without --ready it is the child's (it inherits the variable).
fn watch_readiness(spec: cli::ReadySpec, main_pid: i32) -> ready::watch::Watch {
    use std::os::unix::ffi::OsStrExt;
    let notify = std::env::var_os("NOTIFY_SOCKET");
    ready::watch::Watch::new(
        spec.condition,
        spec.text,
        spec.timeout,
        main_pid,
        notify.as_deref().map(std::ffi::OsStr::as_bytes),
        std::time::Instant::now(),
    )
}

/// Says what went wrong before the command started, and writes an exit
/// report that says it too. Returns the exit code.
fn fail_with_report(
    e: StartError,
    report: Option<&exit_report::Target>,
    config: &cli::Config,
) -> u8 {
    let why = e.message().to_string();
    let code = e.report();
    if let Some(target) = report {
        let text =
            exit_report::render_start_failure(target.format(), code, config.leaks.mode, &why);
        if let Err(why) = target.write(&text, config.policy.stuck_timeout) {
            error!("exit report not written: {why}");
        }
    }
    code
}

/// Why rinit stops before its loop; each kind means an exit code.
#[derive(Debug, PartialEq)]
enum StartError {
    /// rinit cannot even set itself up, before logging exists: said on
    /// stderr as is, exit 1.
    Early(String),
    /// The command line is wrong: exit 2, the command is not run.
    Usage(String),
    /// rinit failed before the command could start: logged, exit 1.
    Failure(String),
    /// There is no child (the fork failed): logged, with the code the
    /// failed step means.
    NotStarted(spawn::NotStarted),
}

impl StartError {
    fn exit_code(&self) -> u8 {
        match self {
            StartError::Early(_) | StartError::Failure(_) => EXIT_FAILURE,
            StartError::Usage(_) => EXIT_USAGE,
            StartError::NotStarted(not_started) => not_started.exit_code,
        }
    }

    fn message(&self) -> &str {
        match self {
            StartError::Early(message)
            | StartError::Usage(message)
            | StartError::Failure(message)
            | StartError::NotStarted(spawn::NotStarted { message, .. }) => message,
        }
    }

    /// Says what went wrong; returns the exit code.
    fn report(self) -> u8 {
        let code = self.exit_code();
        match self {
            // Both may echo the caller's text; the logger escapes its own.
            StartError::Early(message) => {
                let _ = writeln!(std::io::stderr(), "rinit: {}", escape(&message));
            }
            StartError::Usage(message) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "rinit: {} (try 'rinit --help')",
                    escape(&message)
                );
            }
            StartError::Failure(message)
            | StartError::NotStarted(spawn::NotStarted { message, .. }) => error!("{message}"),
        }
        code
    }
}

/// First of all: from here on every signal waits in the queue for the loop,
/// and none can kill or stop rinit by its default action. A SIGCHLD the
/// caller left ignored goes back to its default, else the kernel would
/// reap the child behind rinit's back and rinit would wait for it forever.
/// Returns what the caller had, for the child.
fn take_over_signals() -> Result<signals::CallerSignals, StartError> {
    let mask = sys::block_signals(signals::SigSet::waited())
        .map_err(|e| StartError::Early(format!("cannot block signals: {e}")))?;
    let sigchld_ignored = sys::unignore_sigchld()
        .map_err(|e| StartError::Early(format!("cannot set SIGCHLD to its default action: {e}")))?;
    Ok(signals::CallerSignals {
        mask,
        sigchld_ignored,
    })
}

fn parse_command_line(args: Vec<OsString>) -> Result<cli::Request, StartError> {
    cli::parse(args.into_iter().skip(1), |name| std::env::var_os(name))
        .map_err(|e| StartError::Usage(e.to_string()))
}

/// --report as an absolute path, its directory opened now, once: rinit
/// leaves its start directory for / before the child runs, a directory
/// swapped for a symlink later must not redirect the write, and a report
/// that cannot be written is found out at the worst moment, after a stuck
/// exit. A missing directory, or something at PATH that is not a regular
/// file, is a usage error, before the command runs. An earlier run's report
/// at PATH is removed (emptied, when bind-mounted).
fn open_report(
    report: Option<&cli::ReportPath>,
) -> Result<Option<exit_report::Target>, StartError> {
    let Some(report) = report else {
        return Ok(None);
    };
    let invalid = |why: String| {
        StartError::Usage(format!(
            "invalid value '{}' for {}: {why}",
            report.path.display(),
            report.source
        ))
    };
    let path = if report.path.is_absolute() {
        report.path.clone()
    } else {
        let start_dir = std::env::current_dir().map_err(|e| {
            invalid(format!(
                "cannot read the current directory to resolve it against: {}",
                os::describe_error(&e)
            ))
        })?;
        report.resolved(&start_dir)
    };
    let names_a_file =
        path.file_name().is_some() && !path.as_os_str().as_encoded_bytes().ends_with(b"/");
    if !names_a_file {
        return Err(invalid(
            "expected the path of a file, not of a directory".to_string(),
        ));
    }
    exit_report::Target::open(&path)
        .map(|target| Some(target.in_format(report.format)))
        .map_err(|exit_report::Unusable(why)| invalid(why))
}

/// PID 1 reaps its namespace anyway; anywhere else rinit asks for orphaned
/// descendants to be reparented to it. Running without that is degraded,
/// not broken: the command still runs.
fn become_subreaper(own_pid: i32) -> Scope {
    if own_pid == 1 {
        return Scope::Namespace;
    }
    if let Err(e) = sys::set_child_subreaper() {
        // Linux 3.4+; a profile may refuse the prctl. Nothing can stand in
        // for it: an orphan goes to another reaper, out of rinit's sight.
        warn!(
            "cannot become a child subreaper (prctl PR_SET_CHILD_SUBREAPER: {}): orphaned descendants go to another reaper, and rinit can neither reap them nor end them when the command exits (unless they are in its cgroup)",
            os::describe_error(&e)
        );
    }
    Scope::Descendants { own_pid }
}

/// Arms --pdeathsig; returns it as a pending signal when the parent died
/// before the prctl took effect, so that the loop acts on it at once.
fn arm_pdeathsig(sig: Option<Signo>) -> Vec<Signo> {
    let Some(sig) = sig else {
        return Vec::new();
    };
    let parent = sys::getppid();
    if let Err(e) = sys::set_parent_death_signal(sig) {
        warn!(
            "cannot set the parent-death signal (prctl PR_SET_PDEATHSIG {sig}: {}): rinit will not notice its parent's death",
            os::describe_error(&e)
        );
        return Vec::new();
    }
    if sys::getppid() != parent {
        return vec![sig];
    }
    Vec::new()
}

/// Forks the child for the command, in its cgroup when there is one. Its
/// exec status comes later, to the loop.
fn spawn_child(
    command: &[OsString],
    caller_signals: signals::CallerSignals,
    mut cgroup: Option<&mut cgroup::ChildCgroup>,
) -> Result<(i32, spawn::PendingExec), StartError> {
    let join = cgroup
        .as_deref()
        .map(cgroup::ChildCgroup::join_fds)
        .unwrap_or_default();
    let cgroup_name = cgroup.as_deref().map_or("", |c| c.name());
    let take_terminal = sys::owns_foreground_terminal();
    let (main_pid, exec) = spawn::spawn(command, caller_signals, take_terminal, join, cgroup_name)
        .map_err(StartError::NotStarted)?;
    debug!("started main child {main_pid} (terminal hand-off: {take_terminal})");
    if let Some(cg) = &mut cgroup {
        // The child has its own copies of the `cgroup.procs` descriptors.
        cg.child_joined();
    }
    Ok((main_pid, exec))
}

/// Lets go of what the caller gave us: its cwd may be a mount someone wants
/// to unmount, its descriptors may be sockets the child owns now. Keeps
/// rinit's own: the cgroup's and `own` (the signalfd, the exec-status
/// pipe, the report's directory).
fn let_go_of_cwd_and_inherited_fds(
    cgroup: Option<&cgroup::ChildCgroup>,
    own: &[std::os::fd::RawFd],
) {
    if let Err(e) = std::env::set_current_dir("/") {
        warn!("cannot change directory to /: {e}");
    }
    let mut keep = cgroup.map(cgroup::ChildCgroup::own_fds).unwrap_or_default();
    keep.extend_from_slice(own);
    // close_range is Linux 5.9+, and seccomp profiles older than Docker
    // 20.10 refuse it: then one by one, as before it existed.
    let refused = match sys::close_inherited_fds(&keep) {
        Ok(()) => return,
        Err(e) => e,
    };
    match sys::close_inherited_fds_one_by_one(&keep) {
        Ok(sys::FdsClosed::Listed) => debug!(
            "close_range failed ({refused}): closed the inherited descriptors /proc/self/fd lists, one by one"
        ),
        Ok(sys::FdsClosed::UpToLimit(limit)) => debug!(
            "close_range failed ({refused}), no /proc/self/fd: closed every descriptor number from 3 up to the soft RLIMIT_NOFILE ({limit})"
        ),
        Err(e) => warn!(
            "cannot close inherited descriptors: close_range failed ({refused}), and so did getrlimit(RLIMIT_NOFILE) ({e}), with no /proc/self/fd to list them: they stay open in rinit"
        ),
    }
}

/// The loop's one source of events. Without it rinit can neither forward
/// nor reap, so it is made before the fork: the command never starts
/// unsupervised.
fn create_signalfd() -> Result<sys::SignalFd, StartError> {
    sys::SignalFd::new(signals::SigSet::waited())
        .map_err(|e| StartError::Failure(format!("cannot create a signalfd: {e}")))
}

/// The child's cgroup, when asked for. Failing to make it is a warning
/// (rinit runs without it: the cgroup filesystem is read-only in most
/// containers) unless --cgroup-required makes it an error (exit 1).
fn set_up_cgroup(
    config: &cli::Config,
    own_pid: i32,
) -> Result<Option<cgroup::ChildCgroup>, StartError> {
    if config.cgroup.is_none() && config.memory_limit.is_none() {
        return Ok(None);
    }
    let name = config
        .cgroup
        .clone()
        .unwrap_or_else(|| default_cgroup_name(own_pid));
    let created = cgroup::discover_own(&Proc::system()).and_then(|hierarchies| {
        cgroup::ChildCgroup::create(&hierarchies, &name, config.memory_limit)
    });
    match created {
        Ok(cg) => {
            debug!("child cgroup {name} ready");
            Ok(Some(cg))
        }
        Err(cgroup::SetupError(why)) if config.cgroup_required => Err(StartError::Failure(
            format!("cgroup {name} is required, but {why}"),
        )),
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
        .map_or(0, |d| d.as_nanos() as u64);
    format!("rinit-{own_pid}-{:06x}", nanos & 0xff_ffff)
}

fn print_stdout(text: &str) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(_) => EXIT_FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_start_error_means_its_exit_code() {
        assert_eq!(StartError::Usage("bad".into()).exit_code(), 2);
        assert_eq!(StartError::Early("mask".into()).exit_code(), 1);
        assert_eq!(StartError::Failure("cgroup".into()).exit_code(), 1);
        let not_started = |exit_code| {
            StartError::NotStarted(spawn::NotStarted {
                message: "cannot execute 'app': Resource temporarily unavailable".into(),
                exit_code,
            })
        };
        assert_eq!(not_started(126).exit_code(), 126);
        assert_eq!(not_started(127).exit_code(), 127);
    }
}
