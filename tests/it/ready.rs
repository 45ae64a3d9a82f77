//! --ready and `rinit probe`: READY=1 reaches a NOTIFY_SOCKET listener of
//! the test exactly once, after the condition holds and not before; a
//! condition that never holds is one warning; checking holds up neither
//! forwarding nor reaping; the probe tells healthy from unhealthy.

use crate::common::*;
use crate::needs::Need::*;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

/// A NOTIFY_SOCKET of the test's own.
struct Notify {
    socket: UnixDatagram,
    path: String,
    _dir: TempDir,
}

impl Notify {
    fn new() -> Notify {
        let dir = TempDir::new("notify");
        let path = dir.file("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        Notify {
            socket,
            path,
            _dir: dir,
        }
    }

    /// The next datagram within `timeout`, if any.
    fn next(&self, timeout: Duration) -> Option<String> {
        self.socket.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 512];
        match self.socket.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => None,
        }
    }
}

/// A TCP port nothing listens on (just closed).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn with_notify(mut cmd: std::process::Command, notify: &Notify) -> std::process::Command {
    cmd.env("NOTIFY_SOCKET", &notify.path);
    cmd
}

/// The main child opens its port half a second after it starts: no
/// READY=1 before, exactly one after, with the child's pid (2, as PID 1).
fn tcp_ready_is_sent_once_after_the_port_opens() {
    let notify = Notify::new();
    let port = free_port();
    let listen = format!(
        "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',{port}))\ns.listen()\nprint('listening',flush=True)\ntime.sleep(30)"
    );
    let script = format!("echo started; sleep 0.5; exec python3 -c \"{listen}\"");
    let ready = format!("tcp:{port}");
    let run = start(
        with_notify(
            pid1(&["-v", "--ready", &ready, "sh", "-c", &script]),
            &notify,
        ),
        secs(30.0),
    );
    run.wait_stdout("started", secs(10.0));
    assert_eq!(
        notify.next(secs(0.3)),
        None,
        "READY=1 before the port opened"
    );
    run.wait_stdout("listening", secs(10.0));
    let message = notify.next(secs(5.0));
    assert_eq!(message.as_deref(), Some("READY=1\nMAINPID=2\n"));
    assert_eq!(notify.next(secs(1.0)), None, "a second datagram");
    let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
    signal(rinit, libc::SIGTERM);
    let out = run.finish();
    assert_eq!(out.code, Some(143), "{out:?}");
    assert!(out.stderr.contains("is ready after"), "{out:?}");
    assert_eq!(out.stderr.matches("is ready").count(), 1, "{out:?}");
}

/// file: and exec:, as a subreaper: READY=1 once the file exists, never
/// before; the exec: check programs are neither orphans nor leftovers in
/// the exit report, which records when readiness came.
fn file_and_exec_ready_after_the_file_appears() {
    for kind in ["file", "exec"] {
        let notify = Notify::new();
        let dir = TempDir::new("ready");
        let flag = dir.file("up");
        let report = dir.file("report.json");
        let condition = match kind {
            "file" => format!("file:{flag}"),
            _ => format!("exec:test -e {flag}"),
        };
        let script = format!("echo started; sleep 0.5; touch {flag}; sleep 1; exit 0");
        let run = start(
            with_notify(
                subreaper(&[
                    "--leaks", "warn", "--report", &report, "--ready", &condition, "sh", "-c",
                    &script,
                ]),
                &notify,
            ),
            secs(30.0),
        );
        run.wait_stdout("started", secs(10.0));
        assert_eq!(notify.next(secs(0.3)), None, "{kind}: READY=1 too early");
        let message = notify.next(secs(5.0)).unwrap_or_default();
        let flag_there = std::path::Path::new(&flag).exists();
        let second = notify.next(secs(0.2));
        let out = run.finish();
        assert!(
            message.starts_with("READY=1\nMAINPID="),
            "{kind}: {message:?} {out:?}"
        );
        assert!(flag_there, "{kind}");
        assert_eq!(second, None, "{kind}: a second datagram");
        assert_eq!(out.code, Some(0), "{kind}: {out:?}");
        assert!(!out.stderr.contains("leak"), "{kind}: {out:?}");
        let json = std::fs::read_to_string(&report).unwrap();
        assert!(json.contains("\"orphans\":{\"count\":0,"), "{kind}: {json}");
        assert!(json.contains("\"leftovers\":[]"), "{kind}: {json}");
        assert!(
            json.contains(&format!(
                "\"ready\":{{\"condition\":\"{condition}\",\"after_ms\":"
            )),
            "{kind}: {json}"
        );
        assert!(!json.contains("\"after_ms\":null"), "{kind}: {json}");
    }
}

/// A condition that never holds: one warning at the timeout, no READY=1,
/// and the command runs on to its own end.
fn never_ready_warns_once_and_keeps_running() {
    let notify = Notify::new();
    let ready = format!("tcp:{}", free_port());
    let run = start(
        with_notify(
            pid1(&[
                "--ready",
                &ready,
                "--ready-timeout",
                "400ms",
                "sh",
                "-c",
                "sleep 1.5; echo still-here; exit 3",
            ]),
            &notify,
        ),
        secs(30.0),
    );
    let out = run.finish();
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stdout.contains("still-here"), "{out:?}");
    assert_eq!(
        out.stderr.matches("is not ready after 400 ms").count(),
        1,
        "{out:?}"
    );
    assert!(
        out.stderr.contains("NOTIFY_SOCKET gets no READY=1"),
        "{out:?}"
    );
    assert_eq!(notify.next(secs(0.1)), None);
}

/// While a check hangs (an exec: check that sleeps) and checks repeat
/// (tcp: on a closed port): a forwarded signal arrives as fast as
/// without --ready, 1000 orphans are all reaped, and the hanging check
/// is ended with the main child.
fn checking_delays_neither_forwarding_nor_reaping() {
    let forwarding = |ready: &[&str]| -> Duration {
        let mut args: Vec<&str> = ready.to_vec();
        args.extend([
            "sh",
            "-c",
            "trap 'echo got-usr1' USR1; echo up; while :; do sleep 0.02; done",
        ]);
        let run = start(pid1(&args), secs(30.0));
        run.wait_stdout("up", secs(10.0));
        let rinit = find_descendant(run.pid(), "rinit", secs(5.0));
        std::thread::sleep(Duration::from_millis(200));
        let sent = Instant::now();
        signal(rinit, libc::SIGUSR1);
        run.wait_stdout("got-usr1", secs(5.0));
        let latency = sent.elapsed();
        signal(rinit, libc::SIGKILL);
        let _ = run.finish();
        latency
    };
    let plain = forwarding(&[]);
    let checking = forwarding(&["--ready", "exec:sleep 30"]);
    // The shell's sleeps bound both; 300 ms above plain would mean the loop
    // sat in a check.
    assert!(
        checking < plain + Duration::from_millis(300),
        "with a hanging check {checking:?}, without {plain:?}"
    );

    let ready = format!("tcp:{}", free_port());
    let out = run(
        pid1(&["--ready", &ready, "python3", &helper("orphans.py"), "1000"]),
        secs(120.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("ZOMBIES 0 LEFT 0"), "{out:?}");

    // The hanging check ends with the main child, and is no leftover.
    let out = run(
        subreaper(&[
            "--leaks",
            "warn",
            "--ready",
            "exec:sleep 30",
            "sleep",
            "0.3",
        ]),
        secs(20.0),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.elapsed < secs(5.0), "{out:?}");
    assert!(!out.stderr.contains("leak"), "{out:?}");
}

/// A tiny HTTP server: /ok answers 200, anything else 500; a second port
/// accepts and never answers.
const HTTP_SERVER: &str = r#"
import socket, sys, threading, time
def serve(s, answer):
    while True:
        c, _ = s.accept()
        if answer:
            req = c.recv(1024).decode()
            code = "200 OK" if req.startswith("GET /ok ") else "500 Oops"
            c.sendall(("HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % code).encode())
            c.close()
        else:
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            sys.stdout.flush()
            globals().setdefault("kept", []).append(c)
ports = []
for answer in (True, False):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
    ports.append(s.getsockname()[1])
    threading.Thread(target=serve, args=(s, answer), daemon=True).start()
print("ports %d %d" % tuple(ports), flush=True)
time.sleep(60)
"#;

fn probe(args: &[&str]) -> Finished {
    let mut cmd = std::process::Command::new(rinit());
    cmd.arg("probe").args(args);
    run(cmd, secs(20.0))
}

/// `rinit probe`: 200 healthy, 500 unhealthy, a closed port unhealthy at
/// once, a server that never answers unhealthy at the timeout; tcp:,
/// file: and exec: too.
fn probe_tells_healthy_from_unhealthy() {
    let mut server = std::process::Command::new("python3");
    server.args(["-c", HTTP_SERVER]);
    let server = start(server, secs(60.0));
    let line = server.wait_stdout("ports ", secs(10.0));
    let ports: Vec<&str> = line
        .lines()
        .find_map(|l| l.strip_prefix("ports "))
        .unwrap()
        .split(' ')
        .collect();
    let (http, silent) = (ports[0], ports[1]);

    let out = probe(&[&format!("http://127.0.0.1:{http}/ok")]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("healthy"), "{out:?}");
    let out = probe(&[&format!("http://127.0.0.1:{http}/fail")]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("HTTP status 500"), "{out:?}");
    let out = probe(&[&format!("http://127.0.0.1:{}/ok", free_port())]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.elapsed < secs(2.0), "{out:?}");
    let out = probe(&["--timeout", "1s", &format!("http://127.0.0.1:{silent}/ok")]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.elapsed >= secs(0.9) && out.elapsed < secs(5.0),
        "{out:?}"
    );

    assert_eq!(probe(&[&format!("tcp:{http}")]).code, Some(0));
    assert_eq!(probe(&[&format!("tcp:{}", free_port())]).code, Some(1));
    assert_eq!(probe(&["file:/"]).code, Some(0));
    assert_eq!(probe(&["file:/nonexistent/x"]).code, Some(1));
    assert_eq!(probe(&["exec:true"]).code, Some(0));
    assert_eq!(probe(&["exec:false"]).code, Some(1));
    let out = probe(&["--timeout", "300ms", "exec:sleep 10"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.elapsed < secs(3.0), "{out:?}");
    let out = probe(&["bogus"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("usage: rinit probe"), "{out:?}");
    signal(server.pid(), libc::SIGKILL);
    let _ = server.finish();
}

tests! {
    &[Root, PidNs, Python] => [
        tcp_ready_is_sent_once_after_the_port_opens,
        checking_delays_neither_forwarding_nor_reaping,
    ];
    &[Root, PidNs] => [
        file_and_exec_ready_after_the_file_appears,
        never_ready_warns_once_and_keeps_running,
    ];
    &[Python] => [probe_tells_healthy_from_unhealthy];
}
