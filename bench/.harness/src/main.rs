//! Measures container inits side by side: binary size, idle RSS and
//! wake-ups as PID 1, start-up overhead (hyperfine), signal round trip,
//! orphan reaping rate, teardown time with 1000 processes left, and the
//! init's CPU time and syscalls per forwarded signal and per reaped orphan
//! (schedstat, strace).
//!
//! `rinit-bench measure --out FILE --init NAME=PATH ... [--extra NAME=PATH ...]`
//! runs everything and prints a table; `rinit-bench syscalls --init ...`
//! only counts syscalls (deterministic, so it can run on a busy machine) and
//! writes nothing; `rinit-bench cpu --init ... [--repeats N]` only measures
//! the init's CPU time per event, and writes nothing. The other modes are the workloads it runs under each init
//! (`responder`, `storm`, `orphans`, `teardown`). Every init is run as
//! `PATH -- COMMAND`, as PID 1 of a fresh PID namespace where it matters.
//! `--extra` inits (another rinit build, say) are measured alongside but are
//! not peers in the comparison with the targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cpu;
mod events;
mod syscalls;

/// Events per syscall-count window (and twice as many in the other).
const SYSCALL_EVENTS: u64 = 1000;
/// Events per CPU-time window.
const CPU_EVENTS: u64 = 1000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("responder") => responder(args[1].parse().expect("fd")),
        Some("storm") => storm(args[1].parse().expect("count")),
        Some("orphans") => orphans(args[1].parse().expect("count")),
        Some("teardown") => teardown(args[1].parse().expect("count")),
        Some("measure") => measure(&args[1..], Mode::All),
        Some("syscalls") => measure(&args[1..], Mode::Syscalls),
        Some("cpu") => measure(&args[1..], Mode::Cpu),
        _ => {
            eprintln!(
                "usage: rinit-bench measure --out FILE [--repeats N] --init NAME=PATH... [--extra NAME=PATH...]\n       rinit-bench syscalls --init NAME=PATH... [--extra NAME=PATH...]\n       rinit-bench cpu [--repeats N] --init NAME=PATH... [--extra NAME=PATH...]"
            );
            std::process::exit(2);
        }
    }
}

fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// ---------------------------------------------------------------- workloads

static mut ANSWER_FD: i32 = -1;

extern "C" fn answer(_: libc::c_int) {
    // SAFETY: write is async-signal-safe; ANSWER_FD is set before the
    // handler is installed and never changes.
    unsafe { libc::write(ANSWER_FD, b"a".as_ptr().cast(), 1) };
}

/// Answers every SIGUSR1 with one byte on `fd`.
fn responder(fd: i32) -> ! {
    // SAFETY: single-threaded; the handler only calls write(2).
    unsafe {
        ANSWER_FD = fd;
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = answer as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::write(fd, b"R".as_ptr().cast(), 1);
        loop {
            libc::pause();
        }
    }
}

/// Entries of /proc that are processes other than PID 1 and this one.
fn others(own: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|&p| p != 1 && p != own)
                .collect()
        })
        .unwrap_or_default()
}

/// Pins `pid` (0: the caller) to one CPU, when the machine has more than
/// one: the reaping measure keeps the init and the storm off each other's CPU.
pub(crate) fn pin_to_cpu(pid: i32, cpu: usize) {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET stays within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// CPU time a task has run, in ns (first field of /proc/PID/schedstat).
pub(crate) fn runtime_ns(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The number of tasks on the system (4th field of /proc/loadavg): zombies
/// count until they are reaped, and it is cheap enough to poll tightly.
fn tasks_total() -> i64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().nth(3)?.split_once('/')?.1.parse().ok())
        .unwrap_or(0)
}

fn zombies(own: i32) -> usize {
    others(own)
        .iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
        })
        .count()
}

/// Creates `count` orphans of the init, and on the orchestrator's word
/// (a line on stdin, sent once it has SIGSTOPped the init) lets them all
/// exit; once all are zombies it SIGCONTs the init and times how long the
/// init takes to reap them. Prints "RESULT <reaped per s> <zombies left>".
fn storm(count: usize) -> ! {
    let own = std::process::id() as i32;
    pin_to_cpu(0, 0);
    // `release`: the orphans wait for its EOF to exit. `done`: each orphan
    // holds its write end, so its EOF tells that all of them have exited,
    // without looking at /proc (dentries made by looking there would add to
    // the cost of every reap, and vary from run to run).
    let (mut release, mut done) = ([0; 2], [0; 2]);
    // SAFETY: fork in a single-threaded process; children only read, close
    // and _exit.
    unsafe {
        libc::pipe(release.as_mut_ptr());
        libc::pipe(done.as_mut_ptr());
        for _ in 0..count {
            let mid = libc::fork();
            if mid == 0 {
                if libc::fork() == 0 {
                    libc::close(release[1]);
                    libc::close(done[0]);
                    let mut b = 0u8;
                    libc::read(release[0], (&mut b as *mut u8).cast(), 1);
                    libc::_exit(0);
                }
                libc::_exit(0);
            }
            libc::waitpid(mid, std::ptr::null_mut(), 0);
        }
        libc::close(release[0]);
        libc::close(done[1]);
    }
    println!("READY");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    // SAFETY: closing our write end lets every orphan exit; `done` reads EOF
    // once the last one has closed its files on the way out.
    unsafe {
        libc::close(release[1]);
        let mut b = 0u8;
        while libc::read(done[0], (&mut b as *mut u8).cast(), 1) > 0 {}
    }
    // The last ones are between closing their files and becoming zombies.
    std::thread::sleep(Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(30);
    let before = tasks_total();
    let cpu_before = runtime_ns(1);
    let start = Instant::now();
    // SAFETY: continuing PID 1 of our namespace, stopped by the orchestrator.
    unsafe { libc::kill(1, libc::SIGCONT) };
    // Sleep between looks, so as not to take the CPU the init needs.
    while tasks_total() > before - count as i64 + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let took = start.elapsed();
    while !others(own).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // The init is asleep again by now, so its run time is up to date.
    let cpu = (runtime_ns(1) - cpu_before) as f64 / 1e9;
    println!(
        "RESULT {:.0} {} {:.0}",
        count as f64 / took.as_secs_f64(),
        zombies(own),
        count as f64 / cpu
    );
    std::process::exit(0);
}

/// Makes `count` orphans of the init, on the orchestrator's word (a line
/// on stdin, sent once strace is attached to the init), one at a time: each
/// exits at once, and the next is made only once the init has reaped it and
/// is asleep again, so every orphan costs the init one whole wake-up. Prints
/// "DONE slept", or "DONE polled" if the init never went to sleep, then
/// stays until ended, so that the init has nothing else to do meanwhile.
fn orphans(count: usize) -> ! {
    println!("READY");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let mut slept = true;
    for _ in 0..count {
        let pid = orphan();
        let deadline = Instant::now() + Duration::from_secs(5);
        // SAFETY: kill with signal 0 only checks that the pid exists.
        while unsafe { libc::kill(pid, 0) } == 0 {
            assert!(Instant::now() < deadline, "orphan {pid} not reaped");
            std::thread::sleep(Duration::from_micros(20));
        }
        slept = slept && events::wait_asleep("/proc/1/stat");
    }
    println!("DONE {}", if slept { "slept" } else { "polled" });
    let _ = std::io::stdin().read_to_string(&mut line);
    loop {
        // SAFETY: no arguments.
        unsafe { libc::pause() };
    }
}

/// Forks a process that forks one that exits at once, and exits itself: the
/// grandchild, exited or not, goes to the init. Returns its pid.
fn orphan() -> i32 {
    let mut fds = [0; 2];
    // SAFETY: fork in a single-threaded process; the children only fork,
    // write and _exit.
    unsafe {
        libc::pipe(fds.as_mut_ptr());
        let middle = libc::fork();
        if middle == 0 {
            let grandchild = libc::fork();
            if grandchild == 0 {
                libc::_exit(0);
            }
            libc::write(fds[1], (&grandchild as *const i32).cast(), 4);
            libc::_exit(0);
        }
        let mut grandchild = 0i32;
        libc::read(fds[0], (&mut grandchild as *mut i32).cast(), 4);
        libc::waitpid(middle, std::ptr::null_mut(), 0);
        libc::close(fds[0]);
        libc::close(fds[1]);
        grandchild
    }
}

/// Leaves `count` children that die on SIGTERM, prints the moment it exits.
fn teardown(count: usize) -> ! {
    for _ in 0..count {
        // SAFETY: single-threaded; the child only pauses.
        unsafe {
            if libc::fork() == 0 {
                loop {
                    libc::pause();
                }
            }
        }
    }
    // Let the last one reach pause().
    std::thread::sleep(Duration::from_millis(200));
    println!("EXIT {}", mono_ns());
    std::process::exit(0);
}

// -------------------------------------------------------------- orchestrator

struct Init {
    name: String,
    path: PathBuf,
    /// A peer of rinit in the comparison with the targets (not rinit
    /// itself, nor an `--extra`).
    peer: bool,
}

/// How results name a binary: its path relative to `top` (the rinit
/// checkout) if it is in there, else its file name, so that the results
/// hold no build directory.
fn shown_path(path: &Path, top: &Path) -> String {
    match path.strip_prefix(top) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    }
}

/// `unshare --pid --fork --mount-proc INIT -- COMMAND`, in its own process
/// group so it can be ended whole.
fn in_pidns(init: &Init, command: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(&init.path)
        .arg("--")
        .args(command);
    cmd.process_group(0);
    cmd
}

fn kill_group(child: &mut Child) {
    // SAFETY: our own child's process group.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
}

/// The init under `unshare`: its only child.
fn init_pid(unshare: u32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if ppid == Some(unshare) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no init under unshare {unshare}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn status_value(pid: i32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// CPU time (user + system) a process has used, in milliseconds.
fn cpu_ms(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, r)| r.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of stat (11 and 12 after ')').
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks * 1000.0 / hz
}

/// Idle RSS (KiB), context switches and CPU time (ms) over 2 s, as PID 1
/// over `sleep`. CPU time exposes an init that busy-polls: it has almost no
/// context switches because it never sleeps.
fn idle(init: &Init) -> (f64, u64, f64) {
    let mut child = in_pidns(init, &["sleep", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = init_pid(child.id());
    std::thread::sleep(Duration::from_millis(500));
    let rss = status_value(pid, "VmRSS") as f64;
    let switches = || {
        status_value(pid, "voluntary_ctxt_switches")
            + status_value(pid, "nonvoluntary_ctxt_switches")
    };
    let (before, cpu_before) = (switches(), cpu_ms(pid));
    std::thread::sleep(Duration::from_secs(2));
    let wakeups = switches() - before;
    let cpu = cpu_ms(pid) - cpu_before;
    kill_group(&mut child);
    (rss, wakeups, cpu)
}

/// Median and 99th percentile (µs) of kill(init, SIGUSR1) until the child's
/// handler answers, over `rounds`.
fn signal_round_trip(init: &Init, exe: &str, rounds: usize) -> (f64, f64) {
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; the read end is ours and close-on-exec, the
    // write end goes to the responder.
    unsafe {
        libc::pipe(fds.as_mut_ptr());
        libc::fcntl(fds[0], libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let fd = fds[1].to_string();
    let mut child = in_pidns(init, &[exe, "responder", &fd])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // SAFETY: the child has its copy.
    unsafe { libc::close(fds[1]) };
    let pid = init_pid(child.id());
    let read_one = || -> bool {
        let mut pfd = libc::pollfd {
            fd: fds[0],
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; a one-byte read into a local.
        unsafe {
            if libc::poll(&mut pfd, 1, 2000) != 1 {
                return false;
            }
            let mut b = 0u8;
            libc::read(fds[0], (&mut b as *mut u8).cast(), 1) == 1
        }
    };
    assert!(read_one(), "{}: responder did not start", init.name);
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds + 100 {
        let t0 = Instant::now();
        // SAFETY: signalling the init we started.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        if !read_one() {
            eprintln!("{}: no answer to SIGUSR1 (round {i})", init.name);
            break;
        }
        if i >= 100 {
            samples.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    kill_group(&mut child);
    // SAFETY: our read end.
    unsafe { libc::close(fds[0]) };
    if samples.len() < rounds {
        return (f64::NAN, f64::NAN);
    }
    let p99 = {
        let mut s = samples.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() * 99 / 100]
    };
    (median(samples), p99)
}

/// Orphans reaped per second and zombies left: `count` orphans become
/// zombies while the init is stopped, then it is continued and times itself
/// through them (a pure measure of its reaping loop; with the orphans still
/// exiting, the kernel's exit path and the scheduler dominate).
fn reaping(init: &Init, exe: &str, count: usize) -> (f64, u64, f64) {
    use std::io::Write;
    let n = count.to_string();
    let mut child = in_pidns(init, &[exe, "storm", &n])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = init_pid(child.id());
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "{}: storm did not start", init.name);
    line.clear();
    pin_to_cpu(pid, 1);
    // SAFETY: stopping the init we started; the storm continues it.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    let mut result = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(r) = line.trim().strip_prefix("RESULT ") {
            result = r.to_string();
        }
        line.clear();
    }
    kill_group(&mut child);
    let mut parts = result.split(' ');
    (
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(f64::NAN),
        parts.next().and_then(|p| p.parse().ok()).unwrap_or(0),
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(f64::NAN),
    )
}

/// Milliseconds from the main child's exit to the init's, with `count`
/// processes left that exit on SIGTERM.
fn teardown_time(init: &Init, exe: &str, count: usize) -> f64 {
    let n = count.to_string();
    let mut child = in_pidns(init, &[exe, "teardown", &n])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    // stdout closes when the last process holding it is gone; wait for the
    // init itself.
    let _ = child.wait();
    let end = mono_ns();
    let exited: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("EXIT ")?.parse().ok())
        .unwrap_or(end);
    (end - exited) as f64 / 1e6
}

/// Start-up overhead (ms): hyperfine's median of `INIT -- /bin/true` minus
/// that of `/bin/true`.
fn startup(inits: &[Init], runs: usize) -> BTreeMap<String, f64> {
    let csv = std::env::temp_dir().join(format!("rinit-bench-{}.csv", std::process::id()));
    let mut cmd = Command::new("hyperfine");
    cmd.args([
        "-N",
        "--warmup",
        "20",
        "--runs",
        &runs.to_string(),
        "--style",
        "none",
        "--export-csv",
    ])
    .arg(&csv)
    .args(["-n", "true", "/bin/true"]);
    for init in inits {
        cmd.args(["-n", &init.name])
            .arg(format!("{} -- /bin/true", init.path.display()));
    }
    let status = cmd.stdout(Stdio::null()).status().expect("hyperfine");
    assert!(status.success(), "hyperfine failed");
    let text = std::fs::read_to_string(&csv).unwrap();
    let _ = std::fs::remove_file(&csv);
    let mut medians = BTreeMap::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        // command,mean,stddev,median,user,system,min,max
        medians.insert(
            fields[0].to_string(),
            fields[3].parse::<f64>().unwrap() * 1000.0,
        );
    }
    let base = medians["true"];
    inits
        .iter()
        .map(|i| (i.name.clone(), medians[&i.name] - base))
        .collect()
}

/// One init's figures, as printed and as written to the JSON file.
#[derive(miniserde::Serialize)]
struct Row {
    init: String,
    path: String,
    #[serde(rename = "size_bytes")]
    size: u64,
    #[serde(rename = "idle_rss_kib")]
    rss_kib: f64,
    #[serde(rename = "startup_overhead_ms")]
    startup_ms: f64,
    #[serde(rename = "idle_wakeups_2s")]
    wakeups: u64,
    #[serde(rename = "idle_cpu_ms_2s")]
    idle_cpu_ms: f64,
    #[serde(rename = "signal_rtt_median_us")]
    rtt_us: f64,
    #[serde(rename = "signal_rtt_p99_us")]
    rtt_p99_us: f64,
    #[serde(rename = "reaped_per_s")]
    reap_per_s: f64,
    #[serde(rename = "reaped_per_cpu_s")]
    reap_per_cpu_s: f64,
    #[serde(rename = "zombies_left")]
    zombies: u64,
    #[serde(rename = "teardown_1000_ms")]
    teardown_ms: f64,
    /// Nanoseconds of the init's CPU time per event (NaN: it polls).
    #[serde(rename = "cpu_ns_per_signal")]
    signal_cpu_ns: f64,
    #[serde(rename = "cpu_ns_per_orphan")]
    orphan_cpu_ns: f64,
    #[serde(rename = "syscalls_per_signal")]
    signal_syscalls: f64,
    #[serde(rename = "syscalls_per_signal_breakdown")]
    signal_breakdown: String,
    #[serde(rename = "syscalls_per_orphan")]
    orphan_syscalls: f64,
    #[serde(rename = "syscalls_per_orphan_breakdown")]
    orphan_breakdown: String,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}

/// What `measure` runs: everything, or only one per-event figure.
#[derive(PartialEq)]
enum Mode {
    All,
    Syscalls,
    Cpu,
}

/// The init's CPU time per event: one window of each kind per init, in
/// turn, `windows` times, a different init first each time. Samples in ns.
fn cpu_rounds<'a>(
    inits: &[&'a Init],
    exe: &str,
    windows: usize,
) -> BTreeMap<&'a str, [Vec<f64>; 2]> {
    let mut samples: BTreeMap<&str, [Vec<f64>; 2]> = BTreeMap::new();
    let _placed = cpu::Placement::enter();
    for round in 0..windows {
        for i in 0..inits.len() {
            let init = inits[(i + round) % inits.len()];
            let entry = samples.entry(&init.name).or_default();
            entry[0].push(cpu::per_event_ns(cpu::Kind::Signals, init, exe, CPU_EVENTS));
            entry[1].push(cpu::per_event_ns(cpu::Kind::Orphans, init, exe, CPU_EVENTS));
        }
    }
    samples
}

fn measure(args: &[String], mode: Mode) {
    let mut inits = Vec::new();
    let mut out = PathBuf::from("bench/results.json");
    let mut repeats = 5;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--init" | "--extra" => {
                let spec = it.next().expect("--init/--extra NAME=PATH");
                let (name, path) = spec.split_once('=').expect("--init/--extra NAME=PATH");
                let peer = a == "--init" && name != "rinit";
                inits.push(Init {
                    name: name.into(),
                    path: path.into(),
                    peer,
                });
            }
            "--out" => out = it.next().expect("--out FILE").into(),
            "--repeats" => repeats = it.next().expect("--repeats N").parse().unwrap(),
            other => panic!("unknown argument {other}"),
        }
    }
    let exe = std::env::current_exe().unwrap().display().to_string();
    if mode == Mode::Cpu {
        eprintln!("CPU time per event ({CPU_EVENTS} events a window, {repeats} windows)...");
        let all: Vec<&Init> = inits.iter().collect();
        print_cpu(&inits, &cpu_rounds(&all, &exe, repeats));
        return;
    }
    // Deterministic, so once per init is enough, and first: strace is the
    // only thing here that would disturb a timing run.
    let mut counted = BTreeMap::new();
    for init in &inits {
        eprintln!(
            "{}: syscalls per event (strace, {SYSCALL_EVENTS} and {} events)...",
            init.name,
            2 * SYSCALL_EVENTS
        );
        counted.insert(
            init.name.as_str(),
            syscalls::measure(init, &exe, SYSCALL_EVENTS),
        );
    }
    if mode == Mode::Syscalls {
        print_syscalls(&inits, &counted);
        return;
    }
    eprintln!("start-up (hyperfine, 300 runs each)...");
    let startups = startup(&inits, 300);
    // Every measurement goes round the inits in turn, `repeats` times, so
    // that drift in a noisy machine affects them all alike.
    let mut idles: BTreeMap<&str, Vec<(f64, u64, f64)>> = BTreeMap::new();
    let mut rtts: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut reaps: BTreeMap<&str, Vec<(f64, u64, f64)>> = BTreeMap::new();
    let mut teardowns: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut cpus: BTreeMap<&str, [Vec<f64>; 2]> = BTreeMap::new();
    for round in 0..repeats {
        eprintln!(
            "round {}/{repeats}: idle, signals, reaping, teardown, CPU per event...",
            round + 1
        );
        // A different init goes first in each round.
        let order: Vec<&Init> = (0..inits.len())
            .map(|i| &inits[(i + round) % inits.len()])
            .collect();
        let inits = &order;
        for init in inits {
            idles.entry(&init.name).or_default().push(idle(init));
        }
        for _ in 0..2 {
            for init in inits {
                rtts.entry(&init.name)
                    .or_default()
                    .push(signal_round_trip(init, &exe, 2000));
            }
        }
        for _ in 0..2 {
            for init in inits {
                reaps
                    .entry(&init.name)
                    .or_default()
                    .push(reaping(init, &exe, 5000));
            }
        }
        for init in inits {
            teardowns
                .entry(&init.name)
                .or_default()
                .push(teardown_time(init, &exe, 1000));
        }
        for (name, [signal, orphan]) in cpu_rounds(inits, &exe, 2) {
            let entry = cpus.entry(name).or_default();
            entry[0].extend(signal);
            entry[1].extend(orphan);
        }
    }
    let top = std::env::current_dir().unwrap();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for init in &inits {
        let name = init.name.as_str();
        let (signal, orphan) = &counted[name];
        let row = Row {
            init: init.name.clone(),
            path: shown_path(&init.path, &top),
            size: std::fs::metadata(&init.path).map_or(0, |m| m.len()),
            startup_ms: startups[name],
            rss_kib: median(idles[name].iter().map(|i| i.0).collect()),
            wakeups: idles[name].iter().map(|i| i.1).max().unwrap_or(0),
            idle_cpu_ms: median(idles[name].iter().map(|i| i.2).collect()),
            rtt_us: median(rtts[name].iter().map(|r| r.0).collect()),
            rtt_p99_us: median(rtts[name].iter().map(|r| r.1).collect()),
            reap_per_s: median(reaps[name].iter().map(|r| r.0).collect()),
            reap_per_cpu_s: median(reaps[name].iter().map(|r| r.2).collect()),
            zombies: reaps[name].iter().map(|r| r.1).max().unwrap_or(0),
            teardown_ms: median(teardowns[name].clone()),
            signal_cpu_ns: median(cpus[name][0].clone()).round(),
            orphan_cpu_ns: median(cpus[name][1].clone()).round(),
            signal_syscalls: hundredths(signal.total()),
            signal_breakdown: signal.breakdown(),
            orphan_syscalls: hundredths(orphan.total()),
            orphan_breakdown: orphan.breakdown(),
        };
        rows.insert(init.name.clone(), row);
    }
    print_table(&inits, &rows);
    write_json(&out, &inits, &rows);
}

/// Per-event figures are exact to 1/100 (see `syscalls::per_event`).
fn hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn print_syscalls(
    inits: &[Init],
    counted: &BTreeMap<&str, (syscalls::PerEvent, syscalls::PerEvent)>,
) {
    println!("| init | syscalls / forwarded signal | syscalls / reaped orphan |");
    println!("| --- | --- | --- |");
    for init in inits {
        let (signal, orphan) = &counted[init.name.as_str()];
        println!("| {} | {} | {} |", init.name, signal.cell(), orphan.cell());
    }
}

/// Microseconds for the table, or "polls" where the init never slept.
fn micros(ns: f64) -> String {
    if ns.is_finite() {
        format!("{:.2}", ns / 1000.0)
    } else {
        "polls".to_string()
    }
}

fn print_cpu(inits: &[Init], samples: &BTreeMap<&str, [Vec<f64>; 2]>) {
    println!(
        "| init | CPU / forwarded signal (µs) | CPU / reaped orphan (µs) | samples (signal; orphan) |"
    );
    println!("| --- | ---: | ---: | --- |");
    let fmt = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v.iter()
            .map(|x| format!("{:.0}", x))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for init in inits {
        let [signal, orphan] = &samples[init.name.as_str()];
        println!(
            "| {} | {} | {} | {}; {} |",
            init.name,
            micros(median(signal.clone())),
            micros(median(orphan.clone())),
            fmt(signal),
            fmt(orphan)
        );
    }
}

fn print_table(inits: &[Init], rows: &BTreeMap<String, Row>) {
    let mut t = String::new();
    let _ = writeln!(t, "machine: {}", machine());
    let _ = writeln!(
        t,
        "| init | static size (B) | idle RSS (KiB) | start-up overhead (ms) | idle wake-ups / 2 s | idle CPU (ms / 2 s) | signal round trip median / p99 (µs) | reaped / s | reaped / CPU-s | zombies left | teardown, 1000 left (ms) | CPU / forwarded signal (µs) | CPU / reaped orphan (µs) | syscalls / forwarded signal | syscalls / reaped orphan |"
    );
    let _ = writeln!(
        t,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    );
    for init in inits {
        let r = &rows[&init.name];
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {:.3} | {} | {:.0} | {:.1} / {:.1} | {:.0} | {:.0} | {} | {:.1} | {} | {} | {}: {} | {}: {} |",
            init.name,
            r.size,
            r.rss_kib,
            r.startup_ms,
            r.wakeups,
            r.idle_cpu_ms,
            r.rtt_us,
            r.rtt_p99_us,
            r.reap_per_s,
            r.reap_per_cpu_s,
            r.zombies,
            r.teardown_ms,
            micros(r.signal_cpu_ns),
            micros(r.orphan_cpu_ns),
            r.signal_syscalls,
            r.signal_breakdown,
            r.orphan_syscalls,
            r.orphan_breakdown
        );
    }
    // rinit against the best peer, with the targets of issue 6.
    if let Some(me) = rows.get("rinit") {
        let peers: Vec<&Row> = inits
            .iter()
            .filter(|i| i.peer)
            .map(|i| &rows[&i.name])
            .collect();
        if !peers.is_empty() {
            let best = |f: fn(&Row) -> f64, lower: bool| {
                peers.iter().map(|r| f(r)).filter(|v| v.is_finite()).fold(
                    if lower { f64::INFINITY } else { 0.0 },
                    |a, b| {
                        if lower { a.min(b) } else { a.max(b) }
                    },
                )
            };
            let rss = best(|r| r.rss_kib, true);
            let start = best(|r| r.startup_ms, true);
            let rtt = best(|r| r.rtt_us, true);
            // Peers that busy-poll (over 100 ms of CPU in 2 idle seconds)
            // buy their latency with a whole core.
            let sleeping: Vec<&Row> = peers
                .iter()
                .copied()
                .filter(|r| r.idle_cpu_ms < 100.0)
                .collect();
            let rtt_sleeping = sleeping
                .iter()
                .map(|r| r.rtt_us)
                .filter(|v| v.is_finite())
                .fold(f64::INFINITY, f64::min);
            let reap_sleeping = sleeping
                .iter()
                .map(|r| r.reap_per_s)
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            let reap = best(|r| r.reap_per_s, false);
            let reap_cpu = best(|r| r.reap_per_cpu_s, false);
            // A poller's CPU time per event is NaN, so `best` leaves it out.
            let signal_cpu = best(|r| r.signal_cpu_ns, true);
            let orphan_cpu = best(|r| r.orphan_cpu_ns, true);
            let check = |ok: bool| if ok { "met" } else { "MISSED" };
            let _ = writeln!(t, "\nrinit against the targets (best peer in brackets):");
            let _ = writeln!(
                t,
                "- static size {} B <= 460800 B (450 KiB): {}",
                me.size,
                check(me.size <= 460_800)
            );
            let _ = writeln!(
                t,
                "- idle RSS {:.0} KiB <= best peer [{rss:.0}]: {}",
                me.rss_kib,
                check(me.rss_kib <= rss)
            );
            let _ = writeln!(
                t,
                "- start-up overhead {:.3} ms <= 0.9 x best peer [{start:.3}] = {:.3}: {}",
                me.startup_ms,
                0.9 * start,
                check(me.startup_ms <= 0.9 * start)
            );
            let _ = writeln!(
                t,
                "- idle wake-ups {} = 0: {}",
                me.wakeups,
                check(me.wakeups == 0)
            );
            let _ = writeln!(
                t,
                "- signal round trip {:.1} µs <= 1.1 x best peer [{rtt:.1}] = {:.1}: {}",
                me.rtt_us,
                1.1 * rtt,
                check(me.rtt_us <= 1.1 * rtt)
            );
            let _ = writeln!(
                t,
                "  against the best peer that sleeps when idle [{rtt_sleeping:.1}] = {:.1}: {}",
                1.1 * rtt_sleeping,
                check(me.rtt_us <= 1.1 * rtt_sleeping)
            );
            let _ = writeln!(
                t,
                "- reaping {:.0}/s >= 0.95 x best peer [{reap:.0}] = {:.0}, zombies {}: {}",
                me.reap_per_s,
                0.95 * reap,
                me.zombies,
                check(me.reap_per_s >= 0.95 * reap && me.zombies == 0)
            );
            let _ = writeln!(
                t,
                "  against the best peer that sleeps when idle [{reap_sleeping:.0}] = {:.0}: {}",
                0.95 * reap_sleeping,
                check(me.reap_per_s >= 0.95 * reap_sleeping && me.zombies == 0)
            );
            let _ = writeln!(
                t,
                "  per CPU-second of the init {:.0} >= 0.95 x best peer [{reap_cpu:.0}] = {:.0}: {}",
                me.reap_per_cpu_s,
                0.95 * reap_cpu,
                check(me.reap_per_cpu_s >= 0.95 * reap_cpu)
            );
            let _ = writeln!(
                t,
                "- CPU per forwarded signal {} µs <= 1.05 x best peer [{}] = {}: {}",
                micros(me.signal_cpu_ns),
                micros(signal_cpu),
                micros(1.05 * signal_cpu),
                check(me.signal_cpu_ns <= 1.05 * signal_cpu)
            );
            let _ = writeln!(
                t,
                "- CPU per reaped orphan {} µs <= 1.05 x best peer [{}] = {}: {}",
                micros(me.orphan_cpu_ns),
                micros(orphan_cpu),
                micros(1.05 * orphan_cpu),
                check(me.orphan_cpu_ns <= 1.05 * orphan_cpu)
            );
        }
    }
    print!("{t}");
}

#[derive(miniserde::Serialize)]
struct JsonDoc<'a> {
    machine: String,
    date: String,
    results: Vec<&'a Row>,
}

fn write_json(path: &Path, inits: &[Init], rows: &BTreeMap<String, Row>) {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let doc = JsonDoc {
        machine: machine(),
        date,
        results: inits.iter().map(|init| &rows[&init.name]).collect(),
    };
    std::fs::write(path, miniserde::json::to_string(&doc)).unwrap();
    eprintln!("wrote {}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_name_binaries_without_build_directories() {
        let top = Path::new("/src/rinit");
        let built = Path::new("/src/rinit/target/small/x86_64-unknown-linux-musl/release/rinit");
        assert_eq!(
            shown_path(built, top),
            "target/small/x86_64-unknown-linux-musl/release/rinit"
        );
        assert_eq!(
            shown_path(Path::new("/opt/old/rinit-9df4e0b"), top),
            "rinit-9df4e0b"
        );
        assert_eq!(
            shown_path(Path::new("/usr/bin/tini-static"), top),
            "tini-static"
        );
    }

    #[test]
    fn per_event_figures_keep_hundredths() {
        assert_eq!(hundredths(3.0009), 3.0);
        assert_eq!(hundredths(2.496), 2.5);
    }
}
