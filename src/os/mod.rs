//! The operating-system layer: every syscall (`sys`, the only module with
//! `unsafe`) and every read of /proc (`procfs`). The rest of rinit is pure
//! logic, or drives these two.

pub mod procfs;
pub mod ready;
pub mod signo;
pub mod sys;

use std::io::{self, Write};
use std::path::Path;

/// An OS error as a person reads it: "Read-only file system" rather than
/// "Read-only file system (os error 30)", which only repeats the errno.
pub fn describe_error(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// "cannot OP PATH: ERR", for an operation on a file that failed: one
/// formatter for the many messages of this shape.
pub fn cannot(op: &str, path: &Path, err: &io::Error) -> String {
    format!("cannot {op} {}: {}", path.display(), describe_error(err))
}

/// Reads a whole kernel file (/proc, cgroupfs, fusectl) as the bytes it
/// holds. They are not text: the kernel cuts a command name at 15 bytes,
/// in the middle of a character if need be, and passes a mount point's
/// bytes through unescaped. A read that insisted on UTF-8 would make such
/// a process, or every mount, invisible; parsers take numbers from the
/// bytes and names lossily, for display.
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// A kernel file that is ASCII by design (a cgroup control file, wchan,
/// a /proc status) as text: a stray byte (in a `Name:` line) reads as
/// U+FFFD, leaving the numbers around it intact.
pub fn read_text(path: &Path) -> io::Result<String> {
    read_file(path).map(|raw| lossy(&raw))
}

/// Kernel bytes as text for display and keyword parsing.
pub fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Writes `text` to a kernel control file (cgroupfs, fusectl) in one
/// write. Never creates the file: a missing or misspelt control file must
/// be an error, not a new regular file that silently does nothing.
/// (Truncating is a no-op on those filesystems and keeps a fixture file's
/// content exactly what was written.)
pub fn write_control(path: &Path, text: &str) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// A directory of fixture files for unit tests, removed when dropped: the
/// /proc, cgroup and fusectl code runs on fake trees without root.
#[cfg(test)]
pub struct TempDir(std::path::PathBuf);

#[cfg(test)]
#[allow(clippy::new_without_default)] // each call makes a new directory: not a default value
impl TempDir {
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rinit-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `text` to `rel` under the directory, creating its parents.
    pub fn file(&self, rel: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("create fixture directories");
        std::fs::write(&path, text).expect("write a fixture file");
        path
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_errors_without_the_errno() {
        assert_eq!(
            describe_error(&io::Error::from_raw_os_error(libc::EROFS)),
            "Read-only file system"
        );
        assert_eq!(describe_error(&io::Error::other("no such")), "no such");
    }

    #[test]
    fn control_files_are_never_created() {
        let dir = TempDir::new();
        let missing = dir.path().join("memory.max");
        let err = write_control(&missing, "1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(!missing.exists());
        let present = dir.file("memory.max", "max\n");
        write_control(&present, "42").unwrap();
        assert_eq!(std::fs::read_to_string(present).unwrap(), "42");
    }
}
