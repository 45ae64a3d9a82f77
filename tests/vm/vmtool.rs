//! What the guest needs and busybox lacks, built static for each guest
//! architecture by run.sh (no dependencies: `rustc` alone).
//!
//! `vmtool alloc MIB [SECONDS]`: touches MIB MiB of anonymous memory 1 MiB
//! at a time, prints `done MIB MiB`, sleeps SECONDS (the OOM scenarios).
//!
//! `vmtool freeze-on-mkdir PARENT NAME`: prints `watching`, waits (inotify)
//! for PARENT/NAME to be created and writes 1 to its cgroup.freeze at once.
//! Run at a higher priority than the rinit that creates NAME, it freezes
//! the cgroup before rinit's child joins it, i.e. before its exec.
//!
//! `vmtool hop`: prints `hopping`, then forks and exits forever: each
//! generation forks the next and exits at once, so the pid changes all the
//! time and a single pass of SIGKILL over a cgroup's members by pid finds
//! only exited ancestors (the teardown scenario). Ignores whatever the
//! caller ignored (`trap '' TERM` before the exec).
use std::{
    env,
    ffi::CString,
    fs::{self, File},
    io::{self, Read, Write},
    os::fd::FromRawFd,
    os::unix::ffi::OsStrExt,
    path::Path,
    process, thread,
    time::Duration,
};

extern "C" {
    fn inotify_init1(flags: i32) -> i32;
    fn inotify_add_watch(fd: i32, path: *const std::ffi::c_char, mask: u32) -> i32;
    fn fork() -> i32;
    fn _exit(code: i32) -> !;
}
const IN_CREATE: u32 = 0x100;
const IN_CLOEXEC: i32 = 0o2000000;

fn alloc(mib: usize, secs: u64) {
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(mib);
    for _ in 0..mib {
        // Non-zero bytes: pages of zeroes could stay unbacked.
        held.push(vec![1u8; 1 << 20]);
    }
    println!("done {mib} MiB");
    thread::sleep(Duration::from_secs(secs));
    drop(held);
}

fn freeze_on_mkdir(parent: &Path, name: &str) -> io::Result<()> {
    // SAFETY: plain syscall wrappers; the path is a valid NUL-terminated
    // string that outlives the call.
    let fd = unsafe { inotify_init1(IN_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a new inotify descriptor that nothing else owns.
    let mut events = unsafe { File::from_raw_fd(fd) };
    let path = CString::new(parent.as_os_str().as_bytes())?;
    // SAFETY: as above.
    if unsafe { inotify_add_watch(fd, path.as_ptr(), IN_CREATE) } < 0 {
        return Err(io::Error::last_os_error());
    }
    println!("watching");
    let target = parent.join(name);
    let mut buf = [0u8; 4096];
    while !target.exists() {
        events.read(&mut buf)?;
    }
    fs::OpenOptions::new()
        .write(true)
        .open(target.join("cgroup.freeze"))?
        .write_all(b"1")
}

fn hop() -> ! {
    println!("hopping");
    loop {
        // SAFETY: the process is single-threaded; the child only loops
        // back here, and the parent leaves at once without unwinding.
        unsafe {
            if fork() > 0 {
                _exit(0)
            }
        }
    }
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["alloc", mib, rest @ ..] => alloc(
            mib.parse().expect("alloc: MIB is a number"),
            rest.first().map_or(0, |s| s.parse().expect("alloc: SECONDS is a number")),
        ),
        ["freeze-on-mkdir", parent, name] => {
            if let Err(e) = freeze_on_mkdir(Path::new(parent), name) {
                eprintln!("vmtool: freeze-on-mkdir {parent}/{name}: {e}");
                process::exit(1);
            }
        }
        ["hop"] => hop(),
        _ => {
            eprintln!(
                "usage: vmtool alloc MIB [SECONDS] | vmtool freeze-on-mkdir PARENT NAME | vmtool hop"
            );
            process::exit(2);
        }
    }
}
