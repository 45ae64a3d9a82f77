//! Turning the command line into a running child: the PATH search (pure)
//! and the exit codes for a program that cannot be run.

use crate::os::sys::{self, errno};
pub use crate::os::sys::{SpawnError, SpawnStage};
use crate::signals::SigSet;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

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

pub fn spawn(
    command: &[OsString],
    mask: SigSet,
    take_terminal: bool,
    join_cgroups: Vec<std::ffi::c_int>,
) -> Result<i32, SpawnError> {
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
        mask,
        take_terminal,
        join_cgroups,
    };
    sys::spawn(&spec)
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
