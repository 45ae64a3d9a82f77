//! Test harness: run the real rinit binary, as PID 1 of a fresh PID
//! namespace or as a subreaper, collect its output as it comes, and never
//! hang: every run has a watchdog that SIGKILLs its whole process group and
//! fails the test when the limit passes.

use rinit::cgroup::{keyed_value, parse_pids};
use rinit::os::procfs::{self, Proc};
use rinit::signals::SigSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test: the one cargo built, or RINIT_TEST_BINARY (CI
/// points it at the static musl release build that ships).
pub fn rinit() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        std::env::var("RINIT_TEST_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_rinit").to_string())
    })
}

pub fn helper(name: &str) -> String {
    format!("{}/tests/helpers/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh PID namespace with its own /proc, ended with its first process.
pub const PID_NS: [&str; 4] = ["--pid", "--fork", "--mount-proc", "--kill-child"];
/// A private mount namespace: its mounts and unmounts are seen by no one else.
pub const MOUNT_NS: [&str; 3] = ["--mount", "--propagation", "private"];

/// `unshare NAMESPACES sh -c SCRIPT sh ARGS`: SCRIPT runs in the new
/// namespaces, with ARGS as its "$@".
pub fn sh_in(namespaces: &[&str], script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(namespaces)
        .args(["sh", "-c", script, "sh"])
        .args(args);
    cmd
}

/// `unshare --pid --fork --mount-proc rinit ARGS`: rinit is PID 1.
pub fn pid1(args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(PID_NS).arg(rinit()).args(args);
    cmd
}

/// rinit ARGS in a private mount namespace, after shell code `setup` ran
/// there (remount the cgroup filesystems read-only, or unmount some).
pub fn in_mount_ns(setup: &str, args: &[&str]) -> Command {
    let mut cmd = sh_in(&MOUNT_NS, &format!("{setup}\nexec \"$@\""), &[rinit()]);
    cmd.args(args);
    cmd
}

/// rinit as an ordinary process (a subreaper), inside a PID namespace whose
/// init is a plain `sh`: the watchdog can still end everything rinit
/// started, and rinit's teardown can be checked not to reach beyond its
/// own descendants. `before` runs in that sh first (e.g. start a sibling).
pub fn subreaper_with(before: &str, after: &str, args: &[&str]) -> Command {
    let script = format!("{before}\n\"$@\"\nrc=$?\n{after}\necho \"rinit-exit=$rc\" >&2\nexit $rc");
    let mut cmd = sh_in(&PID_NS, &script, &[rinit()]);
    cmd.args(args);
    cmd
}

pub fn subreaper(args: &[&str]) -> Command {
    subreaper_with(":", ":", args)
}

#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
}

pub struct Run {
    child: Child,
    output: Arc<(Mutex<Output>, Condvar)>,
    readers: Vec<thread::JoinHandle<()>>,
    started: Instant,
    watchdog_fired: Arc<Mutex<bool>>,
    done: Arc<(Mutex<bool>, Condvar)>,
    what: String,
}

/// A run that a failed assertion abandons is ended with its test: the
/// watchdog thread dies with the test binary and would leave it running.
impl Drop for Run {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(-(self.child.id() as i32), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

pub struct Finished {
    /// The exit code, or None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "code={:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Starts `cmd` in its own process group; it is SIGKILLed (and the test
/// fails) if it is still running after `limit`.
pub fn start(mut cmd: Command, limit: Duration) -> Run {
    use std::os::unix::process::CommandExt;
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: runs between fork and exec; only raw syscalls, no allocation.
    unsafe { cmd.pre_exec(clean_signal_state) };
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let output = Arc::new((Mutex::new(Output::default()), Condvar::new()));
    let readers = vec![
        pump(child.stdout.take().unwrap(), output.clone(), false),
        pump(child.stderr.take().unwrap(), output.clone(), true),
    ];
    let pgid = child.id() as i32;
    let watchdog_fired = Arc::new(Mutex::new(false));
    let done = Arc::new((Mutex::new(false), Condvar::new()));
    {
        let fired = watchdog_fired.clone();
        let done = done.clone();
        thread::spawn(move || {
            let (lock, cvar) = &*done;
            let guard = lock.lock().unwrap();
            let (guard, timeout) = cvar
                .wait_timeout_while(guard, limit, |finished| !*finished)
                .unwrap();
            if timeout.timed_out() && !*guard {
                *fired.lock().unwrap() = true;
                signal(-pgid, libc::SIGKILL);
            }
        });
    }
    Run {
        child,
        output,
        readers,
        started: Instant::now(),
        watchdog_fired,
        done,
        what,
    }
}

/// Every test starts from the same signal state, whatever the test runner
/// was given: nothing blocked, every disposition at its default. (A shell
/// that started cargo in the background ignores INT and QUIT, and glibc's
/// posix_spawn hands children of a threaded process 32 and 33 ignored; a
/// correct rinit passes both on faithfully.) Raw syscalls, because glibc
/// refuses to touch 32 and 33.
fn clean_signal_state() -> std::io::Result<()> {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in (1..=64).filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP) {
        // SAFETY: a valid kernel sigaction for x86_64, no old action asked.
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &default as *const KernelSigaction,
                0usize,
                8usize,
            )
        };
    }
    // Children killed by QUIT or ABRT must not drop core files in the tree.
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit struct.
    unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
    let empty: u64 = 0;
    // SAFETY: a valid 8-byte mask.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            0usize,
            8usize,
        )
    };
    Ok(())
}

fn pump(
    stream: impl Read + Send + 'static,
    output: Arc<(Mutex<Output>, Condvar)>,
    is_err: bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let (lock, cvar) = &*output;
            let mut out = lock.lock().unwrap();
            let text = String::from_utf8_lossy(&line);
            if is_err {
                out.stderr.push_str(&text)
            } else {
                out.stdout.push_str(&text)
            }
            cvar.notify_all();
            line.clear();
        }
    })
}

impl Run {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn wait_for(&self, is_err: bool, needle: &str, timeout: Duration) -> String {
        let (lock, cvar) = &*self.output;
        let guard = lock.lock().unwrap();
        let (guard, _) = cvar
            .wait_timeout_while(guard, timeout, |out| {
                !(if is_err { &out.stderr } else { &out.stdout }).contains(needle)
            })
            .unwrap();
        let text = if is_err { &guard.stderr } else { &guard.stdout };
        assert!(
            text.contains(needle),
            "{}: no {needle:?} within {timeout:?}\n--- stdout\n{}--- stderr\n{}",
            self.what,
            guard.stdout,
            guard.stderr
        );
        text.clone()
    }

    /// Waits until stdout contains `needle`; fails the test otherwise.
    pub fn wait_stdout(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for(false, needle, timeout)
    }

    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for(true, needle, timeout)
    }

    pub fn stdout_now(&self) -> String {
        self.output.0.lock().unwrap().stdout.clone()
    }

    /// Waits for the process to end (the watchdog bounds this).
    pub fn finish(mut self) -> Finished {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.wait().unwrap();
        let elapsed = self.started.elapsed();
        {
            let (lock, cvar) = &*self.done;
            *lock.lock().unwrap() = true;
            cvar.notify_all();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out = std::mem::take(&mut *self.output.0.lock().unwrap());
        let finished = Finished {
            code: status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
            elapsed,
        };
        assert!(
            !*self.watchdog_fired.lock().unwrap(),
            "watchdog killed {} (signal {:?}): {finished:?}",
            self.what,
            status.signal()
        );
        finished
    }
}

/// Shell code for a main child that starts a daemon in its own session with
/// `trap` as its SIGTERM action (empty: ignore it, and so do its sleeps),
/// waits until the trap is set (the daemon then prints "daemon-ready" and
/// deletes a mktemp file, in that order, so the line is out before the main
/// child can exit and the teardown's SIGTERM reach the daemon; a TERM before
/// the trap would kill it outright), and exits with `code`. With
/// `double_fork` the daemon is started from a subshell that exits at once,
/// so its parent is gone.
pub fn daemon_script(trap: &str, double_fork: bool, code: i32) -> String {
    let daemon = format!(
        r#"setsid sh -c 'trap "{trap}" TERM; echo daemon-ready; rm -f "$1"; while :; do sleep 0.05; done' sh "$f" &"#
    );
    let launch = if double_fork {
        format!("({daemon});")
    } else {
        daemon
    };
    format!(r#"f=$(mktemp); {launch} while [ -e "$f" ]; do sleep 0.01; done; exit {code}"#)
}

/// Runs `cmd` to the end under a watchdog.
pub fn run(cmd: Command, limit: Duration) -> Finished {
    start(cmd, limit).finish()
}

pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill has no memory arguments; the tests only signal processes
    // they started (their pid or process group).
    unsafe { libc::kill(pid, sig) == 0 }
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// (pid, ppid, comm, state) of every process on the host.
pub fn processes() -> Vec<(i32, i32, String, char)> {
    Proc::system()
        .table()
        .into_iter()
        .map(|p| (p.pid, p.ppid, p.comm, p.state))
        .collect()
}

/// The first descendant of `root` whose command name is `comm`, waiting for
/// it to appear.
pub fn find_descendant(root: i32, comm: &str, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        let procs = processes();
        let mut frontier = vec![root];
        while let Some(p) = frontier.pop() {
            for (pid, ppid, c, _) in &procs {
                if *ppid == p {
                    if c == comm {
                        return *pid;
                    }
                    frontier.push(*pid);
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no descendant '{comm}' of {root} within {timeout:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Reads one field of /proc/PID/status.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = Proc::system().status(pid)?;
    procfs::status_field(&status, field).map(str::to_string)
}

/// The signals pending for `pid`, sent to the thread or to the process, as
/// a bit set (bit n-1 for signal n).
pub fn pending_signals(pid: i32) -> u64 {
    let status = Proc::system().status(pid).unwrap_or_default();
    ["SigPnd", "ShdPnd"]
        .iter()
        .filter_map(|f| SigSet::from_proc_hex(procfs::status_field(&status, f)?))
        .fold(0, |all, set| all | set.0)
}

/// Whether rinit `pid` is asleep waiting for its next event (in
/// rt_sigtimedwait(2), in read(2) on its signalfd (--pause), or in poll(2)
/// on its signalfd when it also has a
/// deadline or watches a cgroup) with no signal pending: it has handled
/// everything sent to it so far.
pub fn is_idle(pid: i32) -> bool {
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    status_field(pid, "State").is_some_and(|s| s.starts_with('S'))
        && (wchan.starts_with("do_sigtimedwait")
            || wchan.starts_with("signalfd_read")
            || wchan.contains("poll"))
        && pending_signals(pid) == 0
}

/// Waits until `pid` has taken `sig` off its pending set (rinit reads
/// signals from a signalfd, so until then it has not seen it).
pub fn wait_taken(pid: i32, sig: i32) {
    wait_until(&format!("{pid} to take signal {sig}"), secs(5.0), || {
        pending_signals(pid) & (1 << (sig - 1)) == 0
    });
}

/// Waits until `cond` holds, polling; fails the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A scratch directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rinit-test-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cgroup made for one test under the test's own cgroup, to freeze its
/// members: in the v1 freezer (`new`), or in cgroup2 (`v2`). The two differ
/// where it matters here: a task frozen by v1 cannot act on SIGKILL, one
/// frozen by cgroup2's `cgroup.freeze` dies of it. Thawed, emptied (its
/// members are the test's own processes) and removed on drop.
pub struct FreezerCgroup {
    path: PathBuf,
    v2: bool,
}

impl FreezerCgroup {
    pub fn new(tag: &str) -> FreezerCgroup {
        let own = &crate::needs::cgroups()
            .freezer
            .as_ref()
            .expect("a test that makes a freezer cgroup declares the freezer need")
            .own;
        FreezerCgroup::create(own, tag, false)
    }

    pub fn v2(tag: &str) -> FreezerCgroup {
        let own = &crate::needs::cgroups()
            .unified
            .as_ref()
            .expect("a test that makes a cgroup2 cgroup declares the cgroup2 need")
            .own;
        FreezerCgroup::create(own, tag, true)
    }

    fn create(own: &Path, tag: &str, v2: bool) -> FreezerCgroup {
        let path = own.join(format!("rinit-test-{}-{tag}", std::process::id()));
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        FreezerCgroup { path, v2 }
    }

    pub fn add(&self, pid: i32) {
        std::fs::write(self.path.join("cgroup.procs"), pid.to_string()).unwrap();
    }

    pub fn freeze(&self) {
        let (file, value) = self.control(true);
        std::fs::write(self.path.join(file), value).unwrap();
        // Freezing completes asynchronously: v1 moves FREEZING to FROZEN
        // when the state is read, v2 says `frozen 1` in cgroup.events.
        let read = |file: &str| std::fs::read_to_string(self.path.join(file)).unwrap();
        wait_until("the cgroup to be frozen", secs(5.0), || match self.v2 {
            false => read("freezer.state").trim() == "FROZEN",
            true => keyed_value(&read("cgroup.events"), "frozen") == Some(1),
        });
    }

    pub fn thaw(&self) {
        let (file, value) = self.control(false);
        let _ = std::fs::write(self.path.join(file), value);
    }

    fn control(&self, frozen: bool) -> (&'static str, &'static str) {
        match (self.v2, frozen) {
            (false, true) => ("freezer.state", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED"),
            (true, true) => ("cgroup.freeze", "1"),
            (true, false) => ("cgroup.freeze", "0"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FreezerCgroup {
    fn drop(&mut self) {
        self.thaw();
        let deadline = Instant::now() + secs(10.0);
        loop {
            let procs = std::fs::read_to_string(self.path.join("cgroup.procs")).unwrap_or_default();
            if procs.trim().is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in parse_pids(&procs) {
                signal(pid, libc::SIGKILL);
            }
            thread::sleep(Duration::from_millis(20));
        }
        if let Err(e) = std::fs::remove_dir(&self.path) {
            eprintln!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// The exit report's facts, after validation against the schema.
pub fn report_facts(path: &str) -> String {
    helper_facts("exit_report.py", path)
}

/// What a Python helper prints of the report at `path`, one fact a line; a
/// helper that fails (a report that does not parse or validate) fails the
/// test, with the report.
pub fn helper_facts(name: &str, path: &str) -> String {
    let out = Command::new("python3")
        .args([&helper(name), path])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} rejects the report: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
