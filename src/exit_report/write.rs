//! Writing the exit report to --report PATH: whole or not at all, never
//! through anything planted in its directory, and in bounded time.
//!
//! The directory is opened once, at start-up; every later step works
//! relative to that descriptor, so a directory swapped for a symlink during
//! the run cannot redirect the write. A report from an earlier run is
//! removed at start-up (emptied, when it cannot be removed), so whatever is
//! at PATH after rinit exits is this run's report or nothing.

use crate::os::sys::{self, Bounded, FileKind};
use crate::os::{cannot, describe_error};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the report goes: PATH's directory, open, and the name in it.
pub struct Target {
    dir: OwnedFd,
    name: OsString,
    /// PATH as given (absolute), for messages.
    path: PathBuf,
    /// PATH cannot be replaced (a file bind-mounted there, as Kubernetes
    /// mounts terminationMessagePath): it is written in place.
    in_place: bool,
    /// --report-format.
    format: super::Format,
}

/// Why --report PATH cannot be used; said before the command runs.
#[derive(Debug, PartialEq)]
pub struct Unusable(pub String);

impl Target {
    /// Opens PATH's directory and clears what an earlier run left at PATH.
    /// PATH must name a file (`dir/name`) in an existing directory; what is
    /// there already must be a regular file: rinit never replaces a device
    /// (`/dev/null`), a FIFO, a socket, a directory or a symlink.
    pub fn open(path: &Path) -> Result<Target, Unusable> {
        let (Some(dir_path), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Unusable(
                "expected the path of a file, not of a directory".into(),
            ));
        };
        let dir = sys::open_directory(dir_path).map_err(|e| {
            Unusable(match e.raw_os_error() {
                Some(sys::errno::ENOTDIR) => format!("{} is not a directory", dir_path.display()),
                _ => format!(
                    "cannot use directory {}: {}",
                    dir_path.display(),
                    describe_error(&e)
                ),
            })
        })?;
        let mut target = Target {
            dir,
            name: name.to_owned(),
            path: path.to_owned(),
            in_place: false,
            format: super::Format::Json,
        };
        target.clear_earlier_report()?;
        Ok(target)
    }

    /// The report in `format` rather than JSON.
    pub fn in_format(self, format: super::Format) -> Target {
        Target { format, ..self }
    }

    pub fn format(&self) -> super::Format {
        self.format
    }

    /// The directory's descriptor, which rinit keeps for the whole run.
    pub fn dir_fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the report of an earlier run, or empties it in place when
    /// it cannot be removed (bind-mounted): a report that cannot be written
    /// this time must not leave an older run's exit code to be read.
    fn clear_earlier_report(&mut self) -> Result<(), Unusable> {
        let shown = self.path.display();
        let kind = sys::kind_at(&self.dir, &self.name)
            .map_err(|e| Unusable(cannot("examine", &self.path, &e)))?;
        match kind {
            None => return Ok(()),
            Some(FileKind::Regular) => {}
            Some(kind) => return Err(Unusable(not_a_regular_file(&self.path, kind))),
        }
        match sys::unlink_at(&self.dir, &self.name) {
            Ok(()) => Ok(()),
            Err(e) if sys::cannot_replace(&e) => {
                self.in_place = true;
                sys::open_regular_at(&self.dir, &self.name)
                    .and_then(|file| file.set_len(0))
                    .map_err(|e| {
                        Unusable(format!(
                            "cannot empty the report of an earlier run at {shown}: {}",
                            describe_error(&e)
                        ))
                    })
            }
            Err(e) => Err(Unusable(format!(
                "cannot remove the report of an earlier run at {shown}: {}",
                describe_error(&e)
            ))),
        }
    }

    /// Writes `text` as the report, in a child process of its own, waited
    /// for at most `timeout`: a filesystem that does not answer (a hung
    /// FUSE or NFS mount) costs the report, never rinit's exit.
    pub fn write(&self, text: &str, timeout: Duration) -> Result<(), String> {
        match sys::run_bounded(timeout, || self.write_now(text)) {
            Bounded::Done(result) => result,
            Bounded::TimedOut { pid } => Err(format!(
                "{} did not answer within {} ms; its writer, pid {pid}, is left blocked",
                self.path.display(),
                crate::leaks::millis(timeout)
            )),
            // Without a child the write cannot be bounded; losing the
            // report for that would be worse than the rare hung mount.
            Bounded::NoChild(_) => self.write_now(text),
        }
    }

    /// Writes `text` whole: to a new file beside PATH (mode 0644), synced,
    /// then renamed over PATH, so a reader never sees half a report and a
    /// crash leaves the old one or the new one; in place when PATH cannot
    /// be replaced.
    fn write_now(&self, text: &str) -> Result<(), String> {
        if self.in_place {
            return self.write_in_place(text);
        }
        let (tmp, mut file) = self.create_temporary()?;
        let beside = |name: &OsStr| self.path.with_file_name(name);
        use std::io::Write;
        let written = file
            .write_all(text.as_bytes())
            .map_err(|e| cannot("write", &beside(&tmp), &e))
            .and_then(|()| {
                file.sync_all()
                    .map_err(|e| cannot("sync", &beside(&tmp), &e))
            })
            .map(|()| sys::rename_at(&self.dir, &tmp, &self.name));
        let renamed = match written {
            Ok(renamed) => renamed,
            Err(why) => {
                let _ = sys::unlink_at(&self.dir, &tmp);
                return Err(why);
            }
        };
        match renamed {
            Ok(()) => {}
            Err(e) => {
                let _ = sys::unlink_at(&self.dir, &tmp);
                if sys::cannot_replace(&e) {
                    return self.write_in_place(text);
                }
                return Err(format!(
                    "cannot rename {} to {}: {}",
                    beside(&tmp).display(),
                    self.path.display(),
                    describe_error(&e)
                ));
            }
        }
        sys::sync_directory_fd(&self.dir).map_err(|e| {
            format!(
                "cannot sync the directory of {}: {}",
                self.path.display(),
                describe_error(&e)
            )
        })
    }

    /// Truncates PATH, writes, syncs: for a PATH that cannot be replaced.
    /// Not atomic, but the file was emptied at start-up, so a reader finds
    /// this run's report or no complete document, never an older run's.
    fn write_in_place(&self, text: &str) -> Result<(), String> {
        use std::io::Write;
        let shown = self.path.display();
        let mut file = sys::open_regular_at(&self.dir, &self.name).map_err(|e| {
            format!(
                "cannot open {shown} to write it in place: {}",
                describe_error(&e)
            )
        })?;
        file.set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {shown} in place: {}", describe_error(&e)))
    }

    /// A new temporary file beside PATH. A name taken already (planted, or
    /// a leftover) is skipped for another; a few tries are plenty when the
    /// name cannot be guessed.
    fn create_temporary(&self) -> Result<(OsString, std::fs::File), String> {
        const TRIES: usize = 8;
        let mut last = None;
        for _ in 0..TRIES {
            let tmp = temporary_name(&self.name, std::process::id(), unpredictable());
            match sys::create_new_file_at(&self.dir, &tmp, 0o644) {
                Ok(file) => return Ok((tmp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(tmp),
                Err(e) => {
                    return Err(cannot("create", &self.path.with_file_name(&tmp), &e));
                }
            }
        }
        let last = last.expect("TRIES > 0");
        Err(format!(
            "cannot create a temporary file beside {}: {TRIES} names taken, the last {}",
            self.path.display(),
            self.path.with_file_name(last).display()
        ))
    }
}

/// The usage error for PATH holding something rinit will not replace.
fn not_a_regular_file(path: &Path, kind: FileKind) -> String {
    let what = match kind {
        FileKind::Regular => "a regular file",
        FileKind::Directory => "a directory",
        FileKind::Symlink => "a symbolic link",
        FileKind::CharDevice => "a character device",
        FileKind::BlockDevice => "a block device",
        FileKind::Fifo => "a FIFO",
        FileKind::Socket => "a socket",
    };
    let hint = match kind {
        FileKind::CharDevice | FileKind::BlockDevice => {
            " (to write no report, leave --report out and RINIT_REPORT empty)"
        }
        _ => "",
    };
    format!(
        "{} is {what}, not a regular file: rinit replaces or writes only a regular file{hint}",
        path.display()
    )
}

/// `NAME.<pid>.<16 hex digits>`: the pid keeps two rinits apart, the
/// random part keeps anyone from planting something at the name first
/// (PID 1's pid is always 1).
fn temporary_name(name: &OsStr, pid: u32, random: u64) -> OsString {
    let mut tmp = name.to_owned();
    tmp.push(format!(".{pid}.{random:016x}"));
    tmp
}

/// Random bits for a name; the clock if the kernel has none to give (the
/// exclusive create keeps even a guessed name safe, only not unblockable).
fn unpredictable() -> u64 {
    sys::random_u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_report_file_appears_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::os::TempDir::new();
        let path = dir.path().join("report.json");
        let target = Target::open(&path).unwrap();
        target.write("{}", SECOND).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        assert_eq!(entries(dir.path()), ["report.json"]);
    }

    #[test]
    fn an_earlier_report_is_removed_at_start_up() {
        let dir = crate::os::TempDir::new();
        let path = dir.file("report.json", "{\"exit_code\":0}");
        let _target = Target::open(&path).unwrap();
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn only_a_regular_file_is_replaced() {
        let dir = crate::os::TempDir::new();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let Err(Unusable(why)) = Target::open(&sub) else {
            panic!("a directory taken as the report");
        };
        assert_eq!(
            why,
            format!(
                "{} is a directory, not a regular file: rinit replaces or writes only a regular file",
                sub.display()
            )
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("report.json", &link).unwrap();
        let Err(Unusable(why)) = Target::open(&link) else {
            panic!("a symlink taken as the report");
        };
        assert!(
            why.contains("is a symbolic link, not a regular file"),
            "{why}"
        );
        assert_eq!(entries(dir.path()), ["link", "sub"]);
        assert!(
            not_a_regular_file(Path::new("/dev/null"), FileKind::CharDevice)
                .ends_with("(to write no report, leave --report out and RINIT_REPORT empty)")
        );
    }

    #[test]
    fn the_directory_is_resolved_once() {
        let dir = crate::os::TempDir::new();
        let (first, second) = (dir.path().join("first"), dir.path().join("second"));
        std::fs::create_dir(&first).unwrap();
        std::fs::create_dir(&second).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("first", &link).unwrap();
        let target = Target::open(&link.join("r.json")).unwrap();
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("second", &link).unwrap();
        target.write("{}", SECOND).unwrap();
        assert_eq!(entries(&first), ["r.json"]);
        assert!(entries(&second).is_empty());
    }

    #[test]
    fn temporary_names_cannot_be_guessed() {
        let name = OsStr::new("r.json");
        assert_eq!(temporary_name(name, 1, 0xab), "r.json.1.00000000000000ab");
        // Two reports of the same PID 1 get names that share nothing
        // after the pid.
        let (a, b) = (unpredictable(), unpredictable());
        assert_ne!(a, b);
        assert_ne!(temporary_name(name, 1, a), temporary_name(name, 1, b));
    }

    #[test]
    fn a_failed_report_leaves_no_temporary_file() {
        let dir = crate::os::TempDir::new();
        let path = dir.path().join("report.json");
        let target = Target::open(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), "").unwrap();
        let why = target.write("{}", SECOND).unwrap_err();
        assert!(
            why.starts_with(&format!("cannot rename {}.", path.display()))
                && why.contains(&format!(" to {}: ", path.display())),
            "{why}"
        );
        assert_eq!(entries(dir.path()), ["report.json"]);
        let missing = dir.path().join("no/such/report.json");
        let Err(Unusable(why)) = Target::open(&missing) else {
            panic!("a missing directory taken");
        };
        assert!(
            why.starts_with(&format!(
                "cannot use directory {}",
                dir.path().join("no/such").display()
            )) && why.ends_with(": No such file or directory"),
            "{why}"
        );
    }
}
