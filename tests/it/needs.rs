//! What a test needs from the host, checked once per run. A test whose need
//! is missing is skipped with the reason, unless RINIT_TEST_REQUIRE names
//! that need (or is `all`): then it fails, so CI cannot pass with a group
//! of tests silently skipped.

use rinit::cgroup::{self, Kind};
use rinit::os::procfs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Root,
    /// `unshare --pid --fork --mount-proc` works.
    PidNs,
    Python,
    /// The v1 freezer hierarchy is mounted and this process may create
    /// cgroups under its own cgroup there.
    Freezer,
    /// A memory controller rinit can put a limit on: the v1 memory
    /// hierarchy, or cgroup2 with `memory` among its own cgroup's
    /// controllers (a pure v2 host); writable as for the freezer.
    Memory,
    /// cgroup2 is mounted (at /sys/fs/cgroup or /sys/fs/cgroup/unified);
    /// writable as for the freezer.
    Cgroup2,
    /// /dev/fuse and the fuse filesystem (the helpers mount it themselves).
    Fuse,
    /// podman, runc and a static busybox to build images from.
    Podman,
    /// `script` can run a command under a pseudo-terminal.
    Pty,
    /// strace can delay a syscall (`-e inject=...:delay_enter=`), to widen
    /// a race window.
    Strace,
    /// Python's `jsonschema` (`python3 -m pip install jsonschema`), to
    /// validate the exit report against docs/exit-report.schema.json.
    JsonSchema,
}

use Need::*;

pub const ALL: [Need; 11] = [
    Root, PidNs, Python, Freezer, Memory, Cgroup2, Fuse, Podman, Pty, Strace, JsonSchema,
];

impl Need {
    /// The name RINIT_TEST_REQUIRE uses.
    pub fn name(self) -> &'static str {
        match self {
            Root => "root",
            PidNs => "pidns",
            Python => "python3",
            Freezer => "freezer",
            Memory => "memory",
            Cgroup2 => "cgroup2",
            Fuse => "fuse",
            Podman => "podman",
            Pty => "pty",
            Strace => "strace",
            JsonSchema => "jsonschema",
        }
    }

    /// Ok, or why the host does not offer it; checked on first use.
    pub fn check(self) -> Result<(), &'static str> {
        static CHECKED: [OnceLock<Result<(), String>>; ALL.len()] =
            [const { OnceLock::new() }; ALL.len()];
        CHECKED[self as usize]
            .get_or_init(|| self.probe())
            .as_ref()
            .map(|_| ())
            .map_err(String::as_str)
    }

    fn probe(self) -> Result<(), String> {
        match self {
            // SAFETY: geteuid has no arguments and cannot fail.
            Root => match unsafe { libc::geteuid() } {
                0 => Ok(()),
                uid => Err(format!("running as uid {uid}, not root")),
            },
            PidNs => command_works("unshare", &["--pid", "--fork", "--mount-proc", "true"]),
            Python => command_works("python3", &["-c", "import ctypes, json, threading"]),
            Freezer => writable_cgroup(cgroups().freezer.as_ref(), "the cgroup v1 freezer"),
            Memory => {
                writable_cgroup(cgroups().memory.as_ref(), "the cgroup v1 memory").or_else(|v1| {
                    match v2_has_memory() {
                        true => writable_cgroup(cgroups().unified.as_ref(), "cgroup2"),
                        false => Err(format!("{v1}, and cgroup2 offers no memory controller")),
                    }
                })
            }
            Cgroup2 => writable_cgroup(cgroups().unified.as_ref(), "cgroup2"),
            Fuse => {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/fuse")
                    .map_err(|e| format!("cannot open /dev/fuse: {e}"))?;
                let filesystems = std::fs::read_to_string("/proc/filesystems")
                    .map_err(|e| format!("cannot read /proc/filesystems: {e}"))?;
                filesystems
                    .lines()
                    .any(|l| l.split_whitespace().last() == Some("fuse"))
                    .then_some(())
                    .ok_or_else(|| "no fuse in /proc/filesystems".to_string())
            }
            Podman => {
                command_works("podman", &["--version"])?;
                command_works("runc", &["--version"])?;
                let busybox = busybox();
                Path::new(&busybox)
                    .is_file()
                    .then_some(())
                    .ok_or_else(|| format!("no static busybox at {busybox} (set BUSYBOX)"))
            }
            Pty => command_works("script", &["-qefc", "true", "/dev/null"]),
            JsonSchema => command_works("python3", &["-c", "import jsonschema"]),
            Strace => command_works(
                "strace",
                &[
                    "-qq",
                    "-o",
                    "/dev/null",
                    "-e",
                    "inject=getpid:delay_enter=1",
                    "true",
                ],
            ),
        }
    }
}

/// The static busybox the container tests put in their images.
pub fn busybox() -> String {
    std::env::var("BUSYBOX").unwrap_or_else(|_| "/bin/busybox".to_string())
}

fn command_works(program: &str, args: &[&str]) -> Result<(), String> {
    let what = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let why = String::from_utf8_lossy(&out.stderr);
    Err(format!("{what} failed ({}): {}", out.status, why.trim()))
}

fn writable_cgroup(place: Option<&Place>, what: &str) -> Result<(), String> {
    let own = &place
        .ok_or_else(|| format!("{what} is not mounted (per /proc/self/mountinfo)"))?
        .own;
    let c_path = std::ffi::CString::new(own.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("cannot create cgroups in {}: {e}", own.display()));
    }
    Ok(())
}

/// Whether cgroup2 lets this process's cgroup limit memory (on a hybrid
/// host the memory controller belongs to v1, and cgroup2 lacks it).
pub fn v2_has_memory() -> bool {
    cgroups().unified.as_ref().is_some_and(|place| {
        std::fs::read_to_string(place.own.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
    })
}

/// Where a hierarchy is mounted, and this process's own cgroup in it.
#[derive(Debug, PartialEq)]
pub struct Place {
    pub mount: PathBuf,
    pub own: PathBuf,
}

/// The hierarchies the tests use, found as rinit finds them (with its
/// parsers): the first mount of each in mountinfo that shows this process's
/// cgroup (v2 may be at /sys/fs/cgroup or /sys/fs/cgroup/unified), joined
/// with the path from /proc/self/cgroup.
#[derive(Debug, Default)]
pub struct OwnCgroups {
    pub freezer: Option<Place>,
    pub memory: Option<Place>,
    pub unified: Option<Place>,
}

pub fn cgroups() -> &'static OwnCgroups {
    static FOUND: OnceLock<OwnCgroups> = OnceLock::new();
    FOUND.get_or_init(|| {
        // Bytes: a mount point may hold any byte but `/` and NUL.
        let read = |p: &str| std::fs::read(p).unwrap_or_default();
        own_cgroups(&read("/proc/self/mountinfo"), &read("/proc/self/cgroup"))
    })
}

fn own_cgroups(mountinfo: &[u8], proc_cgroup: &[u8]) -> OwnCgroups {
    let mounts = procfs::parse_mountinfo(mountinfo);
    let mut found = OwnCgroups::default();
    for (kind, path) in cgroup::memberships(proc_cgroup) {
        let slot = match kind {
            Kind::V1Freezer => &mut found.freezer,
            Kind::V1Memory => &mut found.memory,
            Kind::V2 => &mut found.unified,
        };
        if slot.is_some() {
            continue;
        }
        // rinit's own search (`dir_in`), one mount at a time, to learn
        // which mount it settles on: the tests unmount or remount it.
        *slot = mounts.iter().find_map(|m| {
            let own = cgroup::dir_in(std::slice::from_ref(m), kind, &path)?;
            Some(Place {
                mount: PathBuf::from(&m.point),
                own,
            })
        });
    }
    found
}

/// The needs RINIT_TEST_REQUIRE names (`all`, or a comma-separated list of
/// need names); an unknown name is an error, so a typo cannot make a
/// required group optional.
pub fn required() -> Result<Vec<Need>, String> {
    let Ok(list) = std::env::var("RINIT_TEST_REQUIRE") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == "all" {
            out.extend(ALL);
            continue;
        }
        let need = ALL.iter().find(|n| n.name() == name).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|n| n.name()).collect();
            format!(
                "RINIT_TEST_REQUIRE: unknown need {name:?} (known: all, {})",
                names.join(", ")
            )
        })?;
        out.push(*need);
    }
    Ok(out)
}

/// Checks of `own_cgroups` (the mount each place comes from, too),
/// registered as trials like the others (a `harness = false` crate runs no
/// `#[test]`).
pub fn parses_a_hybrid_layout() {
    let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    let found = own_cgroups(mountinfo.as_bytes(), b"6:freezer:/\n4:memory:/a/b\n0::/\n");
    assert_eq!(
        found.freezer.unwrap().own,
        Path::new("/sys/fs/cgroup/freezer")
    );
    let memory = found.memory.unwrap();
    assert_eq!(memory.own, Path::new("/sys/fs/cgroup/memory/a/b"));
    assert_eq!(memory.mount, Path::new("/sys/fs/cgroup/memory"));
    assert_eq!(
        found.unified.unwrap().own,
        Path::new("/sys/fs/cgroup/unified")
    );
}

pub fn parses_a_pure_v2_layout_in_a_namespace() {
    let mountinfo = "\
29 23 0:26 /sub /sys/fs/cgroup rw - cgroup2 cgroup2 rw
30 23 0:27 / /mnt/with\\040space rw - cgroup cgroup rw,freezer
";
    let found = own_cgroups(mountinfo.as_bytes(), b"3:freezer:/x\n0::/sub/me\n");
    assert_eq!(found.unified.unwrap().own, Path::new("/sys/fs/cgroup/me"));
    assert_eq!(found.freezer.unwrap().own, Path::new("/mnt/with space/x"));
    assert_eq!(found.memory, None);
    let found = own_cgroups(mountinfo.as_bytes(), b"0::/elsewhere\n");
    assert_eq!(found.unified, None, "a cgroup outside the mount's root");
    // What tests/cgroup2-only.sh makes: /proc/self/cgroup still lists the
    // v1 hierarchies, but only cgroup2 is mounted.
    let v2_only = "61 60 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let found = own_cgroups(v2_only.as_bytes(), b"6:freezer:/\n4:memory:/a\n0::/\n");
    assert_eq!(found.unified.unwrap().own, Path::new("/sys/fs/cgroup"));
    assert_eq!((found.freezer, found.memory), (None, None));
}
