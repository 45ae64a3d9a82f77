//! Writing the exit report to --report PATH: whole or not at all, and
//! never through anything planted in its directory.

use crate::os::{describe_error, sys};
use std::path::{Path, PathBuf};

/// Writes `text` to a new file beside `path` (mode 0644), syncs it, then
/// renames it over `path`, so a reader never sees half a report and a crash
/// leaves the old one or the new one. The directory may be writable by
/// others: the temporary file has a name no one can guess and is created
/// exclusively, so a symlink or FIFO planted there is never followed, never
/// truncated and never waited on.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let (tmp, mut file) = create_temporary(path)?;
    let written = file
        .write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {}", tmp.display(), describe_error(&e)))
        .and_then(|()| {
            file.sync_all()
                .map_err(|e| format!("cannot sync {}: {}", tmp.display(), describe_error(&e)))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|e| {
                format!(
                    "cannot rename {} to {}: {}",
                    tmp.display(),
                    path.display(),
                    describe_error(&e)
                )
            })
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    let dir = directory_of(path);
    sys::sync_directory(dir).map_err(|e| {
        format!(
            "cannot sync directory {}: {}",
            dir.display(),
            describe_error(&e)
        )
    })
}

/// A new temporary file beside `path`. A name taken already (planted, or a
/// leftover) is skipped for another; a few tries are plenty when the name
/// cannot be guessed.
fn create_temporary(path: &Path) -> Result<(PathBuf, std::fs::File), String> {
    const TRIES: usize = 8;
    let mut last = None;
    for _ in 0..TRIES {
        let tmp = temporary_name(path, std::process::id(), unpredictable());
        match sys::create_new_file(&tmp, 0o644) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(tmp),
            Err(e) => {
                return Err(format!(
                    "cannot create {}: {}",
                    tmp.display(),
                    describe_error(&e)
                ));
            }
        }
    }
    let last = last.expect("TRIES > 0");
    Err(format!(
        "cannot create a temporary file beside {}: {TRIES} names taken, the last {}",
        path.display(),
        last.display()
    ))
}

/// `PATH.<pid>.<16 hex digits>`: the pid keeps two rinits apart, the
/// random part keeps anyone from planting something at the name first
/// (PID 1's pid is always 1).
fn temporary_name(path: &Path, pid: u32, random: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{pid}.{random:016x}"));
    PathBuf::from(name)
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

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let path = dir.file("report.json", "old");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, "{}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        assert_eq!(entries(dir.path()), ["report.json"]);
    }

    #[test]
    fn temporary_names_cannot_be_guessed() {
        let path = Path::new("/run/r.json");
        assert_eq!(
            temporary_name(path, 1, 0xab),
            Path::new("/run/r.json.1.00000000000000ab")
        );
        // Two reports of the same PID 1 get names that share nothing
        // after the pid.
        let (a, b) = (unpredictable(), unpredictable());
        assert_ne!(a, b);
        assert_ne!(temporary_name(path, 1, a), temporary_name(path, 1, b));
    }

    #[test]
    fn a_failed_report_leaves_no_temporary_file() {
        let dir = crate::os::TempDir::new();
        let target = dir.path().join("report.json");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), "").unwrap();
        let why = write_atomically(&target, "{}").unwrap_err();
        assert!(
            why.starts_with(&format!("cannot rename {}.", target.display()))
                && why.contains(&format!(" to {}: ", target.display())),
            "{why}"
        );
        assert_eq!(entries(dir.path()), ["report.json"]);
        let missing = dir.path().join("no/such/report.json");
        let why = write_atomically(&missing, "{}").unwrap_err();
        assert!(
            why.starts_with(&format!("cannot create {}.", missing.display()))
                && why.ends_with(": No such file or directory"),
            "{why}"
        );
    }
}
