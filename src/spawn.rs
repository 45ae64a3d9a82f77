//! Turning the command line into a running child: the PATH search (pure),
//! the fork, the exec status that comes later, and the exit codes and
//! messages for a program that cannot be run.

use crate::os::describe_error;
use crate::os::sys::{self, ExecStatus, errno};
pub use crate::os::sys::{SpawnError, SpawnStage};
use crate::signals::CallerSignals;
use log::warn;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Exit code when rinit itself fails before the command could start.
pub const EXIT_FAILURE: u8 = 1;

/// The PATH used when the environment has none (the same as musl's and
/// glibc's confstr default, plus the sbin directories).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where to look for `program`: itself if it names a path, else each PATH
/// entry in turn (an empty entry means the current directory, as in POSIX).
pub fn candidates(program: &OsStr, path: Option<&OsStr>) -> Vec<OsString> {
    let bytes = program.as_bytes();
    if bytes.is_empty() {
        return Vec::new();
    }
    if bytes.contains(&b'/') {
        return vec![program.to_owned()];
    }
    let path = path.map_or(DEFAULT_PATH.as_bytes(), OsStr::as_bytes);
    path.split(|&b| b == b':')
        .map(|dir| {
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            if full.last() != Some(&b'/') {
                full.push(b'/');
            }
            full.extend_from_slice(bytes);
            OsString::from_vec(full)
        })
        .collect()
}

/// The shell's codes: 127 when the program is not there, 126 when it is
/// there but cannot be executed.
pub fn exec_failure_code(err: &io::Error) -> u8 {
    match err.raw_os_error() {
        Some(errno::ENOENT)
        | Some(errno::ENOTDIR)
        | Some(errno::ELOOP)
        | Some(errno::ENAMETOOLONG) => 127,
        _ => 126,
    }
}

/// Why the command did not run: what rinit says, and the code it exits
/// with.
#[derive(Debug, PartialEq, Eq)]
pub struct NotStarted {
    pub message: String,
    pub exit_code: u8,
}

impl NotStarted {
    /// Names the step that failed and its object: 127/126 with the OS error
    /// as is when the program could not be executed (the shell's codes),
    /// 1 when rinit could not prepare the child for it.
    pub fn new(e: &SpawnError, program: &OsStr, cgroup_name: &str) -> NotStarted {
        let error = describe_error(&e.error);
        let failure = |message: String| NotStarted {
            message,
            exit_code: EXIT_FAILURE,
        };
        match e.stage {
            // No child was made, so no program could be found or refused: the
            // fault is rinit's (or its limits'), exit 1, not the shell's 126.
            SpawnStage::Fork => failure(format!("cannot fork: {error}")),
            SpawnStage::Pipe => failure(format!(
                "cannot create a pipe for the child's exec status: {error}"
            )),
            SpawnStage::Exec => NotStarted {
                message: format!("cannot execute '{}': {}", program.display(), e.error),
                exit_code: exec_failure_code(&e.error),
            },
            SpawnStage::JoinCgroup => failure(format!(
                "cannot move the child into cgroup {cgroup_name}: {error}"
            )),
            SpawnStage::ProcessGroup => failure(format!(
                "cannot make the child leader of its own process group: {error}"
            )),
            SpawnStage::SignalMask => failure(format!(
                "cannot restore the caller's signal mask in the child: {error}"
            )),
            SpawnStage::SigchldDisposition => failure(format!(
                "cannot make the child ignore SIGCHLD as the caller did: {error}"
            )),
        }
    }
}

/// A forked child whose exec is not confirmed yet. The loop watches
/// `fd` with its signals, so that PID 1 never waits deaf for an exec that
/// may not come soon (a cgroup frozen from outside freezes the child).
pub struct PendingExec {
    status: sys::ExecStatusPipe,
    program: OsString,
    cgroup_name: String,
}

impl PendingExec {
    /// Readable once the child has exec'd, failed or died.
    pub fn fd(&self) -> RawFd {
        self.status.as_raw_fd()
    }

    /// How the exec went. Call it when `fd` is readable, or once the child
    /// is reaped; else it blocks until then.
    pub fn settle(self) -> Result<(), NotStarted> {
        match self.status.read() {
            Ok(ExecStatus::NoFailure) => Ok(()),
            Ok(ExecStatus::Failed(e)) => Err(NotStarted::new(&e, &self.program, &self.cgroup_name)),
            // Taken as started: if the exec did fail, the child's own exit
            // status (127) still tells.
            Err(e) => {
                warn!("cannot read the exec status of the child: {e}");
                Ok(())
            }
        }
    }
}

/// systemd's socket activation names the process its sockets are for in
/// LISTEN_PID, and `sd_listen_fds` ignores them in any other. Podman sets
/// it to 1, the container's first process: rinit, which passes the
/// sockets on to the command. When LISTEN_PID names rinit (`own_pid`), the
/// child gets its own pid there (as catatonit does); any other value is
/// passed on unchanged.
pub fn listen_pid_names(listen_pid: Option<&OsStr>, own_pid: i32) -> bool {
    listen_pid
        .and_then(OsStr::to_str)
        .and_then(|text| text.parse::<i32>().ok())
        == Some(own_pid)
}

const LISTEN_PID: &str = "LISTEN_PID";

/// rinit's environment for the child, with LISTEN_PID left to be the
/// child's own pid, when it names rinit; `None` (rinit's own, as is)
/// otherwise.
fn child_env() -> Option<sys::ChildEnv> {
    if !listen_pid_names(std::env::var_os(LISTEN_PID).as_deref(), sys::getpid()) {
        return None;
    }
    let entries = std::env::vars_os()
        .filter(|(name, _)| name != LISTEN_PID)
        .filter_map(|(name, value)| {
            let mut entry = name.into_vec();
            entry.push(b'=');
            entry.extend(value.into_vec());
            CString::new(entry).ok()
        })
        .collect();
    Some(sys::ChildEnv {
        entries,
        own_pid_var: LISTEN_PID,
    })
}

/// Forks the child for `command`; returns its pid as soon as it exists,
/// with the exec status still to come. `cgroup_name` (empty when there is
/// none) is for the message if joining it fails.
pub fn spawn(
    command: &[OsString],
    caller: CallerSignals,
    take_terminal: bool,
    join_cgroups: Vec<RawFd>,
    cgroup_name: &str,
) -> Result<(i32, PendingExec), NotStarted> {
    // The arguments came from the C argv, NUL-terminated strings: none can
    // hold a NUL byte.
    let argv: Vec<CString> = command
        .iter()
        .map(|arg| CString::new(arg.as_bytes()).expect("argv strings hold no NUL"))
        .collect();
    let path = std::env::var_os("PATH");
    let candidates = candidates(&command[0], path.as_deref())
        .iter()
        .filter_map(|c| CString::new(c.as_bytes()).ok())
        .collect();
    let spec = sys::SpawnSpec {
        candidates,
        argv,
        mask: caller.mask,
        sigchld_ignored: caller.sigchld_ignored,
        take_terminal,
        join_cgroups,
        env: child_env(),
    };
    let (pid, status) =
        sys::spawn(&spec).map_err(|e| NotStarted::new(&e, &command[0], cgroup_name))?;
    let pending = PendingExec {
        status,
        program: command[0].clone(),
        cgroup_name: cgroup_name.to_string(),
    };
    Ok((pid, pending))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(list: Vec<OsString>) -> Vec<String> {
        list.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn searches_path_in_order() {
        let found = candidates(OsStr::new("ls"), Some(OsStr::new("/a:/b/::/c")));
        assert_eq!(strs(found), ["/a/ls", "/b/ls", "./ls", "/c/ls"]);
    }

    #[test]
    fn paths_are_taken_as_they_are() {
        assert_eq!(
            strs(candidates(OsStr::new("./x"), Some(OsStr::new("/a")))),
            ["./x"]
        );
        assert_eq!(strs(candidates(OsStr::new("/bin/sh"), None)), ["/bin/sh"]);
        assert!(candidates(OsStr::new(""), None).is_empty());
    }

    #[test]
    fn default_path_when_unset() {
        let found = strs(candidates(OsStr::new("sh"), None));
        assert_eq!(
            found.first().map(String::as_str),
            Some("/usr/local/sbin/sh")
        );
        assert_eq!(found.last().map(String::as_str), Some("/bin/sh"));
    }

    fn not_started(stage: SpawnStage, errno: i32) -> NotStarted {
        let e = SpawnError {
            stage,
            error: io::Error::from_raw_os_error(errno),
        };
        NotStarted::new(&e, OsStr::new("app"), "box")
    }

    #[test]
    fn each_failed_step_means_its_exit_code() {
        assert_eq!(not_started(SpawnStage::Exec, errno::ENOENT).exit_code, 127);
        assert_eq!(not_started(SpawnStage::Exec, errno::EACCES).exit_code, 126);
        assert_eq!(not_started(SpawnStage::Fork, errno::EAGAIN).exit_code, 1);
        assert_eq!(not_started(SpawnStage::Pipe, errno::EAGAIN).exit_code, 1);
        assert_eq!(
            not_started(SpawnStage::JoinCgroup, errno::EBUSY).exit_code,
            1
        );
        assert_eq!(
            not_started(SpawnStage::SignalMask, errno::EINVAL).exit_code,
            1
        );
        assert_eq!(
            not_started(SpawnStage::SigchldDisposition, errno::EINVAL).exit_code,
            1
        );
    }

    #[test]
    fn failed_steps_name_the_step_and_the_object() {
        let message = |stage, errno| not_started(stage, errno).message;
        assert_eq!(
            message(SpawnStage::JoinCgroup, errno::EBUSY),
            "cannot move the child into cgroup box: Device or resource busy"
        );
        assert_eq!(
            message(SpawnStage::Exec, errno::ENOENT),
            "cannot execute 'app': No such file or directory (os error 2)"
        );
        assert_eq!(
            message(SpawnStage::Fork, errno::EAGAIN),
            "cannot fork: Resource temporarily unavailable"
        );
        assert_eq!(
            message(SpawnStage::ProcessGroup, errno::EPERM),
            "cannot make the child leader of its own process group: Operation not permitted"
        );
        assert_eq!(
            message(SpawnStage::SignalMask, errno::EINVAL),
            "cannot restore the caller's signal mask in the child: Invalid argument"
        );
        assert_eq!(
            message(SpawnStage::SigchldDisposition, errno::EINVAL),
            "cannot make the child ignore SIGCHLD as the caller did: Invalid argument"
        );
    }

    #[test]
    fn listen_pid_is_rewritten_only_when_it_names_rinit() {
        let names = |value: &str, own| listen_pid_names(Some(OsStr::new(value)), own);
        assert!(names("1", 1));
        assert!(names("4242", 4242));
        assert!(!names("1", 4242));
        assert!(!names("4243", 4242));
        assert!(!names("", 1));
        assert!(!names(" 1", 1));
        assert!(!names("1x", 1));
        assert!(!listen_pid_names(None, 1));
    }

    #[test]
    fn exec_failure_codes() {
        let code = |e| exec_failure_code(&io::Error::from_raw_os_error(e));
        assert_eq!(code(errno::ENOENT), 127);
        assert_eq!(code(errno::ENOTDIR), 127);
        assert_eq!(code(errno::EACCES), 126);
        assert_eq!(code(errno::ENOEXEC), 126);
        assert_eq!(code(errno::E2BIG), 126);
    }
}
